"""Corrections of what is owed: voiding an invoice, adjusting one, reversing a payment.

Each is one transaction, assembled in one function below: the changed invoices (and plan), the
ledger entry (`void`, `adjustment`, `payment_reversal`), the version-checked patient record (the
follow-up row) and the audit record; a reversal adds its own item, created only once per payment.
Each also stages its webhook events (services/events.py) beside the audit record, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.account import Invoice, Payment, Reversal
from ..domain.errors import NotFound
from ..domain.ids import new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, events


@dataclass(frozen=True)
class Adjustment:
    adjustment_id: str
    invoice_id: str
    amount_cents: int
    balance_cents: int  # the invoice's, after
    reason: str
    at: datetime
    by: str
    patient_balance_cents: int
    follow_up_status: str


@dataclass(frozen=True)
class Voided:
    invoice: Invoice
    amount_cents: int
    patient_balance_cents: int
    follow_up_status: str


@dataclass(frozen=True)
class ReversalDone:
    reversal: Reversal
    balance_cents: int
    follow_up_status: str


def _invoice_owner(invoice_id: str) -> str:
    patient_id = patient_of(invoice_id, "inv")
    if not patient_id:
        raise NotFound(f"no invoice {invoice_id}")
    return patient_id


def _load(uow, caller: Caller, patient_id: str, missing: str):
    loaded = uow.accounts.load(caller.clinic_id, patient_id)
    if loaded is None:
        raise NotFound(missing)
    return loaded


def hold_ended(uow, caller: Caller, account, now: datetime, why: str) -> None:
    """A change that left nothing owed ended the follow-up's hold: audited as released, with it."""
    hold = account.changes.hold_ended
    if hold is not None:
        entry = audit.record(uow, caller.clinic_id, caller.actor, "hold.released", now,
                             patient_id=account.patient_id,
                             details={"hold_id": hold.hold_id, "reason": hold.reason,
                                      "until": hold.until.isoformat(), "ended_by": why})
        events.announce(uow, caller.clinic_id, "hold.released", source_id=entry.audit_id, at=now, part="released",
                        data={"hold_id": hold.hold_id, "patient_id": account.patient_id, "status": "ended",
                              "follow_up_status": account.status})


def void_invoice(uow, caller: Caller, now: datetime, *, invoice_id: str, reason: str) -> Voided:
    """Business rule: an open invoice without payments, outside any plan, is voided with a reason."""
    patient_id = _invoice_owner(invoice_id)

    def attempt() -> Voided:
        loaded = _load(uow, caller, patient_id, f"no invoice {invoice_id}")
        account = loaded.account
        if invoice_id not in account.invoices:
            raise NotFound(f"no invoice {invoice_id}")
        balance_before, status_before = account.balance_cents, account.status
        amount = account.void_invoice(invoice_id, invoice_id)
        entry = uow.accounts.stage(loaded, now)[0]
        record = audit.record(uow, caller.clinic_id, caller.actor, "invoice.voided", now, patient_id=patient_id,
                              details={"invoice_id": invoice_id, "amount_cents": amount, "entry_id": entry.entry_id,
                                       "reason": reason, "balance_cents": account.balance_cents})
        events.announce(uow, caller.clinic_id, "invoice.voided", source_id=record.audit_id, at=now,
                        data={"invoice_id": invoice_id, "patient_id": patient_id, "amount_cents": amount,
                              "status": account.invoices[invoice_id].status})
        events.after_money_change(uow, caller.clinic_id, record.audit_id, account, now,
                                  balance_before=balance_before, status_before=status_before)
        hold_ended(uow, caller, account, now, "invoice.voided")
        uow.commit()
        return Voided(account.invoices[invoice_id], amount, account.balance_cents, account.status)

    return uow.retrying(attempt)


