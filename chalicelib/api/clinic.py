"""The clinic and its staff."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from ..domain import contact_rules
from ..domain.roles import ALL_STAFF, OWNER_ADMIN, OWNER_ONLY, ROLES
from ..services import clinics, staff
from . import auth, views
from .routing import RequestContext, route
from .types import Body, Email, Out, Query, text


def _sent_not_null(value):
    """A field that may be left out (nothing changes) but not sent as null."""
    if value is None:
        raise ValueError("must not be null (leave it out to keep the current value)")
    return value


HHMM = Annotated[time, BeforeValidator(contact_rules.parse_hhmm),
                 Field(json_schema_extra={"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"})]
MaxCalls = Annotated[int, Field(strict=True, ge=contact_rules.MAX_CALLS_RANGE[0], le=contact_rules.MAX_CALLS_RANGE[1])]
QuietDays = Annotated[int, Field(strict=True, ge=contact_rules.QUIET_DAYS_RANGE[0],
                                 le=contact_rules.QUIET_DAYS_RANGE[1])]


class CallHoursIn(Body):
    """Local wall-clock times in the patient's time zone; `end` exclusive, after `start`."""

    start: HHMM
    end: HHMM


class ContactPolicyIn(Body):
    """A merge: each field sent replaces the current value, the others stay."""

    call_hours: CallHoursIn | None = None
    max_calls_per_7_days: MaxCalls | None = None
    quiet_days_after_conversation: QuietDays | None = None

    @field_validator("call_hours", "max_calls_per_7_days", "quiet_days_after_conversation", mode="before")
    @classmethod
    def _not_null(cls, value):
        return _sent_not_null(value)

    def changes(self) -> dict:
        """The `ContactPolicy.changed` arguments of what was sent."""
        out: dict = {}
        if self.call_hours is not None:
            out.update(call_start=self.call_hours.start, call_end=self.call_hours.end)
        if self.max_calls_per_7_days is not None:
            out["max_calls_per_7_days"] = self.max_calls_per_7_days
        if self.quiet_days_after_conversation is not None:
            out["quiet_days_after_conversation"] = self.quiet_days_after_conversation
        return out


class CallHoursOut(Out):
    start: str
    end: str


class ContactPolicyOut(Out):
    call_hours: CallHoursOut
    max_calls_per_7_days: int
    quiet_days_after_conversation: int


class ClinicOut(Out):
    clinic_id: str
    name: str
    timezone: str
    currency: str
    calendar_show_names: bool
    contact_policy: ContactPolicyOut


class ClinicPatch(Body):
    name: text(1, 200) | None = None
    timezone: text(1, 64) | None = None
    calendar_show_names: bool | None = Field(
        default=None, description="true: calendar events say `Call back <patient name>`; false (the default): "
                                  "`Follow-up callback`, with the console link only")
    contact_policy: ContactPolicyIn | None = Field(
        default=None, description="who may be called when (defaults 08:00-21:00, 7 calls in 7 days, 7 quiet days "
                                  "after a conversation: Regulation F); a merge, see docs/contact-rules.md")

    @field_validator("calendar_show_names", mode="before")
    @classmethod
    def _true_or_false(cls, value):
        if value is None:  # only when sent: leaving it out changes nothing
            raise ValueError("must be true or false")
        return value

    @field_validator("contact_policy", mode="before")
    @classmethod
    def _policy_not_null(cls, value):
        return _sent_not_null(value)


class StaffIn(Body):
    email: Email
    name: text(1, 200)
    role: Literal[ROLES]


class StaffOut(Out):
    sub: str
    email: str
    name: str
    role: str
    status: Literal["active", "inactive"]


class StaffList(Out):
    items: list[StaffOut]


class StaffQuery(Query):
    status: Literal["active", "all"] = Field("active", description="all: inactive members too")


class StaffPatch(Body):
    role: Literal[ROLES] | None = None
    name: text(1, 200) | None = None

    @field_validator("role", "name", mode="before")
    @classmethod
    def _not_null(cls, value):
        if value is None:  # only when sent: leaving it out changes nothing
            raise ValueError("must not be null")
        return value


