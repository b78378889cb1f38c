"""The audit trail: every mutation records one entry in its own transaction; reading it newest first.

Nothing here (or anywhere) updates or deletes an entry. A cursor carries the last entry shown
(its instant and id) and the filters it was made for, never a partition key, so it cannot lead
into another clinic's trail or another filter's list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..domain import cursor as cursors
from ..domain.audit import AuditEntry
from ..domain.clock import iso_z, parse_iso_z
from ..domain.errors import ValidationError
from ..domain.ids import is_patient_id, new_id
from ..domain.roles import Caller

ACTION = re.compile(r"^[a-z][a-z_]{0,40}\.[a-z][a-z_]{0,40}$")
_AUDIT_ID = re.compile(r"^aud_[0-9a-z]{6,40}$")


def record(uow, clinic_id: str, actor: str, action: str, at: datetime, *, patient_id: str | None = None,
           details: dict | None = None, audit_id: str | None = None) -> AuditEntry:
    """Stage one audit entry in the unit of work's transaction (the change it describes commits with it)."""
    entry = AuditEntry(audit_id or new_id("aud"), at, actor, action, patient_id, details or {})
    uow.audit.add(clinic_id, entry)
    return entry


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


def _kind(patient_id: str | None, action: str | None) -> str:
    return f"audit:{patient_id or ''}:{action or ''}"


def _before(cursor: str, patient_id: str | None, action: str | None) -> AuditEntry:
    position = cursors.decode(_kind(patient_id, action), cursor)
    bad = ValidationError("cursor is not a cursor this list returned", fields={"cursor": "use next_cursor as given"})
    if len(position) != 2 or not all(isinstance(p, str) for p in position) or not _AUDIT_ID.match(position[1]):
        raise bad
    try:
        at = parse_iso_z(position[0])
    except ValueError as e:
        raise bad from e
    return AuditEntry(position[1], at, "", "")


def search(uow, caller: Caller, *, patient_id: str | None = None, action: str | None = None, limit: int = 25,
           cursor: str | None = None) -> AuditPage:
    """Newest first, by patient and/or action."""
    if patient_id is not None and not is_patient_id(patient_id):
        raise ValidationError("patient_id is not a patient id", fields={"patient_id": "not a patient id"})
    if action is not None and not ACTION.match(action):
        raise ValidationError("action is not an action name", fields={"action": "like writeoff.recorded"})
    before = _before(cursor, patient_id, action) if cursor is not None else None
    entries, more = uow.audit.search(caller.clinic_id, patient_id=patient_id, action=action, limit=limit,
                                     before=before)
    next_cursor = None
    if more:
        last = entries[-1]
        next_cursor = cursors.encode(_kind(patient_id, action), [iso_z(last.at), last.audit_id])
    return AuditPage(entries, next_cursor)
