"""Billing reports through the services, DynamoDB (moto) and the routes: figures computed by hand
for a small clinic, what each report reads, roles, bad input and clinic isolation."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from chalicelib.domain.clock import iso_z
from chalicelib.domain.contact import Attempt
from chalicelib.domain.ids import new_child_id
from chalicelib.domain.roles import SYSTEM, Caller
from chalicelib.services import attempts, callbacks, invoices, patients, reports
from chalicelib.store import keys
from chalicelib.store.models import PaymentRecord, Record
from chalicelib.store.uow import UnitOfWork
from tests.followups_support import (
    ACTOR,
    at,
    convert_to_plan,
    invoice_installments,
    new_clinic,
    owing,
    pay,
)
from tests.ledger_ops import caller
from tests.support import dynamodb_calls, make_clinic

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
    return attempts.log(UnitOfWork(), caller(w, who), at(when), pid, channel=channel, outcome=outcome, **promise)


def _pay(w, when, pid, cents, received_at=None):
    body = {"received_at": at(received_at)} if received_at else {}
    return pay(w.clinic_id, at(when), pid, cents, **body)


@pytest.fixture(scope="module")
def feb(http) -> Scenario:
    """Every event at an explicit instant, through the services (one transaction each). The
    comments give what each one must count for in February (clinic-local) and why."""
    w = make_clinic(http, timezone="America/New_York", name="Reports Clinic")
    c = w.clinic_id
    made = at("2026-01-16T15:00:00Z")
    p1, p2, p3 = (patients.create(UnitOfWork(), staff(c), made, name=n).patient_id
                  for n in ("P One", "P Two", "P Three"))
    for pid, cents, day in ((p1, 30_000, date(2026, 1, 5)), (p2, 20_000, date(2026, 1, 10)),
                            (p3, 10_000, date(2026, 1, 15))):
        invoices.create(UnitOfWork(), staff(c), made, patient_id=pid, amount_cents=cents, invoice_date=day)
    _attempt(w, "admin", "2026-01-20T15:00:00Z", p3, "phone", "hung_up")  # January: no
    _attempt(w, "billing", "2026-02-01T04:30:00Z", p1, "phone", "no_answer")  # Jan 31 23:30 local: no
    _attempt(w, "billing", "2026-02-01T05:10:00Z", p1, "email", "promised_payment",  # Feb 1 00:10 local: yes
             promised_amount_cents=10_000, promised_date=date(2026, 2, 10))
    _attempt(w, "billing2", "2026-02-03T15:00:00Z", p2, "sms", "promised_payment",
             promised_amount_cents=5_000, promised_date=date(2026, 2, 6))
    _pay(w, "2026-02-05T15:00:00Z", p1, 10_000)  # keeps ann's promise; recovered by ann (4 days)
    cb1 = callbacks.schedule(UnitOfWork(), caller(w, "billing"), at("2026-02-05T16:00:00Z"), p1,
                             due_at=at("2026-02-10T15:00:00Z")).callback_id
    _attempt(w, "billing2", "2026-02-08T15:00:00Z", p2, "phone", "no_payment_despite_promise")  # breaks bob's
    callbacks.schedule(UnitOfWork(), caller(w, "billing2"), at("2026-02-08T16:00:00Z"), p2,
                       due_at=at("2026-02-20T15:00:00Z"))  # never done: overdue for bob
    callbacks.update(UnitOfWork(), caller(w, "billing"), at("2026-02-11T15:00:00Z"), cb1,
                     status="done")  # done for ann
    # Recorded on Feb 12 but received on Feb 7: bob's Feb 3 call is the latest before it, not his Feb 8 one.
    _pay(w, "2026-02-12T15:00:00Z", p2, 1_500, received_at="2026-02-07T15:00:00Z")
    _attempt(w, "billing", "2026-02-20T15:00:00Z", p1, "phone", "no_answer")
    _pay(w, "2026-02-25T15:00:00Z", p3, 2_000)  # cy's last call was 36 days before: nobody's
    _attempt(w, "admin", "2026-02-26T15:00:00Z", p3, "in_person", "refused")
    cb3 = callbacks.schedule(UnitOfWork(), caller(w, "admin"), at("2026-02-26T16:00:00Z"), p3,
                             due_at=at("2026-02-27T17:00:00Z"), assignee_sub=w.sub("billing")).callback_id
    _pay(w, "2026-02-27T15:00:00Z", p3, 3_000)  # recovered by cy (1 day)
    callbacks.update(UnitOfWork(), caller(w, "billing"), at("2026-03-01T15:00:00Z"), cb3,
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


def test_staff_performance_for_february_matches_the_hand_computed_figures(feb):
    r = feb.world.owner.get(f"/reports/staff-performance?{FEB}")
    assert r.status == 200, r
    assert r.body == {"from": "2026-02-01", "to": "2026-02-28", "items": expected(feb)}


def test_the_report_reads_only_the_months_items_on_the_timeline(feb):
    with dynamodb_calls() as calls:
        report = reports.staff_performance(UnitOfWork(), caller(feb.world, "owner"), at("2026-03-10T15:00:00Z"),
                                           date(2026, 2, 1), date(2026, 2, 28))
    assert report["items"] == expected(feb)
    assert calls.ops() == ["GetItem", "Query", "Query", "Query", "Query", "Query"]  # clinic, staff, 4 timelines
    # February keys: 5 attempts, 2 promises (kept, broken), 2 callbacks (done Feb 11, due Feb 20),
    # 4 payments; plus the 4 staff records. Nothing of January or March is read.
    assert calls.scanned("Query") == 5 + 2 + 2 + 4 + 4


def test_the_csv_has_the_same_figures_one_row_per_staff_member(feb):
    r = feb.world.admin.get(f"/reports/staff-performance?{FEB}&format=csv")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="staff-performance-2026-02-01-to-2026-02-28.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["sub"] for row in rows] == [item["sub"] for item in expected(feb)]
    bob = next(row for row in rows if row["sub"] == feb.bob)
    assert bob == {"sub": feb.bob, "name": "Billing2", "attempts": "2", "by_channel.phone": "1",
                   "by_channel.email": "0", "by_channel.sms": "1", "by_channel.in_person": "0",
                   "by_outcome.no_answer": "0", "by_outcome.promised_payment": "1", "by_outcome.dispute": "0",
                   "by_outcome.hung_up": "0", "by_outcome.refused": "0",
                   "by_outcome.no_payment_despite_promise": "1", "promises_made": "1", "promises_kept": "0",
                   "promises_broken": "1", "callbacks_done": "0", "callbacks_overdue": "1",
                   "recovered_cents": "1500"}


def test_a_range_of_one_day_counts_only_that_clinic_local_day(feb):
    items = {i["sub"]: i for i in feb.world.owner.get("/reports/staff-performance?from=2026-02-01&to=2026-02-01")
             .body["items"]}
    assert items[feb.ann]["attempts"] == 1 and items[feb.ann]["by_outcome"]["promised_payment"] == 1
    items = {i["sub"]: i for i in feb.world.owner.get("/reports/staff-performance?from=2026-01-31&to=2026-01-31")
             .body["items"]}
    assert items[feb.ann]["attempts"] == 1 and items[feb.ann]["by_outcome"]["no_answer"] == 1


def test_a_payment_is_credited_once_to_whoever_recovered_it(feb):
    stored = [r for r in Record.timeline.query(keys.timeline_pk(feb.world.clinic_id, "PAY"))
              if isinstance(r, PaymentRecord)]
    assert sorted((r.received_at[:10], r.amount_cents, r.recovered_by) for r in stored) == [
        ("2026-02-05", 10_000, feb.ann), ("2026-02-07", 1_500, feb.bob), ("2026-02-25", 2_000, None),
        ("2026-02-27", 3_000, feb.cy), ("2026-03-02", 4_000, feb.ann)]


def test_a_done_callback_is_on_the_timeline_at_the_time_it_was_done(feb):
    done = [r for r in Record.timeline.query(keys.timeline_pk(feb.world.clinic_id, "CB"))
            if r.status == "done"]
    assert sorted(r.tl_sk.split("#")[0] for r in done) == [iso_z(at("2026-02-11T15:00:00Z")),
                                                          iso_z(at("2026-03-01T15:00:00Z"))]


# ----- recovered_by: the scheduled run's attempts ------------------------------------------------------
def _system_attempt(clinic_id: str, pid: str, now: datetime) -> None:
    """What the nightly run writes when it breaks a promise (issue 4): an attempt by `system` that
    becomes the patient's last attempt."""
    uow = UnitOfWork()
    loaded = uow.accounts.load(clinic_id, pid)
    logged = Attempt(new_child_id("att", pid), pid, now, SYSTEM, "phone", "no_payment_despite_promise")
    loaded.patient.last_attempt = logged.summary()
    uow.accounts.stage(loaded, now)
    uow.contacts.add_attempt(clinic_id, logged)
    uow.commit()


