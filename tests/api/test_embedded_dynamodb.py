"""The embedded DynamoDB keeps DynamoDB's all-or-nothing transactions (see devtools/moto_patch.py)."""

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import config
from devtools import moto_patch


@pytest.fixture
def ddb(aws):
    return boto3.client("dynamodb", region_name="us-east-1")


def put(pk, condition=None):
    action = {"TableName": config.table_name(), "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, "kind": {"S": "t"}}}
    if condition:
        action["ConditionExpression"] = condition
    return {"Put": action}


def test_a_failed_condition_writes_nothing_of_the_transaction(ddb):
    ddb.transact_write_items(TransactItems=[put("T#exists")])
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put("T#new-1"), put("T#exists", "attribute_not_exists(pk)"),
                                                put("T#new-2")])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    for pk in ("T#new-1", "T#new-2"):
        assert "Item" not in ddb.get_item(TableName=config.table_name(), Key={"pk": {"S": pk}, "sk": {"S": "x"}})


def test_two_actions_on_one_item_are_a_validation_error(ddb):
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put("T#twice"), put("T#twice")])
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_a_successful_transaction_writes_every_item(ddb):
    ddb.transact_write_items(TransactItems=[put("T#a"), put("T#b", "attribute_not_exists(pk)")])
    for pk in ("T#a", "T#b"):
        assert "Item" in ddb.get_item(TableName=config.table_name(), Key={"pk": {"S": pk}, "sk": {"S": "x"}})


def test_the_moto_patch_is_for_the_installed_moto_and_is_in_use():
    import moto
    from moto.dynamodb.models import DynamoDBBackend

    assert moto.__version__ == moto_patch.WRITTEN_FOR_MOTO, (
        f"moto is {moto.__version__}, but devtools/moto_patch.py replaces DynamoDBBackend.transact_write_items "
        f"as moto {moto_patch.WRITTEN_FOR_MOTO} wrote it. Compare transact_write_items in "
        "moto/dynamodb/models/__init__.py between the two versions: if moto no longer deep-copies each table "
        "(docs/moto-transact-write-items.md), delete the patch and its install() calls (tests/conftest.py, "
        "devtools/devstack.py); otherwise carry moto's changes into the patch and set WRITTEN_FOR_MOTO.")
    assert DynamoDBBackend.transact_write_items is moto_patch._transact_write_items, "tests/conftest.py installs it"
