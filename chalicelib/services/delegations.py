"""Permissions beyond roles: an Owner may delegate `write_off` to a staff member until a time.

Checked against the grant store on every request, so revoking a grant, or an Owner losing the
role, takes effect on the next request whatever the caller's token still says.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..api.auth import OWNER, Caller
from ..domain.clock import parse_iso_z
from ..store import keys
from ..store.models import DelegationRecord, Record
from . import staff

WRITE_OFF = "write_off"
PERMISSIONS = (WRITE_OFF,)


def active_grants(clinic_id: str, now: datetime, grantee_sub: str | None = None) -> list[DelegationRecord]:
    grants = []
    for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith("DELEG#"), consistent_read=True):
        if not isinstance(r, DelegationRecord) or r.revoked_at:
            continue
        if parse_iso_z(r.expires_at_iso) <= now:
            continue
        if grantee_sub is not None and r.grantee_sub != grantee_sub:
            continue
        grants.append(r)
    return grants


def permissions_of(caller: Caller, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    member = staff.find(caller.clinic_id, caller.sub)
    if member is None:
        return []
    if member.role == OWNER:
        return [WRITE_OFF]
    return sorted({g.permission for g in active_grants(caller.clinic_id, now, caller.sub)})
