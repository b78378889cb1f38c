"""Patients and their ledger."""

from __future__ import annotations

from datetime import datetime

from ..domain.account import Patient
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_patient_id
from ..domain.roles import Caller
from ..store.uow import StaleWrite
from . import audit


def create(uow, caller: Caller, now: datetime, *, name: str, phone: str | None = None, email: str | None = None,
           external_id: str | None = None) -> Patient:
    patient = Patient(new_patient_id(), name, now, caller.actor, phone=phone, email=email, external_id=external_id)
    uow.accounts.add_patient(caller.clinic_id, patient)
    audit.record(uow, caller.clinic_id, caller.actor, "patient.created", now, patient_id=patient.patient_id)
    try:
        uow.commit()
    except StaleWrite:
        # The id is new and random: the patient exists only if an earlier attempt of this
        # very request committed and its response was lost. Then that is our answer.
        return get(uow, caller, patient.patient_id)
    return patient


def get(uow, caller: Caller, patient_id: str) -> Patient:
    patient = uow.accounts.get_patient(caller.clinic_id, patient_id) if is_patient_id(patient_id) else None
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    return patient
