"""The follow-up worklist, a patient's follow-up, attempts, callbacks, tasks and the calendar."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Response
from pydantic import BeforeValidator, Field

from ..domain.account import FOLLOW_UP_STATUSES, HOLD_REASONS
from ..domain.aging import BUCKETS
from ..domain.contact import CALLBACK_STATUSES, CHANNELS, MAX_NOTES, OUTCOMES
from ..domain.contact_rules import OVERRIDE_REASON_LENGTH, RULES
from ..domain.integrations import FOLLOWUPS_READ
from ..domain.roles import ALL_STAFF
from ..services import attempts, calendar, callbacks, followups, pages
from . import views
from .routing import RequestContext, route
from .types import Body, Cents, InstantOrWall, LocalDate, Out, PageQuery, Query, QueryLimit, query_int, text
from .urls import public_base_url

MAX_BALANCE_FILTER = 10**13


def _bucket(value):
    """`90 ` (exactly one trailing space) is `90+` written into a URL as it reads: in a query
    string `+` stands for a space (the form encoding `chalice local` and most URL parsers apply),
    so a client that forgets to write `%2B` sends `90 `. No other bucket ends in `+` and no name
    is `90 ` by mistake, so that one spelling is unambiguous; anything else (`90`, ` 90+`, `90  `)
    is not a bucket name and is 400."""
    return "90+" if value == "90 " else value


QueryInt = Annotated[int, BeforeValidator(query_int), Field(ge=0, le=MAX_BALANCE_FILTER)]
Bucket = Annotated[Literal[BUCKETS], BeforeValidator(_bucket)]
Status = Literal[FOLLOW_UP_STATUSES]


# ----- schemas -------------------------------------------------------------------------------
class WorklistQuery(Query):
    bucket: Bucket | None = Field(None, description="aging bucket of the oldest open invoice")
    min_balance_cents: QueryInt | None = None
    max_balance_cents: QueryInt | None = None
    invoice_date_from: LocalDate | None = Field(None, description="oldest open invoice date, inclusive")
    invoice_date_to: LocalDate | None = Field(None, description="oldest open invoice date, inclusive")
    status: Status | None = None
    contactable: Literal["true", "false"] | None = Field(
        None, description="true: only patients a contact rule does not block from a call now")
    limit: QueryLimit = 25
    cursor: text(1, 200) | None = None


class LastAttemptOut(Out):
    at: str
    channel: str
    outcome: str
    by: str


class NextActionOut(Out):
    type: Literal["callback", "installment", "promise"]
    due: str


RuleName = Literal[RULES]


class ContactOut(Out):
    call_now: bool
    blocked_by: list[RuleName] = Field(description="the contact rules that block a call now, in the contract's order")
    next_call_at: str | None = Field(description="the first instant no time-bound rule blocks; null: do_not_contact")
    timezone: str = Field(description="the zone the rules judged in: the patient's own, else the clinic's")


class HoldOut(Out):
    hold_id: str
    reason: Literal[HOLD_REASONS]
    until: str = Field(description="the last day on hold: the first scheduled run after it releases the hold")
    note: str | None
    created_by: str
    created_at: str


class WorklistRow(Out):
    patient_id: str
    patient_name: str
    status: Status
    balance_cents: int
    oldest_invoice_date: str
    days_overdue: int
    bucket: Literal[BUCKETS]
    last_attempt: LastAttemptOut | None
    next_action: NextActionOut | None
    hold: HoldOut | None = Field(description="set while the follow-up is on hold (listed with status=on_hold)")
    contact: ContactOut


class WorklistOut(Out):
    as_of: str
    items: list[WorklistRow]
    next_cursor: str | None


class AttemptIn(Body):
    channel: Literal[CHANNELS]
    outcome: Literal[OUTCOMES]
    notes: text(0, MAX_NOTES) | None = None
    promised_amount_cents: Cents | None = None
    promised_date: LocalDate | None = None


class AttemptOut(Out):
    attempt_id: str
    patient_id: str
    at: str
    by: str
    channel: str
    outcome: str
    notes: str | None
    promised_amount_cents: int | None
    promised_date: str | None
    promise_id: str | None
    rule_flags: list[RuleName] = Field(description="the contact rules the attempt broke (it is logged anyway)")


OverrideReason = text(*OVERRIDE_REASON_LENGTH)


class CallbackIn(Body):
    due_at: InstantOrWall
    notes: text(0, MAX_NOTES) | None = None
    assignee_sub: text(1, 128) | None = None
    override_reason: OverrideReason | None = Field(
        None, description="why the callback is scheduled although a contact rule blocks a call at due_at")


class CallbackPatch(Body):
    status: Literal["done", "cancelled"] | None = None
    due_at: InstantOrWall | None = None
    override_reason: OverrideReason | None = Field(None, description="with due_at, as on POST")


class CallbackOut(Out):
    callback_id: str
    patient_id: str
    due_at: str
    assignee_sub: str
    status: Literal[CALLBACK_STATUSES]
    notes: str | None
    override_reason: str | None = Field(None, description="set when scheduled past a contact rule")
    override_by: str | None = None


class TaskOut(CallbackOut):
    patient_name: str | None
    overdue: bool


class TasksOut(Out):
    items: list[TaskOut]


class PromisesOut(Out):
    made: int
    kept: int
    broken: int


class AttemptPage(Out):
    items: list[AttemptOut]
    next_cursor: str | None


class CallbackPage(Out):
    items: list[CallbackOut]
    next_cursor: str | None


class FollowUpOut(Out):
    patient: dict
    status: Status
    balance_cents: int
    oldest_invoice_date: str | None
    days_overdue: int | None
    bucket: Literal[BUCKETS] | None
    invoices: list[dict] = Field(description="the 50 newest, by invoice date")
    invoices_next_cursor: str | None = Field(description="continues GET /patients/{patient_id}/invoices")
    payments: list[dict] = Field(description="the 20 latest")
    attempts: list[AttemptOut] = Field(description="the 50 newest")
    attempts_next_cursor: str | None = Field(description="continues GET /patients/{patient_id}/attempts")
    callbacks: list[CallbackOut] = Field(description="the 50 newest")
    callbacks_next_cursor: str | None = Field(description="continues GET /patients/{patient_id}/callbacks")
    plan: dict | None
    promises: PromisesOut
    last_attempt: LastAttemptOut | None
    next_action: NextActionOut | None
    hold: HoldOut | None
    contact: ContactOut


class FeedOut(Out):
    url: str


# ----- routes --------------------------------------------------------------------------------
@route("/follow-ups", "GET", roles=ALL_STAFF, query=WorklistQuery, response=WorklistOut,
       scopes=(FOLLOWUPS_READ,))
def worklist(ctx: RequestContext) -> dict:
    """Patients with an open invoice, most overdue first; filters combine; cursor pagination."""
    q = ctx.query
    filters = followups.Filters(bucket=q.bucket, min_balance_cents=q.min_balance_cents,
                                max_balance_cents=q.max_balance_cents, invoice_date_from=q.invoice_date_from,
                                invoice_date_to=q.invoice_date_to, status=q.status,
                                contactable=q.contactable == "true")
    return views.worklist(followups.worklist(ctx.uow, ctx.caller, ctx.now, filters, limit=q.limit, cursor=q.cursor))


@route("/follow-ups/{patient_id}", "GET", roles=ALL_STAFF, response=FollowUpOut, scopes=(FOLLOWUPS_READ,))
def follow_up(ctx: RequestContext, patient_id: str) -> dict:
    """One patient's follow-up: invoices, payments, contact history, callbacks, plan, promises."""
    return views.follow_up(followups.detail(ctx.uow, ctx.caller, ctx.now, patient_id))


