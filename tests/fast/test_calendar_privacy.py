"""Calendar feeds are polled and kept by third-party calendar apps: an event names no patient
unless the clinic's Owner chose `calendar_show_names`; it links to the patient in the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from tests.fast.support import audit_entries
from tests.support import Api

NAME = "Zoë O'Brien, Jr."
HOST = {"Host": "followups.example.test"}


@pytest.fixture
def booked(clinic):
    pid = clinic.patient(NAME)
    clinic.invoice(pid, 5_000, clinic.today().isoformat())
    due = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    r = clinic.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": due.isoformat(), "notes": "PRIVATE note"})
    assert r.status == 201, r
    return pid, r.body["callback_id"]


def events(text: str) -> list:
    return Calendar.from_ical(text).walk("VEVENT")


def feed_text(clinic) -> str:
    url = clinic.billing.post("/calendar/feed", headers=HOST).body["url"]
    r = Api(clinic.http, None).get(urlsplit(url).path, headers=HOST)
    assert r.status == 200, r
    return r.text


def calendars(clinic) -> dict[str, str]:
    """The two ways a calendar leaves the system: the signed-in download and the secret feed."""
    ics = clinic.billing.get("/calendar.ics", headers=HOST)
    assert ics.status == 200, ics
    return {"calendar.ics": ics.text, "feed": feed_text(clinic)}


def test_by_default_an_event_says_follow_up_callback_and_links_to_the_patient_in_the_console(clinic, booked):
    pid, callback_id = booked
    for source, text in calendars(clinic).items():
        (event,) = events(text)
        assert str(event["UID"]) == callback_id, source
        assert str(event["SUMMARY"]) == "Follow-up callback", source
        link = f"http://followups.example.test/console/#/patients/{pid}"
        assert str(event["DESCRIPTION"]) == link and str(event["URL"]) == link, source
        for private in ("O'Brien", "Brien", "PRIVATE"):
            assert private not in text, (source, private)


def test_the_clinic_shows_the_setting_off_until_the_owner_turns_it_on(clinic):
    assert clinic.billing.get("/clinic").body["calendar_show_names"] is False
    r = clinic.owner.patch("/clinic", {"calendar_show_names": True})
    assert r.status == 200 and r.body["calendar_show_names"] is True, r
    assert clinic.admin.get("/clinic").body["calendar_show_names"] is True


def test_with_names_chosen_by_the_owner_an_event_says_call_back_and_the_name(clinic, booked):
    pid, _ = booked
    assert clinic.owner.patch("/clinic", {"calendar_show_names": True}).status == 200
    for source, text in calendars(clinic).items():
        (event,) = events(text)
        assert str(event["SUMMARY"]) == f"Call back {NAME}", source
        assert str(event["DESCRIPTION"]).endswith(f"/console/#/patients/{pid}"), source
        assert "PRIVATE" not in text  # notes never leave, whatever the setting
    assert clinic.owner.patch("/clinic", {"calendar_show_names": False}).status == 200
    assert all(str(events(t)[0]["SUMMARY"]) == "Follow-up callback" for t in calendars(clinic).values())


def test_turning_names_on_is_audited_as_a_clinic_update(clinic):
    clinic.owner.patch("/clinic", {"calendar_show_names": True})
    (entry, *_) = audit_entries(clinic.clinic_id, action="clinic.updated")
    assert entry.actor == clinic.sub("owner")
    assert entry.details == {"changed": {"calendar_show_names": {"from": False, "to": True}}}


@pytest.mark.parametrize("who", ["admin", "billing"])
def test_only_the_owner_chooses_to_show_names(clinic, who):
    r = clinic.as_(who).patch("/clinic", {"calendar_show_names": True})
    assert r.status == 403
    assert clinic.owner.get("/clinic").body["calendar_show_names"] is False


@pytest.mark.parametrize("value", ["true", 1, None, [True], {"on": True}])
def test_a_setting_that_is_not_a_boolean_is_a_400_and_changes_nothing(clinic, value):
    before = len(audit_entries(clinic.clinic_id))
    r = clinic.owner.patch("/clinic", {"calendar_show_names": value})
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
    assert "calendar_show_names" in r.body["error"]["fields"]
    assert clinic.owner.get("/clinic").body["calendar_show_names"] is False
    assert len(audit_entries(clinic.clinic_id)) == before


def test_the_console_link_keeps_the_stage_prefix_the_client_used(clinic, booked):
    pid, _ = booked
    # Behind API Gateway the path the client used carries the stage: /api/calendar.ics.
    from chalicelib.api import urls

    class Request:
        headers = {"host": "abc.execute-api.test", "x-forwarded-proto": "https"}
        context = {"path": "/api/calendar.ics"}

    assert urls.public_base_url(Request(), "/calendar") + "/console/" == "https://abc.execute-api.test/api/console/"


def test_the_feed_of_someone_who_is_no_longer_staff_answers_404(clinic, booked, store):
    url = clinic.billing.post("/calendar/feed", headers=HOST).body["url"]
    assert Api(clinic.http, None).get(urlsplit(url).path, headers=HOST).status == 200
    del store.staff[(clinic.clinic_id, clinic.sub("billing"))]  # removed behind the API's back
    r = Api(clinic.http, None).get(urlsplit(url).path, headers=HOST)
    assert r.status == 404 and r.body["error"]["code"] == "not_found"
