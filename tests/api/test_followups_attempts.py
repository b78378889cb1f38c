"""Where a logged attempt is stored: under the patient, and on the clinic's `ATT` timeline the
staff-performance report reads.

In the moto tier because the item's keys and the timeline index are the point; logging attempts
and promises is tests/fast/test_followups_attempts.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.store import keys
from chalicelib.store.models import AttemptRecord, Record
from tests.followups_support import real_today


@pytest.fixture
def debtor(clinic):
    pid = clinic.patient("Debtor")
    clinic.invoice(pid, 10_000, (real_today(clinic.clinic_id) - timedelta(days=20)).isoformat())
    return pid


def log(clinic, pid, who="billing", **body):
    return clinic.as_(who).post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer", **body})


def test_an_attempt_is_stored_on_the_timeline_the_reports_read(clinic, debtor):
    r = log(clinic, debtor).body
    stored = AttemptRecord.get(keys.patient_pk(clinic.clinic_id, debtor), keys.ATTEMPT + r["attempt_id"])
    assert stored.tl_pk == keys.timeline_pk(clinic.clinic_id, "ATT")
    on_timeline = [x.attempt_id for x in Record.timeline.query(keys.timeline_pk(clinic.clinic_id, "ATT"))]
    assert on_timeline == [r["attempt_id"]]
