"""Invoices: created by staff (manual) or by a payment plan's installments (plan)."""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist

from ..domain.account import Invoice
from ..domain.clock import short_z
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..store import accounts, keys
from ..store.models import InvoiceRecord
from ..store.tx import Unit, retrying
from . import clinics


def view(i: Invoice) -> dict:
    out = {"invoice_id": i.invoice_id, "patient_id": i.patient_id, "amount_cents": i.amount_cents,
           "balance_cents": i.balance_cents, "invoice_date": i.invoice_date.isoformat(),
           "service_date": i.service_date.isoformat() if i.service_date else None, "status": i.status,
           "source": i.source, "description": i.description, "external_id": i.external_id,
           "created_at": short_z(i.created_at) if i.created_at else None}
    if i.source == "plan":
        out["plan_id"] = i.plan_id
        out["installment_number"] = i.installment_number
    return out


def create(clinic_id: str, actor: str, now: datetime, *, patient_id: str, amount_cents: int,
           invoice_date: date, service_date: date | None = None, description: str | None = None,
           external_id: str | None = None) -> dict:
    """Business rule: an invoice is never dated after the clinic's today."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic = clinics.get(clinic_id)
    if invoice_date > clinic.today(now):
        raise ValidationError("invoice_date is after today", fields={"invoice_date": "must not be in the future"})
    invoice_id = new_child_id("inv", patient_id)

    def attempt() -> dict:
        loaded = accounts.load(clinic_id, patient_id)
        if invoice_id in loaded.account.invoices:
            # An earlier attempt of this very request committed (its response was lost).
            return view(loaded.account.invoices[invoice_id])
        invoice = Invoice(invoice_id=invoice_id, patient_id=patient_id, amount_cents=amount_cents,
                          balance_cents=amount_cents, invoice_date=invoice_date, service_date=service_date,
                          description=description, external_id=external_id, created_at=now)
        loaded.account.add_invoice(invoice)
        unit = Unit(now)
        accounts.stage_account(unit, loaded)
        unit.audit(clinic_id, actor, "invoice.created", patient_id=patient_id,
                   details={"invoice_id": invoice_id, "amount_cents": amount_cents,
                            "invoice_date": invoice_date.isoformat()})
        unit.commit()
        return view(invoice)

    return retrying(attempt)


def get(clinic_id: str, invoice_id: str) -> dict:
    patient_id = patient_of(invoice_id, "inv")
    if patient_id is None:
        raise NotFound(f"no invoice {invoice_id}")
    try:
        record = InvoiceRecord.get(keys.patient_pk(clinic_id, patient_id), keys.INVOICE + invoice_id)
    except DoesNotExist as e:
        raise NotFound(f"no invoice {invoice_id}") from e
    return view(accounts.invoice_from(record))

