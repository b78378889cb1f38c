"""Patients: registered, corrected, found by external id or by search; and their ledger."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import available_timezones

from ..domain import cursor as cursors
from ..domain import integrations as search_terms
from ..domain.account import Patient
from ..domain.contact import CHANNELS
from ..domain.errors import ExternalIdInUse, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_patient_id
from ..domain.roles import Caller
from ..store.uow import StaleWrite
from . import audit

EDITABLE = ("name", "phone", "email", "external_id", "timezone", "do_not_contact", "preferred_channel")


def create(uow, caller: Caller, now: datetime, *, name: str, phone: str | None = None, email: str | None = None,
           external_id: str | None = None, external_id_free: bool = False) -> Patient:
    """Business rule: an external id is one patient's in the clinic (taken in the same transaction).

    `external_id_free`: the caller has just read the external id as free, so it is not read again
    here; the conditional Put of the uniqueness item decides either way."""
    patient = Patient(new_patient_id(), name, now, caller.actor, phone=phone, email=email, external_id=external_id)
    if external_id is not None and not external_id_free and \
            uow.directory.patient_for(caller.clinic_id, external_id) is not None:
        raise ExternalIdInUse("another patient has this external_id", fields={"external_id": "already in use"})
    uow.accounts.add_patient(caller.clinic_id, patient)
    if external_id is not None:
        uow.directory.claim_patient_id(caller.clinic_id, external_id, patient.patient_id)
    uow.directory.index_patient(caller.clinic_id, None, patient)
    audit.record(uow, caller.clinic_id, caller.actor, "patient.created", now, patient_id=patient.patient_id)
    try:
        uow.commit()
    except StaleWrite as e:
        # The id is new and random: the patient exists only if an earlier attempt of this
        # very request committed and its response was lost. Then that is our answer.
        if "external_id" in e.failed and uow.directory.patient_for(caller.clinic_id, external_id) != \
                patient.patient_id:
            raise ExternalIdInUse("another patient has this external_id",
                                  fields={"external_id": "already in use"}) from e
        return get(uow, caller, patient.patient_id)
    return patient


def get(uow, caller: Caller, patient_id: str) -> Patient:
    patient = uow.accounts.get_patient(caller.clinic_id, patient_id) if is_patient_id(patient_id) else None
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    return patient


def by_external_id(uow, caller: Caller, external_id: str) -> Patient:
    patient_id = uow.directory.patient_for(caller.clinic_id, external_id)
    patient = uow.accounts.get_patient(caller.clinic_id, patient_id) if patient_id else None
    if patient is None:
        raise NotFound("no patient with this external id")
    return patient


def _validated(changes: dict) -> dict:
    """Business rule: a time zone is an IANA name; channels are the contact channels."""
    fields = {}
    if "timezone" in changes and changes["timezone"] is not None and changes["timezone"] not in _zones():
        fields["timezone"] = "must be an IANA time zone name, e.g. Europe/Lisbon"
    if "do_not_contact" in changes:
        listed = changes["do_not_contact"]
        if listed is None or any(c not in CHANNELS for c in listed):
            fields["do_not_contact"] = f"a list of channels among {', '.join(CHANNELS)}"
        else:
            changes["do_not_contact"] = tuple(c for c in CHANNELS if c in listed)
    if changes.get("preferred_channel") is not None and changes["preferred_channel"] not in CHANNELS:
        fields["preferred_channel"] = f"one of {', '.join(CHANNELS)}"
    if "name" in changes and not (changes["name"] or "").strip():
        fields["name"] = "must not be empty"
    if fields:
        raise ValidationError("invalid patient details", fields=fields)
    return changes


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def update(uow, caller: Caller, now: datetime, patient_id: str, changes: dict, *,
           current: Patient | None = None) -> Patient:
    """Change a patient's details (only the fields given). Its search items, its external id's
    uniqueness item and the audit record go in the same transaction as the record, which is also
    its worklist row (the row's name and phone are the record's).

    `current`: the patient as the caller has just read them, used instead of reading again on the
    first attempt; the record's version condition refuses the write if it was already stale, and
    the retry reads afresh."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError("unknown fields", fields={f: "unknown field" for f in sorted(unknown)})
    changes = _validated(dict(changes))
    first = [current] if current is not None and current.patient_id == patient_id else []

    def attempt() -> Patient:
        before = first.pop() if first else get(uow, caller, patient_id)
        after = replace(before, **changes)
        changed = sorted(f for f in changes if getattr(before, f) != getattr(after, f))
        if not changed:
            return before
        _stage_change(uow, caller, now, before, after, changed)
        try:
            uow.commit()
        except StaleWrite as e:
            if "external_id" in e.failed:
                raise ExternalIdInUse("another patient has this external_id",
                                      fields={"external_id": "already in use"}) from e
            raise
        return get(uow, caller, patient_id)

    return uow.retrying(attempt)


