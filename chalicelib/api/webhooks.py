"""Webhooks (the Owner's; an integration key with `webhooks:manage`): subscribe a URL to event
types, list, delete, send a test ping, read the delivery log (docs/webhooks.md)."""

from __future__ import annotations

from typing import Literal

from chalice import Response

from ..domain.integrations import WEBHOOKS_MANAGE
from ..domain.roles import OWNER_ADMIN, OWNER_ONLY
from ..domain.webhooks import ALL_EVENTS, EVENT_TYPES, MAX_URL_LENGTH
from ..services import webhooks
from . import views
from .routing import RequestContext, route
from .types import Body, Out, PageQuery, text

SUBSCRIBABLE = tuple(t for t in EVENT_TYPES if t != "ping")  # a ping goes to the webhook it tests only


class WebhookIn(Body):
    url: text(1, MAX_URL_LENGTH)
    events: list[Literal[(*SUBSCRIBABLE, ALL_EVENTS)]]
    description: text(0, webhooks.MAX_DESCRIPTION) | None = None


class WebhookOut(Out):
    webhook_id: str
    url: str
    events: list[str]
    description: str | None
    created_at: str


class NewWebhookOut(WebhookOut):
    secret: str


class WebhookList(Out):
    items: list[WebhookOut]


class PingOut(Out):
    event_id: str


class DeliveryOut(Out):
    event_id: str
    type: str
    attempts: int
    status: str
    last_status: int | str | None
    delivered_at: str | None
    next_attempt_at: str | None


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: str | None


def _secret_box():
    from ..adapters import kms  # noqa: PLC0415 - boto3's KMS client only for the route that seals

    return kms.secret_box()


@route("/webhooks", "POST", roles=OWNER_ONLY, body=WebhookIn, response=NewWebhookOut, status=201,
       scopes=(WEBHOOKS_MANAGE,))
def create_webhook(ctx: RequestContext) -> dict:
    """Subscribe a URL to event types (or ["*"]); `secret` signs the deliveries and is shown in this answer only."""
    b = ctx.body
    created = webhooks.create(ctx.uow, ctx.caller, ctx.now, url=b.url, events_list=list(b.events),
                              description=b.description, secret_box=_secret_box())
    return views.webhook(created.webhook, created.secret)


@route("/webhooks", "GET", roles=OWNER_ADMIN, response=WebhookList, scopes=(WEBHOOKS_MANAGE,))
def list_webhooks(ctx: RequestContext) -> dict:
    """The clinic's webhooks (never their secrets)."""
    return {"items": [views.webhook(w) for w in webhooks.list_webhooks(ctx.uow, ctx.caller)]}


@route("/webhooks/{webhook_id}", "DELETE", roles=OWNER_ONLY, status=204, scopes=(WEBHOOKS_MANAGE,))
def delete_webhook(ctx: RequestContext, webhook_id: str) -> Response:
    """Delete a webhook: it gets no more tries; its delivery log stays readable until it expires."""
    webhooks.delete(ctx.uow, ctx.caller, ctx.now, webhook_id)
    return Response(body="", status_code=204)


@route("/webhooks/{webhook_id}/test", "POST", roles=OWNER_ONLY, response=PingOut, status=202,
       scopes=(WEBHOOKS_MANAGE,))
def test_webhook(ctx: RequestContext, webhook_id: str) -> dict:
    """Send a `ping` to this webhook through the normal delivery path (answered before it is sent)."""
    return {"event_id": webhooks.send_test(ctx.uow, ctx.caller, ctx.now, webhook_id).event_id}


@route("/webhooks/{webhook_id}/deliveries", "GET", roles=OWNER_ADMIN, query=PageQuery, response=DeliveryPage,
       scopes=(WEBHOOKS_MANAGE,))
def list_deliveries(ctx: RequestContext, webhook_id: str) -> dict:
    """The webhook's deliveries, newest event first: attempts, the last status, when delivered or tried next."""
    q = ctx.query
    return views.page(webhooks.deliveries(ctx.uow, ctx.caller, webhook_id, limit=q.limit, cursor=q.cursor),
                      views.delivery)
