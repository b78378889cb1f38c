"""Helpers for the follow-up tests of both tiers: clinics and debts at a chosen "now", and the
services answering as their routes do.

Everything goes through `routing.unit_of_work()`, the unit of work the routes use: DynamoDB (moto)
in tests/api, the module's memory store in tests/fast. (The DynamoDB call spy is tests.support's.)"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta

from chalicelib.api import routing, views
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.contact_rules import ContactPolicy
from chalicelib.domain.ids import new_child_id, new_id
from chalicelib.domain.roles import BILLING, Caller
from chalicelib.services import attempts, callbacks, clinics, followups, invoices, patients, payments
from tests.support import ANYTIME

ACTOR = "5a1f0000-0000-4000-8000-000000000001"  # a Cognito sub, as every staff actor is


def staff_sub(name: str) -> str:
    """The Cognito sub (a UUID) standing for a staff member the tests call by a short name, so
    what a change records and announces (`by`, `assignee_sub`) has the shape it has in production."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"staff:{name}"))


def as_staff(clinic_id: str, sub: str = ACTOR, roles: frozenset[str] = frozenset({BILLING})) -> Caller:
    """The caller a service sees for a request of BillingStaff `sub` (ACTOR unless told)."""
    return Caller(sub=staff_sub(sub), clinic_id=clinic_id, roles=roles)


def real_today(clinic_id: str) -> date:
    return clinics.get(routing.unit_of_work(), clinic_id).today(datetime.now(UTC))


def new_clinic(now: datetime, tz: str = "America/New_York", contact_policy: ContactPolicy = ANYTIME) -> str:
    return clinics.create(routing.unit_of_work(), now, name="Fixed-time Clinic", timezone=tz,
                          currency="USD", contact_policy=contact_policy).clinic_id


def owing(clinic_id: str, now: datetime, invoice_date: date, cents: int = 10_000, name: str | None = None,
          service_date: date | None = None) -> str:
    """A patient owing one invoice, created at `now`."""
    uow, caller = routing.unit_of_work(), as_staff(clinic_id)
    pid = patients.create(uow, caller, now, name=name or f"Patient {secrets.token_hex(3)}").patient_id
    invoices.create(uow, caller, now, patient_id=pid, amount_cents=cents, invoice_date=invoice_date,
                    service_date=service_date)
    return pid


def pay(clinic_id: str, now: datetime, pid: str, cents: int, **extra) -> dict:
    """A payment recorded by ACTOR, as POST /payments answers it."""
    _, payment = payments.record(routing.unit_of_work(), as_staff(clinic_id), now,
                                 idempotency_key=new_id("key"),
                                 body={"patient_id": pid, "amount_cents": cents, "method": "cash", **extra})
    return views.payment(payment)


def convert_to_plan(clinic_id: str, now: datetime, pid: str, installment_cents: int, start: date,
                    frequency: str = "monthly"):
    """A payment plan made through the account aggregate (the plan route is another issue's)."""
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, pid)
    today = clinics.get(uow, clinic_id).today(now)
    plan = loaded.account.convert_to_plan(new_child_id("plan", pid), installment_cents, frequency, start, today,
                                          now, ACTOR)
    uow.accounts.stage(loaded, now)
    uow.commit()
    return plan


def invoice_installments(clinic_id: str, now: datetime, pid: str, run_date: date):
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, pid)
    created = loaded.account.invoice_due_installments(run_date, now)
    uow.accounts.stage(loaded, now)
    uow.commit()
    return created


def audit_of(clinic_id: str, patient_id: str) -> list[AuditEntry]:
    """The patient's whole audit trail, oldest first, read through the audit repository."""
    uow, entries, before = routing.unit_of_work(), [], None
    while True:
        page, more = uow.audit.search(clinic_id, patient_id=patient_id, action=None, limit=100, before=before)
        entries.extend(page)
        if not more:
            return entries[::-1]
        before = page[-1]


# ----- the services, answering as their routes do (views render what the service returns) -----
def log_attempt(clinic_id: str, by: str, now: datetime, pid: str, **fields) -> dict:
    logged = attempts.log(routing.unit_of_work(), as_staff(clinic_id, by), now, pid, **fields)
    return {**views.attempt(logged.attempt), "follow_up_status": logged.follow_up_status,
            "balance_cents": logged.balance_cents}


def schedule_callback(clinic_id: str, by: str, now: datetime, pid: str, **fields) -> dict:
    return views.callback(callbacks.schedule(routing.unit_of_work(), as_staff(clinic_id, by), now, pid,
                                             **fields))


def update_callback(clinic_id: str, by: str, now: datetime, callback_id: str, **fields) -> dict:
    return views.callback(callbacks.update(routing.unit_of_work(), as_staff(clinic_id, by), now, callback_id,
                                           **fields))


def tasks_of(clinic_id: str, sub: str, now: datetime) -> dict:
    due = callbacks.tasks(routing.unit_of_work(), as_staff(clinic_id, sub), now)
    return {"as_of": due.as_of.isoformat(), "items": [views.task(t) for t in due.items]}


def worklist(clinic_id: str, now: datetime, filters: followups.Filters | None = None, **page) -> dict:
    return views.worklist(followups.worklist(routing.unit_of_work(), as_staff(clinic_id), now, filters, **page))


def follow_up(clinic_id: str, pid: str, now: datetime) -> dict:
    return views.follow_up(followups.detail(routing.unit_of_work(), as_staff(clinic_id), now, pid))


def add_invoice(clinic_id: str, by: str, now: datetime, **fields) -> dict:
    return views.invoice(invoices.create(routing.unit_of_work(), as_staff(clinic_id, by), now, **fields))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)



