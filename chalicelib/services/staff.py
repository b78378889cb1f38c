"""Staff: the clinic's Cognito users, mirrored in DynamoDB so a clinic can list its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from .. import config
from ..api.auth import OWNER, ROLES
from ..domain.errors import Forbidden, ValidationError
from ..store import cognito, keys
from ..store.models import Record, StaffRecord
from ..store.tx import Unit


@dataclass(frozen=True)
class StaffMember:
    sub: str
    email: str
    name: str
    role: str

    def view(self) -> dict:
        return {"sub": self.sub, "email": self.email, "name": self.name, "role": self.role}


def _member(r: StaffRecord) -> StaffMember:
    return StaffMember(r.sub, r.email, r.name, r.role)


def list_members(clinic_id: str) -> list[StaffMember]:
    return [_member(r) for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith("STAFF#"))
            if isinstance(r, StaffRecord)]


def find(clinic_id: str, sub: str) -> StaffMember | None:
    try:
        record = StaffRecord.get(keys.clinic_pk(clinic_id), keys.staff_sk(sub))
    except DoesNotExist:
        return None
    return _member(record)


def require_member(clinic_id: str, sub: str, field: str) -> StaffMember:
    """A body that names a person must name staff of this clinic (else 400, not 404)."""
    member = find(clinic_id, sub) if isinstance(sub, str) and sub else None
    if member is None:
        raise ValidationError(f"{field} is not staff of this clinic", fields={field: "not staff of this clinic"})
    return member


def create(clinic_id: str, *, email: str, name: str, role: str, now: datetime, actor: str = "system",
           actor_roles: frozenset[str] | None = None, password: str | None = None) -> StaffMember:
    """Business rule: only an Owner makes Owners."""
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}", fields={"role": f"one of {', '.join(ROLES)}"})
    if actor_roles is not None and role == OWNER and OWNER not in actor_roles:
        raise Forbidden("only an Owner can create another Owner")
    pool_id = config.settings().user_pool_id
    sub = cognito.create_user(pool_id=pool_id, clinic_id=clinic_id, email=email, name=name, role=role,
                              password=password)
    record = StaffRecord(keys.clinic_pk(clinic_id), keys.staff_sk(sub), sub=sub, email=email, name=name,
                         role=role, created_at=now.isoformat())
    unit = Unit(now)
    unit.create(record, label="staff")
    unit.audit(clinic_id, actor, "staff.created", details={"sub": sub, "role": role})
    try:
        unit.commit()
    except Exception:
        # Cognito is not part of the transaction: undo the user so nothing is half made.
        cognito.delete_user(pool_id=pool_id, username=email)
        raise
    return _member(record)