@route("/patients/{patient_id}/attempts", "GET", roles=ALL_STAFF, query=PageQuery, response=AttemptPage)
def list_attempts(ctx: RequestContext, patient_id: str) -> dict:
    """The patient's contact attempts, newest first, a page at a time."""
    q = ctx.query
    return views.page(pages.attempts(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor), views.attempt)


@route("/patients/{patient_id}/callbacks", "GET", roles=ALL_STAFF, query=PageQuery, response=CallbackPage)
def list_callbacks(ctx: RequestContext, patient_id: str) -> dict:
    """The patient's callbacks, newest first, a page at a time."""
    q = ctx.query
    return views.page(pages.callbacks(ctx.uow, ctx.caller, patient_id, limit=q.limit, cursor=q.cursor),
                      views.callback)


@route("/follow-ups/{patient_id}/attempts", "POST", roles=ALL_STAFF, body=AttemptIn, response=AttemptOut,
       status=201)
def log_attempt(ctx: RequestContext, patient_id: str) -> dict:
    """Log a contact attempt; `promised_payment` records a promise to pay."""
    b = ctx.body
    logged = attempts.log(ctx.uow, ctx.caller, ctx.now, patient_id, channel=b.channel, outcome=b.outcome,
                          notes=b.notes, promised_amount_cents=b.promised_amount_cents, promised_date=b.promised_date)
    return {**views.attempt(logged.attempt), "follow_up_status": logged.follow_up_status,
            "balance_cents": logged.balance_cents}


