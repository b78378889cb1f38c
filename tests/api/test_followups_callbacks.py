"""Where a rescheduled callback is stored: its assignee-index and timeline sort keys move to the
new due time, with the tasks, the next action, the calendar and the audit following.

In the moto tier because the stored index keys (`as_sk`, `tl_sk` of the callback record) are the
point; scheduling, assignees, changes and tasks are tests/fast/test_followups_callbacks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.store import keys
from chalicelib.store.models import CallbackRecord
from tests.followups_support import a_debtor, audit_of, schedule, soon


@pytest.fixture
def debtor(clinic):
    return a_debtor(clinic)


def test_a_rescheduled_callback_moves_in_the_tasks_and_the_next_action(clinic, debtor):
    a = schedule(clinic, debtor, due_at=soon(minutes=20)).body
    b = schedule(clinic, debtor, due_at=soon(minutes=40)).body
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    r = clinic.billing.patch(f"/callbacks/{a['callback_id']}", {"due_at": later.isoformat()})
    assert r.status == 200 and r.body["due_at"] == clock.short_z(later) and r.body["status"] == "scheduled"
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["next_action"] == {"type": "callback", "due": b["due_at"]}
    assert clinic.billing.get("/calendar.ics").text.count("BEGIN:VEVENT") == 2
    stored = CallbackRecord.get(keys.patient_pk(clinic.clinic_id, debtor), keys.CALLBACK + a["callback_id"])
    assert stored.as_sk.startswith(clock.iso_z(later)) and stored.tl_sk.startswith(clock.iso_z(later))
    [audit] = [x for x in audit_of(clinic.clinic_id, debtor) if x.action == "callback.updated"]
    assert audit.details["due_at"] == clock.short_z(later) and audit.details["previous_due_at"] == a["due_at"]
