"""Integration keys for tests of both tiers: an Owner makes one through the API and the test
calls as it (`Api(http, key)`)."""

from __future__ import annotations

from chalicelib.api import integration_auth
from tests.support import Api

ALL_SCOPES = ["patients:read", "patients:write", "invoices:write", "payments:write", "followups:read",
              "reports:read", "imports:write", "webhooks:manage"]
PMS_SCOPES = ["patients:write", "invoices:write", "payments:write"]  # a practice-management system


def issue_key(world, scopes: list[str], name: str = "Practice system") -> tuple[Api, dict]:
    """A new key of `world`'s clinic with `scopes`: (an Api that sends it, the creation answer)."""
    r = world.owner.post("/integrations", {"name": name, "scopes": scopes})
    assert r.status == 201, r
    return Api(world.http, r.body["key"]), r.body


def forget_keys() -> None:
    """Drop what this process remembers of keys (as 30 s of waiting would)."""
    integration_auth.CACHE.clear()
