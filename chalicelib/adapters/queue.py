"""The delivery queue (SQS): one message per try of one event to one webhook, sent with the try's
delay (SQS holds a message at most 900 s; a later try is re-sent until it is due)."""

from __future__ import annotations

import json
from functools import lru_cache

MAX_DELAY_SECONDS = 900  # SQS's limit on DelaySeconds
BATCH = 10  # SQS's limit on SendMessageBatch


@lru_cache(maxsize=1)
def _client():
    import boto3
    from botocore.config import Config

    from .. import config

    return boto3.client("sqs", region_name=config.region(),
                        config=Config(connect_timeout=2, read_timeout=5,
                                      retries={"max_attempts": 3, "mode": "standard"}))


class DeliveryQueue:
    def __init__(self, queue_url: str, client=None):
        self.queue_url, self._given = queue_url, client

    @property
    def client(self):
        return self._given or _client()

    def send(self, messages: list[tuple[dict, int]]) -> None:
        """Send (body, delay seconds) pairs, ten to a request; raises if any is not accepted
        (the caller's invocation then fails and is retried: a duplicate try is allowed, a lost one not)."""
        for start in range(0, len(messages), BATCH):
            chunk = messages[start:start + BATCH]
            entries = [{"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":")),
                        "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, int(delay)))}
                       for i, (body, delay) in enumerate(chunk)]
            answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(entries)} delivery messages: "
                                   f"{[f.get('Code') for f in answer['Failed']]}")


def delivery_queue() -> DeliveryQueue:
    from .. import config

    return DeliveryQueue(config.webhook_settings().queue_url)
