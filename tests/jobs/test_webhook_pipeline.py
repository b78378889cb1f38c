"""The delivery path on moto, as DynamoDB, its stream, SQS and KMS decide it: an event item
written in a change's transaction reaches the stream (a rolled-back one does not), the handler
turns it into queue messages, each try is signed with the KMS-sealed secret and logged, and a
failed try comes back from SQS after its delay. The local stack's poller drives the same handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.adapters.kms import KmsSecretBox
from chalicelib.adapters.queue import DeliveryQueue
from chalicelib.domain import webhooks as rules
from chalicelib.domain.ids import new_clinic_id
from chalicelib.domain.roles import OWNER, Caller
from chalicelib.jobs import webhooks as job
from chalicelib.services import audit, deliveries, events, webhooks
from chalicelib.store.uow import StaleWrite, UnitOfWork
from devtools import bootstrap
from devtools.webhook_poller import STREAM_FILTER, WebhookPoller, matches, wait_until
from tests.webhooks_support import Receiver


@pytest.fixture(scope="module")
def pipeline(aws):
    with pytest.MonkeyPatch.context() as mp:
        stream_arn = bootstrap.enable_event_stream()
        resources = bootstrap.create_webhook_resources()
        mp.setenv("FOLLOWUPS_WEBHOOK_URL_POLICY", "local")
        mp.setenv("FOLLOWUPS_WEBHOOK_TRY_TIMEOUT", "2")
        yield {"stream_arn": stream_arn, **resources}


@pytest.fixture
def owner() -> Caller:
    return Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id=new_clinic_id(), roles=frozenset({OWNER}))


def change_with_event(owner, source: str, *, fail: bool = False):
    """What a service does: its writes, its audit record and its event, one transaction."""
    uow = UnitOfWork()
    now = datetime.now(UTC)
    entry = audit.record(uow, owner.clinic_id, owner.actor, "payment.recorded", now, details={})
    if fail:  # another writer got there first: this transaction's audit record already exists
        uow.commit()
        uow.audit.add(owner.clinic_id, entry)
    event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id=entry.audit_id, at=now,
                            data={"payment_id": f"pay_abcd_{source}", "amount_cents": 500})
    uow.commit()
    return event


def stream_records(stream_arn: str) -> list[dict]:
    streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                           endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    found = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        found += streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return found


def test_the_secret_is_sealed_with_kms_and_opens_only_for_its_webhook(pipeline):
    box = KmsSecretBox(pipeline["kms_key_id"])
    sealed = box.seal("whsec_abc", "cln_a", "wh_1")
    assert b"whsec_abc" not in sealed
    assert box.open(sealed, "cln_a", "wh_1") == "whsec_abc"
    with pytest.raises(Exception, match="InvalidCiphertext"):
        box.open(sealed, "cln_a", "wh_2")


def test_a_committed_event_is_on_the_stream_and_a_rolled_back_one_is_not(pipeline, owner):
    committed = change_with_event(owner, "ok01")
    with pytest.raises(StaleWrite):
        change_with_event(owner, "rb01", fail=True)
    images = [r["dynamodb"]["NewImage"] for r in stream_records(pipeline["stream_arn"]) if matches(STREAM_FILTER, r)]
    ours = [i for i in images if i["clinic_id"]["S"] == owner.clinic_id]
    assert [i["event_id"]["S"] for i in ours] == [committed.event_id]


def test_the_filter_lets_through_only_inserted_event_items(pipeline, owner):
    webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url="http://127.0.0.1:9/", events_list=["*"],
                    secret_box=KmsSecretBox(pipeline["kms_key_id"]), url_policy=rules.LOCAL)  # a billing item
    change_with_event(owner, "flt1")
    records = stream_records(pipeline["stream_arn"])
    passed = [r for r in records if matches(STREAM_FILTER, r)]
    assert passed and all(r["dynamodb"]["NewImage"]["kind"]["S"] == "event" for r in passed)
    assert any(not matches(STREAM_FILTER, r) for r in records), "the subscription's write is filtered out"


def test_stream_to_receiver_signed_with_the_secret_the_owner_was_shown(pipeline, owner):
    box = KmsSecretBox(pipeline["kms_key_id"])
    with Receiver([200]) as receiver:
        created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url, events_list=["*"],
                                  secret_box=box, url_policy=rules.LOCAL)
        receiver.secret = created.secret
        event = change_with_event(owner, "e2e1")
        records = [r for r in stream_records(pipeline["stream_arn"]) if matches(STREAM_FILTER, r)
                   and r["dynamodb"]["NewImage"]["event_id"]["S"] == event.event_id]
        queue = DeliveryQueue(pipeline["queue_url"])
        assert job.handle({"Records": records}, None, queue=queue) == {"events": 1, "messages": 1}
        sqs = boto3.client("sqs", region_name="us-east-1")
        messages = sqs.receive_message(QueueUrl=pipeline["queue_url"], MaxNumberOfMessages=10)["Messages"]
        result = job.handle({"Records": [{"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}
                                         for m in messages]}, None, queue=queue)
        for m in messages:
            sqs.delete_message(QueueUrl=pipeline["queue_url"], ReceiptHandle=m["ReceiptHandle"])
    assert result["delivered"] == 1 and result["batchItemFailures"] == []
    [got] = receiver.received
    assert receiver.verified == [True]
    assert json.loads(got.body)["id"] == event.event_id == got.headers["Followups-Event-Id"]
    page = webhooks.deliveries(UnitOfWork(), owner, created.webhook.webhook_id)
    assert [(d.event_id, d.status, d.last_status, d.attempts) for d in page.items] == [
        (event.event_id, "delivered", 200, 1)]


def test_a_receiver_down_at_first_gets_the_event_from_the_queue_after_the_delay(pipeline, owner, monkeypatch):
    monkeypatch.setattr(rules, "RETRY_DELAYS", (timedelta(seconds=1),) * len(rules.RETRY_DELAYS))
    box = KmsSecretBox(pipeline["kms_key_id"])
    with Receiver([500, 500, 200]) as receiver:
        created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url,
                                  events_list=["payment.recorded"], secret_box=box, url_policy=rules.LOCAL)
        receiver.secret = created.secret
        poller = WebhookPoller(pipeline["stream_arn"], pipeline["queue_url"], interval=0.1)
        poller.poll_stream_once()  # skip what earlier tests wrote (their webhooks are not this one)
        poller.start()
        try:
            event = change_with_event(owner, "retry1")
            page = lambda: webhooks.deliveries(UnitOfWork(), owner, created.webhook.webhook_id).items  # noqa: E731
            assert wait_until(lambda: page() and page()[0].status == "delivered", seconds=15), page()
        finally:
            poller.stop()
    assert poller.errors == []
    assert [json.loads(r.body)["id"] for r in receiver.received] == [event.event_id] * 3
    assert receiver.verified == [True, True, True]
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert all(g >= 0.9 for g in gaps), f"each retry waited for its delay: {gaps}"
    [row] = page()
    assert (row.attempts, row.last_status) == (3, 200)


def test_a_message_whose_handling_crashes_is_reported_alone(pipeline, owner):
    body = deliveries.message(
        rules.new_event("ping", source_id="png_x", clinic_id=owner.clinic_id, at=datetime.now(UTC), data={},
                        webhook_id="wh_x"), "wh_x", due_at=datetime.now(UTC))
    records = [{"eventSource": "aws:sqs", "messageId": "good", "body": json.dumps(body)},
               {"eventSource": "aws:sqs", "messageId": "bad", "body": "{not json"}]
    result = job.handle({"Records": records}, None, queue=DeliveryQueue(pipeline["queue_url"]))
    assert result["batchItemFailures"] == [{"itemIdentifier": "bad"}] and result["dropped"] == 1


def test_the_apps_delivery_function_runs_the_handler(pipeline, owner, monkeypatch):
    """app.py's `webhook_delivery`, invoked as Lambda would (chalice's test client), makes the try."""
    from chalice.test import Client

    from app import app

    box = KmsSecretBox(pipeline["kms_key_id"])
    monkeypatch.setattr(job, "_secrets", lambda: deliveries.SecretCache(box))
    with Receiver([200]) as receiver:
        created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url, events_list=["*"],
                                  secret_box=box, url_policy=rules.LOCAL)
        receiver.secret = created.secret
        body = deliveries.message(change_with_event(owner, "app1"), created.webhook.webhook_id,
                                  due_at=datetime.now(UTC))
        with Client(app, stage_name="local") as client:
            answer = client.lambda_.invoke("webhook_delivery", {"Records": [
                {"eventSource": "aws:sqs", "messageId": "m1", "body": json.dumps(body)}]})
    assert answer.payload["delivered"] == 1 and answer.payload["batchItemFailures"] == []
    assert receiver.verified == [True]


def test_a_slow_receiver_in_a_batch_does_not_hold_back_the_others(pipeline, owner, monkeypatch):
    import time

    monkeypatch.setenv("FOLLOWUPS_WEBHOOK_TRY_TIMEOUT", "1.5")
    box = KmsSecretBox(pipeline["kms_key_id"])
    with Receiver([("slow", 4)]) as slow, Receiver([200]) as quick:
        bodies = []
        event = change_with_event(owner, "slow1")
        for receiver in (slow, quick):
            created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url, events_list=["*"],
                                      secret_box=box, url_policy=rules.LOCAL)
            bodies.append(deliveries.message(event, created.webhook.webhook_id, due_at=datetime.now(UTC)))
        started = time.monotonic()
        result = job.handle({"Records": [{"eventSource": "aws:sqs", "messageId": f"m{i}", "body": json.dumps(b)}
                                         for i, b in enumerate(bodies)]}, None,
                            queue=DeliveryQueue(pipeline["queue_url"]), secrets=deliveries.SecretCache(box))
        took = time.monotonic() - started
    assert (result["delivered"], result["retrying"]) == (1, 1)
    assert quick.received[0].at - started < 1.0, "the quick receiver was not made to wait for the slow one"
    assert took < 3.0, "the slow try was cut at its own deadline"
