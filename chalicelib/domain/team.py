"""The clinic's team: staff members and the permissions an Owner delegates to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DELEGATION_MAX_LIFETIME = timedelta(days=90)


@dataclass(frozen=True)
class StaffMember:
    sub: str
    email: str
    name: str
    role: str
    created_at: str | None = None


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
