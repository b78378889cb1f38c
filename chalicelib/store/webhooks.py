"""Webhooks in DynamoDB: the events a change writes in its own transaction, the subscriptions,
and the delivery log (keys in store/keys.py; docs/data-model.md, "Issue 18").
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from ..domain.clock import iso_z
from ..domain.webhooks import Delivery, Event, Webhook
from . import keys
from .mapping import t, t_out
from .models import DeliveryRecord, EventRecord, Record, WebhookRecord
from .uow import Transaction

EVENT_RETENTION = timedelta(days=30)  # TTL: deliveries end after 24 h; a month for looking back
DELIVERY_LOG_RETENTION = timedelta(days=30)
EVENT_KIND = "event"  # the stored `kind` the event source mapping's filter lets through


def event_record(event: Event) -> EventRecord:
    at = iso_z(event.created_at)
    return EventRecord(keys.events_pk(event.clinic_id), keys.event_sk(at, event.event_id), event_id=event.event_id,
                       type=event.type, created_at=at, clinic_id=event.clinic_id,
                       data_json=json.dumps(event.data, sort_keys=True, separators=(",", ":")),
                       webhook_id=event.webhook_id, expires_at=event.created_at + EVENT_RETENTION)


def event_of(record: EventRecord) -> Event:
    return Event(record.event_id, record.type, t(record.created_at), record.clinic_id, json.loads(record.data_json),
                 record.webhook_id)


def event_from_stream_image(image: dict) -> Event | None:
    """The event in a stream record's NEW_IMAGE (DynamoDB JSON), or None for any other item."""
    if (image or {}).get("kind", {}).get("S") != EVENT_KIND:
        return None
    return event_of(EventRecord.from_raw_data(image))


class EventRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def add(self, event: Event) -> None:
        """Stage the event in the change's transaction: it exists exactly when the change commits."""
        self._tx.create(event_record(event), label="event")


def _webhook(r: WebhookRecord) -> Webhook:
    secret = base64.b64decode(r.secret_ciphertext) if r.secret_ciphertext else None
    return Webhook(r.webhook_id, r.clinic_id, r.url, list(r.events), r.description, t(r.created_at), r.created_by,
                   secret, t(r.deleted_at), r.deleted_by)


def _webhook_record(w: Webhook) -> WebhookRecord:
    return WebhookRecord(
        keys.webhooks_pk(w.clinic_id), keys.webhook_sk(w.webhook_id), webhook_id=w.webhook_id, clinic_id=w.clinic_id,
        url=w.url, events=list(w.events), description=w.description, created_at=iso_z(w.created_at),
        created_by=w.created_by,
        secret_ciphertext=base64.b64encode(w.secret_ciphertext).decode() if w.secret_ciphertext else None,
        deleted_at=t_out(w.deleted_at), deleted_by=w.deleted_by)


class WebhookRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def get(self, clinic_id: str, webhook_id: str) -> Webhook | None:
        try:
            return _webhook(WebhookRecord.get(keys.webhooks_pk(clinic_id), keys.webhook_sk(webhook_id),
                                              consistent_read=True))
        except DoesNotExist:
            return None

    def list(self, clinic_id: str) -> list[Webhook]:
        """The clinic's webhooks not deleted, oldest first (one Query of its webhooks partition)."""
        found = [_webhook(r) for r in Record.query(keys.webhooks_pk(clinic_id)) if isinstance(r, WebhookRecord)]
        return sorted((w for w in found if w.active), key=lambda w: (w.created_at, w.webhook_id))

    def add(self, webhook: Webhook) -> None:
        self._tx.create(_webhook_record(webhook), label="webhook")

    def save_deleted(self, webhook: Webhook) -> None:
        """Stage the deletion (the secret's ciphertext goes; who and when stay); of two deleters one wins."""
        self._tx.save(_webhook_record(webhook), label="webhook", condition=WebhookRecord.deleted_at.does_not_exist())


def _delivery(r: DeliveryRecord) -> Delivery:
    last = r.last_status
    return Delivery(r.webhook_id, r.event_id, r.type, t(r.event_created_at), int(r.attempts), r.status,
                    int(last) if last is not None and last.isdigit() else last, t(r.delivered_at),
                    t(r.next_attempt_at), t(r.first_attempt_at), r.response_excerpt)


class DeliveryRepository:
    """Written by the delivery function, one item per try, outside any transaction."""

    def __init__(self, tx: Transaction):
        self._tx = tx

    def record(self, clinic_id: str, d: Delivery) -> bool:
        """Put the log row unless a row with as many or more attempts is already there (a duplicate
        message of an earlier try); True when written."""
        created = iso_z(d.event_created_at)
        row = DeliveryRecord(
            keys.deliveries_pk(clinic_id, d.webhook_id), keys.delivery_sk(created, d.event_id),
            webhook_id=d.webhook_id, event_id=d.event_id, type=d.type, event_created_at=created, attempts=d.attempts,
            status=d.status, last_status=None if d.last_status is None else str(d.last_status),
            delivered_at=t_out(d.delivered_at), next_attempt_at=t_out(d.next_attempt_at),
            first_attempt_at=t_out(d.first_attempt_at), response_excerpt=d.response_excerpt,
            expires_at=d.event_created_at + DELIVERY_LOG_RETENTION)
        try:
            row.save(condition=DeliveryRecord.pk.does_not_exist() | (DeliveryRecord.attempts < d.attempts))
            return True
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def get(self, clinic_id: str, webhook_id: str, event_created_at: datetime, event_id: str) -> Delivery | None:
        try:
            return _delivery(DeliveryRecord.get(keys.deliveries_pk(clinic_id, webhook_id),
                                                keys.delivery_sk(iso_z(event_created_at), event_id),
                                                consistent_read=True))
        except DoesNotExist:
            return None

    def page(self, clinic_id: str, webhook_id: str, limit: int,
             before: tuple[datetime, str] | None) -> tuple[list[Delivery], bool]:
        """Newest event first, strictly before `before` (event created_at, event id); one Query."""
        bound = keys.delivery_sk(iso_z(before[0]), before[1]) if before is not None else None
        results = DeliveryRecord.query(
            keys.deliveries_pk(clinic_id, webhook_id),
            range_key_condition=(DeliveryRecord.sk < bound) if bound else None,
            scan_index_forward=False, limit=limit + 1, page_size=limit + 1)
        found = [_delivery(r) for r in results]
        return found[:limit], len(found) > limit
