"""The caller's scheduled callbacks as iCalendar, and the secret feed URL calendar apps poll.

A feed token is an opaque token of `[clinic_id, sub, secret]`. It names the feed record (one
per member), which keeps only the secret's SHA-256; issuing a new URL overwrites the hash, so
the old URL answers 404 from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from ..domain import cursor as tokens
from ..domain.contact import CalendarFeed
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_clinic_id
from ..domain.roles import Caller
from ..domain.team import may_act
from . import audit

PRODID = "-//Clinic Follow-ups//Callbacks//EN"
EVENT_LENGTH = timedelta(minutes=15)
REVOKED = "revoked"  # no SHA-256 hex digest equals it, so no token matches a revoked feed
FEED_TOKEN = "feed"
_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{40,64}$")


def patient_link(console_url: str, patient_id: str) -> str:
    """The console's page of one patient (console/dom.js `patientHash`)."""
    return f"{console_url}#/patients/{quote(patient_id, safe='')}"


def ics(uow, clinic_id: str, sub: str, now: datetime, console_url: str) -> str:
    """One VEVENT per scheduled callback of `sub` (UID = callback_id): its time, a summary that
    names the patient only if the clinic chose so (`Clinic.callback_summary`), and the console
    link to the patient (`console_url`: the console's page, ending in "/"). Never notes or amounts."""
    clinic = uow.clinics.get(clinic_id)
    due = uow.contacts.scheduled_for(clinic_id, sub)
    names = uow.accounts.names(clinic_id, (c.patient_id for c in due)) if clinic.calendar_show_names and due else {}
    from icalendar import Calendar, Event  # noqa: PLC0415 - only the calendar routes pay for it (cold start)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Follow-up callbacks")
    for c in due:
        link = patient_link(console_url, c.patient_id)
        event = Event()
        event.add("uid", c.callback_id)
        event.add("dtstamp", now)
        event.add("dtstart", c.due_at)
        event.add("duration", EVENT_LENGTH)
        event.add("summary", clinic.callback_summary(names.get(c.patient_id)))
        event.add("description", link)
        event.add("url", link)
        event.add("x-followups-patient-id", c.patient_id)
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_feed(uow, caller: Caller, now: datetime) -> str:
    """A new feed token for the caller; any earlier token of theirs stops working."""
    secret = secrets.token_urlsafe(32)
    uow.feeds.save(caller.clinic_id, CalendarFeed(caller.sub, _digest(secret), now))
    audit.record(uow, caller.clinic_id, caller.actor, "calendar.feed_issued", now, details={"sub": caller.sub})
    uow.commit()
    return tokens.encode(FEED_TOKEN, [caller.clinic_id, caller.sub, secret])


def revoke_feed(uow, caller: Caller, now: datetime) -> None:
    """The caller's feed URL stops working (nothing changes when there is none)."""
    current = uow.feeds.get(caller.clinic_id, caller.sub)
    if current is None or current.secret_sha256 == REVOKED:
        return
    uow.feeds.save(caller.clinic_id, CalendarFeed(caller.sub, REVOKED, now))
    audit.record(uow, caller.clinic_id, caller.actor, "calendar.feed_revoked", now, details={"sub": caller.sub})
    uow.commit()


def _parse(token: str) -> tuple[str, str, str]:
    missing = NotFound("no such calendar feed")
    try:
        parts = tokens.decode(FEED_TOKEN, token)
    except ValidationError as e:
        raise missing from e
    if len(parts) != 3 or not all(isinstance(p, str) for p in parts):
        raise missing
    clinic_id, sub, secret = parts
    if not is_clinic_id(clinic_id) or not _SUB.match(sub) or not _SECRET.match(secret):
        raise missing
    return clinic_id, sub, secret


def feed(uow, token: str, now: datetime, console_url: str) -> str:
    """The calendar behind a feed token, or NotFound for a token that is not the current one."""
    clinic_id, sub, secret = _parse(token)
    record = uow.feeds.get(clinic_id, sub)
    if record is None or not hmac.compare_digest(record.secret_sha256, _digest(secret)):
        raise NotFound("no such calendar feed")
    _, member = uow.clinics.get_with_member(clinic_id, sub)  # the clinic comes along for `ics`
    if not may_act(member):  # its owner is no longer active staff: the URL is dead too
        raise NotFound("no such calendar feed")
    return ics(uow, clinic_id, sub, now, console_url)