def test_a_payment_after_the_scheduled_runs_attempt_goes_to_the_staff_member_who_called_before(aws):
    start = at("2026-05-04T14:00:00Z")
    clinic_id = new_clinic(start)
    pid = owing(clinic_id, start, date(2026, 5, 1), cents=9_000)
    attempts.log(UnitOfWork(), staff(clinic_id, "sub-dee"), start + timedelta(days=1), pid, channel="sms",
                 outcome="no_answer")
    _system_attempt(clinic_id, pid, start + timedelta(days=3))
    paid = pay(clinic_id, start + timedelta(days=4), pid, 1_000)
    late = pay(clinic_id, start + timedelta(days=31, hours=1), pid, 1_000)
    records = {r.payment_id: r for r in Record.query(keys.patient_pk(clinic_id, pid),
                                                     Record.sk.startswith(keys.PAYMENT))}
    assert records[paid["payment_id"]].recovered_by == "sub-dee"
    assert records[late["payment_id"]].recovered_by is None  # her call was more than 30 days before


# ----- aging -------------------------------------------------------------------------------------------
def test_aging_counts_each_open_invoice_in_the_bucket_of_its_own_age_and_plans_apart(aws):
    now = at("2026-03-10T17:00:00Z")  # Mar 10 in New York
    c = new_clinic(at("2025-12-01T17:00:00Z"))

    def d(text):
        return date.fromisoformat(text)

    x = owing(c, now, d("2026-03-10"), 1_000)  # 0 days
    invoices.create(UnitOfWork(), staff(c), now, patient_id=x, amount_cents=2_000,
                    invoice_date=d("2026-02-08"))  # 30 days
    invoices.create(UnitOfWork(), staff(c), now, patient_id=x, amount_cents=3_000,
                    invoice_date=d("2026-02-07"))  # 31 days
    y = owing(c, now, d("2026-01-09"), 4_000)  # 60 days
    invoices.create(UnitOfWork(), staff(c), now, patient_id=y, amount_cents=5_000,
                    invoice_date=d("2026-01-08"))  # 61 days
    pay(c, now, y, 1_000)  # oldest first: the 61-day invoice owes 4,000
    z = owing(c, now, d("2025-12-09"), 6_000)  # 91 days
    invoices.create(UnitOfWork(), staff(c), now, patient_id=z, amount_cents=7_000,
                    invoice_date=d("2025-12-10"))  # 90 days
    paid_up = owing(c, now, d("2026-01-01"), 8_000)
    pay(c, now, paid_up, 8_000)  # paid: in no bucket
    gone = owing(c, now, d("2026-02-15"), 500)
    uow = UnitOfWork()
    loaded = uow.accounts.load(c, gone)
    loaded.account.write_off("test")  # written off: in no bucket
    uow.accounts.stage(loaded, now)
    uow.commit()
    v = owing(c, now, d("2026-02-01"), 12_000)
    convert_to_plan(c, now, v, 5_000, d("2026-03-20"))  # its invoice is in the plan: 12,000 not invoiced
    pay(c, now, v, 1_000)  # prepays the last installment: 11,000 left to invoice
    u = owing(c, now, d("2026-03-01"), 3_000)
    convert_to_plan(c, now, u, 1_000, d("2026-03-10"), frequency="weekly")
    invoice_installments(c, now, u, d("2026-03-10"))  # a 1,000 plan invoice dated today; 2,000 not invoiced

    with dynamodb_calls() as calls:
        report = reports.aging(UnitOfWork(), staff(c), now)
    assert report == {"as_of": "2026-03-10", "buckets": [
        {"bucket": "0-30", "invoices": 3, "patients": 2, "balance_cents": 1_000 + 2_000 + 1_000},
        {"bucket": "31-60", "invoices": 2, "patients": 2, "balance_cents": 3_000 + 4_000},
        {"bucket": "61-90", "invoices": 2, "patients": 2, "balance_cents": 4_000 + 7_000},
        {"bucket": "90+", "invoices": 1, "patients": 1, "balance_cents": 6_000}],
        "total_cents": 28_000, "plan_remainder_cents": 11_000 + 2_000}
    # One Query reads the 8 open invoices and the 2 plans, nothing else.
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == 8 + 2
    owed = sum(patients.get(UnitOfWork(), staff(c), p).balance_cents for p in (x, y, z, paid_up, gone, u, v))
    assert owed == report["total_cents"] + report["plan_remainder_cents"]


