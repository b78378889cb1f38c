"""Webhook subscriptions: create (the secret shown once), list, delete, send a test ping, and the
delivery log. What the routes of `POST/GET /webhooks...` call (api/webhooks.py, docs/webhooks.md): they check
the role and the `webhooks:manage` scope, parse the body, call one of these, render the result.

The secret is sealed with KMS (`adapters.kms.KmsSecretBox`) before it is stored and never
returned again; URLs are checked by the stage's rules and their host's addresses vetted (the
delivery checks them again at every try)."""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from datetime import datetime

from ..domain import cursor as cursors
from ..domain import webhooks as rules
from ..domain.clock import iso_z, parse_iso_z
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import new_id
from ..domain.roles import Caller
from ..domain.webhooks import Delivery, Event, Webhook
from ..logs import logger
from . import audit, events

SECRET_PREFIX = "whsec_"
MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str  # shown in the 201 only


@dataclass(frozen=True)
class DeliveryPage:
    items: list[Delivery]
    next_cursor: str | None


def _policy(url_policy: str | None) -> str:
    if url_policy is not None:
        return url_policy
    from .. import config

    return config.webhook_settings().url_policy


def check_url(url: str, *, url_policy: str | None = None, resolve=None) -> rules.Target:
    """Business rule: a webhook's URL is allowed by the stage and its host resolves to allowed
    addresses only (checked again before every try)."""
    target = rules.parse_url(url, _policy(url_policy))
    if resolve is None:
        from ..adapters.sender import system_resolver as resolve
    rules.vet_addresses(resolve(target.host, target.port), target)
    return target


def create(uow, caller: Caller, now: datetime, *, url: str, events_list, description: str | None = None,
           secret_box, resolve=None, url_policy: str | None = None) -> CreatedWebhook:
    """Business rule: an Owner subscribes a URL to event types (or `*`); the secret is 32 random
    bytes, sealed at rest and shown once."""
    wanted = rules.check_events_list(events_list)
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        raise ValidationError("description is at most 200 characters", fields={"description": "too long"})
    check_url(url, url_policy=url_policy, resolve=resolve)
    if len(uow.webhooks.list(caller.clinic_id)) >= rules.MAX_WEBHOOKS_PER_CLINIC:
        raise Conflict(f"a clinic has at most {rules.MAX_WEBHOOKS_PER_CLINIC} webhooks; delete one first")
    webhook_id = new_id("wh")
    secret = SECRET_PREFIX + random.token_urlsafe(32)
    sealed = secret_box.seal(secret, caller.clinic_id, webhook_id)
    webhook = Webhook(webhook_id, caller.clinic_id, url, wanted, description, now, caller.actor, sealed)
    uow.webhooks.add(webhook)
    audit.record(uow, caller.clinic_id, caller.actor, "webhook.created", now,
                 details={"webhook_id": webhook_id, "events": wanted})
    uow.commit()
    logger.info("webhook created", extra={"webhook_id": webhook_id, "events": len(wanted)})
    return CreatedWebhook(webhook, secret)


def list_webhooks(uow, caller: Caller) -> list[Webhook]:
    return uow.webhooks.list(caller.clinic_id)


def _get(uow, caller: Caller, webhook_id: str) -> Webhook:
    if not isinstance(webhook_id, str) or not webhook_id.startswith("wh_") or len(webhook_id) > 64:
        raise NotFound(f"no webhook {webhook_id}")
    found = uow.webhooks.get(caller.clinic_id, webhook_id)
    if found is None or not found.active:
        raise NotFound(f"no webhook {webhook_id}")
    return found


def delete(uow, caller: Caller, now: datetime, webhook_id: str) -> None:
    """Business rule: a deleted webhook gets no more tries (each try reads it first); its log stays."""

    def attempt() -> None:
        found = _get(uow, caller, webhook_id)
        gone = Webhook(found.webhook_id, found.clinic_id, found.url, found.events, found.description,
                       found.created_at, found.created_by, None, now, caller.actor)
        uow.webhooks.save_deleted(gone)
        audit.record(uow, caller.clinic_id, caller.actor, "webhook.deleted", now,
                     details={"webhook_id": webhook_id})
        uow.commit()

    uow.retrying(attempt)
    logger.info("webhook deleted", extra={"webhook_id": webhook_id})


def send_test(uow, caller: Caller, now: datetime, webhook_id: str) -> Event:
    """A `ping` for this webhook alone, through the same path as every event (the stream, the
    queue, the signed try and the log); the route answers 202 at once."""
    _get(uow, caller, webhook_id)
    event = events.announce(uow, caller.clinic_id, "ping", source_id=new_id("png"), at=now,
                            data={"webhook_id": webhook_id}, webhook_id=webhook_id)
    uow.commit()
    return event


def _cursor_kind(webhook_id: str) -> str:
    return f"deliveries:{webhook_id}"


def deliveries(uow, caller: Caller, webhook_id: str, *, limit: int = 25, cursor: str | None = None) -> DeliveryPage:
    """The webhook's delivery log, newest event first, `limit` (1-100) a page."""
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ValidationError("limit is 1-100", fields={"limit": "1-100"})
    _get(uow, caller, webhook_id)
    before = None
    if cursor is not None:
        position = cursors.decode(_cursor_kind(webhook_id), cursor)
        try:
            before = (parse_iso_z(position[0]), position[1])
            if not (isinstance(position[1], str) and position[1].startswith("evt_")) or len(position) != 2:
                raise ValueError(position)
        except (ValueError, TypeError, IndexError) as e:
            raise ValidationError("cursor is not a cursor this list returned",
                                  fields={"cursor": "use next_cursor as given"}) from e
    items, more = uow.deliveries.page(caller.clinic_id, webhook_id, limit, before)
    next_cursor = (cursors.encode(_cursor_kind(webhook_id), [iso_z(items[-1].event_created_at), items[-1].event_id])
                   if more and items else None)
    return DeliveryPage(items, next_cursor)


def delivery_view(d: Delivery) -> dict:
    """A log row as the contract's item `{"event_id","type","attempts","last_status","delivered_at",
    "next_attempt_at"}` (plus `status`); api/views.py can use it as is."""
    return {"event_id": d.event_id, "type": d.type, "attempts": d.attempts, "status": d.status,
            "last_status": d.last_status, "delivered_at": iso_z(d.delivered_at) if d.delivered_at else None,
            "next_attempt_at": iso_z(d.next_attempt_at) if d.next_attempt_at else None}


def webhook_view(w: Webhook, secret: str | None = None) -> dict:
    view = {"webhook_id": w.webhook_id, "url": w.url, "events": list(w.events), "description": w.description,
            "created_at": iso_z(w.created_at)}
    if secret is not None:
        view["secret"] = secret
    return view
