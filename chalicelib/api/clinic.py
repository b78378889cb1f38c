"""The clinic and its staff."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from ..domain import contact_rules
from ..domain.roles import ALL_STAFF, OWNER_ADMIN, OWNER_ONLY, ROLES
from ..services import clinics, staff
from . import views
from .routing import RequestContext, route
from .types import Body, Email, Out, text


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


@route("/staff", "GET", roles=OWNER_ADMIN, response=StaffList)
def list_staff(ctx: RequestContext) -> dict:
    """The clinic's staff members."""
    return {"items": [views.staff_member(m) for m in staff.list_members(ctx.uow, ctx.caller.clinic_id)]}


@route("/staff", "POST", roles=OWNER_ADMIN, body=StaffIn, response=StaffOut, status=201)
def create_staff(ctx: RequestContext) -> dict:
    """Create a staff member: a Cognito user in this clinic and the role's group.

    Safe to send again after any failure: a pending creation of this email is finished, not a 409."""
    b = ctx.body
    return views.staff_member(staff.create(ctx.uow, ctx.caller.clinic_id, ctx.now, email=str(b.email).lower(),
                                           name=b.name, role=b.role, actor=ctx.caller.actor,
                                           actor_roles=ctx.caller.roles))
