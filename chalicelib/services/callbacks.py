"""Callbacks: scheduled, done, cancelled or rescheduled; the caller's tasks for today.

A callback lives in its patient's partition. While it is scheduled it is also in the sparse
`assignee` index (`as_pk` = the assignee, `as_sk` = `<due_at>#<callback_id>`), which is what
`GET /tasks` and the calendar read with one Query. Every change also rewrites the patient
record (version-conditioned) with `next_callback_at` recomputed from the patient's callbacks,
in the same transaction: the worklist's next action never disagrees with the callbacks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from ..domain import clock
from ..domain.clock import iso_z, parse_iso_z, short_z
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..store import keys
from ..store.models import CallbackRecord, PatientRecord, Record
from ..store.tx import Unit, retrying
from . import clinics, staff

SCHEDULED, DONE, CANCELLED = "scheduled", "done", "cancelled"
MAX_AHEAD = timedelta(days=2 * 366)
MAX_NOTES = 2000


def view(r: CallbackRecord) -> dict:
    return {"callback_id": r.callback_id, "patient_id": r.patient_id, "due_at": short_z(parse_iso_z(r.due_at)),
            "assignee_sub": r.assignee_sub, "status": r.status, "notes": r.notes,
            "created_at": short_z(parse_iso_z(r.created_at)), "created_by": r.created_by,
            "done_at": short_z(parse_iso_z(r.done_at)) if r.done_at else None}


def resolve_due_at(due_at: datetime, tz: str, now: datetime) -> datetime:
    """Business rule: a naive due time is a clinic-local wall time; a callback is never in the
    past (nor more than two years ahead)."""
    instant = clock.local_wall_time_to_utc(due_at, tz) if due_at.tzinfo is None else clock.as_utc(due_at)
    if instant < now:
        raise ValidationError("due_at is in the past", fields={"due_at": "must not be in the past"})
    if instant > now + MAX_AHEAD:
        raise ValidationError("due_at is more than two years ahead", fields={"due_at": "at most two years ahead"})
    return instant


def _index(record: CallbackRecord, clinic_id: str) -> None:
    """Keep the sparse index keys in step with the status and the due time.

    On the clinic's `CB` timeline a done callback sits at the instant it was done, any other at
    its due time: the staff-performance report counts callbacks done by `done_at` and overdue
    ones by `due_at`, and reads both with one Query of the range."""
    record.tl_pk = keys.timeline_pk(clinic_id, "CB")
    at = record.done_at if record.status == DONE and record.done_at else record.due_at
    record.tl_sk = keys.timeline_sk(at, record.callback_id)
    if record.status == SCHEDULED:
        record.as_pk = keys.assignee_pk(clinic_id, record.assignee_sub)
        record.as_sk = f"{record.due_at}#{record.callback_id}"
    else:
        record.as_pk = record.as_sk = None


def _load(clinic_id: str, patient_id: str) -> tuple[PatientRecord, dict[str, CallbackRecord]]:
    try:
        profile = PatientRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PROFILE, consistent_read=True)
    except DoesNotExist as e:
        raise NotFound(f"no patient {patient_id}") from e
    found = {r.callback_id: r for r in Record.query(keys.patient_pk(clinic_id, patient_id),
                                                    Record.sk.startswith(keys.CALLBACK), consistent_read=True)
             if isinstance(r, CallbackRecord)}
    return profile, found


def _set_next_callback(profile: PatientRecord, all_callbacks) -> None:
    due = sorted(c.due_at for c in all_callbacks if c.status == SCHEDULED)
    profile.next_callback_at = due[0] if due else None


def schedule(clinic_id: str, actor: str, now: datetime, patient_id: str, *, due_at: datetime,
             notes: str | None = None, assignee_sub: str | None = None) -> dict:
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic = clinics.get(clinic_id)
    instant = resolve_due_at(due_at, clinic.timezone, now)
    if notes is not None and len(notes) > MAX_NOTES:
        raise ValidationError("notes are too long", fields={"notes": f"at most {MAX_NOTES} characters"})
    assignee = actor
    if assignee_sub is not None:
        assignee = staff.require_member(clinic_id, assignee_sub, "assignee_sub").sub
    callback_id = new_child_id("cb", patient_id)

    def attempt() -> dict:
        profile, existing = _load(clinic_id, patient_id)
        record = CallbackRecord(
            keys.patient_pk(clinic_id, patient_id), keys.CALLBACK + callback_id, callback_id=callback_id,
            patient_id=patient_id, due_at=iso_z(instant), assignee_sub=assignee, status=SCHEDULED, notes=notes,
            created_at=iso_z(now), created_by=actor)
        _index(record, clinic_id)
        _set_next_callback(profile, [*existing.values(), record])
        unit = Unit(now)
        unit.save(profile, label="patient")
        unit.create(record, label="callback")
        unit.audit(clinic_id, actor, "callback.scheduled", patient_id=patient_id,
                   details={"callback_id": callback_id, "assignee_sub": assignee, "due_at": short_z(instant)})
        unit.commit()
        return view(record)

    return retrying(attempt)


def update(clinic_id: str, actor: str, now: datetime, callback_id: str, *, status: str | None = None,
           due_at: datetime | None = None) -> dict:
    """Mark done or cancelled, or reschedule. Only a scheduled callback changes; asking for the
    status it already has answers it unchanged (a retried request is harmless)."""
    if (status is None) == (due_at is None):
        raise ValidationError("give either status or due_at",
                              fields={"status" if status is None else "due_at": "give exactly one of status, due_at"})
    if status is not None and status not in (DONE, CANCELLED):
        raise ValidationError("status must be done or cancelled", fields={"status": "one of done, cancelled"})
    patient_id = patient_of(callback_id, "cb")
    if patient_id is None:
        raise NotFound(f"no callback {callback_id}")
    instant = None
    if due_at is not None:
        instant = resolve_due_at(due_at, clinics.get(clinic_id).timezone, now)

    def attempt() -> dict:
        try:
            profile, existing = _load(clinic_id, patient_id)
        except NotFound as e:
            raise NotFound(f"no callback {callback_id}") from e
        record = existing.get(callback_id)
        if record is None:
            raise NotFound(f"no callback {callback_id}")
        if status is not None and record.status == status:
            return view(record)
        if record.status != SCHEDULED:
            raise Conflict(f"the callback is {record.status}; only a scheduled callback changes")
        details = {"callback_id": callback_id}
        if status is not None:
            record.status = status
            details["status"] = status
            if status == DONE:
                record.done_at = iso_z(now)
        else:
            details.update(status=SCHEDULED, due_at=short_z(instant),
                           previous_due_at=short_z(parse_iso_z(record.due_at)))
            record.due_at = iso_z(instant)
        record.updated_at = iso_z(now)
        _index(record, clinic_id)
        _set_next_callback(profile, existing.values())
        unit = Unit(now)
        unit.save(profile, label="patient")
        unit.save(record, label="callback")
        unit.audit(clinic_id, actor, "callback.updated", patient_id=patient_id, details=details)
        unit.commit()
        return view(record)

    return retrying(attempt)


# ----- the caller's callbacks ----------------------------------------------------------------
def scheduled_for(clinic_id: str, sub: str, before: datetime | None = None) -> list[CallbackRecord]:
    """The assignee's scheduled callbacks, soonest first (optionally only those due before an
    instant): one Query on the `assignee` index."""
    condition = Record.as_sk < iso_z(before) if before is not None else None
    return [r for r in Record.assignee.query(keys.assignee_pk(clinic_id, sub), condition)
            if isinstance(r, CallbackRecord)]


def patient_names(clinic_id: str, patient_ids) -> dict[str, str]:
    """Names for a set of patients with batch reads (100 keys per call)."""
    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}
    return {r.patient_id: r.name for r in PatientRecord.batch_get(
        [(keys.patient_pk(clinic_id, pid), keys.PROFILE) for pid in wanted])}


def tasks(clinic_id: str, sub: str, now: datetime) -> dict:
    """Business rule: the caller's scheduled callbacks due up to the end of clinic-local today,
    soonest first; one due before now is overdue."""
    clinic = clinics.get(clinic_id)
    today = clinic.today(now)
    due = scheduled_for(clinic_id, sub, before=clock.end_of_local_day(today, clinic.timezone))
    names = patient_names(clinic_id, (r.patient_id for r in due))
    return {"as_of": today.isoformat(),
            "items": [{**view(r), "patient_name": names.get(r.patient_id),
                       "overdue": parse_iso_z(r.due_at) < now} for r in due]}
