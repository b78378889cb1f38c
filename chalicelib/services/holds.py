"""Holds: a follow-up put aside (a dispute, insurance pending, hardship) until a date.

The hold lives on the patient record (the follow-up row): the worklist reads it with the row,
keyed apart (`keys.HELD`), and the `due` index finds it by its last day for the nightly run.
Placing and releasing are each one transaction: the version-checked patient record and the
audit record, with the hold's webhook event beside it (services/events.py).
"""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Hold
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_child_id
from ..domain.roles import Caller
from . import audit, clinics, events


def _details(hold: Hold) -> dict:
    return {"hold_id": hold.hold_id, "reason": hold.reason, "until": hold.until.isoformat()}


def place(uow, caller: Caller, now: datetime, *, patient_id: str, reason: str, until: date,
          note: str | None = None) -> Hold:
    """Business rule: a follow-up with something owed goes on hold until a date after today
    (at most 180 days ahead); one hold at a time."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    today = clinics.get(uow, caller.clinic_id).today(now)
    hold = Hold(new_child_id("hold", patient_id, now), reason, until, caller.actor, now, note)

    def attempt() -> Hold:
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        loaded.account.place_hold(hold, today)
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, caller.clinic_id, caller.actor, "hold.placed", now, patient_id=patient_id,
                             details={**_details(hold), "balance_cents": loaded.account.balance_cents})  # no note
        events.announce(uow, caller.clinic_id, "hold.placed", source_id=entry.audit_id, at=now,
                        data={"hold_id": hold.hold_id, "patient_id": patient_id, "reason": hold.reason,
                              "until": events.day(hold.until)})
        uow.commit()
        return hold

    return uow.retrying(attempt)


def release(uow, caller: Caller, now: datetime, *, patient_id: str) -> Hold:
    """Business rule: staff release a hold at any time; the follow-up goes back to its status."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")

    def attempt() -> Hold:
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        hold = loaded.account.release_hold()
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, caller.clinic_id, caller.actor, "hold.released", now, patient_id=patient_id,
                             details={**_details(hold), "follow_up_status": loaded.account.status})
        events.announce(uow, caller.clinic_id, "hold.released", source_id=entry.audit_id, at=now, part="released",
                        data={"hold_id": hold.hold_id, "patient_id": patient_id, "status": "released",
                              "follow_up_status": loaded.account.status})
        uow.commit()
        return hold

    return uow.retrying(attempt)

