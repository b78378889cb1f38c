"""The webhook delivery function: one Lambda behind two event sources.

- the billing table's stream (event source mapping filtered to INSERTs of event items): each
  event becomes one queue message per subscribed webhook (`deliveries.fan_out`);
- the delivery queue (SQS, per-message delays): each message is one try (`deliveries.attempt`),
  all the batch's tries at once in threads, each with its own 10 s deadline, so a slow receiver
  never holds back another's delivery. A message whose handling raised is reported back alone
  (`batchItemFailures`); SQS retries it and, after 5 receives, moves it to the dead-letter queue.

The local stack runs the same `handle` from devtools/webhook_poller.py. Metrics (EMF, namespace
`Followups`): `WebhookDeliveries`, `WebhookRetries`, `WebhookDeliveriesFailed` (the alarm's)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..domain.webhooks import DELIVERED, FAILED
from ..logs import logger
from ..services import deliveries

metrics = Metrics(namespace="Followups", service="followups")
MAX_PARALLEL_TRIES = 10  # the SQS batch size: every try of a batch runs at once


@lru_cache(maxsize=1)
def _secrets():
    from .. import config
    from ..adapters import kms

    return deliveries.SecretCache(kms.secret_box(), config.webhook_settings().secret_cache_seconds)


def _send():
    from .. import config
    from ..adapters import sender

    settings = config.webhook_settings()

    def send(target, headers, raw):
        return sender.post(target, headers, raw, timeout=settings.try_timeout_seconds,
                           excerpt_bytes=settings.excerpt_bytes)

    return send


def handle(event: Any, context: Any = None, *, now: datetime | None = None, queue=None, send=None,
           secrets=None, uow_factory=None) -> dict:
    """Lambda entry for both sources (the keyword arguments are for tests and the local poller)."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    records = raw.get("Records") or []
    from .. import config
    from ..adapters import queue as queues
    from ..store.uow import UnitOfWork

    uow_factory = uow_factory or UnitOfWork
    queue = queue or queues.delivery_queue()
    if records and records[0].get("eventSource") == "aws:sqs":
        result = handle_tries(records, now=now, queue=queue, send=send or _send(), secrets=secrets or _secrets(),
                              uow_factory=uow_factory, url_policy=config.webhook_settings().url_policy)
    else:
        result = handle_stream(records, now=now, queue=queue, uow_factory=uow_factory)
    if config.lambda_runtime():  # EMF goes to stdout: CloudWatch reads it there; a local poller's terminal must not
        metrics.add_dimension(name="function", value=getattr(context, "function_name", None) or "local")
        metrics.flush_metrics()
    else:
        metrics.clear_metrics()
    return result


def handle_stream(records: list[dict], *, now, queue, uow_factory) -> dict:
    from ..store.webhooks import event_from_stream_image

    found = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue  # the mapping's filter already drops these; the handler does not rely on it
        event = event_from_stream_image(record.get("dynamodb", {}).get("NewImage") or {})
        if event is not None:
            found.append(event)
    sent = deliveries.fan_out(uow_factory(), found, queue, now or datetime.now(UTC)) if found else 0
    metrics.add_metric(name="WebhookEvents", unit=MetricUnit.Count, value=len(found))
    metrics.add_metric(name="WebhookMessagesQueued", unit=MetricUnit.Count, value=sent)
    return {"events": len(found), "messages": sent}


def handle_tries(records: list[dict], *, now, queue, send, secrets, uow_factory, url_policy) -> dict:
    def one(record: dict):
        body = json.loads(record["body"])
        return deliveries.attempt(uow_factory(), body, now=now or datetime.now(UTC), secrets=secrets, queue=queue,
                                  send=send, url_policy=url_policy)

    failures, counts = [], {"delivered": 0, "retrying": 0, "failed": 0, "requeued": 0, "dropped": 0}
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_TRIES, len(records)))) as pool:
        futures = [(record, pool.submit(one, record)) for record in records]
        for record, future in futures:
            try:
                outcome = future.result()
            except Exception:  # noqa: BLE001 - reported per message; SQS retries just this one
                logger.exception("webhook try crashed", extra={"message_id": record.get("messageId")})
                failures.append({"itemIdentifier": record.get("messageId")})
                continue
            if outcome.requeued:
                counts["requeued"] += 1
            elif outcome.delivery is None:
                counts["dropped"] += 1
            elif outcome.delivery.status == DELIVERED:
                counts["delivered"] += 1
            elif outcome.delivery.status == FAILED:
                counts["failed"] += 1
            else:
                counts["retrying"] += 1
    for name, key in (("WebhookDeliveries", "delivered"), ("WebhookRetries", "retrying"),
                      ("WebhookDeliveriesFailed", "failed")):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[key])
    return {"batchItemFailures": failures, **counts}
