"""The reports' scenario for both tiers: three staff members' February 2026 in a New York clinic,
every event at an explicit instant through the services, and the figures computed by hand.

Everything goes through `routing.unit_of_work()` (moto in tests/api, the memory store in tests/fast)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chalicelib.api import routing
from chalicelib.domain.roles import Caller
from chalicelib.services import attempts, callbacks, invoices, patients
from tests.followups_support import ACTOR, at, pay
from tests.ledger_ops import caller

FEB = "from=2026-02-01&to=2026-02-28"
ZERO_CHANNELS = {"phone": 0, "email": 0, "sms": 0, "in_person": 0}
ZERO_OUTCOMES = {"no_answer": 0, "promised_payment": 0, "dispute": 0, "hung_up": 0, "refused": 0,
                 "no_payment_despite_promise": 0}


# ----- the scenario: three staff members in February 2026, New York (UTC-5) -----------------------
@dataclass
class Scenario:
    world: object
    ann: str  # "billing"
    bob: str  # "billing2"
    cy: str  # "admin"
    owner: str


def staff(clinic_id: str, sub: str = ACTOR) -> Caller:
    return Caller(sub=sub, clinic_id=clinic_id)


def _attempt(w, who, when, pid, channel, outcome, **promise):
    return attempts.log(routing.unit_of_work(), caller(w, who), at(when), pid, channel=channel, outcome=outcome,
                        **promise)


def _pay(w, when, pid, cents, received_at=None):
    body = {"received_at": at(received_at)} if received_at else {}
    return pay(w.clinic_id, at(when), pid, cents, **body)


def february(w) -> Scenario:
    """Every event of `w` (a fresh "Reports Clinic" in New York, from either tier's make_clinic)
    at an explicit instant, through the services (one transaction each). The comments give what
    each one must count for in February (clinic-local) and why."""
    c = w.clinic_id
    made = at("2026-01-16T15:00:00Z")
    p1, p2, p3 = (patients.create(routing.unit_of_work(), staff(c), made, name=n).patient_id
                  for n in ("P One", "P Two", "P Three"))
    for pid, cents, day in ((p1, 30_000, date(2026, 1, 5)), (p2, 20_000, date(2026, 1, 10)),
                            (p3, 10_000, date(2026, 1, 15))):
        invoices.create(routing.unit_of_work(), staff(c), made, patient_id=pid, amount_cents=cents, invoice_date=day)
    _attempt(w, "admin", "2026-01-20T15:00:00Z", p3, "phone", "hung_up")  # January: no
    _attempt(w, "billing", "2026-02-01T04:30:00Z", p1, "phone", "no_answer")  # Jan 31 23:30 local: no
    _attempt(w, "billing", "2026-02-01T05:10:00Z", p1, "email", "promised_payment",  # Feb 1 00:10 local: yes
             promised_amount_cents=10_000, promised_date=date(2026, 2, 10))
    _attempt(w, "billing2", "2026-02-03T15:00:00Z", p2, "sms", "promised_payment",
             promised_amount_cents=5_000, promised_date=date(2026, 2, 6))
    _pay(w, "2026-02-05T15:00:00Z", p1, 10_000)  # keeps ann's promise; recovered by ann (4 days)
    cb1 = callbacks.schedule(routing.unit_of_work(), caller(w, "billing"), at("2026-02-05T16:00:00Z"), p1,
                             due_at=at("2026-02-10T15:00:00Z")).callback_id
    _attempt(w, "billing2", "2026-02-08T15:00:00Z", p2, "phone", "no_payment_despite_promise")  # breaks bob's
    callbacks.schedule(routing.unit_of_work(), caller(w, "billing2"), at("2026-02-08T16:00:00Z"), p2,
                       due_at=at("2026-02-20T15:00:00Z"))  # never done: overdue for bob
    callbacks.update(routing.unit_of_work(), caller(w, "billing"), at("2026-02-11T15:00:00Z"), cb1,
                     status="done")  # done for ann
    # Recorded on Feb 12 but received on Feb 7: bob's Feb 3 call is the latest before it, not his Feb 8 one.
    _pay(w, "2026-02-12T15:00:00Z", p2, 1_500, received_at="2026-02-07T15:00:00Z")
    _attempt(w, "billing", "2026-02-20T15:00:00Z", p1, "phone", "no_answer")
    _pay(w, "2026-02-25T15:00:00Z", p3, 2_000)  # cy's last call was 36 days before: nobody's
    _attempt(w, "admin", "2026-02-26T15:00:00Z", p3, "in_person", "refused")
    cb3 = callbacks.schedule(routing.unit_of_work(), caller(w, "admin"), at("2026-02-26T16:00:00Z"), p3,
                             due_at=at("2026-02-27T17:00:00Z"), assignee_sub=w.sub("billing")).callback_id
    _pay(w, "2026-02-27T15:00:00Z", p3, 3_000)  # recovered by cy (1 day)
    callbacks.update(routing.unit_of_work(), caller(w, "billing"), at("2026-03-01T15:00:00Z"), cb3,
                     status="done")  # done in March: no
    _pay(w, "2026-03-02T15:00:00Z", p1, 4_000)  # recovered by ann, but in March
    return Scenario(w, w.sub("billing"), w.sub("billing2"), w.sub("admin"), w.sub("owner"))


def _row(sub, name, **figures):
    row = {"sub": sub, "name": name, "attempts": 0, "by_channel": dict(ZERO_CHANNELS),
           "by_outcome": dict(ZERO_OUTCOMES), "promises_made": 0, "promises_kept": 0, "promises_broken": 0,
           "callbacks_done": 0, "callbacks_overdue": 0, "recovered_cents": 0}
    for name_, value in figures.items():
        if name_ in ("by_channel", "by_outcome"):
            row[name_].update(value)
        else:
            row[name_] = value
    return row


def expected(s: Scenario) -> list[dict]:
    return [
        _row(s.cy, "Admin", attempts=1, by_channel={"in_person": 1}, by_outcome={"refused": 1},
             recovered_cents=3_000),
        _row(s.ann, "Billing", attempts=2, by_channel={"phone": 1, "email": 1},
             by_outcome={"no_answer": 1, "promised_payment": 1}, promises_made=1, promises_kept=1,
             callbacks_done=1, recovered_cents=10_000),
        _row(s.bob, "Billing2", attempts=2, by_channel={"sms": 1, "phone": 1},
             by_outcome={"promised_payment": 1, "no_payment_despite_promise": 1}, promises_made=1,
             promises_broken=1, callbacks_overdue=1, recovered_cents=1_500),
        _row(s.owner, "Owner"),
    ]
