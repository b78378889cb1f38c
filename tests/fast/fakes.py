"""What the fast tier puts in place of AWS: a user pool in memory and opaque test tokens.

Verifying a real Cognito ID token (signature, issuer, audience, expiry) stays tested in the moto
tier (tests/api/test_auth.py, test_token_edges.py); here a token is a random string that stands
for the `Caller` it was issued to, as `api.auth.caller_from_header` would have built it.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from chalicelib.domain.errors import Conflict, Unauthorized
from chalicelib.domain.roles import ROLES, Caller
from chalicelib.store.cognito import PoolUser


@dataclass
class FakeUser:
    sub: str
    clinic_id: str
    email: str
    name: str
    groups: set[str] = field(default_factory=set)
    password: str | None = None
    enabled: bool = True
    signed_out_at: int = 0  # how many global sign-outs (refresh tokens issued before stop)


class FakeCognito:
    """The user pool: `find_user` and `ensure_user` stand in for `chalicelib.store.cognito`'s
    (same signatures and outcomes), `sign_in` issues a token, `caller_from_header` for `api.auth`'s.

    `fail_after(step, error)` makes the next `ensure_user` raise `error` right after one of its
    steps has done its work: "create" (the user exists, no password, no group), "password" or
    "group" (the user is in the role's group)."""

    def __init__(self):
        self.users: dict[str, FakeUser] = {}  # by email (the pool's username)
        self.tokens: dict[str, Caller] = {}
        self._failures: dict[str, object] = {}

    def fail_after(self, step: str, error: BaseException) -> None:
        assert step in ("create", "password", "group"), step
        self._failures[step] = error

    def token_with_groups(self, email: str, groups: set[str]) -> str:
        """A valid token of the user that lists `groups`, whatever groups the user is in now (what
        a token issued before a role change, or by a pool edited by hand, carries)."""
        user = self.users[email]
        token = "test-token-" + secrets.token_urlsafe(16)
        self.tokens[token] = Caller(sub=user.sub, clinic_id=user.clinic_id, roles=frozenset(groups), email=user.email)
        return token

    def _done(self, step: str) -> None:
        error = self._failures.pop(step, None)
        if error is not None:
            raise error

    def find_user(self, *, pool_id: str, email: str) -> PoolUser | None:
        user = self.users.get(email)
        return None if user is None else PoolUser(user.email, user.sub, user.clinic_id, user.name)

    def ensure_user(self, *, pool_id: str, clinic_id: str, email: str, name: str, role: str, password: str | None,
                    existing: PoolUser | None) -> str:
        user = self.users.get(email)
        if existing is None and user is None:
            user = self.users[email] = FakeUser(str(uuid.uuid4()), clinic_id, email, name)
            self._done("create")
        if user.clinic_id != clinic_id:
            raise Conflict(f"a user with the email {email} already exists")
        if password:
            user.password = password
            self._done("password")
        user.name = name
        user.groups = {role} | (user.groups - set(ROLES))
        self._done("group")
        return user.sub

    def fail_mirror(self, error: BaseException, times: int = 1) -> None:
        """The next `times` calls of `mirror` raise `error` before changing anything."""
        self._failures["mirror"] = (error, times)

    def mirror(self, *, pool_id: str, username: str, role: str, active: bool | None) -> None:
        failure = self._failures.get("mirror")
        if failure is not None:
            error, times = failure
            if times <= 1:
                del self._failures["mirror"]
            else:
                self._failures["mirror"] = (error, times - 1)
            raise error
        user = self.users[username]
        user.groups = {role} | (user.groups - set(ROLES))
        if active is False and user.enabled:
            user.signed_out_at += 1
        if active is not None:
            user.enabled = active

    def add_roleless_user(self, clinic_id: str) -> str:
        """A user of the clinic in no role group (Cognito allows it; the API must refuse them)."""
        email = f"nobody-{secrets.token_hex(4)}@example.test"
        self.users[email] = FakeUser(str(uuid.uuid4()), clinic_id, email, "Nobody")
        return email

    def sign_in(self, email: str) -> str:
        """A token for the user as they are now (like an ID token: later changes do not alter it)."""
        user = self.users[email]
        if not user.enabled:
            raise Unauthorized("User is disabled.")
        token = "test-token-" + secrets.token_urlsafe(16)
        self.tokens[token] = Caller(sub=user.sub, clinic_id=user.clinic_id,
                                    roles=frozenset(user.groups & set(ROLES)), email=user.email)
        return token

    def caller_from_header(self, header: str | None) -> Caller:
        if not header:
            raise Unauthorized("missing Authorization header")
        token = header.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        caller = self.tokens.get(token)
        if caller is None:
            raise Unauthorized("invalid token")
        return caller


_active: FakeCognito | None = None


def activate(cognito: FakeCognito | None) -> None:
    global _active
    _active = cognito


def cognito() -> FakeCognito:
    """The user pool of the running test module (set up by tests/fast/conftest.py)."""
    if _active is None:
        raise RuntimeError("no fake user pool: this helper runs only in tests/fast")
    return _active


class NoAws(AssertionError):
    """The fast tier tried to reach AWS (moto included) or the network."""


def refuse_aws_call(self, *args, **kwargs):
    raise NoAws("the fast tier called AWS through botocore: move this test to the moto tier or fake the call")


def refuse_socket(self, *args, **kwargs):
    raise NoAws("the fast tier opened a network connection")
