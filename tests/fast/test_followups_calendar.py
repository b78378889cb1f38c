"""The caller's callbacks as iCalendar, and the secret, revocable feed URL for calendar apps (on the
memory store; that only the secret's hash is stored is tests/api/test_followups_calendar.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from chalicelib import config
from chalicelib.domain import cursor as tokens
from chalicelib.services import calendar
from tests.followups_support import booked_callbacks, schedule_callback
from tests.support import Api


@pytest.fixture
def booked(clinic):
    return booked_callbacks(clinic)


def events(text: str) -> list:
    return Calendar.from_ical(text).walk("VEVENT")


def test_the_calendar_has_one_event_per_scheduled_callback_of_the_caller(clinic, booked):
    _, mine = booked
    r = clinic.billing.get("/calendar.ics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.text)
    assert str(cal["VERSION"]) == "2.0" and "PRODID" in cal
    got = {str(e["UID"]): e for e in events(r.text)}
    assert set(got) == {c["callback_id"] for c in mine}
    for c in mine:
        start = got[c["callback_id"]].decoded("DTSTART")
        assert start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == c["due_at"]
        assert str(got[c["callback_id"]]["SUMMARY"]) == "Follow-up callback"  # no name unless the Owner chose
    assert "PRIVATE" not in r.text and "Brien" not in r.text  # notes and names stay in the app


def test_another_staff_member_sees_only_their_own_callbacks(clinic, booked):
    assert len(events(clinic.as_("billing2").get("/calendar.ics").text)) == 1
    assert events(clinic.owner.get("/calendar.ics").text) == []


def anonymous_get(clinic, url: str):
    parts = urlsplit(url)
    return Api(clinic.http, None).get(parts.path)


def test_the_feed_url_serves_the_same_calendar_without_a_header(clinic, booked):
    r = clinic.billing.post("/calendar/feed", headers={"Host": "followups.example.test"})
    assert r.status == 201, r
    url = r.body["url"]
    assert url.startswith("http://followups.example.test/calendar/feed/")
    feed = anonymous_get(clinic, url)
    assert feed.status == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    assert {str(e["UID"]) for e in events(feed.text)} == {str(e["UID"]) for e in events(
        clinic.billing.get("/calendar.ics").text)}


def test_a_new_feed_url_replaces_the_old_one_which_then_answers_404(clinic, booked):
    old = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    new = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    assert old != new
    gone = anonymous_get(clinic, old)
    assert gone.status == 404 and gone.body["error"]["code"] == "not_found"
    assert anonymous_get(clinic, new).status == 200


def test_a_revoked_feed_url_answers_404(clinic, booked):
    url = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    assert clinic.billing.delete("/calendar/feed").status == 204
    assert anonymous_get(clinic, url).status == 404
    assert clinic.billing.delete("/calendar/feed").status == 204  # nothing left to revoke: still fine


def test_a_forged_or_garbled_feed_token_answers_404(clinic, other_clinic, booked):
    url = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    token = url.rsplit("/", 1)[1]
    clinic_id, sub, secret = tokens.decode(calendar.FEED_TOKEN, token)

    def enc(*parts):
        return tokens.encode(calendar.FEED_TOKEN, list(parts))

    forged = [
        enc(clinic_id, clinic.sub("billing2"), secret),  # a colleague's feed with my secret
        enc(other_clinic.clinic_id, sub, secret),  # another clinic
        enc(clinic_id, sub, secret[:-1] + ("A" if not secret.endswith("A") else "B")),
        enc(clinic_id, sub), enc(clinic_id, sub, secret, "extra"),  # not three parts
        tokens.encode("worklist", [clinic_id, sub, secret]),  # another kind of token
        "x" * 60, token[:-4], token + "AAAA", "%00" * 20,
    ]
    for bad in forged:
        r = Api(clinic.http, None).get(f"/calendar/feed/{bad}")
        assert r.status == 404, (bad, r)


def test_the_feed_url_follows_the_forwarded_scheme_and_the_configured_public_url(clinic, booked, monkeypatch):
    r = clinic.billing.post("/calendar/feed", headers={"Host": "api.clinic.test", "X-Forwarded-Proto": "https"})
    assert r.body["url"].startswith("https://api.clinic.test/calendar/feed/")
    monkeypatch.setenv("FOLLOWUPS_PUBLIC_URL", "https://followups.example.com/v1/")
    config.settings.cache_clear()
    try:
        r = clinic.billing.post("/calendar/feed", headers={"Host": "ignored.test"})
        assert r.body["url"].startswith("https://followups.example.com/v1/calendar/feed/")
    finally:
        monkeypatch.delenv("FOLLOWUPS_PUBLIC_URL")
        config.settings.cache_clear()


def test_the_feed_follows_callbacks_as_they_change(clinic, booked):
    pid, mine = booked
    url = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    clinic.billing.patch(f"/callbacks/{mine[0]['callback_id']}", {"status": "cancelled"})
    extra = schedule_callback(clinic.clinic_id, clinic.sub("billing"), datetime.now(UTC), pid,
                               due_at=datetime.now(UTC) + timedelta(days=1))
    uids = {str(e["UID"]) for e in events(anonymous_get(clinic, url).text)}
    assert uids == {mine[1]["callback_id"], extra["callback_id"]}


def test_the_feed_names_no_patient_and_links_to_the_console_until_the_owner_chooses_names(clinic, booked):
    pid, mine = booked
    url = clinic.billing.post("/calendar/feed", headers={"Host": "cal.example.test"}).body["url"]
    feed = Api(clinic.http, None).get(urlsplit(url).path, headers={"Host": "cal.example.test"})
    assert feed.status == 200
    assert {str(e["SUMMARY"]) for e in events(feed.text)} == {"Follow-up callback"}
    assert {str(e["DESCRIPTION"]) for e in events(feed.text)} == {
        f"http://cal.example.test/console/#/patients/{pid}"}
    assert "Brien" not in feed.text

    r = clinic.owner.patch("/clinic", {"calendar_show_names": True})
    assert r.status == 200 and r.body["calendar_show_names"] is True
    named = Api(clinic.http, None).get(urlsplit(url).path, headers={"Host": "cal.example.test"})
    assert {str(e["SUMMARY"]) for e in events(named.text)} == {"Call back Zoë O'Brien, Jr."}
    assert len(events(named.text)) == len(mine)
