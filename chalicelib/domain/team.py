"""The clinic's team: staff members and the permissions an Owner delegates to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .roles import ADMIN, BILLING, OWNER

DELEGATION_MAX_LIFETIME = timedelta(days=90)

PENDING, ACTIVE, INACTIVE = "pending", "active", "inactive"
STAFF_STATUSES = (ACTIVE, INACTIVE)


@dataclass(frozen=True)
class StaffMember:
    sub: str
    email: str
    name: str
    role: str
    created_at: str | None = None
    status: str = ACTIVE

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class Enrolment:
    """An email's place in the clinic's team, one per email and clinic: `pending` from the moment
    its creation starts (before the user pool has a user for it), `active` with the user's `sub`
    once the member's record exists. It stays, so the email stays taken."""

    email: str
    name: str
    role: str
    status: str
    created_at: str
    created_by: str
    sub: str | None = None

    def asks_for(self, name: str, role: str) -> bool:
        return (self.name, self.role) == (name, role)


def may_act(member: StaffMember | None) -> bool:
    """Business rule: a token acts in its clinic only while the user's staff record is active; a
    user whose creation never finished (or who has no record at all) holds nothing, whatever
    groups the token lists."""
    return member is not None and member.is_active


def other_active_owners(members: list[StaffMember], sub: str) -> list[StaffMember]:
    """The clinic's active Owners other than `sub`."""
    return [m for m in members if m.is_active and m.role == OWNER and m.sub != sub]


def may_deactivate(actor_role: str, target_role: str) -> bool:
    """Business rule: an Owner deactivates anyone; an Admin only BillingStaff members."""
    return actor_role == OWNER or (actor_role == ADMIN and target_role == BILLING)


@dataclass
class Delegation:
    delegation_id: str
    grantee_sub: str
    permission: str
    expires_at: datetime
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def is_active(self, now: datetime) -> bool:
        """Business rule: a grant works until it is revoked or its time is up."""
        return self.revoked_at is None and self.expires_at > now
