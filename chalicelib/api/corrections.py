"""Corrections and holds: void or adjust an invoice, reverse a payment, cancel or change a plan,
put a follow-up on hold and release it."""

from __future__ import annotations

from typing import Literal

from ..domain.account import HOLD_REASONS, REVERSAL_REASONS
from ..domain.integrations import INVOICES_WRITE, PAYMENTS_WRITE
from ..domain.plans import FREQUENCIES
from ..domain.roles import ALL_STAFF, OWNER_ADMIN
from ..services import corrections, followups, holds, plans
from . import views
from .followups import HoldOut
from .plans import PlanOut
from .routing import RequestContext, json_response, route
from .types import Body, Cents, LocalDate, Out, text


class ReasonIn(Body):
    reason: text(3, 500)


class AdjustmentIn(Body):
    amount_cents: Cents
    reason: text(3, 500)


class AdjustmentOut(Out):
    adjustment_id: str
    invoice_id: str
    amount_cents: int
    balance_cents: int
    reason: str
    at: str
    by: str
    patient_balance_cents: int
    follow_up_status: str


class VoidOut(Out):
    invoice_id: str
    status: Literal["void"]
    voided_cents: int
    patient_balance_cents: int
    follow_up_status: str


class ReversalIn(Body):
    reason: Literal[REVERSAL_REASONS]
    note: text(0, 2000) | None = None


class ReversalOut(Out):
    reversal_id: str
    payment_id: str
    amount_cents: int
    balance_cents: int
    follow_up_status: str


class PlanChangeIn(Body):
    installment_cents: Cents | None = None
    frequency: Literal[FREQUENCIES] | None = None
    next_due_date: LocalDate | None = None


class HoldIn(Body):
    reason: Literal[HOLD_REASONS]
    until: LocalDate
    note: text(0, 2000) | None = None


@route("/invoices/{invoice_id}/void", "POST", roles=OWNER_ADMIN, body=ReasonIn, response=VoidOut,
       scopes=(INVOICES_WRITE,))
def void_invoice(ctx: RequestContext, invoice_id: str) -> dict:
    """Void an open invoice that no payment paid (409 invoice_has_payments), outside any plan."""
    return views.voided(corrections.void_invoice(ctx.uow, ctx.caller, ctx.now, invoice_id=invoice_id,
                                                 reason=ctx.body.reason))


@route("/invoices/{invoice_id}/adjustments", "POST", roles=OWNER_ADMIN, body=AdjustmentIn, response=AdjustmentOut,
       status=201, scopes=(INVOICES_WRITE,))
def adjust_invoice(ctx: RequestContext, invoice_id: str) -> dict:
    """Lower an open invoice's balance (a discount or a correction), at most to zero."""
    b = ctx.body
    return views.adjustment(corrections.adjust_invoice(ctx.uow, ctx.caller, ctx.now, invoice_id=invoice_id,
                                                       amount_cents=b.amount_cents, reason=b.reason))


@route("/payments/{payment_id}/reversal", "POST", roles=OWNER_ADMIN, body=ReversalIn, response=ReversalOut,
       status=201, scopes=(PAYMENTS_WRITE,))
def reverse_payment(ctx: RequestContext, payment_id: str) -> dict:
    """Undo a payment (returned, chargeback, entered in error); again is 409 already_reversed."""
    b = ctx.body
    return views.reversal(corrections.reverse_payment(ctx.uow, ctx.caller, ctx.now, payment_id=payment_id,
                                                      reason=b.reason, note=b.note))


@route("/payment-plans/{plan_id}/cancel", "POST", roles=OWNER_ADMIN, body=ReasonIn, response=PlanOut)
def cancel_plan(ctx: RequestContext, plan_id: str) -> dict:
    """Cancel the active plan: the uninvoiced remainder becomes one open invoice, dated as the plan's oldest."""
    return views.plan(plans.cancel(ctx.uow, ctx.caller, ctx.now, plan_id=plan_id, reason=ctx.body.reason))


@route("/payment-plans/{plan_id}", "PATCH", roles=ALL_STAFF, body=PlanChangeIn, response=PlanOut)
def change_plan(ctx: RequestContext, plan_id: str) -> dict:
    """Reschedule the plan's uninvoiced remainder; issued installments do not change."""
    b = ctx.body
    return views.plan(plans.change(ctx.uow, ctx.caller, ctx.now, plan_id=plan_id,
                                   installment_cents=b.installment_cents, frequency=b.frequency,
                                   next_due_date=b.next_due_date))


@route("/follow-ups/{patient_id}/hold", "POST", roles=ALL_STAFF, body=HoldIn, response=HoldOut, status=201)
def place_hold(ctx: RequestContext, patient_id: str):
    """Put the follow-up on hold until a date (after today, at most 180 days ahead)."""
    b = ctx.body
    hold = holds.place(ctx.uow, ctx.caller, ctx.now, patient_id=patient_id, reason=b.reason, until=b.until,
                       note=b.note)
    return json_response(views.hold(hold), 201)


@route("/follow-ups/{patient_id}/hold", "DELETE", roles=ALL_STAFF)
def release_hold(ctx: RequestContext, patient_id: str) -> dict:
    """Release the follow-up's hold; answers the follow-up."""
    holds.release(ctx.uow, ctx.caller, ctx.now, patient_id=patient_id)
    return views.follow_up(followups.detail(ctx.uow, ctx.caller, ctx.now, patient_id))
