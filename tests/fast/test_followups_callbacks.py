"""Callbacks: scheduling (instants and clinic wall times across DST), assignees, changes, and tasks
(on the memory store; the index keys a rescheduled callback moves to are tests/api/test_followups_callbacks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, ValidationError
from tests.followups_support import (
    a_debtor,
    at,
    audit_of,
    days_before,
    new_clinic,
    owing,
    real_today,
    schedule,
    schedule_callback,
    soon,
    tasks_of,
    update_callback,
    worklist,
)

NOW = at("2026-03-01T15:00:00Z")  # New York: 10:00 EST, a week before DST starts (2026-03-08)
TODAY = NOW.date()


@pytest.fixture
def debtor(clinic):
    return a_debtor(clinic)


# ----- scheduling ------------------------------------------------------------------------------
def test_a_callback_at_an_instant_is_scheduled_for_the_caller(clinic, debtor):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    r = schedule(clinic, debtor, due_at=due.astimezone(clock.zone("Asia/Kathmandu")).isoformat(),
                 notes="ask about insurance")
    assert r.status == 201, r
    assert {k: r.body[k] for k in ("patient_id", "due_at", "assignee_sub", "status", "notes")} == {
        "patient_id": debtor, "due_at": due.strftime("%Y-%m-%dT%H:%M:%SZ"), "assignee_sub": clinic.sub("billing"),
        "status": "scheduled", "notes": "ask about insurance"}
    assert r.body["callback_id"].startswith("cb_")


def test_a_wall_time_is_read_in_the_clinics_time_zone(clinic, debtor):
    tomorrow = real_today(clinic.clinic_id) + timedelta(days=1)
    r = schedule(clinic, debtor, due_at=f"{tomorrow.isoformat()}T09:30")
    assert r.status == 201, r
    expected = clock.local_wall_time_to_utc(datetime.fromisoformat(f"{tomorrow.isoformat()}T09:30"),
                                            "America/New_York")
    assert r.body["due_at"] == clock.short_z(expected)


@pytest.mark.parametrize("wall, expected", [
    ("2026-03-07T09:00", "2026-03-07T14:00:00Z"),  # EST, UTC-5
    ("2026-03-09T09:00", "2026-03-09T13:00:00Z"),  # EDT, UTC-4
    ("2026-03-08T02:30", "2026-03-08T07:30:00Z"),  # in the spring gap: 03:30 EDT
    ("2026-11-01T01:30", "2026-11-01T05:30:00Z"),  # ambiguous autumn hour: the first one (EDT)
    ("2026-11-02T09:00", "2026-11-02T14:00:00Z"),  # back on EST
])
def test_wall_times_stay_correct_across_daylight_saving_changes(store, wall, expected):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 3))
    r = schedule_callback(clinic_id, "x", NOW, pid, due_at=datetime.fromisoformat(wall))
    assert r["due_at"] == expected


@pytest.mark.parametrize("due_at", ["2020-01-01T10:00:00Z", "2020-01-01T10:00", "2030-01-01T10:00:00Z",
                                    "tomorrow", "2026-13-01T10:00", "2026-03-01T10:00:00", 1767225600, None])
def test_a_due_time_in_the_past_or_malformed_is_a_400(clinic, debtor, due_at):
    r = schedule(clinic, debtor, due_at=due_at)
    assert r.status == 400 and "due_at" in r.body["error"]["fields"], r


def test_a_callback_just_in_the_past_by_clinic_wall_time_is_refused(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 3))
    with pytest.raises(ValidationError):
        schedule_callback(clinic_id, "x", NOW, pid, due_at=datetime.fromisoformat("2026-03-01T09:59"))
    ok = schedule_callback(clinic_id, "x", NOW, pid, due_at=datetime.fromisoformat("2026-03-01T10:01"))
    assert ok["due_at"] == "2026-03-01T15:01:00Z"


def daytime_zone() -> str:
    """A zone where it is day now, so "in two hours" is still the clinic's today."""
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    return next(tz for tz in ("America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Auckland",
                              "America/Los_Angeles", "Pacific/Honolulu")
                if 6 <= now.astimezone(ZoneInfo(tz)).hour <= 18)


