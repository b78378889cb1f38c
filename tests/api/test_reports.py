"""What the reports read from DynamoDB: staff performance reads only the month's items on the
timelines, aging reads the open invoices and plans in one Query, and a done callback is keyed on
its timeline at the instant it was done.

In the moto tier because the DynamoDB calls, the items they scan and the timeline sort keys are
the point; the figures, roles, input and isolation are tests/fast/test_reports.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.clock import iso_z
from chalicelib.services import invoices, patients, reports
from chalicelib.store import keys
from chalicelib.store.models import Record
from chalicelib.store.uow import UnitOfWork
from tests.followups_support import at, convert_to_plan, invoice_installments, new_clinic, owing, pay
from tests.ledger_ops import caller
from tests.reports_support import Scenario, expected, february, staff
from tests.support import dynamodb_calls, make_clinic


@pytest.fixture(scope="module")
def feb(http) -> Scenario:
    return february(make_clinic(http, timezone="America/New_York", name="Reports Clinic"))


def test_the_report_reads_only_the_months_items_on_the_timeline(feb):
    with dynamodb_calls() as calls:
        report = reports.staff_performance(UnitOfWork(), caller(feb.world, "owner"), at("2026-03-10T15:00:00Z"),
                                           date(2026, 2, 1), date(2026, 2, 28))
    assert report["items"] == expected(feb)
    assert calls.ops() == ["GetItem", "Query", "Query", "Query", "Query", "Query"]  # clinic, staff, 4 timelines
    # February keys: 5 attempts, 2 promises (kept, broken), 2 callbacks (done Feb 11, due Feb 20),
    # 4 payments; plus the 4 staff records. Nothing of January or March is read.
    assert calls.scanned("Query") == 5 + 2 + 2 + 4 + 4


def test_a_done_callback_is_on_the_timeline_at_the_time_it_was_done(feb):
    done = [r for r in Record.timeline.query(keys.timeline_pk(feb.world.clinic_id, "CB"))
            if r.status == "done"]
    assert sorted(r.tl_sk.split("#")[0] for r in done) == [iso_z(at("2026-02-11T15:00:00Z")),
                                                          iso_z(at("2026-03-01T15:00:00Z"))]


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
        "total_cents": 28_000, "plan_remainder_cents": 11_000 + 2_000, "on_hold_cents": 0}
    # One Query reads the 8 open invoices and the 2 plans, nothing else.
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == 8 + 2
    owed = sum(patients.get(UnitOfWork(), staff(c), p).balance_cents for p in (x, y, z, paid_up, gone, u, v))
    assert owed == report["total_cents"] + report["plan_remainder_cents"]
