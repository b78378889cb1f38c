"""Patients, their ledger, invoices and payments."""

from __future__ import annotations

from typing import Literal

from ..domain.account import INVOICE_SOURCES, INVOICE_STATUSES, LEDGER_TYPES, PAYMENT_METHODS
from ..domain.contact import CHANNELS
from ..domain.errors import ValidationError
from ..domain.integrations import FOLLOWUPS_READ, INVOICES_WRITE, PATIENTS_READ, PATIENTS_WRITE, PAYMENTS_WRITE
from ..domain.roles import ALL_STAFF
from ..services import invoices, pages, patients, payments
from . import views
from .routing import RequestContext, json_response, route
from .types import Body, Cents, Instant, LedgerLimit, LocalDate, Out, PageQuery, Query, QueryLimit, text


class PatientIn(Body):
    name: text(1, 200)
    phone: text(1, 40) | None = None
    email: text(3, 254) | None = None
    external_id: text(1, 100) | None = None


class PatientOut(Out):
    patient_id: str
    name: str
    phone: str | None
    email: str | None
    external_id: str | None
    balance_cents: int
    follow_up_status: str
    timezone: str | None = None
    do_not_contact: list[str] = []
    preferred_channel: str | None = None


class PatientPatch(Body):
    name: text(1, 200) | None = None
    phone: text(1, 40) | None = None
    email: text(3, 254) | None = None
    external_id: text(1, 100) | None = None
    timezone: text(1, 64) | None = None
    do_not_contact: list[Literal[CHANNELS]] | None = None
    preferred_channel: Literal[CHANNELS] | None = None


class PatientPut(Body):
    name: text(1, 200)
    phone: text(1, 40) | None = None
    email: text(3, 254) | None = None


class PatientSearchQuery(Query):
    q: text(2, 200)
    limit: QueryLimit = 25
    cursor: text(1, 400) | None = None


class PatientPage(Out):
    items: list[PatientOut]
    next_cursor: str | None


class InvoicePut(Body):
    patient_id: text(1, 80) | None = None
    patient_external_id: text(1, 100) | None = None
    amount_cents: Cents
    invoice_date: LocalDate
    service_date: LocalDate | None = None
    description: text(1, 500) | None = None


class LedgerEntryOut(Out):
    entry_id: str
    at: str
    type: Literal[LEDGER_TYPES]
    amount_cents: int
    balance_after_cents: int
    ref: str


class LedgerOut(Out):
    items: list[LedgerEntryOut]
    next_cursor: str | None


class LedgerQuery(Query):
    limit: LedgerLimit = 1000
    cursor: text(1, 400) | None = None


class InvoiceIn(Body):
    patient_id: text(1, 80)
    amount_cents: Cents
    invoice_date: LocalDate
    service_date: LocalDate | None = None
    description: text(1, 500) | None = None
    external_id: text(1, 100) | None = None


class InvoiceOut(Out):
    invoice_id: str
    patient_id: str
    amount_cents: int
    balance_cents: int
    invoice_date: str
    service_date: str | None
    status: Literal[INVOICE_STATUSES]
    source: Literal[INVOICE_SOURCES]
    plan_id: str | None = None
    installment_number: int | None = None


class InvoicePage(Out):
    items: list[InvoiceOut]
    next_cursor: str | None


class PaymentIn(Body):
    patient_id: text(1, 80)
    amount_cents: Cents
    method: Literal[PAYMENT_METHODS]
    received_at: Instant | None = None
    invoice_id: text(1, 120) | None = None
    note: text(0, 2000) | None = None


class AllocationOut(Out):
    invoice_id: str | None
    amount_cents: int


class PaymentOut(Out):
    payment_id: str
    patient_id: str
    amount_cents: int
    method: str
    received_at: str
    allocations: list[AllocationOut]
    balance_cents: int
    follow_up_status: str | None = None


@route("/patients", "POST", roles=ALL_STAFF, body=PatientIn, response=PatientOut, status=201,
       scopes=(PATIENTS_WRITE,))
def create_patient(ctx: RequestContext) -> dict:
    """Register a patient."""
    b = ctx.body
    return views.patient(patients.create(ctx.uow, ctx.caller, ctx.now, name=b.name, phone=b.phone, email=b.email,
                                         external_id=b.external_id))


@route("/patients/{patient_id}", "GET", roles=ALL_STAFF, response=PatientOut, scopes=(PATIENTS_READ,))
def get_patient(ctx: RequestContext, patient_id: str) -> dict:
    """A patient of the caller's clinic."""
    return views.patient(patients.get(ctx.uow, ctx.caller, patient_id))


@route("/patients/{patient_id}/ledger", "GET", roles=ALL_STAFF, query=LedgerQuery, response=LedgerOut,
       scopes=(FOLLOWUPS_READ,))
def get_ledger(ctx: RequestContext, patient_id: str) -> dict:
    """Every invoice, payment and write-off of the patient, oldest first, with running balance."""
    q = ctx.query
    return views.page(pages.ledger(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor),
                      views.ledger_line)


@route("/patients/{patient_id}/invoices", "GET", roles=ALL_STAFF, query=PageQuery, response=InvoicePage,
       scopes=(FOLLOWUPS_READ,))
def list_invoices(ctx: RequestContext, patient_id: str) -> dict:
    """The patient's invoices, newest first (by invoice date), a page at a time."""
    q = ctx.query
    return views.page(pages.invoices(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor), views.invoice)


