"""Payment plans: converting a balance into installments, reading a plan, invoicing it by hand."""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Plan
from ..domain.bounds import check_within_horizon
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, clinics, invoicing


def create(uow, caller: Caller, now: datetime, *, patient_id: str, installment_cents: int, frequency: str,
           start_date: date) -> Plan:
    """Business rule: the whole balance becomes the plan; the open invoices move into it, in one
    transaction with the plan, the patient record and the audit record (no ledger entry: what is
    owed does not change)."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    today = clinics.get(uow, caller.clinic_id).today(now)
    check_within_horizon("start_date", start_date, today)
    plan_id = new_child_id("plan", patient_id)

    def attempt() -> Plan:
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        moved = [i.invoice_id for i in loaded.account.open_invoices()]
        plan = loaded.account.convert_to_plan(plan_id, installment_cents, frequency, start_date, today, now,
                                              caller.actor)
        uow.accounts.stage(loaded, now)
        audit.record(uow, caller.clinic_id, caller.actor, "plan.created", now, patient_id=patient_id,
                     details={"plan_id": plan_id, "total_cents": plan.total_cents,
                              "installment_cents": installment_cents, "frequency": frequency,
                              "start_date": start_date.isoformat(), "installments": len(plan.installments),
                              "invoices_in_plan": moved})
        uow.commit()
        return plan

    return uow.retrying(attempt)


def get(uow, caller: Caller, plan_id: str) -> Plan:
    patient_id = patient_of(plan_id, "plan")
    plan = uow.accounts.plan(caller.clinic_id, patient_id, plan_id) if patient_id else None
    if plan is None:
        raise NotFound(f"no payment plan {plan_id}")
    return plan


def run(uow, caller: Caller, now: datetime, plan_id: str) -> list[str]:
    """Invoice the plan's installments due on or before the clinic's today, exactly as the
    nightly run would (the same service function); a second call finds nothing to do."""
    plan = get(uow, caller, plan_id)
    today = clinics.get(uow, caller.clinic_id).today(now)
    return invoicing.invoice_plan(uow, caller, plan.patient_id, plan_id, today, now)
