"""Webhooks: the event envelope, what its `data` may carry, signing, the retry schedule and the URL
and address rules. Standard library only; the store, KMS, SQS and HTTP live elsewhere.

Decisions (docs/webhooks.md has the reasons):
- an event id is derived from what the change's transaction already has (the audit id, or the id
  of the thing the event announces: a payment, an installment invoice), so a resend of the same
  transaction carries the same id and an idempotent replay, which writes nothing, makes no event;
- `data` holds ids, amounts, dates and statuses only: every key is on an allow-list and every
  value has one of a few shapes (an id, an integer, a date or instant, a status word), so a name,
  phone, email or note cannot pass even under an allowed key;
- a delivery is tried at once, then after 30 s, 2, 5, 15, 30 min, 1, 2, 4, 8 h and at the 24 h mark
  (growing delays, the first retry within 60 s); a try after 24 h is never made: the delivery fails.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from .errors import ValidationError

# ----- the contract's event types --------------------------------------------------------------
EVENT_TYPES = (
    "invoice.created", "invoice.voided", "invoice.adjusted", "payment.recorded", "payment.reversed",
    "follow_up.closed", "plan.created", "plan.invoiced", "plan.completed", "plan.cancelled", "promise.broken",
    "writeoff.recorded", "hold.placed", "hold.released", "attempt.logged", "callback.scheduled", "ping",
)
ALL_EVENTS = "*"
MAX_WEBHOOKS_PER_CLINIC = 16  # Stripe's figure: beyond it a clinic is fanning out, not integrating

# ----- what `data` may carry -------------------------------------------------------------------
# Value shapes: an opaque id (prefix_ + base32, or an integration/staff actor), a count or cents
# (int), a date or an instant, a status word (lower case, `_`), a list of ids, or null.
_ID = re.compile(r"^(?:[a-z]{2,12}_[0-9a-z_\-]{4,120}|integration:[a-z]{2,12}_[0-9a-z]{4,60}|system|cli|"
                 r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_STATUS = re.compile(r"^[a-z][a-z_]{1,39}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$")

ID_KEYS = frozenset({
    "invoice_id", "payment_id", "patient_id", "plan_id", "promise_id", "attempt_id", "callback_id",
    "hold_id", "reversal_id", "adjustment_id", "writeoff_id", "webhook_id", "assignee_sub", "by"})
# Not `external_id`: a clinic's own ids are free text (an MRN, or a name); integrations map by ours.
ID_LIST_KEYS = frozenset({"invoice_ids", "allocated_invoice_ids"})
AMOUNT_KEYS = frozenset({
    "amount_cents", "balance_cents", "total_cents", "installment_cents", "remainder_cents", "installment_number",
    "installments", "written_off_cents", "paid_cents"})
DATE_KEYS = frozenset({"invoice_date", "service_date", "due_date", "start_date", "promised_date", "until",
                       "next_due_date"})
INSTANT_KEYS = frozenset({"at", "received_at", "due_at", "logged_at"})
STATUS_KEYS = frozenset({"status", "follow_up_status", "reason", "method", "channel", "outcome", "frequency",
                         "source", "previous_status"})
ALLOWED_KEYS = ID_KEYS | ID_LIST_KEYS | AMOUNT_KEYS | DATE_KEYS | INSTANT_KEYS | STATUS_KEYS


def check_data(data: dict) -> None:
    """Business rule: what leaves the system names nobody; `data` carries ids, amounts, dates and
    statuses only (a key off the list, or a value of the wrong shape, is refused)."""
    if not isinstance(data, dict):
        raise ValueError("event data must be an object")
    for key, value in data.items():
        if key not in ALLOWED_KEYS:
            raise ValueError(f"event data may not carry {key!r}")
        if value is None:
            continue
        if key in ID_KEYS:
            ok = isinstance(value, str) and bool(_ID.match(value))
        elif key in ID_LIST_KEYS:
            ok = isinstance(value, list) and all(isinstance(v, str) and _ID.match(v) for v in value)
        elif key in AMOUNT_KEYS:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key in DATE_KEYS:
            ok = isinstance(value, str) and bool(_DATE.match(value))
        elif key in INSTANT_KEYS:
            ok = isinstance(value, str) and bool(_INSTANT.match(value))
        else:
            ok = isinstance(value, str) and bool(_STATUS.match(value))
        if not ok:
            raise ValueError(f"event data {key!r} is not an id, amount, date or status")


# ----- the event and its envelope --------------------------------------------------------------
_B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def event_id(event_type: str, source_id: str, part: str = "") -> str:
    """Business rule: one change announces each of its events once, with one id forever.

    `source_id` is what the change's transaction already holds and a resend of it keeps (the
    audit id; for an installment invoice its deterministic invoice id), `part` tells apart two
    events of one type from one change (two invoices of one plan run)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    digest = int.from_bytes(hashlib.sha256(f"{event_type}|{source_id}|{part}".encode()).digest()[:16], "big")
    chars = []
    for _ in range(26):
        digest, rest = divmod(digest, 32)
        chars.append(_B32[rest])
    return "evt_" + "".join(chars)


