"""The integration-key path of a request: `Authorization: Bearer fu_live_...` -> the key's `Caller`.

Kept apart from the person path (api/auth.py, the staff record): routing.py calls `caller_for`
when the header carries a key. In order: a malformed, unknown or revoked key is 401; a route
outside the key's scopes 403; more than the key's requests this minute 429 `rate_limited` with
`Retry-After`. The key's item, found by the key's SHA-256 (one GetItem), names its clinic: a key
reaches its own clinic's data and no other.

What a process remembers of a key lives at most `CACHE_SECONDS` (30 s), so a revoked key is
refused within a minute everywhere without a read on every request; `last_used_at` is written
at most once a minute per key (a conditional UpdateItem).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from .. import config
from ..domain import integrations as keys
from ..domain.errors import Forbidden, RateLimited, Unauthorized
from ..domain.integrations import Integration
from ..domain.roles import Caller
from ..logs import logger

CACHE_SECONDS = 30.0
DEFAULT_RATE_PER_MINUTE = 600
clock: Callable[[], float] = time.monotonic  # replaced in tests to age the cache


def rate_per_minute() -> int:
    """FOLLOWUPS_KEY_RATE_PER_MINUTE (default 600): requests one key may send in a clock minute."""
    value = config._env("FOLLOWUPS_KEY_RATE_PER_MINUTE", str(DEFAULT_RATE_PER_MINUTE))
    return int(value) if value and value.isdigit() and int(value) > 0 else DEFAULT_RATE_PER_MINUTE


class KeyCache:
    """Key hash -> (what the store said, when it was read, when last_used_at was last written)."""

    def __init__(self):
        self._items: dict[str, tuple[Integration | None, float]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._touched.clear()

    def get(self, digest: str, load: Callable[[], Integration | None]) -> Integration | None:
        now = clock()
        with self._lock:
            found = self._items.get(digest)
        if found is not None and now - found[1] < CACHE_SECONDS:
            return found[0]
        integration = load()
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (integration, now)
        return integration

    def due_for_touch(self, digest: str) -> bool:
        now = clock()
        with self._lock:
            last = self._touched.get(digest)
            if last is not None and now - last < keys.LAST_USED_EVERY.total_seconds():
                return False
            self._touched[digest] = now
            return True


CACHE = KeyCache()


def is_key_header(header: str | None) -> bool:
    token = _token(header)
    return keys.looks_like_key(token)


def _token(header: str | None) -> str:
    token = (header or "").strip()
    return token[7:].strip() if token[:7].lower() == "bearer " else token


def caller_for(uow, header: str | None, scopes: tuple[str, ...], now: datetime) -> Caller:
    key = _token(header)
    if not keys.is_well_formed(key):
        raise Unauthorized("malformed integration key")
    digest = keys.key_sha256(key)
    integration = CACHE.get(digest, lambda: uow.integrations.by_key_hash(digest))
    if integration is None or not integration.active:
        raise Unauthorized("unknown or revoked integration key")
    # Who asked is on the request's log line from here on, for a 429 or a 403 too (never the key).
    logger.append_keys(clinic_id=integration.clinic_id, sub=keys.actor_of(integration.integration_id))
    if not uow.integrations.count_request(integration.clinic_id, integration.integration_id,
                                          keys.rate_window(now), rate_per_minute()):
        wait = keys.seconds_to_next_window(now)
        raise RateLimited(f"more than {rate_per_minute()} requests this minute; retry in {wait} s",
                          retry_after_seconds=wait)
    if CACHE.due_for_touch(digest):
        uow.integrations.touch(integration.clinic_id, integration.integration_id, now, keys.LAST_USED_EVERY)
    granted = frozenset(integration.scopes)
    if not granted & set(scopes):
        needed = " or ".join(scopes) if scopes else "a staff member (no scope grants it)"
        raise Forbidden(f"this integration key may not call this route: it needs {needed}")
    return Caller(sub=keys.actor_of(integration.integration_id), clinic_id=integration.clinic_id,
                  integration_id=integration.integration_id, scopes=granted)
