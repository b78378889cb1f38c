"""The moto tier's helpers: a clinic with one user per role (real Cognito tokens from moto), an
HTTP-ish client per user, and a spy on the DynamoDB calls PynamoDB makes.

tests/fast/support.py has the same `make_clinic`, `id_token` and `roleless_api` on the memory store
and the fake user pool; `Api`, `ClinicWorld` and `PASSWORD` are shared."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import boto3
from pynamodb.connection.base import Connection

from chalicelib import config
from chalicelib.domain.clock import local_date
from chalicelib.domain.contact_rules import END_OF_DAY, ContactPolicy
from chalicelib.services import clinics, staff
from chalicelib.store.uow import UnitOfWork

PASSWORD = "Correct-Horse-42"


def provision_embedded_aws() -> dict[str, str]:
    """Inside a moto mock (tests, benchmarks): the tables, the user pool and the webhook secrets'
    KMS key (POST /webhooks seals with it) and queues, with the settings and the JWKS cache
    pointed at them."""
    from chalicelib.api.auth import JWKS  # noqa: PLC0415
    from devtools import bootstrap  # noqa: PLC0415

    bootstrap.create_tables()
    bootstrap.create_webhook_resources()
    pool_id, client_id = bootstrap.create_user_pool()
    os.environ["FOLLOWUPS_USER_POOL_ID"], os.environ["FOLLOWUPS_USER_POOL_CLIENT_ID"] = pool_id, client_id
    config.settings.cache_clear()
    JWKS.clear()
    return {"pool_id": pool_id, "client_id": client_id}


def id_token(email: str, password: str = PASSWORD, client_id: str | None = None) -> str:
    cognito = boto3.client("cognito-idp", region_name=config.region())
    result = cognito.initiate_auth(
        ClientId=client_id or config.settings().user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password})
    return result["AuthenticationResult"]["IdToken"]


def access_token(email: str, password: str = PASSWORD) -> str:
    cognito = boto3.client("cognito-idp", region_name=config.region())
    result = cognito.initiate_auth(
        ClientId=config.settings().user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password})
    return result["AuthenticationResult"]["AccessToken"]


@dataclass
class Response:
    status: int
    body: object
    headers: dict
    text: str

    def __repr__(self) -> str:
        return f"<{self.status} {self.text[:300]}>"


class Api:
    """Sends requests through chalice.test.Client as one user (or anonymously)."""

    def __init__(self, http, token: str | None):
        self.http, self.token = http, token

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                raw: str | bytes | None = None) -> Response:
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = getattr(self.http, method.lower())(path, headers=h, body=payload) if payload is not None else (
            getattr(self.http, method.lower())(path, headers=h))
        text = r.body.decode() if isinstance(r.body, bytes) else (r.body or "")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Response(r.status_code, parsed, dict(r.headers), text)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@dataclass
class ClinicWorld:
    """A clinic with an Owner, an Admin and two BillingStaff, each signed in."""

    clinic_id: str
    timezone: str
    users: dict[str, dict] = field(default_factory=dict)  # role-ish name -> {sub, email, token}
    http: object = None

    def as_(self, who: str) -> Api:
        return Api(self.http, self.users[who]["token"])

    @property
    def owner(self) -> Api:
        return self.as_("owner")

    @property
    def admin(self) -> Api:
        return self.as_("admin")

    @property
    def billing(self) -> Api:
        return self.as_("billing")

    def sub(self, who: str) -> str:
        return self.users[who]["sub"]

    def today(self) -> date:
        """The clinic-local date now (what the API calls today)."""
        return local_date(datetime.now(UTC), self.timezone)

    def days_ago(self, n: int) -> str:
        return (self.today() - timedelta(days=n)).isoformat()

    # ---- factories ----
    def patient(self, name: str = "Pat Example", **extra) -> str:
        r = self.billing.post("/patients", {"name": name, **extra})
        assert r.status == 201, r
        return r.body["patient_id"]

    def invoice(self, patient_id: str, amount_cents: int, invoice_date: str, **extra) -> dict:
        r = self.billing.post("/invoices", {"patient_id": patient_id, "amount_cents": amount_cents,
                                            "invoice_date": invoice_date, **extra})
        assert r.status == 201, r
        return r.body

    def pay(self, patient_id: str, amount_cents: int, key: str | None = None, **extra):
        return self.billing.post("/payments", {"patient_id": patient_id, "amount_cents": amount_cents,
                                               "method": "card", **extra},
                                 headers={"Idempotency-Key": key or secrets.token_hex(8)})


# The contact policy of the test clinics whose subject is not the contact rules: tests schedule
# callbacks at real times of day, which Regulation F's hours would refuse at night (and the quiet
# days after a conversation). A clinic may choose this (docs/contact-rules.md: "no hour limit");
# tests of the rules make their clinics with `DEFAULT_POLICY`.
ANYTIME = ContactPolicy(time(0, 0), END_OF_DAY, 50, 0)  # 00:00-24:00: no hour is outside


def make_clinic(http, timezone: str = "America/New_York", name: str = "Test Clinic",
                now: datetime | None = None, extra_staff: tuple[tuple[str, str], ...] = (),
                contact_policy: ContactPolicy = ANYTIME) -> ClinicWorld:
    now = now or datetime.now(UTC)
    uow = UnitOfWork()
    clinic = clinics.create(uow, now, name=name, timezone=timezone, currency="USD", contact_policy=contact_policy)
    world = ClinicWorld(clinic.clinic_id, timezone, http=http)
    tag = secrets.token_hex(4)
    people = [("owner", "Owner"), ("admin", "Admin"), ("billing", "BillingStaff"), ("billing2", "BillingStaff"),
              *extra_staff]
    for who, role in people:
        email = f"{who}-{tag}@example.test"
        member = staff.create(uow, clinic.clinic_id, now, email=email, name=who.title(), role=role,
                              password=PASSWORD)
        world.users[who] = {"sub": member.sub, "email": email, "token": id_token(email), "role": role}
    return world


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
