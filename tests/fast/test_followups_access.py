"""Who may use the follow-up routes, and one clinic never sees another's follow-ups (on the memory
store and the fake user pool; that every route refuses a missing or malformed token is
tests/api/test_followups_access.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain import cursor as cursors
from chalicelib.services import followups
from tests.fast.support import roleless_api
from tests.followups_support import call, later, real_today, routes, their_follow_up
from tests.support import Api


@pytest.fixture
def theirs(other_clinic):
    return their_follow_up(other_clinic)


def test_a_signed_in_user_without_a_staff_role_is_forbidden_everywhere(http, other_clinic, theirs):
    pid, cb = theirs
    nobody = roleless_api(http, other_clinic.clinic_id)
    for method, path, body in routes(pid, cb):
        r = call(nobody, method, path, body)
        assert r.status == 403 and r.body["error"]["code"] == "forbidden", (method, path, r)
    # ... and nothing changed.
    d = other_clinic.billing.get(f"/follow-ups/{pid}").body
    assert len(d["attempts"]) == 1 and d["callbacks"][0]["status"] == "scheduled"


@pytest.mark.parametrize("who", ["owner", "admin", "billing"])
def test_every_staff_role_may_use_every_follow_up_route(other_clinic, theirs, who):
    pid, cb = theirs
    api = other_clinic.as_(who)
    for method, path, body in routes(pid, cb):
        if method == "PATCH":
            body = {"due_at": later(hours=6)}
        r = call(api, method, path, body)
        assert r.status in (200, 201, 204), (who, method, path, r)


def test_another_clinics_patient_and_callback_are_404_never_403(clinic, theirs, other_clinic):
    pid, cb = theirs
    for method, path, body in routes(pid, cb):
        if "{" in path or pid in path or cb in path:
            r = call(clinic.billing, method, path, body)
            assert r.status == 404 and r.body["error"]["code"] == "not_found", (method, path, r)
    d = other_clinic.billing.get(f"/follow-ups/{pid}").body
    assert len(d["attempts"]) == 1 and [c["status"] for c in d["callbacks"]] == ["scheduled"]


def test_lists_show_only_the_callers_clinic(clinic, theirs, other_clinic):
    mine = clinic.patient("Mine")
    clinic.invoice(mine, 1_000, real_today(clinic.clinic_id).isoformat())
    rows = clinic.billing.get("/follow-ups").body["items"]
    assert [r["patient_id"] for r in rows] == [mine]
    assert clinic.billing.get("/tasks").body["items"] == []
    assert "BEGIN:VEVENT" not in clinic.billing.get("/calendar.ics").text
    assert [r["patient_id"] for r in other_clinic.billing.get("/follow-ups").body["items"]] == [theirs[0]]


def test_a_cursor_cannot_reach_into_another_clinic(clinic, theirs, other_clinic):
    first = other_clinic.billing.get("/follow-ups?limit=1").body
    pid = clinic.patient("Mine")
    clinic.invoice(pid, 1_000, real_today(clinic.clinic_id).isoformat())
    # A cursor is only a position in the list; in another clinic it is a position in that list.
    cursor = cursors.encode(followups.WORKLIST, ["0001-01-01", theirs[0]])
    rows = clinic.billing.get(f"/follow-ups?cursor={cursor}").body["items"]
    assert [r["patient_id"] for r in rows] == [pid]
    assert first["items"][0]["patient_id"] == theirs[0]


def test_a_callback_cannot_be_assigned_to_another_clinics_staff(clinic, other_clinic):
    pid = clinic.patient("Mine")
    r = clinic.billing.post(f"/follow-ups/{pid}/callbacks",
                            {"due_at": later(), "assignee_sub": other_clinic.sub("billing")})
    assert r.status == 400 and r.body["error"]["fields"] == {"assignee_sub": "not staff of this clinic"}


def test_the_openapi_document_describes_every_follow_up_route(http):
    doc = Api(http, None).get("/openapi.json").body
    for path, method in [("/follow-ups", "get"), ("/follow-ups/{patient_id}", "get"),
                         ("/follow-ups/{patient_id}/attempts", "post"), ("/follow-ups/{patient_id}/callbacks", "post"),
                         ("/callbacks/{callback_id}", "patch"), ("/tasks", "get"), ("/calendar.ics", "get"),
                         ("/calendar/feed", "post"), ("/calendar/feed/{token}", "get")]:
        assert method in doc["paths"][path], (path, method)
    params = {p["name"] for p in doc["paths"]["/follow-ups"]["get"]["parameters"]}
    assert params == {"bucket", "min_balance_cents", "max_balance_cents", "invoice_date_from", "invoice_date_to",
                      "status", "contactable", "limit", "cursor"}
    assert "security" not in doc["paths"]["/calendar/feed/{token}"]["get"]
