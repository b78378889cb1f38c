"""The local stack's stand-in for Lambda's two event source mappings of the webhook delivery
function: it reads the embedded AWS's DynamoDB stream and the delivery queue and calls the same
`chalicelib.jobs.webhooks.handle` with the same event shapes.

Stream: every shard from TRIM_HORIZON (new shards as they appear), records filtered as the
template's FilterCriteria filter them (INSERTs of `kind` = `event`), handed over in batches.
Queue: long polls of up to 10 messages; a message is deleted unless the handler names it in
`batchItemFailures` (then it comes back after its visibility timeout, as with Lambda).
Development only; never in the Lambda zip."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

STREAM_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["event"]}}}}


def matches(pattern: dict, record: dict) -> bool:
    """The subset of Lambda's event filtering the template uses: nested keys, lists of allowed values."""
    for key, wanted in pattern.items():
        value = record.get(key) if isinstance(record, dict) else None
        if isinstance(wanted, dict):
            if not matches(wanted, value or {}):
                return False
        elif value not in wanted:
            return False
    return True


def _streams_client(endpoint: str | None, region: str):
    import boto3

    # botocore sends stream calls carrying a StreamArn to an account endpoint moto does not serve
    # (STACK-NOTES): name the endpoint.
    return boto3.client("dynamodbstreams", region_name=region,
                        endpoint_url=endpoint or f"https://streams.dynamodb.{region}.amazonaws.com")


class WebhookPoller:
    def __init__(self, stream_arn: str, queue_url: str, *, endpoint: str | None = None, region: str = "us-east-1",
                 interval: float = 0.25, handler=None, handler_kwargs: dict | None = None):
        import boto3

        self.stream_arn, self.queue_url, self.interval = stream_arn, queue_url, interval
        self.streams = _streams_client(endpoint, region)
        self.sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
        if handler is None:
            from chalicelib.jobs import webhooks

            handler = webhooks.handle
        self.handler, self.handler_kwargs = handler, dict(handler_kwargs or {})
        self._iterators: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    # ----- the stream ------------------------------------------------------------------------------
    def _refresh_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def poll_stream_once(self) -> int:
        self._refresh_shards()
        handed = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self.streams.get_records(ShardIterator=iterator, Limit=100)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records = [r for r in answer.get("Records", []) if matches(STREAM_FILTER, r)]
            if records:
                self.handler({"Records": records}, None, **self.handler_kwargs)
                handed += len(records)
        return handed

    # ----- the queue -------------------------------------------------------------------------------
    def poll_queue_once(self, wait_seconds: int = 1) -> int:
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        records = [{"eventSource": "aws:sqs", "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"]} for m in messages]
        result: Any = self.handler({"Records": records}, None, **self.handler_kwargs)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=done)
        return len(messages)

    # ----- threads ---------------------------------------------------------------------------------
    def _loop(self, step) -> None:
        while not self._stop.is_set():
            try:
                if not step():
                    self._stop.wait(self.interval)
            except Exception as e:  # noqa: BLE001 - keep polling; the stack must not die of one bad batch
                self.errors.append(repr(e))
                self._stop.wait(1.0)

    def start(self) -> WebhookPoller:
        for name, step in (("webhook-stream", self.poll_stream_once), ("webhook-queue", self.poll_queue_once)):
            thread = threading.Thread(target=self._loop, args=(step,), daemon=True, name=name)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def describe(poller: WebhookPoller) -> str:
    return json.dumps({"stream": poller.stream_arn, "queue": poller.queue_url})


def wait_until(predicate, seconds: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