@dataclass(frozen=True)
class Event:
    """One announced change. `webhook_id` is set only for a ping (sent to that webhook alone)."""

    event_id: str
    type: str
    created_at: datetime
    clinic_id: str
    data: dict = field(default_factory=dict)
    webhook_id: str | None = None

    def __post_init__(self):
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        check_data(self.data)


def new_event(event_type: str, *, source_id: str, clinic_id: str, at: datetime, data: dict, part: str = "",
              webhook_id: str | None = None) -> Event:
    return Event(event_id(event_type, source_id, part), event_type, at.astimezone(UTC), clinic_id, dict(data),
                 webhook_id)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(event: Event) -> dict:
    """The delivered JSON: `{"id","type","created_at","clinic_id","data"}`."""
    return {"id": event.event_id, "type": event.type, "created_at": _iso(event.created_at),
            "clinic_id": event.clinic_id, "data": event.data}


def body(event: Event) -> bytes:
    """The raw bytes that are signed and sent (compact, keys in a fixed order)."""
    return json.dumps(envelope(event), separators=(",", ":"), sort_keys=True).encode()


def subscribed(events: list[str], event: Event, webhook_id: str) -> bool:
    """Does a webhook with this events list get this event? A ping goes to its own webhook only."""
    if event.type == "ping":
        return event.webhook_id == webhook_id
    return ALL_EVENTS in events or event.type in events


def check_events_list(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationError("events must be a non-empty list", fields={"events": "required"})
    if events == [ALL_EVENTS]:
        return events
    unknown = [e for e in events if e not in EVENT_TYPES or e == "ping"]
    if unknown:
        raise ValidationError(f"unknown event types {unknown}", fields={"events": "unknown event type"})
    return sorted(set(events))


# ----- signing ---------------------------------------------------------------------------------
SIGNATURE_TOLERANCE_SECONDS = 300  # what a receiver should accept between `t` and its clock


def sign(secret: str, t: int, raw_body: bytes) -> str:
    """`Followups-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, raw_body: bytes, now: int,
           tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: any `v1` matching, and `t` within `tolerance` of its clock."""
    parts = [p.split("=", 1) for p in (header or "").split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    macs = [v for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not macs:
        return False
    t = int(stamps[0])
    if abs(now - t) > tolerance:
        return False
    expected = sign(secret, t, raw_body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, m.strip()) for m in macs)


# ----- the retry schedule ----------------------------------------------------------------------
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=15),
                timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4),
                timedelta(hours=8))
GIVE_UP_AFTER = timedelta(hours=24)
TRY_TIMEOUT_SECONDS = 10.0


def next_attempt_at(first_try_at: datetime, tries_made: int) -> datetime | None:
    """Business rule: after `tries_made` failed tries the next is due at the sum of the first
    `tries_made` delays after the first try (30 s, then growing), with a last try at the 24 h
    mark; None: the delivery has failed."""
    if tries_made < 1:
        return first_try_at
    at = first_try_at + sum(RETRY_DELAYS[: min(tries_made, len(RETRY_DELAYS))], timedelta())
    if tries_made <= len(RETRY_DELAYS):
        return at
    if tries_made == len(RETRY_DELAYS) + 1:
        return first_try_at + GIVE_UP_AFTER
    return None


MAX_TRIES = len(RETRY_DELAYS) + 2  # the first, one per delay, the last at 24 h


# ----- delivery state --------------------------------------------------------------------------
PENDING, DELIVERED, RETRYING, FAILED = "pending", "delivered", "retrying", "failed"


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook: the delivery log's row."""

    webhook_id: str
    event_id: str
    type: str
    event_created_at: datetime
    attempts: int = 0
    status: str = PENDING
    last_status: int | str | None = None  # an HTTP status, or `timeout`, `refused_address`, ...
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    first_attempt_at: datetime | None = None
    response_excerpt: str | None = None


