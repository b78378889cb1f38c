"""Billing reports through the services and the routes, on the memory store: figures computed by
hand for a small clinic, who recovered a payment, roles, bad input and clinic isolation. (What
each report reads from DynamoDB, and where the timelines key their items, is tests/api/test_reports.py.)"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain.contact import Attempt
from chalicelib.domain.ids import new_child_id
from chalicelib.domain.roles import SYSTEM
from chalicelib.services import attempts
from tests.fast.support import make_clinic
from tests.followups_support import at, new_clinic, owing, pay, staff_sub
from tests.reports_support import FEB, Scenario, expected, february, staff

DEE = staff_sub("dee")  # a staff member's Cognito sub


@pytest.fixture(scope="module")
def feb(http) -> Scenario:
    return february(make_clinic(http, timezone="America/New_York", name="Reports Clinic"))


def test_staff_performance_for_february_matches_the_hand_computed_figures(feb):
    r = feb.world.owner.get(f"/reports/staff-performance?{FEB}")
    assert r.status == 200, r
    assert r.body == {"from": "2026-02-01", "to": "2026-02-28", "items": expected(feb)}


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
    stored = routing.unit_of_work().accounts.payments_between(
        feb.world.clinic_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert sorted((r.received_at.date().isoformat(), r.amount_cents, r.recovered_by) for r in stored) == [
        ("2026-02-05", 10_000, feb.ann), ("2026-02-07", 1_500, feb.bob), ("2026-02-25", 2_000, None),
        ("2026-02-27", 3_000, feb.cy), ("2026-03-02", 4_000, feb.ann)]


# ----- recovered_by: the scheduled run's attempts ------------------------------------------------------
def _system_attempt(clinic_id: str, pid: str, now: datetime) -> None:
    """What the nightly run writes when it breaks a promise (issue 4): an attempt by `system` that
    becomes the patient's last attempt."""
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, pid)
    logged = Attempt(new_child_id("att", pid), pid, now, SYSTEM, "phone", "no_payment_despite_promise")
    loaded.patient.last_attempt = logged.summary()
    uow.accounts.stage(loaded, now)
    uow.contacts.add_attempt(clinic_id, logged)
    uow.commit()


def test_a_payment_after_the_scheduled_runs_attempt_goes_to_the_staff_member_who_called_before(store):
    start = at("2026-05-04T14:00:00Z")
    clinic_id = new_clinic(start)
    pid = owing(clinic_id, start, date(2026, 5, 1), cents=9_000)
    attempts.log(routing.unit_of_work(), staff(clinic_id, DEE), start + timedelta(days=1), pid, channel="sms",
                 outcome="no_answer")
    _system_attempt(clinic_id, pid, start + timedelta(days=3))
    paid = pay(clinic_id, start + timedelta(days=4), pid, 1_000)
    late = pay(clinic_id, start + timedelta(days=31, hours=1), pid, 1_000)
    uow = routing.unit_of_work()
    records = {p: uow.accounts.payment(clinic_id, pid, p) for p in (paid["payment_id"], late["payment_id"])}
    assert records[paid["payment_id"]].recovered_by == DEE
    assert records[late["payment_id"]].recovered_by is None  # her call was more than 30 days before


# ----- aging -------------------------------------------------------------------------------------------
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