def booked_callbacks(clinic) -> tuple[str, list[dict]]:
    """A patient of `clinic` (a ClinicWorld) with two callbacks of `billing`, one done callback of
    theirs and one of `billing2`, booked through the routes; (patient id, billing's two)."""
    pid = clinic.patient("Zoë O'Brien, Jr.")
    clinic.invoice(pid, 5_000, real_today(clinic.clinic_id).isoformat())
    now = datetime.now(UTC).replace(microsecond=0)

    def book(who, delta, **body):
        r = clinic.as_(who).post(f"/follow-ups/{pid}/callbacks", {"due_at": (now + delta).isoformat(), **body})
        assert r.status == 201, r
        return r.body

    mine = [book("billing", timedelta(hours=3), notes="PRIVATE: disputes the bill"), book("billing", timedelta(days=9))]
    finished = book("billing", timedelta(hours=1))
    clinic.billing.patch(f"/callbacks/{finished['callback_id']}", {"status": "done"})
    book("billing2", timedelta(hours=2))
    return pid, mine


# ----- the follow-up routes, for the access tests of both tiers ---------------------------------
def later(**delta) -> str:
    """An instant from now (4 hours unless told), as a request body gives it."""
    return (datetime.now(UTC) + timedelta(**(delta or {"hours": 4}))).isoformat()


def their_follow_up(other_clinic) -> tuple[str, str]:
    """Another clinic's patient with an invoice, an attempt and a callback: (patient id, callback id)."""
    pid = other_clinic.patient("Their Patient")
    other_clinic.invoice(pid, 7_000, real_today(other_clinic.clinic_id).isoformat())
    other_clinic.billing.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer"})
    cb = other_clinic.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": later(minutes=10)}).body
    return pid, cb["callback_id"]


def routes(pid: str, cb: str) -> list[tuple[str, str, dict | None]]:
    """Every follow-up route (method, path, a valid body) for patient `pid` and callback `cb`."""
    return [
        ("GET", "/follow-ups", None),
        ("GET", f"/follow-ups/{pid}", None),
        ("POST", f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer"}),
        ("POST", f"/follow-ups/{pid}/callbacks", {"due_at": later()}),
        ("PATCH", f"/callbacks/{cb}", {"status": "done"}),
        ("GET", "/tasks", None),
        ("GET", "/calendar.ics", None),
        ("POST", "/calendar/feed", None),
        ("DELETE", "/calendar/feed", None),
    ]


def call(api, method: str, path: str, body):
    """`api` (a tests.support.Api) sends one of `routes`, with a Host for the feed URL."""
    return api.request(method, path, body, headers={"Host": "h.test"})


# ----- worklist scenarios (each tier's test module makes them once, in a module fixture) -----
def all_pages(clinic_id: str, now: datetime, filters: followups.Filters | None = None,
              limit: int = 7) -> tuple[list[dict], int]:
    """Every row of the worklist, page by page; and how many pages it took."""
    rows, cursor, pages = [], None, 0
    while True:
        page = worklist(clinic_id, now, filters, limit=limit, cursor=cursor)
        pages += 1
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, pages


def boundary_ages(now: datetime) -> tuple[str, dict[int, str]]:
    """A clinic with one patient per boundary age (0, 30, 31, 60, 61, 90, 91 days), owing
    1,000 x (age + 1)."""
    clinic_id, today = new_clinic(now), now.date()
    by_age = {age: owing(clinic_id, now, days_before(today, age), cents=1_000 * (age + 1), name=f"Age {age}")
              for age in (0, 30, 31, 60, 61, 90, 91)}
    return clinic_id, by_age


def mixed_debts(now: datetime) -> tuple[str, dict[str, str]]:
    """A clinic with patients of different ages, balances and statuses (one has promised)."""
    clinic_id, today = new_clinic(now), now.date()
    p = {
        "young_small": owing(clinic_id, now, days_before(today, 10), cents=2_000),
        "young_big": owing(clinic_id, now, days_before(today, 20), cents=90_000),
        "mid_small": owing(clinic_id, now, days_before(today, 45), cents=3_000),
        "mid_big": owing(clinic_id, now, days_before(today, 50), cents=80_000),
        "old_promised": owing(clinic_id, now, days_before(today, 120), cents=50_000),
        "old_small": owing(clinic_id, now, days_before(today, 200), cents=1_500),
    }
    log_attempt(clinic_id, "x", now, p["old_promised"], channel="phone", outcome="promised_payment",
                promised_amount_cents=10_000, promised_date=today + timedelta(days=3))
    return clinic_id, p


def crowd_of_45(now: datetime) -> tuple[str, list[str]]:
    """A clinic with 45 patients over 15 invoice dates (three per date, so ties are broken by
    patient id), owing 1,000 + i."""
    clinic_id, today = new_clinic(now), now.date()
    pids = [owing(clinic_id, now, days_before(today, 5 * (i // 3)), cents=1_000 + i) for i in range(45)]
    return clinic_id, pids


# ----- callbacks through the API (both tiers) --------------------------------------------------
def soon(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**(delta or {"hours": 2}))).isoformat()


def a_debtor(clinic) -> str:
    """A patient of `clinic` owing one invoice 20 days old."""
    pid = clinic.patient("Callee")
    clinic.invoice(pid, 10_000, (real_today(clinic.clinic_id) - timedelta(days=20)).isoformat())
    return pid


def schedule(clinic, pid, who="billing", **body):
    return clinic.as_(who).post(f"/follow-ups/{pid}/callbacks", {"due_at": soon(), **body})
