"""A patient's follow-up is read with one Query on the patient's partition (after the clinic's
GetItem for its time zone).

In the moto tier because the DynamoDB calls are the point (the `dynamodb_calls` spy); what the
detail shows is tests/fast/test_followups_detail.py.
"""

from __future__ import annotations

from datetime import timedelta

from tests.followups_support import at, days_before, follow_up, log_attempt, new_clinic, owing, pay, schedule_callback
from tests.support import dynamodb_calls

NOW = at("2026-03-15T15:00:00Z")
TODAY = NOW.date()


def test_the_detail_reads_the_account_and_one_bounded_page_of_each_list(aws):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10))
    pay(clinic_id, NOW, pid, 100)
    log_attempt(clinic_id, "x", NOW, pid, channel="sms", outcome="no_answer")
    schedule_callback(clinic_id, "x", NOW, pid, due_at=NOW + timedelta(hours=2))
    with dynamodb_calls() as calls:
        d = follow_up(clinic_id, pid, NOW)
    # the clinic's time zone; the account (patient, invoices, plans); the latest payments; the
    # newest attempts; the newest callbacks: what it reads no longer grows with the history
    assert calls.ops() == ["GetItem", "Query", "Query", "Query", "Query"]
    assert len(d["payments"]) == len(d["attempts"]) == len(d["callbacks"]) == 1
