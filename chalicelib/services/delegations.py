"""Permissions beyond roles: an Owner may delegate `write_off` to a staff member until a time.

Checked against the store on every request that needs it, so revoking a grant, or an Owner
losing the role, takes effect on the next request whatever the caller's token still says.
Granting and revoking need the caller to be an Owner in the staff store now, not only in the
token's groups (otherwise a demoted Owner could grant themselves the permission back).
"""

from __future__ import annotations

from datetime import datetime

from ..domain import roles
from ..domain.clock import iso_z
from ..domain.errors import Forbidden, NotFound, ValidationError
from ..domain.ids import new_id
from ..domain.roles import OWNER, Caller
from ..domain.team import DELEGATION_MAX_LIFETIME, Delegation, StaffMember
from ..logs import logger
from . import audit, staff


def permissions_of(uow, clinic_id: str, sub: str, now: datetime) -> frozenset[str]:
    member = uow.staff.get(clinic_id, sub, consistent=True)  # strongly consistent: a demotion counts at once
    if member is None:
        return frozenset()
    grants = [] if member.role == OWNER else uow.delegations.active(clinic_id, now, sub)
    return roles.permissions_of(member.role, ((g.permission, g.expires_at) for g in grants), now)


def require_authority(uow, caller: Caller, permission: str, now: datetime) -> None:
    """Business rule: act under `permission` only while the stored facts that give it still hold.

    An Owner holds it by the staff record's current role; anyone else by being staff and holding
    an active grant. The facts are staged as condition checks of the caller's transaction, so a
    revoke or a demotion that commits first makes the change fail (it then reloads: 403)."""
    member = uow.staff.get(caller.clinic_id, caller.sub, consistent=True)
    if member is None:
        raise Forbidden(f"the {permission} permission was revoked or has expired")
    if member.role == OWNER:
        uow.staff.require_role(caller.clinic_id, member, OWNER)
        return
    grants = [g for g in uow.delegations.active(caller.clinic_id, now, caller.sub) if g.permission == permission]
    if not grants:
        raise Forbidden(f"the {permission} permission was revoked or has expired")
    uow.staff.require_member(caller.clinic_id, member)
    uow.delegations.require_unrevoked(caller.clinic_id, max(grants, key=lambda g: g.expires_at))


def _current_owner(uow, caller: Caller) -> StaffMember:
    """Business rule: only someone who is an Owner in the staff store now manages grants."""
    member = uow.staff.get(caller.clinic_id, caller.sub, consistent=True)
    if member is None or member.role != OWNER:
        raise Forbidden("only an Owner can manage delegations")
    return member


def grant(uow, caller: Caller, now: datetime, *, grantee_sub: str, permission: str,
          expires_at: datetime) -> Delegation:
    """Business rule: a grant names staff of the clinic and ends in the future, within 90 days."""
    _current_owner(uow, caller)
    if permission not in roles.PERMISSIONS:
        raise ValidationError(f"unknown permission {permission!r}",
                              fields={"permission": f"one of {', '.join(roles.PERMISSIONS)}"})
    if expires_at <= now:
        raise ValidationError("expires_at is not in the future", fields={"expires_at": "must be in the future"})
    if expires_at > now + DELEGATION_MAX_LIFETIME:
        raise ValidationError("a delegation lasts at most 90 days",
                              fields={"expires_at": "must be at most 90 days from now"})
    staff.require_member(uow, caller.clinic_id, grantee_sub, "grantee_sub")
    delegation = Delegation(new_id("dlg"), grantee_sub, permission, expires_at, caller.actor, now)

    def attempt() -> Delegation:
        owner = _current_owner(uow, caller)
        uow.delegations.add(caller.clinic_id, delegation)
        # The granting Owner must still be one when this commits (else: reload, and 403).
        uow.staff.require_role(caller.clinic_id, owner, OWNER, label="owner")
        audit.record(uow, caller.clinic_id, caller.actor, "delegation.granted", now,
                     details={"delegation_id": delegation.delegation_id, "grantee_sub": grantee_sub,
                              "permission": permission, "expires_at": iso_z(expires_at)})
        uow.commit()
        return delegation

    uow.retrying(attempt)
    logger.info("delegation granted", extra={"delegation_id": delegation.delegation_id, "permission": permission})
    return delegation


def list_active(uow, caller: Caller, now: datetime) -> list[Delegation]:
    """Active grants, the ones ending soonest first."""
    return sorted(uow.delegations.active(caller.clinic_id, now), key=lambda g: (g.expires_at, g.delegation_id))


def revoke(uow, caller: Caller, now: datetime, delegation_id: str) -> None:
    """Business rule: a revoked grant stops working on the next request. Revoking one that has
    expired but was never revoked is allowed (it records who ended it); a revoked one is gone (404)."""
    if not isinstance(delegation_id, str) or not delegation_id.startswith("dlg_") or len(delegation_id) > 64:
        raise NotFound(f"no delegation {delegation_id}")

    def attempt() -> None:
        owner = _current_owner(uow, caller)
        grant_ = uow.delegations.get(caller.clinic_id, delegation_id)
        if grant_ is None:
            raise NotFound(f"no delegation {delegation_id}")
        if grant_.revoked_at is not None:
            raise NotFound(f"no delegation {delegation_id}: it was revoked")
        was_expired = grant_.expires_at <= now
        grant_.revoked_at, grant_.revoked_by = now, caller.actor
        # Two Owners revoking at once: one wins; the other reloads and sees it revoked.
        uow.delegations.save_revoked(caller.clinic_id, grant_)
        uow.staff.require_role(caller.clinic_id, owner, OWNER, label="owner")
        audit.record(uow, caller.clinic_id, caller.actor, "delegation.revoked", now,
                     details={"delegation_id": delegation_id, "grantee_sub": grant_.grantee_sub,
                              "permission": grant_.permission, "was_expired": was_expired})
        uow.commit()

    uow.retrying(attempt)
    logger.info("delegation revoked", extra={"delegation_id": delegation_id})
