"""What the contact rules cost in DynamoDB: the facts ride on the follow-up row, so a worklist page
with `contact` on every row is still the clinic read and one Query; `contactable=true` reads on
like the balance filters; the compliance report reads only the range of the two timelines.

In the moto tier because the DynamoDB calls and the items they scan are the point; what the rows
say, the callbacks' 409 and the report's figures are tests/fast/test_contact_rules_wiring.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.contact_rules import DEFAULT_POLICY
from chalicelib.services import reports
from chalicelib.services.followups import Filters
from chalicelib.store.uow import UnitOfWork
from tests.followups_support import at, log_attempt, new_clinic, owing, worklist
from tests.ledger_ops import caller
from tests.reports_support import Scenario, february
from tests.support import dynamodb_calls, make_clinic

NOW = at("2026-06-02T15:00:00Z")  # 11:00 in New York


@pytest.fixture(scope="module")
def called(aws):
    """Twelve patients, each called twice (facts on every row); every third refused calls."""
    clinic_id = new_clinic(NOW - timedelta(days=1), contact_policy=DEFAULT_POLICY)
    pids = []
    for n in range(12):
        pid = owing(clinic_id, NOW - timedelta(days=1), NOW.date() - timedelta(days=20 + n))
        for k in range(2):
            log_attempt(clinic_id, "clerk", NOW - timedelta(hours=20 - k), pid, channel="phone", outcome="no_answer")
        if n % 3 == 0:
            uow = UnitOfWork()
            patient = uow.accounts.get_patient(clinic_id, pid, consistent=True)
            patient.do_not_contact = ("phone",)
            uow.accounts.save_patient(clinic_id, patient)
            uow.commit()
        pids.append(pid)
    return clinic_id, pids


def test_a_page_of_rows_with_contact_facts_is_still_the_clinic_read_and_one_query(called):
    clinic_id, _ = called
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, limit=5)
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == 6
    assert all(set(r["contact"]) == {"call_now", "blocked_by", "next_call_at", "timezone"} for r in page["items"])
    # The facts came back from DynamoDB: of the 5 most overdue (n = 11..7), n = 9 refused calls.
    assert {r["patient_id"] for r in page["items"] if r["contact"]["blocked_by"]} == {called[1][9]}


def test_callable_now_reads_on_past_blocked_rows_and_never_skips_a_callable_one(called):
    clinic_id, pids = called
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, Filters(contactable=True), limit=5)
    assert len(page["items"]) == 5 and all(r["contact"]["call_now"] for r in page["items"])
    assert calls.ops()[0] == "GetItem" and calls.ops().count("Query") >= 1
    assert calls.scanned() >= 6  # it reads the blocked rows it drops


def test_the_compliance_report_reads_only_the_ranges_attempts_and_callbacks(http):
    feb: Scenario = february(make_clinic(http, timezone="America/New_York", name="Compliance Reads"))
    with dynamodb_calls() as calls:
        report = reports.contact_compliance(UnitOfWork(), caller(feb.world, "owner"), at("2026-03-10T15:00:00Z"),
                                            date(2026, 2, 1), date(2026, 2, 28))
    assert calls.ops() == ["GetItem", "Query", "Query", "Query"]  # clinic, staff, attempts, callbacks
    # February keys: 5 attempts and 2 callbacks, plus the 4 staff records; nothing of January or March.
    assert calls.scanned("Query") == 5 + 2 + 4
    assert sum(i["attempts"] for i in report["items"]) == 5
