"""Staff: the clinic's Cognito users, mirrored in DynamoDB so a clinic can list its own, and who
may act in the clinic at all (an active staff record)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from .. import config
from ..domain import roles
from ..domain.errors import Conflict, Forbidden, ValidationError
from ..domain.roles import SYSTEM, Caller
from ..domain.team import ACTIVE, PENDING, Enrolment, StaffMember, may_act
from ..store import cognito
from ..store.uow import StaleWrite
from . import audit


def list_members(uow, clinic_id: str) -> list[StaffMember]:
    return uow.staff.list(clinic_id)


def require_member(uow, clinic_id: str, sub: str, field: str) -> StaffMember:
    """A body that names a person must name staff of this clinic (else 400, not 404)."""
    member = uow.staff.get(clinic_id, sub) if isinstance(sub, str) and sub else None
    if member is None:
        raise ValidationError(f"{field} is not staff of this clinic", fields={field: "not staff of this clinic"})
    return member


def require_active(uow, caller: Caller) -> StaffMember:
    """The caller's active staff record, or Forbidden: a valid token of a user whose creation never
    finished (or who has no record) does nothing. Read with the clinic in one call, which the
    request's services then use (see `ClinicRepository.get_with_member`)."""
    _, member = uow.clinics.get_with_member(caller.clinic_id, caller.sub)
    if not may_act(member):
        raise Forbidden("you are not an active staff member of this clinic")
    return member


def _existing_email(email: str) -> Conflict:
    return Conflict(f"a staff member with the email {email} already exists")


def create(uow, clinic_id: str, now: datetime, *, email: str, name: str, role: str, actor: str = SYSTEM,
           actor_roles: frozenset[str] | None = None, password: str | None = None) -> StaffMember:
    """Business rule: only an Owner makes Owners; an email is one member of a clinic.

    Cognito is outside the transaction, so creation takes three steps, each safe to crash after:
    1. a pending enrolment keyed by the email, with its audit (`staff.pending`), in one transaction;
    2. the user pool's user, created, or adopted when an earlier attempt in this clinic left one,
       in exactly the role's group (and with `password`, for the CLI);
    3. activation: the member's record with the user's `sub` and the enrolment made active, with
       `staff.created`, in one transaction.
    Until step 3 commits the user holds nothing (`require_active`); the same request sent again
    finds the pending enrolment and carries on from there instead of answering 409."""
    if role not in roles.ROLES:
        raise ValidationError(f"unknown role {role!r}", fields={"role": f"one of {', '.join(roles.ROLES)}"})
    if not roles.may_create_role(actor_roles, role):
        raise Forbidden("only an Owner can create another Owner")
    email = email.strip().lower()
    pool_id = config.settings().user_pool_id
    enrolment = uow.staff.enrolment(clinic_id, email)
    if enrolment is not None and enrolment.status != PENDING:
        raise _existing_email(email)
    # Look before writing anything, so a refusal changes nothing: the email of another clinic's
    # user, or of a member recorded before enrolments existed.
    user = cognito.find_user(pool_id=pool_id, email=email)
    if user is not None and (user.clinic_id != clinic_id or uow.staff.get(clinic_id, user.sub, consistent=True)):
        raise _existing_email(email)
    enrolment = _begin(uow, clinic_id, now, enrolment, email=email, name=name, role=role, actor=actor)
    sub = cognito.ensure_user(pool_id=pool_id, clinic_id=clinic_id, email=email, name=name, role=role,
                              password=password, existing=user)
    return _activate(uow, clinic_id, now, enrolment, sub, actor)


def _begin(uow, clinic_id: str, now: datetime, found: Enrolment | None, *, email: str, name: str, role: str,
           actor: str) -> Enrolment:
    if found is not None and found.asks_for(name, role):
        return found  # a retry of the same request: step 1 is done
    enrolment = Enrolment(email, name, role, PENDING, now.isoformat(), actor)
    uow.staff.begin_enrolment(clinic_id, enrolment, replaces=found)
    audit.record(uow, clinic_id, actor, "staff.pending", now, details={"role": role})
    try:
        uow.commit()
    except StaleWrite as e:  # another request for this email got there first
        raise Conflict(f"a staff member with the email {email} is being created; try again") from e
    return enrolment


def _activate(uow, clinic_id: str, now: datetime, enrolment: Enrolment, sub: str, actor: str) -> StaffMember:
    member = StaffMember(sub, enrolment.email, enrolment.name, enrolment.role, now.isoformat(), ACTIVE)
    uow.staff.activate(clinic_id, replace(enrolment, status=ACTIVE, sub=sub), member)
    audit.record(uow, clinic_id, actor, "staff.created", now, details={"sub": sub, "role": member.role})
    try:
        uow.commit()
    except StaleWrite as e:  # a concurrent request activated it (or changed what it asks for)
        raise _existing_email(enrolment.email) from e
    return member
