"""Callbacks: scheduled, done, cancelled or rescheduled; the caller's tasks for today.

A callback lives in its patient's partition. Every change also rewrites the patient record
(version-conditioned) with `next_callback_at` recomputed from the patient's callbacks, in the
same transaction: the worklist's next action never disagrees with the callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..domain import clock, contact_rules
from ..domain.contact import CANCELLED, DONE, MAX_NOTES, SCHEDULED, Callback, next_callback_at
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, clinics, events, staff

MAX_AHEAD = timedelta(days=2 * 366)


def resolve_due_at(due_at: datetime, tz: str, now: datetime) -> datetime:
    """Business rule: a naive due time is a clinic-local wall time; a callback is never in the
    past (nor more than two years ahead)."""
    instant = clock.local_wall_time_to_utc(due_at, tz) if due_at.tzinfo is None else clock.as_utc(due_at)
    if instant < now:
        raise ValidationError("due_at is in the past", fields={"due_at": "must not be in the past"})
    if instant > now + MAX_AHEAD:
        raise ValidationError("due_at is more than two years ahead", fields={"due_at": "at most two years ahead"})
    return instant


def _load(uow, clinic_id: str, patient_id: str):
    patient = uow.accounts.get_patient(clinic_id, patient_id, consistent=True)
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    return patient, uow.contacts.callbacks_of(clinic_id, patient_id)


def _overridden(clinic, patient, due_at: datetime, override_reason: str | None) -> tuple[str, ...]:
    """The contact rules a callback at `due_at` overrides (409 `contact_rule` without a reason),
    judged on the patient row's facts as they are now."""
    return contact_rules.judge_callback(clinic.contact_policy, clinic.timezone, patient.contact_facts(), due_at,
                                        override_reason)


def schedule(uow, caller: Caller, now: datetime, patient_id: str, *, due_at: datetime,
             notes: str | None = None, assignee_sub: str | None = None,
             override_reason: str | None = None) -> Callback:
    """Schedule a callback; one due when a contact rule blocks a call needs an `override_reason`."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic_id = caller.clinic_id
    clinic = clinics.get(uow, clinic_id)
    instant = resolve_due_at(due_at, clinic.timezone, now)
    override_reason = contact_rules.check_override_reason(override_reason)
    if notes is not None and len(notes) > MAX_NOTES:
        raise ValidationError("notes are too long", fields={"notes": f"at most {MAX_NOTES} characters"})
    assignee = caller.actor
    if assignee_sub is not None:
        assignee = staff.require_member(uow, clinic_id, assignee_sub, "assignee_sub").sub
    callback_id = new_child_id("cb", patient_id, now)

    def attempt() -> Callback:
        patient, existing = _load(uow, clinic_id, patient_id)
        overridden = _overridden(clinic, patient, instant, override_reason)
        callback = Callback(callback_id, patient_id, instant, assignee, SCHEDULED, now,
                            caller.actor, notes, override_reason=override_reason if overridden else None,
                            override_by=caller.actor if overridden else None)
        patient.next_callback_at = next_callback_at([*existing.values(), callback])
        uow.accounts.save_patient(clinic_id, patient)
        uow.contacts.add_callback(clinic_id, callback)
        details = {"callback_id": callback.callback_id, "assignee_sub": assignee, "due_at": clock.short_z(instant)}
        entry = audit.record(uow, clinic_id, caller.actor, "callback.scheduled", now, patient_id=patient_id,
                             details={**details, **_override_details(overridden, override_reason)})
        events.announce(uow, clinic_id, "callback.scheduled", source_id=entry.audit_id, at=now,
                        data={"callback_id": callback_id, "patient_id": patient_id,
                              "due_at": events.instant(instant), "assignee_sub": assignee, "status": callback.status})
        uow.commit()
        return callback

    return uow.retrying(attempt)


def _override_details(overridden: tuple[str, ...], reason: str | None) -> dict:
    return {"override_reason": reason, "overridden_rules": list(overridden)} if overridden else {}


def update(uow, caller: Caller, now: datetime, callback_id: str, *, status: str | None = None,
           due_at: datetime | None = None, override_reason: str | None = None) -> Callback:
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
    if override_reason is not None and due_at is None:
        raise ValidationError("override_reason goes with a new due_at",
                              fields={"override_reason": "only with due_at"})
    override_reason = contact_rules.check_override_reason(override_reason)
    clinic_id = caller.clinic_id
    clinic = clinics.get(uow, clinic_id)
    instant = resolve_due_at(due_at, clinic.timezone, now) if due_at is not None else None

    def attempt() -> Callback:
        try:
            patient, existing = _load(uow, clinic_id, patient_id)
        except NotFound as e:
            raise NotFound(f"no callback {callback_id}") from e
        callback = existing.get(callback_id)
        if callback is None:
            raise NotFound(f"no callback {callback_id}")
        if status is not None and callback.status == status:
            return callback
        if callback.status != SCHEDULED:
            raise Conflict(f"the callback is {callback.status}; only a scheduled callback changes")
        details: dict = {"callback_id": callback_id}
        if status is not None:
            callback.status = status
            details["status"] = status
            if status == DONE:
                callback.done_at = now
        else:
            overridden = _overridden(clinic, patient, instant, override_reason)
            details.update(status=SCHEDULED, due_at=clock.short_z(instant),
                           previous_due_at=clock.short_z(callback.due_at),
                           **_override_details(overridden, override_reason))
            callback.due_at = instant
            # The override speaks for the time it was given for: a new time needs its own, or none.
            callback.override_reason = override_reason if overridden else None
            callback.override_by = caller.actor if overridden else None
        callback.updated_at = now
        patient.next_callback_at = next_callback_at(existing.values())
        uow.accounts.save_patient(clinic_id, patient)
        uow.contacts.save_callback(clinic_id, callback)
        audit.record(uow, clinic_id, caller.actor, "callback.updated", now, patient_id=patient_id, details=details)
        uow.commit()
        return callback

    return uow.retrying(attempt)


# ----- the caller's callbacks ----------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    callback: Callback
    patient_name: str | None
    overdue: bool


@dataclass(frozen=True)
class Tasks:
    as_of: date
    items: list[Task]


def tasks(uow, caller: Caller, now: datetime) -> Tasks:
    """Business rule: the caller's scheduled callbacks due up to the end of clinic-local today,
    soonest first; one due before now is overdue."""
    clinic = clinics.get(uow, caller.clinic_id)
    today = clinic.today(now)
    due = uow.contacts.scheduled_for(caller.clinic_id, caller.sub,
                                     before=clock.end_of_local_day(today, clinic.timezone))
    names = uow.accounts.names(caller.clinic_id, (c.patient_id for c in due))
    return Tasks(today, [Task(c, names.get(c.patient_id), c.due_at < now) for c in due])