def after_try(d: Delivery, at: datetime, outcome: int | str, excerpt: str | None) -> Delivery:
    """The log row after one try (2xx delivers; anything else schedules the next try or fails)."""
    first = d.first_attempt_at or at
    attempts = d.attempts + 1
    if isinstance(outcome, int) and 200 <= outcome < 300:
        return Delivery(d.webhook_id, d.event_id, d.type, d.event_created_at, attempts, DELIVERED, outcome, at,
                        None, first, excerpt)
    nxt = next_attempt_at(first, attempts)
    status = RETRYING if nxt is not None else FAILED
    return Delivery(d.webhook_id, d.event_id, d.type, d.event_created_at, attempts, status, outcome,
                    None, nxt, first, excerpt)


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    clinic_id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime
    created_by: str
    secret_ciphertext: bytes | None = None  # KMS ciphertext; None once deleted
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.deleted_at is None


# ----- URLs and addresses ----------------------------------------------------------------------
DEPLOYED, LOCAL = "deployed", "local"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets
    port: int
    path: str  # path + query, never empty
    loopback_ok: bool  # the local stack's http://127.0.0.1:PORT and http://localhost:PORT


def parse_url(url: str, policy: str) -> Target:
    """Business rule: deployed stages send to https:// only; the local stack also to
    http://127.0.0.1:PORT and http://localhost:PORT. No credentials in URLs; no fragments."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or any(c in url for c in " \r\n\t\\"):
        raise ValidationError("url must be an absolute URL", fields={"url": "invalid"})
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as e:
        raise ValidationError("url has a bad port", fields={"url": "invalid"}) from e
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise ValidationError("url must name a host and carry no credentials or fragment", fields={"url": "invalid"})
    scheme = parts.scheme.lower()
    local_http = (policy == LOCAL and scheme == "http" and host in LOCAL_HOSTS and port is not None)
    if scheme != "https" and not local_http:
        allowed = "https://" if policy != LOCAL else "https://, http://127.0.0.1:PORT or http://localhost:PORT"
        raise ValidationError(f"url must start with {allowed}", fields={"url": "scheme"})
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = Target(scheme, host, port or 443, path, local_http)
    literal = _literal(host)
    if literal is not None and not address_allowed(literal, target):
        raise ValidationError("url points at a private, loopback or link-local address", fields={"url": "address"})
    if literal is None and (host == "localhost" or host.endswith(".localhost")) and not local_http:
        raise ValidationError("url points at a loopback name", fields={"url": "address"})
    return target


def _literal(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_v4(address: ipaddress.IPv6Address):
    """An IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64, compatible), or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def public_address(address) -> bool:
    """Business rule: a delivery goes only to a globally routable unicast address: never private,
    loopback, link-local (the metadata service 169.254.169.254 / fd00:ec2::254 among them),
    unspecified, multicast, reserved, shared (CGNAT) or documentation ranges, nor an IPv6 form
    of one (IPv4-mapped, 6to4, NAT64)."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return False
        inner = _embedded_v4(address)
        if inner is not None:
            return public_address(inner)
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and not address.is_loopback and not address.is_link_local and not address.is_unspecified
            and not address.is_private)


def address_allowed(address, target: Target) -> bool:
    """The address a delivery may connect to for this URL: a public one, or, for the local stack's
    http://127.0.0.1 / localhost URLs, loopback."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address)
    if target.loopback_ok:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback
    return public_address(address)


def vet_addresses(addresses: list[str], target: Target) -> list[str]:
    """The resolved addresses a delivery may use; refused when there are none or when ANY is
    forbidden (a name that also resolves to a private address is not a public receiver)."""
    if not addresses:
        raise ValidationError("the url's host does not resolve", fields={"url": "unresolvable"})
    bad = [a for a in addresses if not address_allowed(a, target)]
    if bad:
        raise ValidationError("the url's host resolves to a private, loopback or link-local address",
                              fields={"url": "address"})
    return addresses


def excerpt(raw: bytes, limit: int = 256) -> str:
    """A response body kept as at most `limit` bytes of text (the log never holds more)."""
    return raw[:limit].decode("utf-8", "replace")
