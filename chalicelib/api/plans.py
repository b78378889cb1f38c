"""Payment plans: convert a follow-up's balance, read a plan, invoice its due installments now."""

from __future__ import annotations

from typing import Literal

from ..domain.account import INSTALLMENT_STATUSES, PLAN_STATUSES
from ..domain.integrations import FOLLOWUPS_READ
from ..domain.plans import FREQUENCIES
from ..domain.roles import ALL_STAFF
from ..services import plans
from . import views
from .routing import RequestContext, route
from .types import Body, Cents, LocalDate, Out


class PlanIn(Body):
    installment_cents: Cents
    frequency: Literal[FREQUENCIES]
    start_date: LocalDate


class InstallmentOut(Out):
    number: int
    due_date: str
    amount_cents: int
    status: Literal[INSTALLMENT_STATUSES]
    invoice_id: str | None
    prepaid_cents: int


class PlanOut(Out):
    plan_id: str
    patient_id: str
    status: Literal[PLAN_STATUSES]
    total_cents: int
    installment_cents: int
    frequency: Literal[FREQUENCIES]
    start_date: str
    installments: list[InstallmentOut]
    next_due_date: str | None


class PlanRunOut(Out):
    invoices_created: list[str]


@route("/follow-ups/{patient_id}/payment-plan", "POST", roles=ALL_STAFF, body=PlanIn, response=PlanOut,
       status=201)
def create_plan(ctx: RequestContext, patient_id: str) -> dict:
    """Convert the patient's whole balance into a payment plan; open invoices move into it."""
    b = ctx.body
    return views.plan(plans.create(ctx.uow, ctx.caller, ctx.now, patient_id=patient_id,
                                   installment_cents=b.installment_cents, frequency=b.frequency,
                                   start_date=b.start_date))


@route("/payment-plans/{plan_id}", "GET", roles=ALL_STAFF, response=PlanOut, scopes=(FOLLOWUPS_READ,))
def get_plan(ctx: RequestContext, plan_id: str) -> dict:
    """A payment plan of the caller's clinic with its installments."""
    return views.plan(plans.get(ctx.uow, ctx.caller, plan_id))


@route("/payment-plans/{plan_id}/run", "POST", roles=ALL_STAFF, response=PlanRunOut)
def run_plan(ctx: RequestContext, plan_id: str) -> dict:
    """Invoice the plan's installments due today or earlier now, as the nightly run would."""
    return {"invoices_created": plans.run(ctx.uow, ctx.caller, ctx.now, plan_id)}
