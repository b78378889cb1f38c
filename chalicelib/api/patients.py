"""Patients, their ledger, invoices and payments."""

from __future__ import annotations

from typing import Literal

from ..domain.account import INVOICE_SOURCES, INVOICE_STATUSES, LEDGER_TYPES, PAYMENT_METHODS
from ..domain.roles import ALL_STAFF
from ..services import invoices, pages, patients, payments
from . import views
from .routing import RequestContext, json_response, route
from .types import Body, Cents, Instant, LedgerLimit, LocalDate, Out, PageQuery, Query, text


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


@route("/patients", "POST", roles=ALL_STAFF, body=PatientIn, response=PatientOut, status=201)
def create_patient(ctx: RequestContext) -> dict:
    """Register a patient."""
    b = ctx.body
    return views.patient(patients.create(ctx.uow, ctx.caller, ctx.now, name=b.name, phone=b.phone, email=b.email,
                                         external_id=b.external_id))


@route("/patients/{patient_id}", "GET", roles=ALL_STAFF, response=PatientOut)
def get_patient(ctx: RequestContext, patient_id: str) -> dict:
    """A patient of the caller's clinic."""
    return views.patient(patients.get(ctx.uow, ctx.caller, patient_id))


@route("/patients/{patient_id}/ledger", "GET", roles=ALL_STAFF, query=LedgerQuery, response=LedgerOut)
def get_ledger(ctx: RequestContext, patient_id: str) -> dict:
    """Every invoice, payment and write-off of the patient, oldest first, with running balance."""
    q = ctx.query
    return views.page(pages.ledger(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor),
                      views.ledger_line)


@route("/patients/{patient_id}/invoices", "GET", roles=ALL_STAFF, query=PageQuery, response=InvoicePage)
def list_invoices(ctx: RequestContext, patient_id: str) -> dict:
    """The patient's invoices, newest first (by invoice date), a page at a time."""
    q = ctx.query
    return views.page(pages.invoices(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor), views.invoice)


@route("/invoices", "POST", roles=ALL_STAFF, body=InvoiceIn, response=InvoiceOut, status=201)
def create_invoice(ctx: RequestContext) -> dict:
    """Invoice a patient; aging counts from `invoice_date`."""
    b = ctx.body
    return views.invoice(invoices.create(ctx.uow, ctx.caller, ctx.now, patient_id=b.patient_id,
                                         amount_cents=b.amount_cents, invoice_date=b.invoice_date,
                                         service_date=b.service_date, description=b.description,
                                         external_id=b.external_id))


@route("/invoices/{invoice_id}", "GET", roles=ALL_STAFF, response=InvoiceOut)
def get_invoice(ctx: RequestContext, invoice_id: str) -> dict:
    """An invoice of the caller's clinic."""
    return views.invoice(invoices.get(ctx.uow, ctx.caller, invoice_id))


@route("/payments", "POST", roles=ALL_STAFF, body=PaymentIn, response=PaymentOut, status=201,
       headers=("Idempotency-Key",))
def create_payment(ctx: RequestContext):
    """Record a payment (header Idempotency-Key required): named invoice, else oldest first."""
    _, payment = payments.record(ctx.uow, ctx.caller, ctx.now, idempotency_key=ctx.header("Idempotency-Key") or "",
                                 body=ctx.body.model_dump())
    return json_response(views.payment(payment), 201)


@route("/payments/{payment_id}", "GET", roles=ALL_STAFF, response=PaymentOut)
def get_payment(ctx: RequestContext, payment_id: str) -> dict:
    """A payment of the caller's clinic."""
    return views.payment(payments.get(ctx.uow, ctx.caller, payment_id))
