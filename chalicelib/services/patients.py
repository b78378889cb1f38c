"""Patients and their ledger."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ..domain.clock import iso_z, parse_iso_z, short_z
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_patient_id
from ..store import accounts, keys
from ..store.models import LedgerRecord, PatientRecord
from ..store.tx import StaleWrite, Unit


def view(r: PatientRecord) -> dict:
    return {"patient_id": r.patient_id, "name": r.name, "phone": r.phone, "email": r.email,
            "external_id": r.external_id, "created_at": short_z(parse_iso_z(r.created_at)),
            "balance_cents": int(r.balance_cents), "follow_up_status": r.status}


def create(clinic_id: str, actor: str, now: datetime, *, name: str, phone: str | None = None,
           email: str | None = None, external_id: str | None = None) -> dict:
    patient_id = new_patient_id()
    record = accounts.new_profile(clinic_id, patient_id, name=name, phone=phone, email=email,
                                  external_id=external_id, created_at=iso_z(now), created_by=actor)
    unit = Unit(now)
    unit.save(record, condition=PatientRecord.pk.does_not_exist(), label="patient")
    unit.audit(clinic_id, actor, "patient.created", patient_id=patient_id)
    try:
        unit.commit()
    except StaleWrite:
        # The id is new and random: the patient exists only if an earlier attempt of this
        # very request committed and its response was lost. Then that is our answer.
        return view(get_record(clinic_id, patient_id))
    return view(record)


def get_record(clinic_id: str, patient_id: str) -> PatientRecord:
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    try:
        return PatientRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PROFILE)
    except DoesNotExist as e:
        raise NotFound(f"no patient {patient_id}") from e


def get(clinic_id: str, patient_id: str) -> dict:
    return view(get_record(clinic_id, patient_id))


def ledger(clinic_id: str, patient_id: str) -> dict:
    """Oldest first; the last `balance_after_cents` is the patient's balance."""
    get_record(clinic_id, patient_id)
    items = [{"entry_id": e.entry_id, "at": short_z(parse_iso_z(e.at)), "type": e.type,
              "amount_cents": int(e.amount_cents), "balance_after_cents": int(e.balance_after_cents),
              "ref": e.ref}
             for e in LedgerRecord.query(keys.ledger_pk(clinic_id, patient_id), consistent_read=True)]
    return {"items": items}
