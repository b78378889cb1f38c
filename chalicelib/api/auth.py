"""Who is calling: verify the Cognito ID token in the app itself and build the `Caller` (domain/roles.py).

API Gateway's Cognito authorizer (production) does not pin the app client, and `chalice local`
does not verify tokens at all, so every request is verified here: RS256 signature against the
pool's JWKS (cached for an hour; fetched again when a token names an unknown `kid`), `iss`, `aud`,
`token_use` = id and `exp`.

PyJWT (with `cryptography`) and `requests` are imported on the first token to verify, not at
start-up: /health and /openapi.json never need them (see BENCHMARKS.md, cold start).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import config
from ..domain.errors import Unauthorized
from ..domain.ids import is_clinic_id
from ..domain.roles import ROLES, Caller

if TYPE_CHECKING:
    import jwt

CLOCK_LEEWAY_SECONDS = 0  # an expired token is expired: no grace at `exp`
clock = time.time  # replaced in tests to judge a real token at another moment


class JwksCache:
    """The pool's signing keys by `kid`, fetched when the cache is empty or older than
    `max_age_seconds`, and again (at most every `min_refetch_seconds`) when a token names a `kid`
    the cache lacks.

    - Empty means never fetched (or the pool URL changed): the first token is verified at once,
      whatever the monotonic clock reads (on a host booted a moment ago it is near zero).
    - Keys expire: a key the pool withdraws stops being trusted within `max_age_seconds`; a
      refetch replaces the whole set, so withdrawn keys leave with it.
    - A failed fetch refuses the request (401) and waits `min_refetch_seconds` before the next
      try, so an outage of the key endpoint, or tokens with made-up kids, never turn every request
      into a fetch.
    """

    def __init__(self, min_refetch_seconds: float = 5.0, max_age_seconds: float = 3600.0,
                 clock: Callable[[], float] | None = None):
        self.min_refetch_seconds = min_refetch_seconds
        self.max_age_seconds = max_age_seconds
        self._clock = clock or time.monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._url: str | None = None
        self._fetched_at: float | None = None  # last successful fetch; None: the cache is empty
        self._tried_at: float | None = None  # last fetch, successful or not
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._keys, self._url, self._fetched_at, self._tried_at = {}, None, None, None

    def key(self, kid: str, url: str) -> jwt.PyJWK | None:
        with self._lock:
            now = self._clock()
            if url != self._url:
                self._keys, self._url, self._fetched_at, self._tried_at = {}, url, None, None
            if self._fetched_at is not None and now - self._fetched_at >= self.max_age_seconds:
                self._keys, self._fetched_at = {}, None  # expired: trust nothing until refetched
            may_retry = self._tried_at is None or now - self._tried_at >= self.min_refetch_seconds
            if may_retry and (self._fetched_at is None or kid not in self._keys):
                self._tried_at = now
                self._keys = self._fetch(url)
                self._fetched_at = now
            return self._keys.get(kid)

    @staticmethod
    def _fetch(url: str) -> dict[str, jwt.PyJWK]:
        # requests, not urllib: moto intercepts requests in tests, and it pools connections.
        import jwt
        import requests

        try:
            response = requests.get(url, timeout=5)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (requests.RequestException, ValueError, jwt.PyJWKSetError) as e:
            raise Unauthorized("the signing keys of the user pool could not be fetched") from e
        return {k.key_id: k for k in keys if k.key_id}


JWKS = JwksCache()


class StaffCache:
    """The staff records this process read lately, by (clinic, sub), each trusted for
    `config.settings().staff_cache_seconds` (at most 60 s): the record is the one source of a
    member's role and status, and a role change or a deactivation made anywhere reaches every
    process within that time. The process that makes the change forgets its own entry at once.
    Only found records are kept (someone whose record is being created is read again)."""

    def __init__(self, clock: Callable[[], float] | None = None):
        self._clock = clock or time.monotonic
        self._entries: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, clinic_id: str, sub: str, read: Callable[[], object]):
        ttl = config.settings().staff_cache_seconds
        now = self._clock()
        with self._lock:
            found = self._entries.get((clinic_id, sub))
        if found is not None and ttl > 0 and now - found[0] < ttl:
            return found[1]
        member = read()
        with self._lock:
            if member is not None and ttl > 0:
                if len(self._entries) > 10_000:  # a bound, not an eviction policy: start again
                    self._entries.clear()
                self._entries[(clinic_id, sub)] = (now, member)
            else:
                self._entries.pop((clinic_id, sub), None)
        return member

    def forget(self, clinic_id: str, sub: str) -> None:
        with self._lock:
            self._entries.pop((clinic_id, sub), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


STAFF = StaffCache()


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("missing Authorization header")
    token = header.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if token.count(".") != 2 or len(token) > 8192:
        raise Unauthorized("the Authorization header is not a JWT")
    return token


def verify_id_token(token: str) -> dict:
    """The claims of a valid ID token of this pool and app client, or Unauthorized."""
    import jwt

    s = config.settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise Unauthorized("malformed token") from e
    if header.get("alg") != "RS256":
        raise Unauthorized("token must be signed with RS256")
    kid = header.get("kid")
    key = JWKS.key(kid, s.jwks_url) if isinstance(kid, str) else None
    if key is None:
        raise Unauthorized("token signed by an unknown key")
    try:
        # `exp` is checked below against our clock; `iat` in the future only means the issuer's
        # clock is a little ahead of ours, which is no reason to refuse a signed token.
        claims = jwt.decode(
            token, key=key, algorithms=["RS256"], audience=s.user_pool_client_id, issuer=s.issuer,
            options={"require": ["exp", "iss", "aud", "sub", "token_use"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError as e:
        raise Unauthorized(f"invalid token: {e}") from e
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= clock() - CLOCK_LEEWAY_SECONDS:
        raise Unauthorized("token expired")
    if claims.get("token_use") != "id":
        raise Unauthorized("an ID token is required, not an access token")
    return claims


def groups_of(claims: dict) -> frozenset[str]:
    """`cognito:groups` is a JSON list locally and may be a joined string behind API Gateway."""
    raw = claims.get("cognito:groups") or []
    if isinstance(raw, str):
        text = raw.strip()
        try:
            raw = json.loads(text) if text.startswith("[") else None
        except ValueError:
            raw = None
        if not isinstance(raw, list):  # "Owner,Admin", "Owner Admin" or "[Owner Admin]"
            raw = text.strip("[]").replace('"', "").replace(",", " ").split()
    return frozenset(g.strip() for g in raw if isinstance(g, str) and g.strip() in ROLES)


def caller_from_header(header: str | None) -> Caller:
    """The caller a valid ID token names: its clinic, `sub` and the token's groups. The groups
    are only what the token claims: the route replaces them with the staff record's role
    (`routing.RequestContext.require_active_staff`); permissions are added from the store too."""
    claims = verify_id_token(_bearer(header))
    clinic_id = claims.get("custom:clinic_id")
    if not is_clinic_id(clinic_id):
        raise Unauthorized("the user belongs to no clinic")
    return Caller(sub=claims["sub"], clinic_id=clinic_id, roles=groups_of(claims), email=claims.get("email", ""))