class DeactivateIn(Body):
    reassign_to: text(1, 128) | None = Field(
        default=None, description="the active member who takes the leaver's scheduled callbacks (default: the caller)")

    @field_validator("reassign_to", mode="before")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("must not be null")
        return value


class DeactivationOut(Out):
    sub: str
    status: Literal["inactive"]
    callbacks_reassigned: int


@route("/clinic", "GET", roles=ALL_STAFF, response=ClinicOut)
def get_clinic(ctx: RequestContext) -> dict:
    """The caller's clinic."""
    return views.clinic(clinics.get(ctx.uow, ctx.caller.clinic_id))


@route("/clinic", "PATCH", roles=OWNER_ONLY, body=ClinicPatch, response=ClinicOut)
def patch_clinic(ctx: RequestContext) -> dict:
    """Rename the clinic, change its time zone, choose whether calendar events name patients, or
    change its contact policy."""
    b = ctx.body
    return views.clinic(clinics.update(ctx.uow, ctx.caller, ctx.now, name=b.name, timezone=b.timezone,
                                       calendar_show_names=b.calendar_show_names,
                                       contact_policy=b.contact_policy.changes() if b.contact_policy else None))


@route("/staff", "GET", roles=OWNER_ADMIN, query=StaffQuery, response=StaffList)
def list_staff(ctx: RequestContext) -> dict:
    """The clinic's staff members: active ones, or everyone with `status=all`."""
    members = staff.list_members(ctx.uow, ctx.caller.clinic_id, include_inactive=ctx.query.status == "all")
    return {"items": [views.staff_member(m) for m in members]}


@route("/staff", "POST", roles=OWNER_ADMIN, body=StaffIn, response=StaffOut, status=201)
def create_staff(ctx: RequestContext) -> dict:
    """Create a staff member: a Cognito user in this clinic and the role's group.

    Safe to send again after any failure: a pending creation of this email is finished, not a 409."""
    b = ctx.body
    return views.staff_member(staff.create(ctx.uow, ctx.caller.clinic_id, ctx.now, email=str(b.email).lower(),
                                           name=b.name, role=b.role, actor=ctx.caller.actor,
                                           actor_roles=ctx.caller.roles))


@route("/staff/{sub}", "PATCH", roles=OWNER_ONLY, body=StaffPatch, response=StaffOut)
def patch_staff(ctx: RequestContext, sub: str) -> dict:
    """Change a member's role or name; the Cognito group follows. The last active Owner is not demoted (409).

    Sending the same request again after a 503 finishes moving the group."""
    member = staff.update(ctx.uow, ctx.caller, ctx.now, sub, role=ctx.body.role, name=ctx.body.name)
    auth.STAFF.forget(ctx.caller.clinic_id, sub)
    return views.staff_member(member)


@route("/staff/{sub}/deactivate", "POST", roles=OWNER_ADMIN, body=DeactivateIn, response=DeactivationOut)
def deactivate_staff(ctx: RequestContext, sub: str) -> dict:
    """Deactivate a member (an Admin: BillingStaff only): signed out and disabled, tokens refused within
    60 s, calendar feed and delegations ended, scheduled callbacks moved to `reassign_to`.

    Not oneself, not the last active Owner (409). Safe to send again: it finishes what a failure left."""
    done = staff.deactivate(ctx.uow, ctx.caller, ctx.now, sub, reassign_to=ctx.body.reassign_to)
    auth.STAFF.forget(ctx.caller.clinic_id, sub)
    return views.deactivation(done)


@route("/staff/{sub}/reactivate", "POST", roles=OWNER_ONLY, response=StaffOut)
def reactivate_staff(ctx: RequestContext, sub: str) -> dict:
    """Bring a deactivated member back, with their role (and none of their old callbacks)."""
    member = staff.reactivate(ctx.uow, ctx.caller, ctx.now, sub)
    auth.STAFF.forget(ctx.caller.clinic_id, sub)
    return views.staff_member(member)
