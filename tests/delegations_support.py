"""Delegations through the API, for both tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import clock


def at(delta: timedelta) -> str:
    return clock.short_z(datetime.now(UTC) + delta)


def grant(world, who: str = "delegate", delta: timedelta = timedelta(days=7)):
    return world.owner.post("/delegations", {"grantee_sub": world.sub(who), "permission": "write_off",
                                             "expires_at": at(delta)})
