"""The webhook delivery pipeline in the template: the table's stream, the delivery function's two
event sources (filtered, bisecting, with a failure destination), the queue and its dead letters,
the secrets' key, the alarms, and a role that grants the function exactly what its code calls,
on exactly the items it touches (DynamoDB `LeadingKeys`)."""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime

import pytest

from chalicelib.store import keys
from devtools.webhook_poller import STREAM_FILTER
from tests.deploy.test_template import granted, resources_of, statements

ROLE = "WebhookDeliveryRole"


def _get(logical_id: str, attribute: str = "Arn") -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, attribute]}, sort_keys=True)


def events_of(template) -> dict:
    return template["Resources"]["WebhookDelivery"]["Properties"]["Events"]


def test_the_billing_table_streams_new_images(template):
    assert template["Resources"]["BillingTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_the_stream_mapping_filters_to_event_inserts_bisects_and_sends_failures_to_the_dead_letters(template):
    stream = events_of(template)["EventStream"]
    assert stream["Type"] == "DynamoDB"
    props = stream["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["BillingTable", "StreamArn"]}
    assert props["BisectBatchOnFunctionError"] is True
    assert 1 <= props["MaximumRetryAttempts"] <= 10 and props["StartingPosition"] == "TRIM_HORIZON"
    assert props["MaximumBatchingWindowInSeconds"] == 0, "a delivery leaves at once"
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["WebhookDeadLetters", "Arn"]}
    [only] = props["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == STREAM_FILTER, "the local poller filters exactly as Lambda does"
    from chalicelib.store.webhooks import EVENT_KIND

    assert STREAM_FILTER["dynamodb"]["NewImage"]["kind"]["S"] == [EVENT_KIND]


def test_the_queue_mapping_hands_over_ten_tries_at_once_and_takes_back_only_the_failed_ones(template):
    from chalicelib.jobs.webhooks import MAX_PARALLEL_TRIES

    queue = events_of(template)["DeliveryQueue"]
    assert queue["Type"] == "SQS"
    assert queue["Properties"]["Queue"] == {"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}
    assert queue["Properties"]["BatchSize"] == MAX_PARALLEL_TRIES
    assert queue["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_queue_outlives_a_days_retries_and_hides_a_message_longer_than_six_function_timeouts(template):
    resources = template["Resources"]
    queue = resources["WebhookDeliveryQueue"]["Properties"]
    timeout = resources["WebhookDelivery"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # AWS's advice for a Lambda-consumed queue
    assert queue["MessageRetentionPeriod"] >= 2 * 86400
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetters", "Arn"]}
    assert queue["SqsManagedSseEnabled"] and resources["WebhookDeadLetters"]["Properties"]["SqsManagedSseEnabled"]
    assert template["Resources"]["WebhookDelivery"]["Properties"]["Environment"]["Variables"][
        "FOLLOWUPS_WEBHOOK_QUEUE_URL"] == {"Ref": "WebhookDeliveryQueue"}


def test_the_secrets_key_rotates_is_kept_and_is_named_to_every_function(template):
    key = template["Resources"]["WebhookSecretKey"]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["FOLLOWUPS_WEBHOOK_KEY_ID"] == {"Fn::GetAtt": ["WebhookSecretKey", "Arn"]}


def test_only_the_delivery_function_may_decrypt_secrets(template):
    """The API seals secrets (kms:Encrypt, for POST /webhooks); nothing else uses the key."""
    for role in resources_of(template, "AWS::IAM::Role"):
        kms = {a for a, _ in granted(template, role) if a.startswith("kms:")}
        allowed = {"kms:Decrypt"} if role == ROLE else {"kms:Encrypt"} if role == "ApiHandlerRole" else set()
        assert kms <= allowed, role
    assert {a for a, _ in granted(template, ROLE) if a.startswith("kms:")} == {"kms:Decrypt"}


def test_the_delivery_role_grants_exactly_its_calls(template):
    billing, stream = _get("BillingTable"), _get("BillingTable", "StreamArn")
    assert granted(template, ROLE) == {
        ("dynamodb:DescribeStream", stream), ("dynamodb:GetRecords", stream), ("dynamodb:GetShardIterator", stream),
        ("dynamodb:ListStreams", stream),
        ("dynamodb:GetItem", billing), ("dynamodb:Query", billing), ("dynamodb:PutItem", billing),
        ("kms:Decrypt", _get("WebhookSecretKey")),
        *{(a, _get("WebhookDeliveryQueue")) for a in ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                     "sqs:GetQueueAttributes")},
        ("sqs:SendMessage", _get("WebhookDeadLetters")),
        ("logs:CreateLogStream", _get("WebhookDeliveryLogGroup")),
        ("logs:PutLogEvents", _get("WebhookDeliveryLogGroup")),
    }


def _leading_keys(template, action: str) -> list[str]:
    [statement] = [s for s in statements(template, ROLE) if action in s["Action"]]
    return statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]


def test_the_delivery_role_reads_only_subscriptions_and_writes_only_the_delivery_log(template):
    clinic = "cln_0123456789abcdef"
    reads, writes = _leading_keys(template, "dynamodb:GetItem"), _leading_keys(template, "dynamodb:PutItem")
    assert _leading_keys(template, "dynamodb:Query") == reads

    def allowed(patterns, pk):
        return any(fnmatch.fnmatchcase(pk, p) for p in patterns)

    assert allowed(reads, keys.webhooks_pk(clinic)) and allowed(writes, keys.deliveries_pk(clinic, "wh_abc123"))
    others = [keys.clinic_pk(clinic), keys.patient_pk(clinic, "pat_abcdef123456"),
              keys.ledger_pk(clinic, "pat_abcdef123456"), keys.events_pk(clinic),
              keys.idempotency_pk(clinic, "payments", "k"), keys.timeline_pk(clinic, "PAY"), keys.RUNS]
    for pk in others:
        assert not allowed(reads, pk) and not allowed(writes, pk), pk
    assert not allowed(writes, keys.webhooks_pk(clinic)), "the function cannot rewrite a subscription"
    assert not allowed(reads, keys.deliveries_pk(clinic, "wh_abc123"))


def test_the_alarms_watch_failed_deliveries_the_dead_letters_and_errors(template):
    resources = template["Resources"]
    failed = resources["WebhookDeliveriesFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("Followups", "WebhookDeliveriesFailed")
    assert {d["Name"]: d["Value"] for d in failed["Dimensions"]} == {"function": {"Ref": "WebhookDelivery"},
                                                                    "service": "followups"}
    dead = resources["WebhookDeadLettersAlarm"]["Properties"]
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookDeadLetters", "QueueName"]}}]
    errors = resources["WebhookDeliveryErrorsAlarm"]["Properties"]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "WebhookDelivery"}}]
    for alarm in (failed, dead, errors):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    source = (__import__("pathlib").Path(__file__).resolve().parents[2] / "chalicelib/jobs/webhooks.py").read_text()
    assert '"WebhookDeliveriesFailed"' in source, "the alarm's metric is the one the function emits"


# ----- the calls the delivery code really makes ----------------------------------------------------------
IAM = {("dynamodb", "GetItem"): "dynamodb:GetItem", ("dynamodb", "Query"): "dynamodb:Query",
       ("dynamodb", "PutItem"): "dynamodb:PutItem", ("kms", "Decrypt"): "kms:Decrypt",
       ("sqs", "SendMessageBatch"): "sqs:SendMessage", ("sqs", "SendMessage"): "sqs:SendMessage"}


@pytest.fixture(scope="module")
def recorded_calls(aws):
    """Stream fan-out and one try, on moto, with every AWS call the code makes recorded."""
    import botocore.client

    from chalicelib.adapters.kms import KmsSecretBox
    from chalicelib.adapters.queue import DeliveryQueue
    from chalicelib.domain import webhooks as rules
    from chalicelib.domain.roles import OWNER, Caller
    from chalicelib.jobs import webhooks as job
    from chalicelib.services import deliveries, events, webhooks
    from chalicelib.store.uow import UnitOfWork
    from devtools import bootstrap

    bootstrap.enable_event_stream()
    resources = bootstrap.create_webhook_resources()
    owner = Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id="cln_0123456789abcdef",
                   roles=frozenset({OWNER}))
    box = KmsSecretBox(resources["kms_key_id"])
    created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url="http://127.0.0.1:9/", events_list=["*"],
                              secret_box=box, url_policy=rules.LOCAL)
    uow = UnitOfWork()
    event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id="aud_perm1", at=datetime.now(UTC),
                            data={})
    uow.commit()
    from chalicelib.store.webhooks import event_record

    image = event_record(event).serialize()
    calls: list[tuple[str, str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        calls.append((client.meta.service_model.service_name, operation, params))
        return original(client, operation, params)

    queue = DeliveryQueue(resources["queue_url"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        mp.setenv("FOLLOWUPS_WEBHOOK_URL_POLICY", "local")
        job.handle({"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb",
                                 "dynamodb": {"NewImage": image}}]}, None, queue=queue)
        body = deliveries.message(event, created.webhook.webhook_id, due_at=datetime.now(UTC))
        job.handle({"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": json.dumps(body)}]}, None,
                   queue=queue, secrets=deliveries.SecretCache(box))
    return calls


def _leading_key(params: dict) -> str | None:
    if "Key" in params:
        return params["Key"]["pk"]["S"]
    if "Item" in params:
        return params["Item"]["pk"]["S"]
    if "ExpressionAttributeValues" in params:
        return next(v["S"] for k, v in params["ExpressionAttributeValues"].items() if v.get("S", "").startswith("C#"))
    return None


def test_every_call_of_the_delivery_code_is_granted_on_the_items_it_touches(template, recorded_calls):
    actions = {a for a, _ in granted(template, ROLE)}
    seen = set()
    for service, operation, params in recorded_calls:
        action = IAM.get((service, operation))
        assert action is not None, f"the delivery code calls {service}:{operation}: add it to the role and here"
        assert action in actions, action
        seen.add(action)
        if service == "dynamodb":
            pk = _leading_key(params)
            assert any(fnmatch.fnmatchcase(pk, p) for p in _leading_keys(template, action)), (action, pk)
    assert seen == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "kms:Decrypt", "sqs:SendMessage"}