@route("/follow-ups/{patient_id}/callbacks", "POST", roles=ALL_STAFF, body=CallbackIn,
       response=CallbackOut, status=201)
def schedule_callback(ctx: RequestContext, patient_id: str) -> dict:
    """Schedule a callback at an instant or a clinic-local wall time, for the caller or a colleague."""
    b = ctx.body
    return views.callback(callbacks.schedule(ctx.uow, ctx.caller, ctx.now, patient_id, due_at=b.due_at,
                                             notes=b.notes, assignee_sub=b.assignee_sub,
                                             override_reason=b.override_reason))


@route("/callbacks/{callback_id}", "PATCH", roles=ALL_STAFF, body=CallbackPatch, response=CallbackOut)
def update_callback(ctx: RequestContext, callback_id: str) -> dict:
    """Mark a callback done or cancelled (`status`), or reschedule it (`due_at`)."""
    b = ctx.body
    return views.callback(callbacks.update(ctx.uow, ctx.caller, ctx.now, callback_id, status=b.status,
                                           due_at=b.due_at, override_reason=b.override_reason))


@route("/tasks", "GET", roles=ALL_STAFF, response=TasksOut)
def tasks(ctx: RequestContext) -> dict:
    """The caller's scheduled callbacks due up to the end of today, soonest first."""
    due = callbacks.tasks(ctx.uow, ctx.caller, ctx.now)
    return {"as_of": due.as_of.isoformat(), "items": [views.task(t) for t in due.items]}


def _console_url(ctx: RequestContext) -> str:
    """Where the console is, for the events' links to a patient: beside the API (`/console/`)."""
    return f"{public_base_url(ctx.request, '/calendar', default_host='127.0.0.1')}/console/"


def _calendar_response(body: str) -> Response:
    return Response(body=body, status_code=200, headers={
        "Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private, no-store",
        "Content-Disposition": 'inline; filename="callbacks.ics"'})


@route("/calendar.ics", "GET", roles=ALL_STAFF, content_type="text/calendar")
def calendar_ics(ctx: RequestContext) -> Response:
    """The caller's scheduled callbacks as iCalendar (one VEVENT each, UID = callback_id)."""
    return _calendar_response(calendar.ics(ctx.uow, ctx.caller.clinic_id, ctx.caller.sub, ctx.now,
                                           _console_url(ctx)))


@route("/calendar/feed", "POST", roles=ALL_STAFF, response=FeedOut, status=201)
def issue_feed(ctx: RequestContext) -> dict:
    """A new secret feed URL of the caller's calendar (no header needed); the old one stops working."""
    token = calendar.issue_feed(ctx.uow, ctx.caller, ctx.now)
    return {"url": f"{public_base_url(ctx.request, '/calendar')}/calendar/feed/{token}"}


@route("/calendar/feed", "DELETE", roles=ALL_STAFF, status=204)
def revoke_feed(ctx: RequestContext) -> Response:
    """Revoke the caller's feed URL."""
    calendar.revoke_feed(ctx.uow, ctx.caller, ctx.now)
    return Response(body="", status_code=204)


@route("/calendar/feed/{token}", "GET", roles=None, content_type="text/calendar")
def calendar_feed(ctx: RequestContext, token: str) -> Response:
    """The feed owner's calendar, for calendar apps: the secret URL is the credential."""
    return _calendar_response(calendar.feed(ctx.uow, token, ctx.now, _console_url(ctx)))
