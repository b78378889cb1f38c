"""How many events one delivery function instance gets through, and the AWS calls per delivered event.

In-process moto (DynamoDB with the stream, SQS, KMS) and a receiver on 127.0.0.1 answering 200.
N events are committed first (each an audit record + its event, one transaction); then, like one
Lambda instance (one invocation at a time): the stream records in batches of 100 go through the
handler (fan-out), then the queue's messages in batches of 10 (the tries, in parallel threads).
Every AWS call the handler makes is counted at botocore's entry point.

Usage: .venv/bin/python -m bench.webhook_throughput [--events 500] [--webhooks 1]
The figure is moto's (a few ms per call, one process), a floor for Lambda's (in-region calls are
similar or faster, and the CPU share at 256 MB is a sixth of a core, which the tries barely use).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--webhooks", type=int, default=1)
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "FOLLOWUPS_TABLE": "followups-bench-wh", "FOLLOWUPS_AUDIT_TABLE": "followups-audit-bench-wh",
                       "FOLLOWUPS_WEBHOOK_URL_POLICY": "local", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "FOLLOWUPS_LOG_LEVEL": "ERROR"})
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    import warnings

    warnings.filterwarnings("ignore")
    import boto3
    import botocore.client
    from moto import mock_aws

    from devtools import moto_patch

    moto_patch.install()
    with mock_aws():
        from chalicelib.adapters.kms import secret_box
        from chalicelib.adapters.queue import DeliveryQueue
        from chalicelib.domain.roles import OWNER, Caller
        from chalicelib.jobs import webhooks as job
        from chalicelib.services import audit, events, webhooks
        from chalicelib.store.uow import UnitOfWork
        from devtools import bootstrap
        from devtools.webhook_poller import STREAM_FILTER, matches
        from tests.webhooks_support import Receiver

        bootstrap.create_tables()
        stream_arn = bootstrap.enable_event_stream()
        made = bootstrap.create_webhook_resources()
        owner = Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id="cln_benchthroughput1",
                       roles=frozenset({OWNER}))
        with Receiver([200]) as receiver:
            for _ in range(args.webhooks):
                webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url, events_list=["*"],
                                secret_box=secret_box())
            for i in range(args.events):
                uow, now = UnitOfWork(), datetime.now(UTC)
                entry = audit.record(uow, owner.clinic_id, owner.actor, "payment.recorded", now)
                events.announce(uow, owner.clinic_id, "payment.recorded", source_id=entry.audit_id, at=now,
                                data={"payment_id": f"pay_bench_{i:06d}", "amount_cents": i})
                uow.commit()
            streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                                   endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
            records = []
            for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                while iterator:
                    answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                    records += [r for r in answer["Records"] if matches(STREAM_FILTER, r)]
                    iterator = answer.get("NextShardIterator") if answer["Records"] else None
            sqs = boto3.client("sqs", region_name="us-east-1")
            queue = DeliveryQueue(made["queue_url"])
            calls: Counter = Counter()
            original = botocore.client.BaseClient._make_api_call

            def counting(client, operation, params):
                calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
                return original(client, operation, params)

            botocore.client.BaseClient._make_api_call = counting
            started = time.monotonic()
            fan_out_s = tries_s = 0.0
            try:
                for start in range(0, len(records), 100):
                    t = time.monotonic()
                    job.handle({"Records": records[start:start + 100]}, None, queue=queue)
                    fan_out_s += time.monotonic() - t
                delivered = 0
                while True:
                    botocore.client.BaseClient._make_api_call = original  # Lambda's poller, not the function
                    answer = sqs.receive_message(QueueUrl=made["queue_url"], MaxNumberOfMessages=10)
                    messages = answer.get("Messages", [])
                    if not messages:
                        break
                    botocore.client.BaseClient._make_api_call = counting
                    t = time.monotonic()
                    result = job.handle({"Records": [{"eventSource": "aws:sqs", "messageId": m["MessageId"],
                                                      "body": m["Body"]} for m in messages]}, None, queue=queue)
                    tries_s += time.monotonic() - t
                    delivered += result["delivered"]
                    botocore.client.BaseClient._make_api_call = original
                    sqs.delete_message_batch(QueueUrl=made["queue_url"], Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            finally:
                botocore.client.BaseClient._make_api_call = original
            elapsed = time.monotonic() - started
    per = {k: round(v / max(1, delivered), 3) for k, v in sorted(calls.items())}
    print(json.dumps({"events": args.events, "webhooks": args.webhooks, "deliveries": delivered,
                      "received": len(receiver.received), "handler_seconds": round(fan_out_s + tries_s, 2),
                      "fan_out_seconds": round(fan_out_s, 2), "tries_seconds": round(tries_s, 2),
                      "deliveries_per_second_one_instance": round(delivered / (fan_out_s + tries_s), 1),
                      "wall_seconds_with_queue_polling": round(elapsed, 2),
                      "calls_per_delivery": per}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
