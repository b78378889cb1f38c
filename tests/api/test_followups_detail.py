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


def test_the_detail_is_one_query_on_the_patients_partition(aws):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10))
    pay(clinic_id, NOW, pid, 100)
    log_attempt(clinic_id, "x", NOW, pid, channel="sms", outcome="no_answer")
    schedule_callback(clinic_id, "x", NOW, pid, due_at=NOW + timedelta(hours=2))
    with dynamodb_calls() as calls:
        d = follow_up(clinic_id, pid, NOW)
    assert calls.ops() == ["GetItem", "Query"]  # the clinic's time zone, then the partition
    assert len(d["payments"]) == len(d["attempts"]) == len(d["callbacks"]) == 1
