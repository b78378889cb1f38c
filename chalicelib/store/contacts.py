"""Contact history in the patient's partition: attempts (`5#ATT#..`, append-only) and callbacks
(`6#CB#..`), with their index entries:
- `timeline` `ATT` by `at` and `CB` by `due_at` (by `done_at` once done): staff performance;
- `assignee` (`C#<clinic>#U#<sub>` / `<due_at>#<callback>`), only while scheduled: tasks, calendar.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ..domain import reports
from ..domain.clock import iso_z
from ..domain.contact import DONE, SCHEDULED, Attempt, Callback
from . import keys
from .mapping import d, d_out, n, t, t_out
from .models import AttemptRecord, CallbackRecord, Record
from .uow import Transaction

_ATTEMPT_FIELDS = ["pk", "sk", "kind", "at", "by", "channel", "outcome", "rule_flags"]
_CALLBACK_FIELDS = ["pk", "sk", "kind", "assignee_sub", "status", "due_at", "done_at", "override_by"]


def attempt_from(r: AttemptRecord) -> Attempt:
    return Attempt(r.attempt_id, r.patient_id, t(r.at), r.by, r.channel, r.outcome, r.notes,
                   n(r.promised_amount_cents), d(r.promised_date), r.promise_id, tuple(r.rule_flags or ()))


def callback_from(r: CallbackRecord) -> Callback:
    return Callback(r.callback_id, r.patient_id, t(r.due_at), r.assignee_sub, r.status, t(r.created_at),
                    r.created_by, r.notes, t(r.updated_at), t(r.done_at), r.override_reason, r.override_by)


def attempt_record(clinic_id: str, a: Attempt) -> AttemptRecord:
    at = iso_z(a.at)
    return AttemptRecord(
        keys.patient_pk(clinic_id, a.patient_id), keys.ATTEMPT + a.attempt_id, attempt_id=a.attempt_id,
        patient_id=a.patient_id, at=at, by=a.by, channel=a.channel, outcome=a.outcome, notes=a.notes,
        promised_amount_cents=a.promised_amount_cents, promised_date=d_out(a.promised_date),
        promise_id=a.promise_id, rule_flags=list(a.rule_flags) or None,
        tl_pk=keys.timeline_pk(clinic_id, keys.ATTEMPTS_TIMELINE),
        tl_sk=keys.timeline_sk(at, a.attempt_id))


def callback_record(clinic_id: str, c: Callback) -> CallbackRecord:
    due_at = iso_z(c.due_at)
    record = CallbackRecord(
        keys.patient_pk(clinic_id, c.patient_id), keys.CALLBACK + c.callback_id, callback_id=c.callback_id,
        patient_id=c.patient_id, due_at=due_at, assignee_sub=c.assignee_sub, status=c.status, notes=c.notes,
        created_at=iso_z(c.created_at), created_by=c.created_by, updated_at=t_out(c.updated_at),
        done_at=t_out(c.done_at), override_reason=c.override_reason, override_by=c.override_by)
    # On the clinic's `CB` timeline a done callback sits at the instant it was done, any other at
    # its due time: the report counts done ones by `done_at`, overdue ones by `due_at`, with one Query.
    record.tl_pk = keys.timeline_pk(clinic_id, keys.CALLBACKS_TIMELINE)
    at = record.done_at if c.status == DONE and record.done_at else due_at
    record.tl_sk = keys.timeline_sk(at, c.callback_id)
    if c.is_scheduled:
        record.as_pk = keys.assignee_pk(clinic_id, c.assignee_sub)
        record.as_sk = keys.assignee_sk(due_at, c.callback_id)
    return record


class ContactRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    # ----- attempts ------------------------------------------------------------------------
    def add_attempt(self, clinic_id: str, attempt: Attempt) -> None:
        self._tx.create(attempt_record(clinic_id, attempt), label="attempt")

    def attempt(self, clinic_id: str, patient_id: str, attempt_id: str) -> Attempt | None:
        try:
            return attempt_from(AttemptRecord.get(keys.patient_pk(clinic_id, patient_id), keys.ATTEMPT + attempt_id))
        except DoesNotExist:
            return None

    def attempts_page(self, clinic_id: str, patient_id: str, limit: int,
                      before_id: str | None) -> tuple[list[Attempt], bool]:
        """Up to `limit` attempts older than attempt `before_id`, newest first, and whether more follow."""
        return _page(clinic_id, patient_id, keys.ATTEMPT, AttemptRecord, attempt_from, limit, before_id)

    def attempt_authors(self, clinic_id: str, patient_id: str) -> list[tuple[datetime, str]]:
        """(at, by) of every attempt on the patient: one Query of the partition's attempts."""
        return [(t(r.at), r.by) for r in Record.query(
            keys.patient_pk(clinic_id, patient_id), Record.sk.startswith(keys.ATTEMPT), consistent_read=True,
            attributes_to_get=["pk", "sk", "kind", "at", "by"]) if isinstance(r, AttemptRecord)]

    def attempts_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.AttemptEvent]:
        from .accounts import timeline

        for r in timeline(clinic_id, keys.ATTEMPTS_TIMELINE, start, end, _ATTEMPT_FIELDS):
            if isinstance(r, AttemptRecord):
                yield reports.AttemptEvent(r.by, t(r.at), r.channel, r.outcome, tuple(r.rule_flags or ()))

    # ----- callbacks -----------------------------------------------------------------------
    def callbacks_of(self, clinic_id: str, patient_id: str) -> dict[str, Callback]:
        return {r.callback_id: callback_from(r) for r in Record.query(
            keys.patient_pk(clinic_id, patient_id), Record.sk.startswith(keys.CALLBACK), consistent_read=True)
            if isinstance(r, CallbackRecord)}

    def callbacks_page(self, clinic_id: str, patient_id: str, limit: int,
                       before_id: str | None) -> tuple[list[Callback], bool]:
        """Up to `limit` callbacks made before callback `before_id`, newest first, and whether more follow."""
        return _page(clinic_id, patient_id, keys.CALLBACK, CallbackRecord, callback_from, limit, before_id)

    def add_callback(self, clinic_id: str, callback: Callback) -> None:
        self._tx.create(callback_record(clinic_id, callback), label="callback")

    def save_callback(self, clinic_id: str, callback: Callback) -> None:
        """Stage a changed callback; refused at commit (`callback`) if it was given to someone else
        since it was read (a leaver's callbacks moved meanwhile: the change reloads and keeps the
        new assignee)."""
        self._tx.save(callback_record(clinic_id, callback), label="callback",
                      condition=CallbackRecord.assignee_sub == callback.assignee_sub)

    def reassign_callback(self, clinic_id: str, callback: Callback, assignee_sub: str, at: datetime) -> None:
        """Stage `callback` given to another assignee; refused at commit (`callback`) unless it is
        still scheduled, due when it was and with the assignee read (a callback done or
        rescheduled meanwhile keeps that change)."""
        moved = replace(callback, assignee_sub=assignee_sub, updated_at=at)
        r = CallbackRecord
        self._tx.save(callback_record(clinic_id, moved), label="callback",
                      condition=(r.status == SCHEDULED) & (r.assignee_sub == callback.assignee_sub)
                      & (r.due_at == iso_z(callback.due_at)))

    def scheduled_for(self, clinic_id: str, sub: str, before: datetime | None = None) -> list[Callback]:
        """The assignee's scheduled callbacks, soonest first (optionally only those due before an
        instant): one Query on the `assignee` index."""
        condition = Record.as_sk < iso_z(before) if before is not None else None
        return [callback_from(r) for r in Record.assignee.query(keys.assignee_pk(clinic_id, sub), condition)
                if isinstance(r, CallbackRecord)]

    def callbacks_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.CallbackEvent]:
        from .accounts import timeline

        for r in timeline(clinic_id, keys.CALLBACKS_TIMELINE, start, end, _CALLBACK_FIELDS):
            if isinstance(r, CallbackRecord):
                yield reports.CallbackEvent(r.assignee_sub, r.status, t(r.due_at), t(r.done_at), r.override_by)


def _page(clinic_id: str, patient_id: str, prefix: str, model, convert, limit: int, before_id: str | None):
    """One Query backwards over the patient's items of one kind: ids sort as they were made."""
    lo, hi = keys.newest_first_range(prefix, before_id)
    found = []
    for r in Record.query(keys.patient_pk(clinic_id, patient_id), Record.sk.between(lo, hi), scan_index_forward=False,
                          consistent_read=True, limit=limit + 2, page_size=limit + 2):
        if isinstance(r, model) and r.sk != hi:
            found.append(convert(r))
    return found[:limit], len(found) > limit
