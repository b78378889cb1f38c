"""Clinics: creating one, reading it, renaming it or moving it to another time zone."""

from __future__ import annotations

from datetime import datetime

from ..domain import clock
from ..domain.clinic import CURRENCIES, Clinic
from ..domain.contact_rules import DEFAULT_POLICY, ContactPolicy
from ..domain.errors import ValidationError
from ..domain.ids import new_clinic_id
from ..domain.roles import SYSTEM, Caller
from . import audit


def get(uow, clinic_id: str) -> Clinic:
    return uow.clinics.get(clinic_id)


def create(uow, now: datetime, *, name: str, timezone: str, currency: str, actor: str = SYSTEM,
           contact_policy: ContactPolicy = DEFAULT_POLICY) -> Clinic:
    """Business rule: a clinic's first run date is the local date it was created; its contact
    policy is Regulation F's unless told (the Owner changes it with PATCH /clinic)."""
    if not clock.is_valid_timezone(timezone):
        raise ValidationError(f"unknown time zone {timezone!r}", fields={"timezone": "not an IANA time zone"})
    if currency not in CURRENCIES:
        raise ValidationError(f"unsupported currency {currency!r}", fields={"currency": "unsupported"})
    if not name.strip():
        raise ValidationError("name is empty", fields={"name": "required"})
    clinic = Clinic(new_clinic_id(), name.strip(), timezone, currency, now, clock.local_date(now, timezone),
                    contact_policy=contact_policy)
    uow.clinics.add(clinic)
    audit.record(uow, clinic.clinic_id, actor, "clinic.created", now,
                 details={"timezone": timezone, "currency": currency})
    uow.commit()
    return clinic


def update(uow, caller: Caller, now: datetime, *, name: str | None = None, timezone: str | None = None,
           calendar_show_names: bool | None = None, contact_policy: dict | None = None) -> Clinic:
    """Business rule: a change names what changed in `clinic.updated` (never the new name itself).

    `contact_policy`: the `ContactPolicy.changed` arguments to change (a merge: what is left out
    keeps its value); the merged policy is validated as a whole (start before end, ranges)."""
    if timezone is not None and not clock.is_valid_timezone(timezone):
        raise ValidationError(f"unknown time zone {timezone!r}", fields={"timezone": "not an IANA time zone"})

    def attempt() -> Clinic:
        clinic = uow.clinics.get(caller.clinic_id)
        changed: dict = {}
        if name is not None:
            clinic.name = name
            changed["name"] = True
        if timezone is not None:
            changed["timezone"] = {"from": clinic.timezone, "to": timezone}
            clinic.timezone = timezone  # the next run keeps its date, at 03:00 in the new zone
        if calendar_show_names is not None:
            changed["calendar_show_names"] = {"from": clinic.calendar_show_names, "to": calendar_show_names}
            clinic.calendar_show_names = calendar_show_names
        if contact_policy:
            policy = clinic.contact_policy.changed(**contact_policy)  # ValidationError before any write
            changed["contact_policy"] = {"from": clinic.contact_policy.as_dict(), "to": policy.as_dict()}
            clinic.contact_policy = policy
        uow.clinics.save(clinic)  # the version refuses a concurrent edit
        audit.record(uow, caller.clinic_id, caller.actor, "clinic.updated", now, details={"changed": changed})
        uow.commit()
        return clinic

    return uow.retrying(attempt)
