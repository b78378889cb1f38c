"""One error hierarchy for the whole service; `api/routing.py` maps it to HTTP in one table."""

from __future__ import annotations


class FollowUpsError(Exception):
    """Base of every error a client can cause; never a 500."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        if code:
            self.code = code

    def extra(self) -> dict:
        """Members the error body carries beside `code`, `message` and `fields` (JSON-ready;
        none by default): a client may need more than the rules' names to act on an error."""
        return {}


class ValidationError(FollowUpsError):
    """The input is missing, malformed, out of range, or names something that is not there."""

    code = "validation_error"


class Unauthorized(FollowUpsError):
    """No token, or a token that is not a valid ID token of this pool and app client."""

    code = "unauthorized"


class Forbidden(FollowUpsError):
    """Authenticated, but the role or permission does not allow it."""

    code = "forbidden"


class NotFound(FollowUpsError):
    """No such object in the caller's clinic (another clinic's objects are not found either)."""

    code = "not_found"


class Conflict(FollowUpsError):
    """The request is valid but the current state forbids it. The contract's code is `conflict`
    unless it names a more specific one (`overpayment`, `idempotency_key_reused`, ...): the
    subclasses below without a code of their own tell cases apart in code, not on the wire."""

    code = "conflict"


class NothingOwed(Conflict):
    """A plan or a write-off for a patient whose balance is zero."""


class PlanActive(Conflict):
    """A second payment plan while one is active."""


class Overpayment(Conflict):
    """A payment larger than everything the patient owes."""

    code = "overpayment"


class ConcurrentUpdate(Conflict):
    """Another request changed the same patient at the same moment, more times than we retry."""


class LastOwner(Conflict):
    """The change would leave the clinic without an active Owner."""

    code = "last_owner"


class Unavailable(FollowUpsError):
    """A service we depend on (the user pool) failed; what was done is kept and the same request
    sent again finishes it."""

    code = "unavailable"


class InvariantViolation(Exception):
    """A rule that money depends on does not hold: a bug, never the client's doing (500).

    `code` names the rule; `ids` are identifiers and amounts only (they are logged)."""

    def __init__(self, code: str, **ids: object):
        super().__init__(f"invariant {code} broken: {ids}")
        self.code = code
        self.ids = ids


class ExternalIdInUse(Conflict):
    """An external id another patient (or invoice, or other values) already holds in the clinic."""

    code = "external_id_in_use"


class RateLimited(FollowUpsError):
    """An integration key sent more requests this minute than its limit (429, with Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TooManyRows(FollowUpsError):
    """An import request with more rows than one request takes (413)."""

    code = "too_many_rows"
