"""Invoices: created by staff (manual) or by a payment plan's installments (plan)."""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Invoice
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, clinics, events


def create(uow, caller: Caller, now: datetime, *, patient_id: str, amount_cents: int, invoice_date: date,
           service_date: date | None = None, description: str | None = None,
           external_id: str | None = None) -> Invoice:
    """Business rule: an invoice is never dated after the clinic's today."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    if invoice_date > clinics.get(uow, caller.clinic_id).today(now):
        raise ValidationError("invoice_date is after today", fields={"invoice_date": "must not be in the future"})
    invoice_id = new_child_id("inv", patient_id)

    def attempt() -> Invoice:
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        if invoice_id in loaded.account.invoices:
            # An earlier attempt of this very request committed (its response was lost).
            return loaded.account.invoices[invoice_id]
        invoice = Invoice(invoice_id=invoice_id, patient_id=patient_id, amount_cents=amount_cents,
                          balance_cents=amount_cents, invoice_date=invoice_date, service_date=service_date,
                          description=description, external_id=external_id, created_at=now)
        loaded.account.add_invoice(invoice)
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, caller.clinic_id, caller.actor, "invoice.created", now, patient_id=patient_id,
                             details={"invoice_id": invoice_id, "amount_cents": amount_cents,
                                      "invoice_date": invoice_date.isoformat()})
        events.announce(uow, caller.clinic_id, "invoice.created", source_id=entry.audit_id, at=now,
                        data={"invoice_id": invoice_id, "patient_id": patient_id, "amount_cents": amount_cents,
                              "balance_cents": invoice.balance_cents, "invoice_date": events.day(invoice_date),
                              "service_date": events.day(service_date), "source": invoice.source,
                              "status": invoice.status})
        uow.commit()
        return invoice

    return uow.retrying(attempt)


def get(uow, caller: Caller, invoice_id: str) -> Invoice:
    patient_id = patient_of(invoice_id, "inv")
    invoice = uow.accounts.invoice(caller.clinic_id, patient_id, invoice_id) if patient_id else None
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice
