"""Payment plans: converting a balance into installments, reading a plan, invoicing it by hand."""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Plan
from ..domain.bounds import check_within_horizon
from ..domain.errors import NotFound
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, clinics, events, invoicing


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
        entry = audit.record(uow, caller.clinic_id, caller.actor, "plan.created", now, patient_id=patient_id,
                     details={"plan_id": plan_id, "total_cents": plan.total_cents,
                              "installment_cents": installment_cents, "frequency": frequency,
                              "start_date": start_date.isoformat(), "installments": len(plan.installments),
                              "invoices_in_plan": moved})
        events.announce(uow, caller.clinic_id, "plan.created", source_id=entry.audit_id, at=now,
                        data={"plan_id": plan_id, "patient_id": patient_id, "total_cents": plan.total_cents,
                              "installment_cents": installment_cents, "frequency": frequency,
                              "start_date": events.day(start_date), "installments": len(plan.installments)})
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


def _active_plan_account(uow, caller: Caller, plan_id: str):
    patient_id = patient_of(plan_id, "plan")
    if not patient_id:
        raise NotFound(f"no payment plan {plan_id}")
    loaded = uow.accounts.load(caller.clinic_id, patient_id)
    if loaded is None or (loaded.account.plan is None or loaded.account.plan.plan_id != plan_id) and (
            uow.accounts.plan(caller.clinic_id, patient_id, plan_id) is None):
        raise NotFound(f"no payment plan {plan_id}")
    return patient_id, loaded


def cancel(uow, caller: Caller, now: datetime, *, plan_id: str, reason: str) -> Plan:
    """Business rule: cancelling the active plan turns its uninvoiced remainder into one open
    invoice dated by the oldest invoice that went into the plan, in one transaction with the plan,
    the patient record and the audit record (no ledger entry: what is owed does not change).
    However many invoices the patient has, the change writes only the plan and that invoice (and
    the follow-on batches of any invoice writes an earlier change deferred)."""

    def attempt() -> Plan:
        patient_id, loaded = _active_plan_account(uow, caller, plan_id)
        plan = loaded.account.plan
        remainder_id = new_child_id("inv", patient_id)
        invoice = loaded.account.cancel_plan(plan_id, remainder_id, now)
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, caller.clinic_id, caller.actor, "plan.cancelled", now, patient_id=patient_id,
                     details={"plan_id": plan_id, "reason": reason,
                              "remainder_invoice_id": invoice.invoice_id if invoice else None,
                              "remainder_cents": invoice.amount_cents if invoice else 0,
                              "invoice_date": invoice.invoice_date.isoformat() if invoice else None,
                              "follow_up_status": loaded.account.status})
        events.announce(uow, caller.clinic_id, "plan.cancelled", source_id=entry.audit_id, at=now,
                        data={"plan_id": plan_id, "patient_id": patient_id,
                              "remainder_cents": invoice.amount_cents if invoice else 0,
                              "invoice_id": invoice.invoice_id if invoice else None, "status": plan.status})
        uow.commit()
        return plan

    return uow.retrying(attempt)


def change(uow, caller: Caller, now: datetime, *, plan_id: str, installment_cents: int | None = None,
           frequency: str | None = None, next_due_date: date | None = None) -> Plan:
    """Business rule: the uninvoiced remainder is rescheduled (the conversion's limits); issued
    installments do not change."""
    today = clinics.get(uow, caller.clinic_id).today(now)
    if next_due_date is not None:
        check_within_horizon("next_due_date", next_due_date, today)

    def attempt() -> Plan:
        patient_id, loaded = _active_plan_account(uow, caller, plan_id)
        plan = loaded.account.change_plan(plan_id, today, installment_cents=installment_cents, frequency=frequency,
                                          next_due_date=next_due_date)
        uow.accounts.stage(loaded, now)
        scheduled = [i for i in plan.installments if i.status == "scheduled"]
        audit.record(uow, caller.clinic_id, caller.actor, "plan.changed", now, patient_id=patient_id,
                     details={"plan_id": plan_id, "installment_cents": plan.installment_cents,
                              "frequency": plan.frequency,
                              "next_due_date": scheduled[0].due_date.isoformat() if scheduled else None,
                              "installments_scheduled": len(scheduled),
                              "rescheduled_cents": sum(i.uninvoiced_cents for i in scheduled)})
        uow.commit()
        return plan

    return uow.retrying(attempt)
