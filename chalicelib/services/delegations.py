"""Permissions beyond roles: an Owner may delegate `write_off` to a staff member until a time.

Checked against the grant store on every request, so revoking a grant, or an Owner losing the
role, takes effect on the next request whatever the caller's token still says. The same holds
for granting and revoking: they need the caller to be an Owner in the staff store now, not only
in the token's groups (otherwise a demoted Owner could grant themselves the permission back).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from ..api.auth import OWNER, Caller
from ..domain.clock import iso_z, parse_iso_z, short_z
from ..domain.errors import Forbidden, NotFound, ValidationError
from ..domain.ids import new_id
from ..logs import logger
from ..store import keys
from ..store.models import DelegationRecord, Record, StaffRecord
from ..store.tx import Unit, retrying
from . import staff

WRITE_OFF = "write_off"
PERMISSIONS = (WRITE_OFF,)
MAX_LIFETIME = timedelta(days=90)


def view(r: DelegationRecord) -> dict:
    return {"delegation_id": r.delegation_id, "grantee_sub": r.grantee_sub, "permission": r.permission,
            "expires_at": short_z(parse_iso_z(r.expires_at_iso)), "created_by": r.created_by,
            "created_at": short_z(parse_iso_z(r.created_at))}


def _is_active(r: DelegationRecord, now: datetime) -> bool:
    return not r.revoked_at and parse_iso_z(r.expires_at_iso) > now


def active_grants(clinic_id: str, now: datetime, grantee_sub: str | None = None) -> list[DelegationRecord]:
    """Unrevoked, unexpired grants of the clinic (one strongly consistent Query on its partition)."""
    grants = []
    for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith("DELEG#"), consistent_read=True):
        if not isinstance(r, DelegationRecord) or not _is_active(r, now):
            continue
        if grantee_sub is not None and r.grantee_sub != grantee_sub:
            continue
        grants.append(r)
    return grants


def _staff_record(clinic_id: str, sub: str) -> StaffRecord | None:
    try:
        return StaffRecord.get(keys.clinic_pk(clinic_id), keys.staff_sk(sub), consistent_read=True)
    except DoesNotExist:
        return None


def authority(clinic_id: str, sub: str, permission: str, now: datetime) -> list[tuple[Model, object]]:
    """The stored facts that give `sub` the permission now, each with the condition that must
    still hold when a change made under it commits: [(record, condition)], empty when none.

    An Owner holds it by the staff record's current role; anyone else by being staff and
    holding an active grant. A service that acts under the permission adds these as condition
    checks to its transaction, so a revoke or demotion that lands first makes it fail.
    """
    member = _staff_record(clinic_id, sub)
    if member is None:
        return []
    if member.role == OWNER:
        return [(member, StaffRecord.role == OWNER)]
    grants = [g for g in active_grants(clinic_id, now, sub) if g.permission == permission]
    if not grants:
        return []
    grant = max(grants, key=lambda g: g.expires_at_iso)
    return [(member, StaffRecord.sk.exists()), (grant, DelegationRecord.revoked_at.does_not_exist())]


def permissions_of(caller: Caller, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    member = _staff_record(caller.clinic_id, caller.sub)  # strongly consistent: a demotion counts at once
    if member is None:
        return []
    if member.role == OWNER:
        return [WRITE_OFF]
    return sorted({g.permission for g in active_grants(caller.clinic_id, now, caller.sub)})


def require_current_owner(clinic_id: str, sub: str) -> StaffRecord:
    """Business rule: only someone who is an Owner in the staff store now manages grants."""
    member = _staff_record(clinic_id, sub)
    if member is None or member.role != OWNER:
        raise Forbidden("only an Owner can manage delegations")
    return member


def grant(clinic_id: str, actor: str, now: datetime, *, grantee_sub: str, permission: str,
          expires_at: datetime) -> dict:
    """Business rule: a grant names staff of the clinic and ends in the future, within 90 days."""
    require_current_owner(clinic_id, actor)
    if permission not in PERMISSIONS:
        raise ValidationError(f"unknown permission {permission!r}",
                              fields={"permission": f"one of {', '.join(PERMISSIONS)}"})
    if expires_at <= now:
        raise ValidationError("expires_at is not in the future", fields={"expires_at": "must be in the future"})
    if expires_at > now + MAX_LIFETIME:
        raise ValidationError("a delegation lasts at most 90 days",
                              fields={"expires_at": "must be at most 90 days from now"})
    staff.require_member(clinic_id, grantee_sub, "grantee_sub")
    delegation_id = new_id("dlg")

    def attempt() -> DelegationRecord:
        owner = require_current_owner(clinic_id, actor)
        record = DelegationRecord(
            keys.clinic_pk(clinic_id), keys.delegation_sk(delegation_id), delegation_id=delegation_id,
            grantee_sub=grantee_sub, permission=permission, expires_at_iso=iso_z(expires_at),
            created_by=actor, created_at=iso_z(now))
        unit = Unit(now)
        unit.create(record, label="delegation")
        # The granting Owner must still be one when this commits (else: reload, and 403).
        unit.check(owner, StaffRecord.role == OWNER, label="owner")
        unit.audit(clinic_id, actor, "delegation.granted",
                   details={"delegation_id": delegation_id, "grantee_sub": grantee_sub, "permission": permission,
                            "expires_at": iso_z(expires_at)})
        unit.commit()
        return record

    record = retrying(attempt)
    logger.info("delegation granted", extra={"delegation_id": delegation_id, "permission": permission})
    return view(record)


def list_active(clinic_id: str, now: datetime) -> dict:
    """Active grants, the ones ending soonest first."""
    grants = sorted(active_grants(clinic_id, now), key=lambda g: (g.expires_at_iso, g.delegation_id))
    return {"items": [view(g) for g in grants]}


def _delegation(clinic_id: str, delegation_id: str) -> DelegationRecord:
    if not isinstance(delegation_id, str) or not delegation_id.startswith("dlg_") or len(delegation_id) > 64:
        raise NotFound(f"no delegation {delegation_id}")
    try:
        return DelegationRecord.get(keys.clinic_pk(clinic_id), keys.delegation_sk(delegation_id),
                                    consistent_read=True)
    except DoesNotExist as e:
        raise NotFound(f"no delegation {delegation_id}") from e


def revoke(clinic_id: str, actor: str, now: datetime, delegation_id: str) -> None:
    """Business rule: a revoked grant stops working on the next request. Revoking one that has
    expired but was never revoked is allowed (it records who ended it); a revoked one is gone (404)."""

    def attempt() -> None:
        owner = require_current_owner(clinic_id, actor)
        record = _delegation(clinic_id, delegation_id)
        if record.revoked_at:
            raise NotFound(f"no delegation {delegation_id}: it was revoked")
        record.revoked_at = iso_z(now)
        record.revoked_by = actor
        unit = Unit(now)
        # Two Owners revoking at once: one wins; the other reloads and sees it revoked.
        unit.save(record, condition=DelegationRecord.revoked_at.does_not_exist(), label="delegation")
        unit.check(owner, StaffRecord.role == OWNER, label="owner")
        unit.audit(clinic_id, actor, "delegation.revoked",
                   details={"delegation_id": delegation_id, "grantee_sub": record.grantee_sub,
                            "permission": record.permission,
                            "was_expired": parse_iso_z(record.expires_at_iso) <= now})
        unit.commit()

    retrying(attempt)
    logger.info("delegation revoked", extra={"delegation_id": delegation_id})