@route("/invoices", "POST", roles=ALL_STAFF, body=InvoiceIn, response=InvoiceOut, status=201,
       scopes=(INVOICES_WRITE,))
def create_invoice(ctx: RequestContext) -> dict:
    """Invoice a patient; aging counts from `invoice_date`."""
    b = ctx.body
    return views.invoice(invoices.create(ctx.uow, ctx.caller, ctx.now, patient_id=b.patient_id,
                                         amount_cents=b.amount_cents, invoice_date=b.invoice_date,
                                         service_date=b.service_date, description=b.description,
                                         external_id=b.external_id))


@route("/invoices/{invoice_id}", "GET", roles=ALL_STAFF, response=InvoiceOut, scopes=(FOLLOWUPS_READ,))
def get_invoice(ctx: RequestContext, invoice_id: str) -> dict:
    """An invoice of the caller's clinic."""
    return views.invoice(invoices.get(ctx.uow, ctx.caller, invoice_id))


@route("/payments", "POST", roles=ALL_STAFF, body=PaymentIn, response=PaymentOut, status=201,
       headers=("Idempotency-Key",), scopes=(PAYMENTS_WRITE,))
def create_payment(ctx: RequestContext):
    """Record a payment (header Idempotency-Key required): named invoice, else oldest first."""
    _, payment = payments.record(ctx.uow, ctx.caller, ctx.now, idempotency_key=ctx.header("Idempotency-Key") or "",
                                 body=ctx.body.model_dump())
    return json_response(views.payment(payment), 201)


@route("/payments/{payment_id}", "GET", roles=ALL_STAFF, response=PaymentOut, scopes=(FOLLOWUPS_READ,))
def get_payment(ctx: RequestContext, payment_id: str) -> dict:
    """A payment of the caller's clinic."""
    return views.payment(payments.get(ctx.uow, ctx.caller, payment_id))


@route("/patients", "GET", roles=ALL_STAFF, query=PatientSearchQuery, response=PatientPage, scopes=(PATIENTS_READ,))
def search_patients(ctx: RequestContext) -> dict:
    """Find patients: `q` (2+ characters) a prefix of any word of the name (case and accents
    ignored), the digits of a phone number (all, or the last 10 or 7), or an email; sorted by name."""
    q = ctx.query
    return views.page(patients.search(ctx.uow, ctx.caller, q.q, limit=q.limit, cursor=q.cursor), views.patient)


@route("/patients/{patient_id}", "PATCH", roles=ALL_STAFF, body=PatientPatch, response=PatientOut,
       scopes=(PATIENTS_WRITE,))
def patch_patient(ctx: RequestContext, patient_id: str) -> dict:
    """Correct a patient's details; `timezone` null means the clinic's, `do_not_contact` lists channels."""
    changes = {f: getattr(ctx.body, f) for f in ctx.body.model_fields_set}
    if not changes:
        raise ValidationError("nothing to change", fields={"body": "name at least one field"})
    return views.patient(patients.update(ctx.uow, ctx.caller, ctx.now, patient_id, changes))


@route("/patients/by-external-id/{external_id}", "PUT", roles=ALL_STAFF, body=PatientPut, response=PatientOut,
       scopes=(PATIENTS_WRITE,), also_status=(201,))
def put_patient(ctx: RequestContext, external_id: str):
    """Create (201) or update (200) the patient with this external id; fields not sent stay as
    they are; the same body twice changes nothing."""
    b = ctx.body
    patient, created = patients.put_by_external_id(
        ctx.uow, ctx.caller, ctx.now, _external_id(external_id), name=b.name, phone=b.phone, email=b.email,
        given=frozenset(f for f in ("phone", "email") if f in b.model_fields_set))
    return json_response(views.patient(patient), 201 if created else 200)


@route("/patients/by-external-id/{external_id}", "GET", roles=ALL_STAFF, response=PatientOut,
       scopes=(PATIENTS_READ,))
def get_patient_by_external_id(ctx: RequestContext, external_id: str) -> dict:
    """The patient with this external id, or 404."""
    return views.patient(patients.by_external_id(ctx.uow, ctx.caller, _external_id(external_id)))


@route("/invoices/by-external-id/{external_id}", "PUT", roles=ALL_STAFF, body=InvoicePut, response=InvoiceOut,
       scopes=(INVOICES_WRITE,), also_status=(201,))
def put_invoice(ctx: RequestContext, external_id: str):
    """Create the invoice with this external id (201); the same values again: 200 and the
    invoice; other values: 409 external_id_in_use (invoices do not change: void or adjust)."""
    b = ctx.body
    if (b.patient_id is None) == (b.patient_external_id is None):
        raise ValidationError("name the patient once", fields={"patient_id": "give patient_id or patient_external_id"})
    invoice, created = invoices.put_by_external_id(
        ctx.uow, ctx.caller, ctx.now, _external_id(external_id), patient_id=b.patient_id,
        patient_external_id=b.patient_external_id, amount_cents=b.amount_cents, invoice_date=b.invoice_date,
        service_date=b.service_date, description=b.description)
    return json_response(views.invoice(invoice), 201 if created else 200)


def _external_id(raw: str) -> str:
    """The path's external id, URL-decoded by the gateway; 1-100 characters."""
    from urllib.parse import unquote  # noqa: PLC0415

    value = unquote(raw)
    if not 1 <= len(value) <= 100:
        raise ValidationError("external_id must have 1 to 100 characters", fields={"external_id": "1-100 characters"})
    return value
