"""Factories for the auto-invoicing tests of both tiers: clinics created at a chosen instant
(creation fixes the first run date), patients owing, plans, promises, and the scheduled function's
events. Everything goes through `routing.unit_of_work()`: DynamoDB (moto) in tests/jobs, the
module's memory store in tests/fast; reads come back as the repositories' dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.api import routing, views
from chalicelib.domain import clock
from chalicelib.domain.account import Invoice, Patient, Promise
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.contact import PROMISED_PAYMENT, Attempt
from chalicelib.domain.ids import new_child_id
from chalicelib.domain.roles import BILLING, Caller
from chalicelib.services import clinics, invoices, patients, plans

STAFF = "staff-sub-1"


def staff(clinic_id: str, sub: str = STAFF) -> Caller:
    """The caller a service sees for a request of BillingStaff `sub`."""
    return Caller(sub=sub, clinic_id=clinic_id, roles=frozenset({BILLING}))


def instant(text: str) -> datetime:
    """`2026-03-29T01:00Z`-style instants for readable tests."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cw_event(time: str, events=None) -> dict:
    """An EventBridge scheduled event with the given `time` (chalice's generator fixes the time)."""
    if events is not None:
        event = events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                         resources=["arn:aws:events:us-east-1:000000000000:rule/auto-invoicing"],
                                         region="us-east-1")
    else:
        event = {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "000000000000", "region": "us-east-1", "resources": [], "detail": {}}
    event["time"] = time
    return event


@dataclass
class PlanWorld:
    clinic_id: str
    timezone: str
    patient_id: str
    plan_id: str
    created_at: datetime

    def plan(self) -> dict:
        """The plan as GET /payment-plans/{id} shows it."""
        return views.plan(plans.get(routing.unit_of_work(), staff(self.clinic_id), self.plan_id))

    def next_run_date(self) -> date:
        return clinics.get(routing.unit_of_work(), self.clinic_id).next_run_date

    def invoice(self, invoice_id: str) -> dict:
        """The invoice as GET /invoices/{id} shows it."""
        return views.invoice(invoices.get(routing.unit_of_work(), staff(self.clinic_id), invoice_id))

    def plan_invoices(self) -> list[Invoice]:
        """The patient's installment invoices, in key order (by invoice id)."""
        loaded = routing.unit_of_work().accounts.load(self.clinic_id, self.patient_id)
        return sorted((i for i in loaded.account.invoices.values() if i.source == "plan"), key=lambda i: i.invoice_id)

    def audits(self, action: str) -> list[AuditEntry]:
        """The clinic's audit entries of `action`, newest first."""
        entries, more = routing.unit_of_work().audit.search(self.clinic_id, patient_id=None, action=action,
                                                            limit=1_000, before=None)
        assert not more
        return entries

    def profile(self) -> Patient:
        """The patient as stored."""
        return routing.unit_of_work().accounts.get_patient(self.clinic_id, self.patient_id, consistent=True)


def new_clinic(tz: str, created_at: datetime, name: str = "Job Clinic") -> str:
    return clinics.create(routing.unit_of_work(), created_at, name=name, timezone=tz, currency="USD").clinic_id


def patient_owing(clinic_id: str, tz: str, now: datetime, cents: int, age_days: int = 30) -> str:
    uow, caller = routing.unit_of_work(), staff(clinic_id)
    pid = patients.create(uow, caller, now, name="Job Patient").patient_id
    invoices.create(uow, caller, now, patient_id=pid, amount_cents=cents,
                    invoice_date=clock.local_date(now, tz) - timedelta(days=age_days))
    return pid


def clinic_with_plan(tz: str, created_at: datetime, *, cents: int = 30_000, installment: int = 10_000,
                     frequency: str = "monthly", start: date | None = None) -> PlanWorld:
    clinic_id = new_clinic(tz, created_at)
    return add_plan(clinic_id, tz, created_at, cents=cents, installment=installment, frequency=frequency,
                    start=start)


def add_plan(clinic_id: str, tz: str, now: datetime, *, cents: int = 30_000, installment: int = 10_000,
             frequency: str = "monthly", start: date | None = None) -> PlanWorld:
    pid = patient_owing(clinic_id, tz, now, cents)
    plan = plans.create(routing.unit_of_work(), staff(clinic_id), now, patient_id=pid, installment_cents=installment,
                        frequency=frequency, start_date=start or clock.local_date(now, tz))
    return PlanWorld(clinic_id, tz, pid, plan.plan_id, now)


def promise(clinic_id: str, tz: str, patient_id: str, cents: int, promised_date: date, now: datetime,
            channel: str = "sms") -> Promise:
    """A promise recorded the way logging a `promised_payment` attempt records it."""
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, patient_id)
    attempt_id = new_child_id("att", patient_id)
    made = Promise(promise_id=new_child_id("prom", patient_id), attempt_id=attempt_id, amount_cents=cents,
                   promised_date=promised_date, made_at=now, made_by=STAFF)
    loaded.account.record_promise(made, clock.local_date(now, tz))
    uow.accounts.stage(loaded, now)
    uow.contacts.add_attempt(clinic_id, Attempt(attempt_id, patient_id, now, STAFF, channel, PROMISED_PAYMENT,
                                                promised_amount_cents=cents, promised_date=promised_date,
                                                promise_id=made.promise_id))
    uow.commit()
    return made
