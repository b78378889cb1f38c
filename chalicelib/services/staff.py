"""Staff: the clinic's Cognito users, mirrored in DynamoDB so a clinic can list its own."""

from __future__ import annotations

from datetime import datetime

from .. import config
from ..domain import roles
from ..domain.errors import Forbidden, ValidationError
from ..domain.roles import SYSTEM
from ..domain.team import StaffMember
from ..store import cognito
from . import audit


def list_members(uow, clinic_id: str) -> list[StaffMember]:
    return uow.staff.list(clinic_id)


def require_member(uow, clinic_id: str, sub: str, field: str) -> StaffMember:
    """A body that names a person must name staff of this clinic (else 400, not 404)."""
    member = uow.staff.get(clinic_id, sub) if isinstance(sub, str) and sub else None
    if member is None:
        raise ValidationError(f"{field} is not staff of this clinic", fields={field: "not staff of this clinic"})
    return member


def create(uow, clinic_id: str, now: datetime, *, email: str, name: str, role: str, actor: str = SYSTEM,
           actor_roles: frozenset[str] | None = None, password: str | None = None) -> StaffMember:
    """Business rule: only an Owner makes Owners."""
    if role not in roles.ROLES:
        raise ValidationError(f"unknown role {role!r}", fields={"role": f"one of {', '.join(roles.ROLES)}"})
    if not roles.may_create_role(actor_roles, role):
        raise Forbidden("only an Owner can create another Owner")
    pool_id = config.settings().user_pool_id
    sub = cognito.create_user(pool_id=pool_id, clinic_id=clinic_id, email=email, name=name, role=role,
                              password=password)
    member = StaffMember(sub, email, name, role, now.isoformat())
    uow.staff.add(clinic_id, member)
    audit.record(uow, clinic_id, actor, "staff.created", now, details={"sub": sub, "role": role})
    try:
        uow.commit()
    except Exception:
        # Cognito is not part of the transaction: undo the user so nothing is half made.
        cognito.delete_user(pool_id=pool_id, username=email)
        raise
    return member