def test_a_callback_can_be_assigned_to_a_colleague_of_the_clinic(clinic, debtor):
    assert clinic.owner.patch("/clinic", {"timezone": daytime_zone()}).status == 200
    r = schedule(clinic, debtor, assignee_sub=clinic.sub("billing2"))
    assert r.status == 201 and r.body["assignee_sub"] == clinic.sub("billing2")
    assert [t["callback_id"] for t in clinic.as_("billing2").get("/tasks").body["items"]] == [r.body["callback_id"]]
    assert clinic.billing.get("/tasks").body["items"] == []


def test_an_assignee_who_is_not_staff_of_the_clinic_is_a_400(clinic, other_clinic, debtor):
    for sub in (other_clinic.sub("billing"), "00000000-0000-0000-0000-000000000000", ""):
        r = schedule(clinic, debtor, assignee_sub=sub)
        assert r.status == 400 and "assignee_sub" in r.body["error"]["fields"], (sub, r)
    assert clinic.billing.get(f"/follow-ups/{debtor}").body["callbacks"] == []


def test_scheduling_writes_the_callback_the_patients_next_callback_and_the_audit_together(clinic, debtor):
    late = schedule(clinic, debtor, due_at=soon(days=3)).body
    early = schedule(clinic, debtor, due_at=soon(hours=5), notes="secret note").body
    patient = routing.unit_of_work().accounts.get_patient(clinic.clinic_id, debtor, consistent=True)
    assert clock.short_z(patient.next_callback_at) == early["due_at"]
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["next_action"] == {"type": "callback", "due": early["due_at"]}
    audits = [a for a in audit_of(clinic.clinic_id, debtor) if a.action == "callback.scheduled"]
    assert sorted(a.details["callback_id"] for a in audits) == sorted([late["callback_id"], early["callback_id"]])
    assert all("secret" not in str(a.details) for a in audits)


# ----- changes ---------------------------------------------------------------------------------
def test_done_and_cancelled_callbacks_leave_the_tasks_and_the_next_action_moves_on(clinic, debtor):
    first = schedule(clinic, debtor, due_at=soon(minutes=30)).body
    second = schedule(clinic, debtor, due_at=soon(minutes=60)).body
    third = schedule(clinic, debtor, due_at=soon(days=4)).body
    done = clinic.billing.patch(f"/callbacks/{first['callback_id']}", {"status": "done"})
    assert done.status == 200 and done.body["status"] == "done" and done.body["done_at"].endswith("Z")
    cancelled = clinic.admin.patch(f"/callbacks/{second['callback_id']}", {"status": "cancelled"})
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled" and cancelled.body["done_at"] is None
    tasks = clinic.billing.get("/tasks").body["items"]
    assert first["callback_id"] not in [t["callback_id"] for t in tasks]
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["next_action"] == {"type": "callback", "due": third["due_at"]}
    actions = [(a.action, a.details.get("status")) for a in audit_of(clinic.clinic_id, debtor)
               if a.action == "callback.updated"]
    assert sorted(actions) == [("callback.updated", "cancelled"), ("callback.updated", "done")]
    clinic.billing.patch(f"/callbacks/{third['callback_id']}", {"status": "done"})
    assert clinic.billing.get("/follow-ups").body["items"][0]["next_action"] is None


def test_asking_again_for_the_status_a_callback_has_changes_nothing(clinic, debtor):
    cb = schedule(clinic, debtor).body
    assert clinic.billing.patch(f"/callbacks/{cb['callback_id']}", {"status": "done"}).status == 200
    again = clinic.billing.patch(f"/callbacks/{cb['callback_id']}", {"status": "done"})
    assert again.status == 200 and again.body["status"] == "done"
    assert [a.action for a in audit_of(clinic.clinic_id, debtor)].count("callback.updated") == 1


@pytest.mark.parametrize("body", [{"status": "cancelled"}, {"due_at": soon(days=1)}])
def test_a_finished_callback_cannot_be_changed_again(clinic, debtor, body):
    cb = schedule(clinic, debtor).body
    clinic.billing.patch(f"/callbacks/{cb['callback_id']}", {"status": "done"})
    r = clinic.billing.patch(f"/callbacks/{cb['callback_id']}", body)
    assert r.status == 409, r


@pytest.mark.parametrize("body", [{}, {"status": "done", "due_at": soon(days=1)}, {"status": "scheduled"},
                                  {"status": "DONE"}, {"due_at": "2020-01-01T00:00:00Z"}, {"notes": "x"},
                                  {"assignee_sub": "x"}, {"status": None}])
