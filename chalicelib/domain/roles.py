"""Who may do what: the three roles, the caller of one request, and the permission rules.

The HTTP layer builds a `Caller` from the verified token and what the store says (the staff
record, the delegations); services receive it and never look at a token or a header.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

OWNER, ADMIN, BILLING = "Owner", "Admin", "BillingStaff"
ROLES = (OWNER, ADMIN, BILLING)
ALL_STAFF = frozenset(ROLES)
OWNER_ADMIN = frozenset({OWNER, ADMIN})
OWNER_ONLY = frozenset({OWNER})

WRITE_OFF = "write_off"
PERMISSIONS = (WRITE_OFF,)

SYSTEM = "system"  # the scheduled run: `actor` and `by` of what it does, never a staff member


@dataclass(frozen=True)
class Caller:
    """The verified identity of one request: who, in which clinic, with which roles and permissions.

    `permissions` is filled in by whoever builds the caller, from the stored grants (only for the
    routes that need it: reading grants costs a Query)."""

    sub: str
    clinic_id: str
    roles: frozenset[str] = frozenset()
    email: str = ""
    permissions: frozenset[str] = field(default_factory=frozenset)
    # An integration key (issue 17): `sub` is then `integration:<id>`, roles are empty and what
    # it may do is its scopes (checked per route in api/integration_auth.py).
    integration_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """What the audit trail and `by`/`created_by` fields record for this caller."""
        return self.sub

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)

    def may(self, permission: str) -> bool:
        return permission in self.permissions


def system(clinic_id: str) -> Caller:
    """The scheduled run acting in one clinic."""
    return Caller(sub=SYSTEM, clinic_id=clinic_id)


def may_create_role(creator_roles: frozenset[str] | None, role: str) -> bool:
    """Business rule: only an Owner makes Owners (the CLI, with no roles, bootstraps the first)."""
    return creator_roles is None or role != OWNER or OWNER in creator_roles


def permissions_of(role: str | None, grants: Iterable[tuple[str, datetime]], now: datetime) -> frozenset[str]:
    """Business rule: an Owner (by the staff record's current role) holds every permission;
    anyone else a permission only through an unrevoked grant that has not expired.

    `grants` are (permission, expires_at) of the member's unrevoked delegations; `role` is None
    for someone who is not staff of the clinic, who holds nothing."""
    if role is None:
        return frozenset()
    if role == OWNER:
        return frozenset(PERMISSIONS)
    return frozenset(permission for permission, expires_at in grants if expires_at > now)
