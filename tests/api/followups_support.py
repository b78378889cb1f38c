"""Helpers for the follow-up tests: clinics and debts at a chosen "now", and a DynamoDB call spy."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import boto3
from pynamodb.connection.base import Connection

from chalicelib import config
from chalicelib.domain.ids import new_child_id, new_id
from chalicelib.services import clinics, invoices, patients, payments
from chalicelib.store import accounts, keys
from chalicelib.store.models import AuditRecord
from chalicelib.store.tx import Unit
from tests.support import PASSWORD, Api, id_token

ACTOR = "staff-under-test"


def real_today(clinic_id: str) -> date:
    return clinics.get(clinic_id).today(datetime.now(UTC))


def new_clinic(now: datetime, tz: str = "America/New_York") -> str:
    return clinics.create("Fixed-time Clinic", tz, "USD", now).clinic_id


def owing(clinic_id: str, now: datetime, invoice_date: date, cents: int = 10_000, name: str | None = None,
          service_date: date | None = None) -> str:
    """A patient owing one invoice, created at `now`."""
    pid = patients.create(clinic_id, ACTOR, now, name=name or f"Patient {secrets.token_hex(3)}")["patient_id"]
    invoices.create(clinic_id, ACTOR, now, patient_id=pid, amount_cents=cents, invoice_date=invoice_date,
                    service_date=service_date)
    return pid


def pay(clinic_id: str, now: datetime, pid: str, cents: int, **extra) -> dict:
    return payments.record(clinic_id, ACTOR, now, idempotency_key=new_id("key"),
                           body={"patient_id": pid, "amount_cents": cents, "method": "cash", **extra})[1]


def convert_to_plan(clinic_id: str, now: datetime, pid: str, installment_cents: int, start: date,
                    frequency: str = "monthly"):
    """A payment plan made through the account aggregate (the plan route is another issue's)."""
    loaded = accounts.load(clinic_id, pid)
    today = clinics.get(clinic_id).today(now)
    plan = loaded.account.convert_to_plan(new_child_id("plan", pid), installment_cents, frequency, start, today,
                                          now, ACTOR)
    unit = Unit(now)
    accounts.stage_account(unit, loaded)
    unit.commit()
    return plan


def invoice_installments(clinic_id: str, now: datetime, pid: str, run_date: date):
    loaded = accounts.load(clinic_id, pid)
    created = loaded.account.invoice_due_installments(run_date, now)
    unit = Unit(now)
    accounts.stage_account(unit, loaded)
    unit.commit()
    return created


def audit_of(clinic_id: str, patient_id: str) -> list[AuditRecord]:
    return list(AuditRecord.by_patient.query(keys.audit_patient_pk(clinic_id, patient_id)))


def roleless_api(http, clinic_id: str) -> Api:
    """A signed-in user of the clinic who is in no role group."""
    cognito = boto3.client("cognito-idp", region_name=config.region())
    pool = config.settings().user_pool_id
    email = f"nobody-{secrets.token_hex(4)}@example.test"
    cognito.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
        {"Name": "custom:clinic_id", "Value": clinic_id}])
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True)
    return Api(http, id_token(email))


@dataclass
class Calls:
    """What DynamoDB was asked during a block: one entry per API call."""

    made: list[dict] = field(default_factory=list)

    def ops(self) -> list[str]:
        return [c["op"] for c in self.made]

    def scanned(self, op: str = "Query") -> int:
        return sum(c.get("scanned", 0) for c in self.made if c["op"] == op)


@contextlib.contextmanager
def dynamodb_calls():
    """Spy on every DynamoDB call PynamoDB makes (the call itself still happens)."""
    calls = Calls()
    original = Connection._make_api_call

    def spy(self, operation_name, operation_kwargs):
        data = original(self, operation_name, operation_kwargs)
        entry = {"op": operation_name}
        if isinstance(data, dict) and "ScannedCount" in data:
            entry["scanned"] = data["ScannedCount"]
        calls.made.append(entry)
        return data

    Connection._make_api_call = spy
    try:
        yield calls
    finally:
        Connection._make_api_call = original


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)