def test_the_aging_route_answers_every_role_with_four_buckets(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(45))
    clinic.invoice(pid, 700, clinic.days_ago(2))
    for api in (clinic.owner, clinic.admin, clinic.billing):
        r = api.get("/reports/aging")
        assert r.status == 200, r
        assert r.body["as_of"] == clinic.today().isoformat()
        assert [(b["bucket"], b["invoices"], b["patients"], b["balance_cents"]) for b in r.body["buckets"]] == [
            ("0-30", 1, 1, 700), ("31-60", 1, 1, 5_000), ("61-90", 0, 0, 0), ("90+", 0, 0, 0)]
        assert (r.body["total_cents"], r.body["plan_remainder_cents"]) == (5_700, 0)


# ----- roles, input, isolation -------------------------------------------------------------------------------
def test_billing_staff_get_the_aging_report_but_not_staff_performance(feb):
    w = feb.world
    assert w.billing.get("/reports/aging").status == 200
    for fmt in ("json", "csv"):
        r = w.billing.get(f"/reports/staff-performance?{FEB}&format={fmt}")
        assert r.status == 403 and r.body["error"]["code"] == "forbidden", r


def test_reports_need_a_token(http):
    from tests.support import Api

    for path in ("/reports/aging", f"/reports/staff-performance?{FEB}"):
        r = Api(http, None).get(path)
        assert r.status == 401 and r.body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("query", [
    "from=2026-02-28&to=2026-02-01",  # from after to
    "from=2025-01-01&to=2026-01-03",  # 367 days apart
    "from=2026-02-01&to=2026-02-28&format=xml",
    "from=2026-02-01&to=2026-02-28&format=",
    "to=2026-02-28",
    "from=2026-02-01",
    "from=2026-02-30&to=2026-03-01",
    "from=2026-2-1&to=2026-03-01",
    "from=2026-02-01&to=2026-02-28&clinic_id=x",
    "from=0001-01-01&to=0001-01-02",  # no UTC instant for the day in every zone
    "from=9999-12-30&to=9999-12-31",
])
def test_a_bad_range_or_format_is_a_400(feb, query):
    r = feb.world.owner.get(f"/reports/staff-performance?{query}")
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r


def test_a_range_reaching_into_the_future_and_366_days_long_is_fine(feb):
    today = feb.world.today()
    r = feb.world.owner.get(f"/reports/staff-performance?from={today - timedelta(days=300)}"
                            f"&to={today + timedelta(days=66)}")
    assert r.status == 200 and len(r.body["items"]) == 4


def test_each_clinic_sees_only_its_own_staff_and_invoices(feb, other_clinic):
    theirs = other_clinic.owner.get(f"/reports/staff-performance?{FEB}").body["items"]
    assert {i["sub"] for i in theirs} == {other_clinic.sub(w) for w in ("owner", "admin", "billing", "billing2")}
    assert all(i["attempts"] == 0 and i["recovered_cents"] == 0 for i in theirs)
    aging = other_clinic.billing.get("/reports/aging").body
    assert aging["total_cents"] == 0 and all(b["invoices"] == 0 for b in aging["buckets"])
    ours = feb.world.billing.get("/reports/aging").body
    assert ours["total_cents"] == (30_000 - 14_000) + (20_000 - 1_500) + (10_000 - 5_000)