def adjust_invoice(uow, caller: Caller, now: datetime, *, invoice_id: str, amount_cents: int,
                   reason: str) -> Adjustment:
    """Business rule: an adjustment lowers an open invoice's balance, with a reason."""
    patient_id = _invoice_owner(invoice_id)
    adjustment_id = new_child_id("adj", patient_id, now)

    def attempt() -> Adjustment:
        loaded = _load(uow, caller, patient_id, f"no invoice {invoice_id}")
        account = loaded.account
        if invoice_id not in account.invoices:
            raise NotFound(f"no invoice {invoice_id}")
        balance_before, status_before = account.balance_cents, account.status
        invoice = account.adjust_invoice(invoice_id, amount_cents, adjustment_id)
        entry = uow.accounts.stage(loaded, now)[0]
        record = audit.record(uow, caller.clinic_id, caller.actor, "invoice.adjusted", now, patient_id=patient_id,
                              details={"adjustment_id": adjustment_id, "invoice_id": invoice_id,
                                       "amount_cents": amount_cents, "invoice_balance_cents": invoice.balance_cents,
                                       "entry_id": entry.entry_id, "reason": reason,
                                       "balance_cents": account.balance_cents})
        events.announce(uow, caller.clinic_id, "invoice.adjusted", source_id=record.audit_id, at=now,
                        data={"adjustment_id": adjustment_id, "invoice_id": invoice_id, "patient_id": patient_id,
                              "amount_cents": amount_cents, "balance_cents": invoice.balance_cents})
        events.after_money_change(uow, caller.clinic_id, record.audit_id, account, now,
                                  balance_before=balance_before, status_before=status_before)
        hold_ended(uow, caller, account, now, "invoice.adjusted")
        uow.commit()
        return Adjustment(adjustment_id, invoice_id, amount_cents, invoice.balance_cents, reason, now, caller.actor,
                          account.balance_cents, account.status)

    return uow.retrying(attempt)


def reverse_payment(uow, caller: Caller, now: datetime, *, payment_id: str, reason: str,
                    note: str | None = None) -> ReversalDone:
    """Business rule: a payment is reversed once; every allocation goes back where it came from
    and the follow-up reopens with the invoices' own dates."""
    patient_id = patient_of(payment_id, "pay")
    if not patient_id:
        raise NotFound(f"no payment {payment_id}")
    reversal_id = new_child_id("rev", patient_id, now)

    def attempt() -> ReversalDone:
        payment: Payment | None = uow.accounts.payment(caller.clinic_id, patient_id, payment_id, consistent=True)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        loaded = _load(uow, caller, patient_id, f"no payment {payment_id}")
        account = loaded.account
        # A plan the payment completed is read too: the reversal makes it active again.
        wanted = {a.plan_id for a in payment.allocations if a.plan_id}
        wanted |= {account.invoices[a.invoice_id].plan_id for a in payment.allocations
                   if a.invoice_id in account.invoices and account.invoices[a.invoice_id].plan_id}
        others = {}
        for plan_id in sorted(wanted - ({account.plan.plan_id} if account.plan else set())):
            plan = uow.accounts.plan(caller.clinic_id, patient_id, plan_id)
            if plan is not None:
                others[plan_id] = plan
        amount = account.reverse_payment(payment, reversal_id, others)
        entry = uow.accounts.stage(loaded, now)[0]
        reversal = Reversal(reversal_id, payment_id, patient_id, amount, reason, now, caller.actor, note,
                            payment.recovered_by)
        payment.reversal_id, payment.reversed_at = reversal_id, now
        uow.accounts.add_reversal(caller.clinic_id, payment, reversal)
        record = audit.record(uow, caller.clinic_id, caller.actor, "payment.reversed", now, patient_id=patient_id,
                     details={"reversal_id": reversal_id, "payment_id": payment_id, "amount_cents": amount,
                              "reason": reason, "entry_id": entry.entry_id, "recovered_by": payment.recovered_by,
                              "allocations": [{"invoice_id": a.invoice_id, "amount_cents": a.amount_cents}
                                              for a in payment.allocations],
                              "balance_cents": account.balance_cents, "follow_up_status": account.status})
        events.announce(uow, caller.clinic_id, "payment.reversed", source_id=record.audit_id, at=now,
                        data={"reversal_id": reversal_id, "payment_id": payment_id, "patient_id": patient_id,
                              "amount_cents": amount, "balance_cents": account.balance_cents,
                              "follow_up_status": account.status})
        uow.commit()
        return ReversalDone(reversal, account.balance_cents, account.status)

    return uow.retrying(attempt)
