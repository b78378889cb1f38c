"""The caller's scheduled callbacks as iCalendar, and the secret feed URL calendar apps poll.

A feed token is `base64url("<clinic_id>:<sub>:<secret>")`. The token names the feed record
(one per user: `C#<clinic>` / `FEED#<sub>`), which keeps only the secret's SHA-256; issuing a
new URL overwrites the hash, so the old URL answers 404 from then on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from ..domain.clock import iso_z, parse_iso_z
from ..domain.errors import NotFound
from ..domain.ids import is_clinic_id
from ..store import keys
from ..store.models import CalendarFeedRecord
from ..store.tx import Unit
from .callbacks import patient_names, scheduled_for

PRODID = "-//Clinic Follow-ups//Callbacks//EN"
EVENT_LENGTH = timedelta(minutes=15)
REVOKED = "revoked"
_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{40,64}$")


def ics(clinic_id: str, sub: str, now: datetime) -> str:
    """One VEVENT per scheduled callback of `sub` (UID = callback_id); the summary names the
    patient, nothing else about them (no notes, no amounts)."""
    due = scheduled_for(clinic_id, sub)
    names = patient_names(clinic_id, (r.patient_id for r in due))
    from icalendar import Calendar, Event  # noqa: PLC0415 - only the calendar routes pay for it (cold start)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Follow-up callbacks")
    for r in due:
        event = Event()
        event.add("uid", r.callback_id)
        event.add("dtstamp", now)
        event.add("dtstart", parse_iso_z(r.due_at))
        event.add("duration", EVENT_LENGTH)
        event.add("summary", f"Call back {names.get(r.patient_id, 'patient')}")
        event.add("x-followups-patient-id", r.patient_id)
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_feed(clinic_id: str, sub: str, now: datetime) -> str:
    """A new feed token for `sub`; any earlier token of theirs stops working."""
    secret = secrets.token_urlsafe(32)
    record = CalendarFeedRecord(keys.clinic_pk(clinic_id), keys.feed_sk(sub), sub=sub,
                                secret_sha256=_digest(secret), created_at=iso_z(now))
    unit = Unit(now)
    unit.save(record, label="feed")
    unit.audit(clinic_id, sub, "calendar.feed_issued", details={"sub": sub})
    unit.commit()
    return base64.urlsafe_b64encode(f"{clinic_id}:{sub}:{secret}".encode()).decode().rstrip("=")


def revoke_feed(clinic_id: str, sub: str, now: datetime) -> None:
    """The caller's feed URL stops working (nothing changes when there is none)."""
    try:
        current = CalendarFeedRecord.get(keys.clinic_pk(clinic_id), keys.feed_sk(sub), consistent_read=True)
    except DoesNotExist:
        return
    if current.secret_sha256 == REVOKED:
        return
    # No SHA-256 hex digest equals REVOKED, so no token matches any more.
    record = CalendarFeedRecord(keys.clinic_pk(clinic_id), keys.feed_sk(sub), sub=sub, secret_sha256=REVOKED,
                                created_at=iso_z(now))
    unit = Unit(now)
    unit.save(record, label="feed")
    unit.audit(clinic_id, sub, "calendar.feed_revoked", details={"sub": sub})
    unit.commit()


def _parse(token: str) -> tuple[str, str, str]:
    missing = NotFound("no such calendar feed")
    if not isinstance(token, str) or not 40 <= len(token) <= 400:
        raise missing
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise missing from e
    parts = text.split(":")
    if len(parts) != 3 or not is_clinic_id(parts[0]) or not _SUB.match(parts[1]) or not _SECRET.match(parts[2]):
        raise missing
    return parts[0], parts[1], parts[2]


def feed(token: str, now: datetime) -> str:
    """The calendar behind a feed token, or NotFound for a token that is not the current one."""
    clinic_id, sub, secret = _parse(token)
    try:
        record = CalendarFeedRecord.get(keys.clinic_pk(clinic_id), keys.feed_sk(sub), consistent_read=True)
    except DoesNotExist as e:
        raise NotFound("no such calendar feed") from e
    if not hmac.compare_digest(record.secret_sha256, _digest(secret)):
        raise NotFound("no such calendar feed")
    return ics(clinic_id, sub, now)

