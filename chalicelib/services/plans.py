"""Payment plans: converting a balance into installments, reading a plan, invoicing it by hand."""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist

from ..domain.account import Plan
from ..domain.clock import short_z
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..store import accounts, keys
from ..store.models import PlanRecord
from ..store.tx import Unit, retrying
from . import clinics, invoicing


def view(p: Plan) -> dict:
    """A plan as the API shows it (also embedded in the follow-up detail)."""
    return {
        "plan_id": p.plan_id, "patient_id": p.patient_id, "status": p.status, "total_cents": p.total_cents,
        "installment_cents": p.installment_cents, "frequency": p.frequency,
        "start_date": p.start_date.isoformat(),
        "installments": [{"number": i.number, "due_date": i.due_date.isoformat(), "amount_cents": i.amount_cents,
                          "status": i.status, "invoice_id": i.invoice_id, "prepaid_cents": i.prepaid_cents}
                         for i in p.installments],
        "next_due_date": p.next_due_date.isoformat() if p.next_due_date else None,
        "created_at": short_z(p.created_at) if p.created_at else None, "created_by": p.created_by,
    }


def create(clinic_id: str, actor: str, now: datetime, *, patient_id: str, installment_cents: int,
           frequency: str, start_date: date) -> dict:
    """Business rule: the whole balance becomes the plan; the open invoices move into it, in one
    transaction with the plan, the patient record and the audit record (no ledger entry: what is
    owed does not change)."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic = clinics.get(clinic_id)
    today = clinic.today(now)
    plan_id = new_child_id("plan", patient_id)

    def attempt() -> dict:
        loaded = accounts.load(clinic_id, patient_id)
        moved = [i.invoice_id for i in loaded.account.open_invoices()]
        plan = loaded.account.convert_to_plan(plan_id, installment_cents, frequency, start_date, today, now, actor)
        unit = Unit(now)
        accounts.stage_account(unit, loaded)
        unit.audit(clinic_id, actor, "plan.created", patient_id=patient_id,
                   details={"plan_id": plan_id, "total_cents": plan.total_cents,
                            "installment_cents": installment_cents, "frequency": frequency,
                            "start_date": start_date.isoformat(), "installments": len(plan.installments),
                            "invoices_in_plan": moved})
        unit.commit()
        return view(plan)

    return retrying(attempt)


def _record(clinic_id: str, plan_id: str) -> PlanRecord:
    patient_id = patient_of(plan_id, "plan")
    if patient_id is None:
        raise NotFound(f"no payment plan {plan_id}")
    try:
        return PlanRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PLAN + plan_id, consistent_read=True)
    except DoesNotExist as e:
        raise NotFound(f"no payment plan {plan_id}") from e


def get(clinic_id: str, plan_id: str) -> dict:
    return view(accounts.plan_from(_record(clinic_id, plan_id)))


def run(clinic_id: str, actor: str, now: datetime, plan_id: str) -> dict:
    """Invoice the plan's installments due on or before the clinic's today, exactly as the
    nightly run would (the same service function); a second call finds nothing to do."""
    record = _record(clinic_id, plan_id)
    today = clinics.get(clinic_id).today(now)
    created = invoicing.invoice_plan(clinic_id, record.patient_id, plan_id, today, now, actor)
    return {"invoices_created": created}
