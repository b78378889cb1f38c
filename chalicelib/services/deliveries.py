"""Delivering events: from the stream to one queue message per (event, webhook), and one signed
try per message, with the next try queued at its delay until a 2xx or 24 h.

Why every try is its own message (the stream handler never calls a receiver): a stream shard is
read in order, so a receiver that takes its 10 s on every event would hold back every later event
of that shard, for every clinic. A queue message per try gives each delivery its own Lambda
slot and timeout; a slow or dead receiver costs its own tries only (docs/webhooks.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain import webhooks as rules
from ..domain.clock import iso_z, parse_iso_z
from ..domain.webhooks import DELIVERED, FAILED, Delivery, Event
from ..logs import logger

MESSAGE_VERSION = 1
EARLY_OK = timedelta(seconds=1)  # a message this close to its due time is tried, not sent round again


def message(event: Event, webhook_id: str, *, attempts: int = 0, first_attempt_at: datetime | None = None,
            due_at: datetime) -> dict:
    """A queue message: everything a try needs except the webhook's URL and secret (read at the try,
    so a deleted webhook or a changed address is seen)."""
    return {"v": MESSAGE_VERSION, "clinic_id": event.clinic_id, "webhook_id": webhook_id,
            "event": {"id": event.event_id, "type": event.type, "created_at": iso_z(event.created_at),
                      "data": event.data, "webhook_id": event.webhook_id},
            "attempts": attempts, "first_attempt_at": iso_z(first_attempt_at) if first_attempt_at else None,
            "due_at": iso_z(due_at)}


def event_of(body: dict) -> Event:
    e = body["event"]
    return Event(e["id"], e["type"], parse_iso_z(e["created_at"]), body["clinic_id"], e["data"], e.get("webhook_id"))


def delay_until(due_at: datetime, now: datetime) -> int:
    return max(0, int((due_at - now).total_seconds() + 0.999))


def fan_out(uow, events: list[Event], queue, now: datetime) -> int:
    """One message per (event, subscribed webhook); one Query of the webhooks per clinic of the batch."""
    by_clinic: dict[str, list] = {}
    messages = []
    for event in events:
        if event.clinic_id not in by_clinic:
            by_clinic[event.clinic_id] = uow.webhooks.list(event.clinic_id)
        for webhook in by_clinic[event.clinic_id]:
            if rules.subscribed(webhook.events, event, webhook.webhook_id):
                messages.append((message(event, webhook.webhook_id, due_at=now), 0))
    if messages:
        queue.send(messages)
    logger.info("webhook events fanned out", extra={"events": len(events), "deliveries": len(messages)})
    return len(messages)


class SecretCache:
    """Decrypted secrets, per process, for `seconds` (one KMS Decrypt per webhook and container
    every few minutes instead of one per try)."""

    def __init__(self, secret_box, seconds: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._box, self._seconds, self._clock = secret_box, seconds, clock
        self._kept: dict[tuple[str, str, bytes], tuple[float, str]] = {}
        self._lock = threading.Lock()  # a batch's parallel tries of one webhook decrypt once

    def secret(self, clinic_id: str, webhook_id: str, ciphertext: bytes) -> str:
        key = (clinic_id, webhook_id, ciphertext)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > self._clock():
                return kept[1]
            plain = self._box.open(ciphertext, clinic_id, webhook_id)
            self._kept[key] = (self._clock() + self._seconds, plain)
            return plain


@dataclass(frozen=True)
class TryOutcome:
    delivery: Delivery | None  # None: nothing tried (re-queued until due, or the webhook is gone)
    requeued: bool


def attempt(uow, body: dict, *, now: datetime, secrets: SecretCache, queue, send, url_policy: str) -> TryOutcome:
    """One message: re-queue it if not due yet; else one signed try, the log row, and the next try.

    `send(target, headers, raw_body)` makes the HTTP try (adapters.sender.post with the settings)."""
    due_at = parse_iso_z(body["due_at"])
    if due_at > now + EARLY_OK:
        queue.send([(body, delay_until(due_at, now))])  # more than SQS's 900 s away: wait again
        return TryOutcome(None, True)
    event = event_of(body)
    clinic_id, webhook_id = body["clinic_id"], body["webhook_id"]
    webhook = uow.webhooks.get(clinic_id, webhook_id)
    if webhook is None or not webhook.active or webhook.secret_ciphertext is None:
        logger.info("webhook gone: delivery dropped", extra={"webhook_id": webhook_id, "event_id": event.event_id})
        return TryOutcome(None, False)
    first = parse_iso_z(body["first_attempt_at"]) if body.get("first_attempt_at") else None
    before = Delivery(webhook_id, event.event_id, event.type, event.created_at, int(body.get("attempts", 0)),
                      first_attempt_at=first)
    try:
        target = rules.parse_url(webhook.url, url_policy)
    except rules.ValidationError:
        result_outcome, text = "refused_url", None
    else:
        raw = rules.body(event)
        stamp = int(now.timestamp())
        secret = secrets.secret(clinic_id, webhook_id, webhook.secret_ciphertext)
        headers = {"Followups-Event-Id": event.event_id, "Followups-Signature": rules.sign(secret, stamp, raw)}
        result = send(target, headers, raw)
        result_outcome, text = result.outcome, result.excerpt
    after = rules.after_try(before, now, result_outcome, text)
    uow.deliveries.record(clinic_id, after)
    if after.status not in (DELIVERED, FAILED) and after.next_attempt_at is not None:
        queue.send([(message(event, webhook_id, attempts=after.attempts, first_attempt_at=after.first_attempt_at,
                             due_at=after.next_attempt_at), delay_until(after.next_attempt_at, now))])
    log = logger.info if after.status == DELIVERED else logger.warning
    log("webhook try", extra={"webhook_id": webhook_id, "event_id": event.event_id, "attempts": after.attempts,
                              "outcome": str(result_outcome), "status": after.status})
    return TryOutcome(after, False)