def test_a_bad_callback_change_is_a_400_and_changes_nothing(clinic, debtor, body):
    cb = schedule(clinic, debtor).body
    r = clinic.billing.patch(f"/callbacks/{cb['callback_id']}", body)
    assert r.status == 400, (body, r)
    [stored] = clinic.billing.get(f"/follow-ups/{debtor}").body["callbacks"]
    assert stored == {**cb, "done_at": None}


def test_an_unknown_or_malformed_callback_is_a_404(clinic, debtor):
    for cb in ("cb_" + debtor[4:] + "_000000000000", "cb_nope", "nope", "inv_" + debtor[4:] + "_000000000000"):
        r = clinic.billing.patch(f"/callbacks/{cb}", {"status": "done"})
        assert r.status == 404, (cb, r)


# ----- tasks -----------------------------------------------------------------------------------
def test_tasks_are_the_callers_callbacks_due_by_the_end_of_today_soonest_first_with_overdue_flags(store):
    clinic_id = new_clinic(NOW)
    ann = owing(clinic_id, NOW, days_before(TODAY, 3), name="Ann")
    bob = owing(clinic_id, NOW, days_before(TODAY, 9), name="Bob")
    earlier = NOW - timedelta(days=2)
    overdue = schedule_callback(clinic_id, "me", earlier, ann, due_at=earlier + timedelta(hours=1))
    last_minute = schedule_callback(clinic_id, "me", NOW, bob, due_at=datetime.fromisoformat("2026-03-01T23:59"),
                                    override_reason="asked for a call at midnight")  # past any call hours
    soon_ = schedule_callback(clinic_id, "me", NOW, ann, due_at=NOW + timedelta(minutes=5))
    schedule_callback(clinic_id, "me", NOW, bob, due_at=datetime.fromisoformat("2026-03-02T00:00"))  # tomorrow
    schedule_callback(clinic_id, "someone-else", NOW, bob, due_at=NOW + timedelta(minutes=1))
    cancelled = schedule_callback(clinic_id, "me", NOW, ann, due_at=NOW + timedelta(minutes=2))
    update_callback(clinic_id, "me", NOW, cancelled["callback_id"], status="cancelled")
    result = tasks_of(clinic_id, "me", NOW)
    assert result["as_of"] == "2026-03-01"
    got = [(t["callback_id"], t["patient_name"], t["overdue"]) for t in result["items"]]
    assert got == [(overdue["callback_id"], "Ann", True), (soon_["callback_id"], "Ann", False),
                   (last_minute["callback_id"], "Bob", False)]
    # An hour later the soon one is overdue too.
    later = [t["overdue"] for t in tasks_of(clinic_id, "me", NOW + timedelta(hours=1))["items"]]
    assert later == [True, True, False]


def test_the_tasks_route_shows_patient_names_and_overdue(clinic, debtor):
    past = datetime.now(UTC) - timedelta(hours=3)
    overdue = schedule_callback(clinic.clinic_id, clinic.sub("billing"), past - timedelta(minutes=1), debtor,
                                 due_at=past)
    r = clinic.billing.get("/tasks")
    assert r.status == 200
    [task] = r.body["items"]
    assert (task["callback_id"], task["patient_name"], task["overdue"], task["status"]) == (
        overdue["callback_id"], "Callee", True, "scheduled")


def test_tasks_use_the_clinics_today_where_it_differs_from_utcs(store):
    instant = at("2026-03-15T20:00:00Z")  # Kiritimati: 2026-03-16 10:00
    clinic_id = new_clinic(instant, "Pacific/Kiritimati")
    pid = owing(clinic_id, instant, days_before(TODAY, 3))
    local_evening = schedule_callback(clinic_id, "me", instant, pid,
                                       due_at=datetime.fromisoformat("2026-03-16T22:00"))
    schedule_callback(clinic_id, "me", instant, pid, due_at=datetime.fromisoformat("2026-03-17T08:00"))
    result = tasks_of(clinic_id, "me", instant)
    assert result["as_of"] == "2026-03-16"
    assert [t["callback_id"] for t in result["items"]] == [local_evening["callback_id"]]
    assert worklist(clinic_id, instant)["items"][0]["next_action"]["type"] == "callback"


def test_a_conflicting_change_is_refused_as_a_conflict_not_a_crash(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 3))
    cb = schedule_callback(clinic_id, "me", NOW, pid, due_at=NOW + timedelta(hours=1))
    update_callback(clinic_id, "me", NOW, cb["callback_id"], status="cancelled")
    with pytest.raises(Conflict):
        update_callback(clinic_id, "me", NOW, cb["callback_id"], status="done")
