"""The clinic and its staff."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..domain.roles import ALL_STAFF, OWNER_ADMIN, OWNER_ONLY, ROLES
from ..services import clinics, staff
from . import views
from .routing import RequestContext, route
from .types import Body, Email, Out, text


class ClinicOut(Out):
    clinic_id: str
    name: str
    timezone: str
    currency: str
    calendar_show_names: bool


class ClinicPatch(Body):
    name: text(1, 200) | None = None
    timezone: text(1, 64) | None = None
    calendar_show_names: bool | None = Field(
        default=None, description="true: calendar events say `Call back <patient name>`; false (the default): "
                                  "`Follow-up callback`, with the console link only")

    @field_validator("calendar_show_names", mode="before")
    @classmethod
    def _true_or_false(cls, value):
        if value is None:  # only when sent: leaving it out changes nothing
            raise ValueError("must be true or false")
        return value


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
    """Rename the clinic, change its time zone, or choose whether calendar events name patients."""
    b = ctx.body
    return views.clinic(clinics.update(ctx.uow, ctx.caller, ctx.now, name=b.name, timezone=b.timezone,
                                       calendar_show_names=b.calendar_show_names))


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
