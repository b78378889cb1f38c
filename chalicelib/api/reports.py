"""Billing reports: aging (every role); staff performance and contact compliance (Owner and Admin), JSON or CSV."""

from __future__ import annotations

from typing import Literal

from chalice import Response
from pydantic import Field

from ..domain.aging import BUCKETS
from ..domain.contact import CHANNELS, OUTCOMES
from ..domain.contact_rules import RULES
from ..domain.integrations import REPORTS_READ
from ..domain.roles import ALL_STAFF, OWNER_ADMIN
from ..services import reports
from .routing import RequestContext, route
from .types import LocalDate, Out, Query


class AgingBucketOut(Out):
    bucket: Literal[BUCKETS]
    invoices: int = Field(description="open invoices whose own age is in the bucket")
    patients: int = Field(description="distinct patients with an open invoice in the bucket")
    balance_cents: int


class AgingOut(Out):
    as_of: str = Field(description="the clinic-local today the ages are counted from")
    buckets: list[AgingBucketOut] = Field(description="always the four buckets, in order 0-30, 31-60, 61-90, 90+")
    total_cents: int = Field(description="the sum of the buckets' balances")
    plan_remainder_cents: int = Field(description="active plans' parts not invoiced yet (not in any bucket)")
    on_hold_cents: int = Field(description="the part of total_cents owed by patients whose follow-up is on hold")


class StaffPerformanceQuery(Query):
    from_: LocalDate = Field(alias="from", description="first clinic-local date, inclusive")
    to: LocalDate = Field(description="last clinic-local date, inclusive; at most 366 days after from")
    format: Literal["json", "csv"] = Field("json", description="csv: text/csv, one row per staff member")


class StaffRowOut(Out):
    sub: str
    name: str
    attempts: int
    by_channel: dict[Literal[CHANNELS], int] = Field(description="every channel, 0 included")
    by_outcome: dict[Literal[OUTCOMES], int] = Field(description="every outcome, 0 included")
    promises_made: int
    promises_kept: int
    promises_broken: int
    callbacks_done: int
    callbacks_overdue: int
    recovered_cents: int = Field(description="payments credited to the member, less reversals of them (each on "
                                 "its own date)")


class StaffPerformanceOut(Out):
    from_: str = Field(alias="from")
    to: str
    items: list[StaffRowOut] = Field(description="one per staff member of the clinic, by name")


class ComplianceRowOut(Out):
    sub: str
    name: str
    attempts: int = Field(description="the member's attempts in the range, every channel")
    flagged: dict[Literal[RULES], int] = Field(description="attempts that broke each contact rule, 0 included")
    overrides: int = Field(description="callbacks the member scheduled past a contact rule, with a reason")


class ContactComplianceOut(Out):
    from_: str = Field(alias="from")
    to: str
    items: list[ComplianceRowOut] = Field(description="one per staff member of the clinic, by name")


def _csv(body: str, filename: str) -> Response:
    return Response(body=body, status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{filename}"'})


@route("/reports/aging", "GET", roles=ALL_STAFF, response=AgingOut, scopes=(REPORTS_READ,))
def aging_report(ctx: RequestContext) -> dict:
    """Open invoices by the age of each (counts, patients, balance per bucket) and plans' uninvoiced parts."""
    return reports.aging(ctx.uow, ctx.caller, ctx.now)


@route("/reports/staff-performance", "GET", roles=OWNER_ADMIN, query=StaffPerformanceQuery,
       response=StaffPerformanceOut, also_returns=("text/csv",), scopes=(REPORTS_READ,))
def staff_performance_report(ctx: RequestContext) -> dict | Response:
    """Per staff member: attempts by channel and outcome, promises, callbacks and recovered cents
    for a range of clinic-local dates (`format=csv` for a spreadsheet)."""
    q = ctx.query
    report = reports.staff_performance(ctx.uow, ctx.caller, ctx.now, q.from_, q.to)
    if q.format == "json":
        return report
    return _csv(reports.staff_performance_csv(report), f"staff-performance-{report['from']}-to-{report['to']}.csv")


@route("/reports/contact-compliance", "GET", roles=OWNER_ADMIN, query=StaffPerformanceQuery,
       response=ContactComplianceOut, also_returns=("text/csv",))
def contact_compliance_report(ctx: RequestContext) -> dict | Response:
    """Per staff member: attempts, those that broke each contact rule, and callbacks scheduled past a
    rule, for a range of clinic-local dates (`format=csv` for a spreadsheet)."""
    q = ctx.query
    report = reports.contact_compliance(ctx.uow, ctx.caller, ctx.now, q.from_, q.to)
    if q.format == "json":
        return report
    return _csv(reports.contact_compliance_csv(report),
                f"contact-compliance-{report['from']}-to-{report['to']}.csv")
