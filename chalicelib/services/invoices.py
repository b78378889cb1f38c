"""Invoices: created by staff (manual) or by a payment plan's installments (plan)."""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Invoice
from ..domain.errors import ExternalIdInUse, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import Caller
from . import audit, clinics, events


def create(uow, caller: Caller, now: datetime, *, patient_id: str, amount_cents: int, invoice_date: date,
           service_date: date | None = None, description: str | None = None,
           external_id: str | None = None, today: date | None = None, external_id_free: bool = False) -> Invoice:
    """Business rule: an invoice is never dated after the clinic's today.

    A caller that has just read the clinic passes its `today` (an import reads it once per
    chunk); one that has just read the external id as free says `external_id_free`, and the
    first attempt does not read it again: the conditional Put of the uniqueness item decides, and
    a retry reads it afresh."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    if invoice_date > (today or clinics.get(uow, caller.clinic_id).today(now)):
        raise ValidationError("invoice_date is after today", fields={"invoice_date": "must not be in the future"})
    invoice_id = new_child_id("inv", patient_id)
    read_external_id = not external_id_free

    def attempt() -> Invoice:
        nonlocal read_external_id
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        if invoice_id in loaded.account.invoices:
            # An earlier attempt of this very request committed (its response was lost).
            return loaded.account.invoices[invoice_id]
        if external_id is not None and read_external_id and \
                uow.directory.invoice_for(caller.clinic_id, external_id) is not None:
            raise ExternalIdInUse("another invoice has this external_id", fields={"external_id": "already in use"})
        read_external_id = True  # a retry follows a lost race: another sender may hold it now
        invoice = Invoice(invoice_id=invoice_id, patient_id=patient_id, amount_cents=amount_cents,
                          balance_cents=amount_cents, invoice_date=invoice_date, service_date=service_date,
                          description=description, external_id=external_id, created_at=now)
        loaded.account.add_invoice(invoice)
        uow.accounts.stage(loaded, now)
        if external_id is not None:  # taken in this transaction: of two senders, one wins
            uow.directory.claim_invoice_id(caller.clinic_id, external_id, patient_id, invoice_id)
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


def put_by_external_id(uow, caller: Caller, now: datetime, external_id: str, *, patient_id: str | None,
                       patient_external_id: str | None, amount_cents: int, invoice_date: date,
                       service_date: date | None = None, description: str | None = None,
                       today: date | None = None, free: bool = False) -> tuple[Invoice, bool]:
    """Business rule: an invoice sent again with its external id is the same invoice: the same
    values answer the invoice (nothing written), other values are refused (invoices do not
    change; void or adjust them). Returns (invoice, created).

    `free`: the caller has just read the external id as held by no invoice (an import checks
    each row before writing it), so it is not read again before the create; `today`: see `create`."""
    if patient_id is None:
        patient_id = uow.directory.patient_for(caller.clinic_id, patient_external_id or "")
        if patient_id is None:
            raise ValidationError("no patient with this patient_external_id",
                                  fields={"patient_external_id": "no patient of the clinic has it"})
    wanted = (patient_id, amount_cents, invoice_date, service_date, description)

    def existing() -> Invoice | None:
        held = uow.directory.invoice_for(caller.clinic_id, external_id)
        if held is None:
            return None
        invoice = uow.accounts.invoice(caller.clinic_id, held[0], held[1])
        if invoice is None or (invoice.patient_id, invoice.amount_cents, invoice.invoice_date, invoice.service_date,
                               invoice.description) != wanted:
            raise ExternalIdInUse("an invoice with this external id exists with other values",
                                  fields={"external_id": "in use by an invoice with other values"})
        return invoice

    found = None if free else existing()
    if found is not None:
        return found, False
    try:
        return create(uow, caller, now, patient_id=patient_id, amount_cents=amount_cents, invoice_date=invoice_date,
                      service_date=service_date, description=description, external_id=external_id, today=today,
                      external_id_free=True), True
    except ExternalIdInUse:
        found = existing()  # another sender won the race: the same invoice, or a conflict
        if found is None:
            raise
        return found, False
    except NotFound as e:
        raise ValidationError("no such patient", fields={"patient_id": "no patient of the clinic has it"}) from e
