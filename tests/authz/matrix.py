"""The authorization matrix (tests/authz/matrix.txt, and key_matrix.txt for integration keys), run
for real: every route x every principal x {clinic A's object, another clinic's object, an object
that does not exist}. The cases are split over several test modules (test_matrix_*.py), each with
its own in-process moto, because moto's queries walk the whole table: one table holding the
objects of all 2,700 cases made the last ones 30 times slower than the first.

Every token is a real moto Cognito token. Objects are made through the API, fresh for each call
where the call changes them (a write-off needs a patient that owes, a revoke needs a live grant),
so that a 2xx is possible whenever the matrix says so; a call the matrix refuses changes nothing,
so all of those address one object of each kind (`Reused`), and a refusal that lets a call
through fails its own case. A route registered in the app without a
row, and a row for a route the app does not register, fail
`test_every_registered_route_has_a_row_and_every_row_a_route_and_a_request_builder`, naming them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import boto3
import pytest

from chalicelib.api import auth
from chalicelib.api.console import STATIC_ROUTES
from chalicelib.api.wiring import api_routes
from chalicelib.domain import clock
from chalicelib.domain.ids import new_child_id, new_id, new_patient_id
from tests.support import PASSWORD, Api, ClinicWorld, Response, access_token, id_token, make_clinic

MATRIX = Path(__file__).with_name("matrix.txt")
PRINCIPALS = ("owner", "admin", "billing", "delegate", "other_owner", "anonymous", "expired", "other_client",
              "access")
VARIANTS = ("own", "foreign", "missing")
# Principals without a column (matrix.txt's header): whose column they follow, on A's own objects;
# None: the anonymous column (a deactivated member's token is refused like no token).
DERIVED = {"deactivated": None, "extra_group": "billing", "missing_group": "owner", "other_group": "admin"}
ERROR_CODES = {400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found"}
HOST = {"Host": "matrix.example.test"}
WEBHOOK_URL = "http://127.0.0.1:9/matrix"  # the local stage takes a loopback receiver


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    own: dict[str, int]
    foreign: str  # "rule", "rule400", "-" or a status for everyone
    missing: str

    def expected(self, principal: str, variant: str) -> int | None:
        """The status the matrix asks for, or None when the route has no such variant."""
        if principal in DERIVED:
            return None if variant != "own" else self.own[DERIVED[principal] or "anonymous"]
        if variant == "own":
            return self.own[principal]
        spec = self.foreign if variant == "foreign" else self.missing
        if spec == "-":
            return None
        if spec not in ("rule", "rule400"):
            return int(spec)
        own = self.own[principal]
        return own if own in (401, 403) else (400 if spec == "rule400" else 404)


def read_matrix() -> list[Row]:
    rows = []
    for line in MATRIX.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        method, path, *cells = line.split()
        assert len(cells) == len(PRINCIPALS) + 2, f"matrix row has {len(cells)} cells: {line}"
        rows.append(Row(method, path, dict(zip(PRINCIPALS, map(int, cells), strict=False)), cells[-2], cells[-1]))
    return rows


ROWS = read_matrix()


def registered() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in [*api_routes(), *STATIC_ROUTES]}


# ---- objects -----------------------------------------------------------------------------------------

def later(hours: int = 5) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


class Objects:
    """Real objects of one clinic, made through its staff's API calls."""

    def __init__(self, world: ClinicWorld):
        self.w = world
        self._shared: dict[str, object] = {}

    def _once(self, name: str, make: Callable[[], object]):
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def new_debtor(self, cents: int = 5_000) -> str:
        pid = self.w.patient("Matrix Patient")
        self.w.invoice(pid, cents, self.w.days_ago(3))
        return pid

    def owing_patient(self, cents: int = 5_000) -> str:
        """A patient who owes, for a call that changes the account (a write-off, a plan, a hold)."""
        return self.new_debtor(cents)

    def patient(self) -> str:
        # Owes plenty, so every principal's 100-cent payment can land.
        return self._once("patient", lambda: self.new_debtor(100_000_000))

    def invoice(self) -> str:
        return self._once("invoice", lambda: self.w.invoice(self.patient(), 1_000, self.w.days_ago(1))["invoice_id"])

    def payment(self) -> str:
        def make():
            r = self.w.pay(self.patient(), 100)
            assert r.status == 201, r
            return r.body["payment_id"]

        return self._once("payment", make)

    def callback(self) -> str:
        r = self.w.billing.post(f"/follow-ups/{self.patient()}/callbacks", {"due_at": later()})
        assert r.status == 201, r
        return r.body["callback_id"]

    def delegation(self) -> str:
        r = self.w.owner.post("/delegations", {"grantee_sub": self.w.sub("billing2"), "permission": "write_off",
                                               "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=7))})
        assert r.status == 201, r
        return r.body["delegation_id"]

    def plan(self) -> str:
        def make():
            r = self.w.billing.post(f"/follow-ups/{self.new_debtor()}/payment-plan", self.plan_body())
            assert r.status == 201, r
            return r.body["plan_id"]

        return self._once("plan", make)

    def plan_body(self) -> dict:
        return {"installment_cents": 1_000, "frequency": "monthly", "start_date": self.w.today().isoformat()}

    # Corrections change their object for good: each call gets one of its own.
    def fresh_invoice(self) -> str:
        return self.w.invoice(self.new_debtor(), 1_000, self.w.days_ago(1))["invoice_id"]

    def fresh_payment(self) -> str:
        r = self.w.pay(self.new_debtor(), 100)
        assert r.status == 201, r
        return r.body["payment_id"]

    def fresh_plan(self) -> str:
        r = self.w.billing.post(f"/follow-ups/{self.new_debtor()}/payment-plan", self.plan_body())
        assert r.status == 201, r
        return r.body["plan_id"]

    def held_patient(self) -> str:
        pid = self.new_debtor()
        r = self.w.billing.post(f"/follow-ups/{pid}/hold", hold_body(self.w))
        assert r.status == 201, r
        return pid

    def feed_token(self) -> str:
        r = self.w.billing.post("/calendar/feed", headers=HOST)
        assert r.status == 201, r
        return r.body["url"].rsplit("/", 1)[1]

    def console_file(self) -> str:
        return "app.js"

    def new_member(self) -> str:
        r = self.w.owner.post("/staff", {"email": f"member-{secrets.token_hex(5)}@example.test", "name": "Member",
                                         "role": "BillingStaff"})
        assert r.status == 201, r
        return r.body["sub"]

    def member(self) -> str:
        return self._once("member", self.new_member)

    def inactive_member(self) -> str:
        sub = self.new_member()
        assert self.w.owner.post(f"/staff/{sub}/deactivate", {}).status == 200
        return sub

    def external_id(self) -> str:
        def make():
            ext = f"mrn-{secrets.token_hex(5)}"
            self.w.patient("Matrix External", external_id=ext)
            return ext

        return self._once("external_id", make)

    def integration(self) -> str:
        r = self.w.owner.post("/integrations", {"name": "Matrix key", "scopes": ["patients:read"]})
        assert r.status == 201, r
        return r.body["integration_id"]

    def new_webhook(self) -> str:
        r = self.w.owner.post("/webhooks", {"url": WEBHOOK_URL, "events": ["*"]})
        assert r.status == 201, r
        return r.body["webhook_id"]

    def webhook(self) -> str:
        return self._once("webhook", self.new_webhook)

    def webhook_to_delete(self) -> str:
        """The spare webhook while no call has deleted it (a clinic has at most 16, and most
        principals are refused), then a new one."""
        spare = self._shared.get("spare_webhook")
        if spare is None or spare not in {w["webhook_id"] for w in self.w.owner.get("/webhooks").body["items"]}:
            spare = self._shared["spare_webhook"] = self.new_webhook()
        return spare


class Missing(Objects):
    """Well-formed ids that exist nowhere. Child ids (invoice, payment, callback, plan) hang off a
    real patient of clinic A, so only the object itself is missing."""

    def __init__(self, world: ClinicWorld, real: Objects):
        super().__init__(world)
        self.real = real

    def owing_patient(self, cents: int = 5_000) -> str:
        return new_patient_id()

    def patient(self) -> str:
        return new_patient_id()

    def invoice(self) -> str:
        return new_child_id("inv", self.real.patient())

    def payment(self) -> str:
        return new_child_id("pay", self.real.patient())

    def callback(self) -> str:
        return new_child_id("cb", self.real.patient())

    def delegation(self) -> str:
        return new_id("dlg")

    def plan(self) -> str:
        return new_child_id("plan", self.real.patient())

    def feed_token(self) -> str:
        return secrets.token_urlsafe(32)

    def fresh_invoice(self) -> str:
        return self.invoice()

    def fresh_payment(self) -> str:
        return self.payment()

    def fresh_plan(self) -> str:
        return self.plan()

    def held_patient(self) -> str:
        return new_patient_id()

    def console_file(self) -> str:
        return "not-a-console-file.js"

    def new_member(self) -> str:
        return f"00000000-0000-4000-8000-{secrets.token_hex(6)}"

    def member(self) -> str:
        return self.new_member()

    def inactive_member(self) -> str:
        return self.new_member()

    def external_id(self) -> str:
        return f"mrn-nobody-{secrets.token_hex(5)}"

    def integration(self) -> str:
        return new_id("int")

    def webhook(self) -> str:
        return new_id("wh")

    def webhook_to_delete(self) -> str:
        return new_id("wh")


class Reused(Objects):
    """For the calls the matrix refuses: one object of each kind, made on first use, for all of
    them (a refused call changes nothing; one let through by mistake fails its own case)."""

    def owing_patient(self, cents: int = 5_000) -> str:
        return self._once(f"owing_patient {cents}", lambda: self.new_debtor(cents))

    def callback(self) -> str:
        return self._once("callback", super().callback)

    def delegation(self) -> str:
        return self._once("delegation", super().delegation)

    def fresh_invoice(self) -> str:
        return self._once("fresh_invoice", super().fresh_invoice)

    def fresh_payment(self) -> str:
        return self._once("fresh_payment", super().fresh_payment)

    def fresh_plan(self) -> str:
        return self._once("fresh_plan", super().fresh_plan)

    def held_patient(self) -> str:
        return self._once("held_patient", super().held_patient)

    def new_member(self) -> str:
        return self._once("new_member", super().new_member)

    def inactive_member(self) -> str:
        return self._once("inactive_member", super().inactive_member)

    def integration(self) -> str:
        return self._once("integration", super().integration)


# ---- request builders: one per row; `o` holds the objects to address, `home` the caller-side clinic

@dataclass
class Call:
    method: str
    path: str
    body: dict | None = None
    headers: dict | None = None


def hold_body(world: ClinicWorld) -> dict:
    return {"reason": "dispute", "until": (world.today() + timedelta(days=20)).isoformat()}


def _pay_body(pid: str) -> dict:
    return {"patient_id": pid, "amount_cents": 100, "method": "card"}


BUILDERS: dict[tuple[str, str], Callable[[Objects, ClinicWorld], Call]] = {
    ("GET", "/health"): lambda o, home: Call("GET", "/health"),
    ("GET", "/openapi.json"): lambda o, home: Call("GET", "/openapi.json"),
    ("GET", "/console"): lambda o, home: Call("GET", "/console"),
    ("GET", "/console/config.json"): lambda o, home: Call("GET", "/console/config.json"),
    ("GET", "/console/{name}"): lambda o, home: Call("GET", f"/console/{o.console_file()}"),
    ("GET", "/calendar/feed/{token}"): lambda o, home: Call("GET", f"/calendar/feed/{o.feed_token()}"),
    ("GET", "/me"): lambda o, home: Call("GET", "/me"),
    ("GET", "/clinic"): lambda o, home: Call("GET", "/clinic"),
    ("PATCH", "/clinic"): lambda o, home: Call("PATCH", "/clinic", {"name": "Matrix Clinic"}),
    ("GET", "/staff"): lambda o, home: Call("GET", "/staff"),
    ("POST", "/staff"): lambda o, home: Call("POST", "/staff", {
        "email": f"new-{secrets.token_hex(5)}@example.test", "name": "New Staff", "role": "BillingStaff"}),
    ("POST", "/patients"): lambda o, home: Call("POST", "/patients", {"name": "Matrix Newcomer"}),
    ("GET", "/patients/{patient_id}"): lambda o, home: Call("GET", f"/patients/{o.patient()}"),
    ("GET", "/patients/{patient_id}/ledger"): lambda o, home: Call("GET", f"/patients/{o.patient()}/ledger"),
    ("GET", "/patients/{patient_id}/invoices"): lambda o, home: Call("GET", f"/patients/{o.patient()}/invoices"),
    ("GET", "/patients/{patient_id}/attempts"): lambda o, home: Call("GET", f"/patients/{o.patient()}/attempts"),
    ("GET", "/patients/{patient_id}/callbacks"): lambda o, home: Call("GET", f"/patients/{o.patient()}/callbacks"),
    ("POST", "/invoices"): lambda o, home: Call("POST", "/invoices", {
        "patient_id": o.patient(), "amount_cents": 700, "invoice_date": o.w.days_ago(2)}),
    ("GET", "/invoices/{invoice_id}"): lambda o, home: Call("GET", f"/invoices/{o.invoice()}"),
    ("POST", "/payments"): lambda o, home: Call("POST", "/payments", _pay_body(o.patient()),
                                                {"Idempotency-Key": secrets.token_hex(12)}),
    ("GET", "/payments/{payment_id}"): lambda o, home: Call("GET", f"/payments/{o.payment()}"),
    ("GET", "/follow-ups"): lambda o, home: Call("GET", "/follow-ups"),
    ("GET", "/follow-ups/{patient_id}"): lambda o, home: Call("GET", f"/follow-ups/{o.patient()}"),
    ("POST", "/follow-ups/{patient_id}/attempts"): lambda o, home: Call(
        "POST", f"/follow-ups/{o.patient()}/attempts", {"channel": "phone", "outcome": "no_answer"}),
    ("POST", "/follow-ups/{patient_id}/callbacks"): lambda o, home: Call(
        "POST", f"/follow-ups/{o.patient()}/callbacks", {"due_at": later(3)}),
    ("PATCH", "/callbacks/{callback_id}"): lambda o, home: Call(
        "PATCH", f"/callbacks/{o.callback()}", {"due_at": later(6)}),
    ("GET", "/tasks"): lambda o, home: Call("GET", "/tasks"),
    ("GET", "/calendar.ics"): lambda o, home: Call("GET", "/calendar.ics"),
    ("POST", "/calendar/feed"): lambda o, home: Call("POST", "/calendar/feed"),
    ("DELETE", "/calendar/feed"): lambda o, home: Call("DELETE", "/calendar/feed"),
    ("POST", "/follow-ups/{patient_id}/write-off"): lambda o, home: Call(
        "POST", f"/follow-ups/{o.owing_patient()}/write-off", {"reason": "authorization matrix"}),
    ("POST", "/delegations"): lambda o, home: Call("POST", "/delegations", {
        "grantee_sub": o.w.sub("billing2"), "permission": "write_off",
        "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=3))}),
    ("GET", "/delegations"): lambda o, home: Call("GET", "/delegations"),
    ("DELETE", "/delegations/{delegation_id}"): lambda o, home: Call("DELETE", f"/delegations/{o.delegation()}"),
    ("GET", "/audit"): lambda o, home: Call("GET", "/audit"),
    ("POST", "/follow-ups/{patient_id}/payment-plan"): lambda o, home: Call(
        "POST", f"/follow-ups/{o.owing_patient()}/payment-plan", o.plan_body()),
    ("GET", "/payment-plans/{plan_id}"): lambda o, home: Call("GET", f"/payment-plans/{o.plan()}"),
    ("POST", "/payment-plans/{plan_id}/run"): lambda o, home: Call("POST", f"/payment-plans/{o.plan()}/run"),
    ("POST", "/invoices/{invoice_id}/void"): lambda o, home: Call(
        "POST", f"/invoices/{o.fresh_invoice()}/void", {"reason": "authorization matrix"}),
    ("POST", "/invoices/{invoice_id}/adjustments"): lambda o, home: Call(
        "POST", f"/invoices/{o.fresh_invoice()}/adjustments", {"amount_cents": 100, "reason": "matrix discount"}),
    ("POST", "/payments/{payment_id}/reversal"): lambda o, home: Call(
        "POST", f"/payments/{o.fresh_payment()}/reversal", {"reason": "entered_in_error"}),
    ("POST", "/payment-plans/{plan_id}/cancel"): lambda o, home: Call(
        "POST", f"/payment-plans/{o.fresh_plan()}/cancel", {"reason": "authorization matrix"}),
    ("PATCH", "/payment-plans/{plan_id}"): lambda o, home: Call(
        "PATCH", f"/payment-plans/{o.fresh_plan()}", {"installment_cents": 2_500}),
    ("POST", "/follow-ups/{patient_id}/hold"): lambda o, home: Call(
        "POST", f"/follow-ups/{o.owing_patient()}/hold", hold_body(home)),
    ("DELETE", "/follow-ups/{patient_id}/hold"): lambda o, home: Call(
        "DELETE", f"/follow-ups/{o.held_patient()}/hold"),
    ("GET", "/reports/aging"): lambda o, home: Call("GET", "/reports/aging"),
    ("GET", "/reports/staff-performance"): lambda o, home: Call(
        "GET", f"/reports/staff-performance?from={home.days_ago(30)}&to={home.today().isoformat()}"),
    ("PATCH", "/staff/{sub}"): lambda o, home: Call("PATCH", f"/staff/{o.member()}", {"name": "Matrix Member"}),
    ("POST", "/staff/{sub}/deactivate"): lambda o, home: Call("POST", f"/staff/{o.new_member()}/deactivate", {}),
    ("POST", "/staff/{sub}/reactivate"): lambda o, home: Call("POST", f"/staff/{o.inactive_member()}/reactivate"),
    ("GET", "/reports/contact-compliance"): lambda o, home: Call(
        "GET", f"/reports/contact-compliance?from={home.days_ago(30)}&to={home.today().isoformat()}"),
    ("POST", "/integrations"): lambda o, home: Call("POST", "/integrations", {
        "name": "Matrix key", "scopes": ["patients:read"]}),
    ("GET", "/integrations"): lambda o, home: Call("GET", "/integrations"),
    ("DELETE", "/integrations/{integration_id}"): lambda o, home: Call(
        "DELETE", f"/integrations/{o.integration()}"),
    ("POST", "/imports"): lambda o, home: Call("POST", "/imports", {"rows": [{
        "patient_external_id": "matrix-import", "patient_name": "Matrix Import"}]}),
    ("GET", "/patients"): lambda o, home: Call("GET", "/patients?q=matrix"),
    ("PATCH", "/patients/{patient_id}"): lambda o, home: Call(
        "PATCH", f"/patients/{o.patient()}", {"phone": "+1 555 0100"}),
    ("PUT", "/patients/by-external-id/{external_id}"): lambda o, home: Call(
        "PUT", f"/patients/by-external-id/mrn-{secrets.token_hex(6)}", {"name": "Matrix Put"}),
    ("GET", "/patients/by-external-id/{external_id}"): lambda o, home: Call(
        "GET", f"/patients/by-external-id/{o.external_id()}"),
    ("POST", "/webhooks"): lambda o, home: Call("POST", "/webhooks", {"url": WEBHOOK_URL, "events": ["*"]}),
    ("GET", "/webhooks"): lambda o, home: Call("GET", "/webhooks"),
    ("DELETE", "/webhooks/{webhook_id}"): lambda o, home: Call("DELETE", f"/webhooks/{o.webhook_to_delete()}"),
    ("POST", "/webhooks/{webhook_id}/test"): lambda o, home: Call("POST", f"/webhooks/{o.webhook()}/test"),
    ("GET", "/webhooks/{webhook_id}/deliveries"): lambda o, home: Call(
        "GET", f"/webhooks/{o.webhook()}/deliveries"),
    ("PUT", "/invoices/by-external-id/{external_id}"): lambda o, home: Call(
        "PUT", f"/invoices/by-external-id/inv-{secrets.token_hex(6)}", {
            "patient_id": o.patient(), "amount_cents": 700, "invoice_date": o.w.days_ago(2)}),
}


# ---- principals --------------------------------------------------------------------------------------

@dataclass
class World:
    a: ClinicWorld
    b: ClinicWorld
    objects_a: Objects
    objects_b: Objects
    reused_a: Reused
    reused_b: Reused
    missing: Missing
    tokens: dict[str, str | None]

    def clinic_of(self, principal: str) -> ClinicWorld:
        return self.b if principal in ("other_owner", "k_other") else self.a

    def objects(self, principal: str, variant: str, expected: int) -> Objects:
        """What a case addresses: nothing real for `missing`; clinic A's objects for `own` (the
        matrix's columns are about A's objects, whoever calls); for `foreign`, another clinic's
        than the caller's: B's for A's principals, A's for B's. Shared when the call is refused."""
        if variant == "missing":
            return self.missing
        clinic_a = variant == "own" or principal in ("other_owner", "k_other")
        if expected >= 400:
            return self.reused_a if clinic_a else self.reused_b
        return self.objects_a if clinic_a else self.objects_b

    def send(self, principal: str, call: Call) -> Response:
        api = Api(self.a.http, self.tokens[principal])
        headers = {**HOST, **(call.headers or {})}
        if principal != "expired":
            return api.request(call.method, call.path, call.body, headers=headers)
        # A real token, judged two hours later (moto's tokens live one hour).
        real_clock = auth.clock
        with mock.patch.object(auth, "clock", lambda: real_clock() + 7200):
            return api.request(call.method, call.path, call.body, headers=headers)

    def check(self, principal: str, row: Row, variant: str, expected: int) -> None:
        """Send the row's request as `principal` and hold it to the matrix."""
        assert (row.method, row.path) in registered(), f"{row.method} {row.path} has a row but no route in the app"
        call = BUILDERS[(row.method, row.path)](self.objects(principal, variant, expected), self.clinic_of(principal))
        r = self.send(principal, call)
        assert r.status == expected, (call, r)
        if r.status >= 400:
            assert r.body["error"]["code"] == ERROR_CODES[r.status], r
            assert isinstance(r.body["error"]["message"], str) and r.body["error"]["message"]


def make_world(http, aws) -> World:
    a = make_clinic(http, name="Matrix Clinic", extra_staff=(
        ("delegate", "BillingStaff"), ("deactivated", "BillingStaff"), ("extra_group", "BillingStaff"),
        ("missing_group", "Owner"), ("other_group", "Admin")))
    b = make_clinic(http, name="Matrix Clinic", timezone="Europe/Athens")
    r = a.owner.post("/delegations", {"grantee_sub": a.sub("delegate"), "permission": "write_off",
                                      "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=30))})
    assert r.status == 201, r
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    other_client = cognito.create_user_pool_client(
        UserPoolId=aws["pool_id"], ClientName=f"another-app-{secrets.token_hex(3)}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    owner_email = a.users["owner"]["email"]
    tokens = {who: a.users[who]["token"] for who in ("owner", "admin", "billing", "delegate")}
    tokens.update(other_owner=b.users["owner"]["token"], anonymous=None, expired=a.users["owner"]["token"],
                  other_client=id_token(owner_email, PASSWORD, client_id=other_client),
                  access=access_token(owner_email))
    tokens.update(derived_tokens(a, aws["pool_id"]))
    objects_a = Objects(a)
    return World(a, b, objects_a, Objects(b), Reused(a), Reused(b), Missing(a, objects_a), tokens)


def derived_tokens(a: ClinicWorld, pool_id: str) -> dict[str, str]:
    """Real tokens whose groups disagree with the staff record (groups changed by hand in the pool,
    behind the API), and the token of a member deactivated after signing in."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")

    def regroup(who: str, add: tuple[str, ...], remove: tuple[str, ...]) -> str:
        email = a.users[who]["email"]
        for group in add:
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
        for group in remove:
            cognito.admin_remove_user_from_group(UserPoolId=pool_id, Username=email, GroupName=group)
        return id_token(email)

    tokens = {"extra_group": regroup("extra_group", ("Owner", "Admin"), ()),
              "missing_group": regroup("missing_group", (), ("Owner",)),
              "other_group": regroup("other_group", ("Owner",), ("Admin",)),
              "deactivated": a.users["deactivated"]["token"]}
    assert a.owner.post(f"/staff/{a.sub('deactivated')}/deactivate", {}).status == 200
    return tokens


def cases(*principals: str) -> list:
    """The matrix's cases for some of its principals (matrix.txt's columns and DERIVED)."""
    return [pytest.param(row, principal, variant, id=f"{row.method} {row.path} | {principal} | {variant}")
            for row in ROWS for principal in principals for variant in VARIANTS
            if row.expected(principal, variant) is not None]


# ---- integration keys (tests/authz/key_matrix.txt) -------------------------------------------------

KEY_MATRIX = Path(__file__).with_name("key_matrix.txt")
KEY_PRINCIPALS = ("k_read", "k_pms", "k_followups", "k_import", "k_all", "k_other", "k_revoked")
ALL_SCOPES = ["patients:read", "patients:write", "invoices:write", "payments:write", "followups:read",
              "reports:read", "imports:write", "webhooks:manage"]
KEY_SCOPES = {"k_read": ["patients:read"], "k_pms": ["patients:write", "invoices:write", "payments:write"],
              "k_followups": ["followups:read", "reports:read"], "k_import": ["imports:write"],
              "k_all": ALL_SCOPES, "k_other": ALL_SCOPES, "k_revoked": ALL_SCOPES}


def read_key_matrix() -> dict[tuple[str, str], Row]:
    rows = {}
    for line in KEY_MATRIX.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        method, path, *cells = line.split()
        assert len(cells) == len(KEY_PRINCIPALS) + 2, f"key matrix row has {len(cells)} cells: {line}"
        rows[(method, path)] = Row(method, path, dict(zip(KEY_PRINCIPALS, map(int, cells), strict=False)),
                                   cells[-2], cells[-1])
    return rows


KEY_ROWS = read_key_matrix()


def key_row(row: Row) -> Row:
    """The key matrix's row for a route, or the contract's default: 403 for every key (401 for the
    revoked one) on an authenticated route, and what anyone gets on a public one."""
    if (row.method, row.path) in KEY_ROWS:
        return KEY_ROWS[(row.method, row.path)]
    if row.own["anonymous"] != 401:  # public
        return Row(row.method, row.path, dict.fromkeys(KEY_PRINCIPALS, row.own["anonymous"]), row.foreign,
                   row.missing)
    return Row(row.method, row.path, {**dict.fromkeys(KEY_PRINCIPALS, 403), "k_revoked": 401}, "rule", "rule")


def make_keys(world: World) -> None:
    """One integration key per column of key_matrix.txt, added to the world's tokens (the revoked
    one revoked, k_other made by clinic B's Owner)."""
    for who, scopes in KEY_SCOPES.items():
        owner = world.b.owner if who == "k_other" else world.a.owner
        r = owner.post("/integrations", {"name": who, "scopes": scopes})
        assert r.status == 201, r
        world.tokens[who] = r.body["key"]
        if who == "k_revoked":
            assert owner.delete(f"/integrations/{r.body['integration_id']}").status == 204
    from chalicelib.api import integration_auth

    integration_auth.CACHE.clear()


def key_cases(*principals: str) -> list:
    return [pytest.param(key_row(row), principal, variant, id=f"{row.method} {row.path} | {principal} | {variant}")
            for row in ROWS for principal in principals for variant in VARIANTS
            if key_row(row).expected(principal, variant) is not None]