def _stage_change(uow, caller: Caller, now: datetime, before: Patient, after: Patient, changed: list[str]) -> None:
    clinic_id = caller.clinic_id
    uow.accounts.save_patient(clinic_id, after)
    if before.external_id != after.external_id:
        if before.external_id is not None:
            uow.directory.release_patient_id(clinic_id, before.external_id, before.patient_id)
        if after.external_id is not None:
            uow.directory.claim_patient_id(clinic_id, after.external_id, after.patient_id)
    uow.directory.index_patient(clinic_id, before, after)
    # Field names only: the values (names, phones, emails) stay out of the audit trail, as for
    # patient.created.
    audit.record(uow, clinic_id, caller.actor, "patient.updated", now, patient_id=after.patient_id,
                 details={"fields": changed})


UNREAD = object()  # "the caller has not read it": the service reads it itself


def put_by_external_id(uow, caller: Caller, now: datetime, external_id: str, *, name: str,
                       phone: str | None = None, email: str | None = None,
                       given: frozenset[str] = frozenset({"phone", "email"}),
                       holder=UNREAD, current: Patient | None = None) -> tuple[Patient, bool]:
    """Business rule: the other system's id names one patient: the first PUT creates them, a
    later one sets what it sends (fields it does not send stay as they are); the same body again
    changes nothing. Returns (patient, created).

    A caller that has just read the external id's holder (`directory.patient_for`: a patient id
    or None) and that patient (`current`) passes them, and the first round does not read them
    again (an import checks each row before writing it). What decides is unchanged: the
    conditional Put of the uniqueness item, the patient record's version; a lost race reads again."""
    for _ in range(3):
        if holder is UNREAD:
            patient_id = uow.directory.patient_for(caller.clinic_id, external_id)
        else:
            patient_id, holder = holder, UNREAD  # the caller's read, for this first round only
        if patient_id is None:
            try:
                return create(uow, caller, now, name=name, phone=phone if "phone" in given else None,
                              email=email if "email" in given else None, external_id=external_id,
                              external_id_free=True), True
            except ExternalIdInUse:
                current = None
                continue  # another sender created them first: update that patient instead
        wanted = {"name": name, **{f: v for f, v in (("phone", phone), ("email", email)) if f in given}}
        try:
            return update(uow, caller, now, patient_id, wanted, current=current), False
        except NotFound:
            current = None
            continue
    raise ExternalIdInUse("the external id changed hands while this request ran; try again")


@dataclass(frozen=True)
class PatientPage:
    items: list[Patient]
    next_cursor: str | None


def search(uow, caller: Caller, q: str, *, limit: int, cursor: str | None) -> PatientPage:
    """Patients whose name has a word starting with `q` (case and accents ignored), whose phone
    has these digits, or with this email; by name, a page at a time."""
    query = search_terms.parse_query(q)
    if query is None:
        raise ValidationError("q is too short", fields={"q": "at least 2 letters, 4 digits or an email"})
    kind = f"patients:{query.kind}:{query.term}:{','.join(query.also)}:{query.longer or ''}"
    after = None
    if cursor is not None:
        position = cursors.decode(kind, cursor)
        if len(position) != 2 or not all(isinstance(p, str) for p in position):
            raise ValidationError("cursor is not a cursor this list returned", fields={"cursor": "use next_cursor"})
        after = (position[0], position[1])
    found, resume = uow.directory.search(caller.clinic_id, query, limit, after)
    return PatientPage(found, cursors.encode(kind, list(resume)) if resume else None)
