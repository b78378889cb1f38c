"""The embedded DynamoDB keeps DynamoDB's all-or-nothing transactions, and its base-table Query
answers as moto's own (see devtools/moto_patch.py)."""

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
    from moto.dynamodb.models.table import Table

    assert DynamoDBBackend.transact_write_items is moto_patch._transact_write_items, "tests/conftest.py installs it"
    assert Table.query is moto_patch._query, "tests/conftest.py installs it"


# ----- Query on one partition --------------------------------------------------------------------
@pytest.fixture(scope="module")
def query_tables(aws):
    """Three partitions of string and number range keys interleaved with others, and a table with
    a hash key only; each item has a `n` to filter on and a `blob` to project away."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="query-numbers", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"},
                                           {"AttributeName": "r", "AttributeType": "N"}])
    ddb.create_table(TableName="query-hash-only", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"}])
    table = config.table_name()
    for n in range(40):  # written out of order, partitions interleaved
        i = (n * 17) % 40
        for pk in ("Q#a", "Q#b", "Q#c"):
            ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": f"s#{i:02d}"}, "kind": {"S": "q"},
                                                "n": {"N": str(i % 7)}, "blob": {"S": "x" * i}})
        ddb.put_item(TableName="query-numbers", Item={"h": {"S": "a" if i % 3 else "b"}, "r": {"N": str(i - 20)},
                                                      "n": {"N": str(i % 5)}})
        ddb.put_item(TableName="query-hash-only", Item={"h": {"S": f"k{i}"}, "n": {"N": str(i)}})
    return ddb


def _pages(ddb, request: dict) -> list[dict]:
    """Every page of a query, following LastEvaluatedKey (without the response metadata)."""
    pages, start = [], None
    while True:
        answer = ddb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        answer.pop("ResponseMetadata")
        pages.append(answer)
        start = answer.get("LastEvaluatedKey")
        if not start or len(pages) > 50:
            return pages


QUERIES = [
    {"KeyConditionExpression": "pk = :p"},
    {"KeyConditionExpression": "pk = :p", "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :p", "Limit": 7},
    {"KeyConditionExpression": "pk = :p", "Limit": 5, "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :b)", "Values": {":b": {"S": "s#1"}}},
    {"KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi", "Limit": 4,
     "Values": {":lo": {"S": "s#05"}, ":hi": {"S": "s#31"}}},
    {"KeyConditionExpression": "pk = :p AND sk > :lo", "Values": {":lo": {"S": "s#33"}}},
    {"KeyConditionExpression": "pk = :p AND sk >= :lo", "Values": {":lo": {"S": "s#33"}}, "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :p AND sk < :hi", "Values": {":hi": {"S": "s#04"}}, "Limit": 2},
    {"KeyConditionExpression": "pk = :p AND sk <= :hi", "Values": {":hi": {"S": "s#04"}}},
    {"KeyConditionExpression": "pk = :p AND sk = :one", "Values": {":one": {"S": "s#12"}}},
    {"KeyConditionExpression": "pk = :p", "FilterExpression": "n = :n", "Values": {":n": {"N": "3"}}, "Limit": 6},
    {"KeyConditionExpression": "pk = :p", "ProjectionExpression": "pk, sk, n", "Limit": 9},
    {"KeyConditionExpression": "pk = :p", "Select": "COUNT"},
    {"KeyConditionExpression": "pk = :p", "ConsistentRead": True, "Limit": 40},
    {"KeyConditionExpression": "pk = :none"},
]


def _request(table: str, query: dict, partition: str) -> dict:
    query = dict(query)
    values = {":p": {"S": partition}, ":none": {"S": "Q#absent"}, **query.pop("Values", {})}
    used = {k: v for k, v in values.items()
            if k in query["KeyConditionExpression"] or k in query.get("FilterExpression", "")}
    return {"TableName": table, **query, "ExpressionAttributeValues": used}


def _both(ddb, monkeypatch, request: dict) -> tuple[list[dict], list[dict]]:
    from moto.dynamodb.models.table import Table

    patched = _pages(ddb, request)
    with monkeypatch.context() as m:
        m.setattr(Table, "query", moto_patch._MOTO_QUERY)
        unpatched = _pages(ddb, request)
    return patched, unpatched


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_a_query_of_one_partition_answers_as_moto_does_page_by_page(query_tables, monkeypatch, query):
    patched, unpatched = _both(query_tables, monkeypatch, _request(config.table_name(), query, "Q#b"))
    assert patched == unpatched
    assert sum(p["Count"] for p in patched) > 0 or query["KeyConditionExpression"] == "pk = :none"


@pytest.mark.parametrize("condition, values", [
    ("h = :h", {}), ("h = :h AND r BETWEEN :lo AND :hi", {":lo": {"N": "-7"}, ":hi": {"N": "9"}}),
    ("h = :h AND r < :hi", {":hi": {"N": "-3"}}), ("h = :h AND r >= :lo", {":lo": {"N": "0"}})])
@pytest.mark.parametrize("forward", [True, False])
def test_number_range_keys_come_in_numeric_order_as_in_moto(query_tables, monkeypatch, condition, values, forward):
    request = {"TableName": "query-numbers", "KeyConditionExpression": condition, "Limit": 3,
               "ScanIndexForward": forward, "ExpressionAttributeValues": {":h": {"S": "a"}, **values}}
    patched, unpatched = _both(query_tables, monkeypatch, request)
    assert patched == unpatched
    keys = [int(i["r"]["N"]) for p in patched for i in p["Items"]]
    assert keys == sorted(keys, reverse=not forward) and len(keys) > 3


@pytest.mark.parametrize("key", ["k7", "k39", "k40"])
def test_a_table_with_a_hash_key_only_answers_as_moto_does(query_tables, monkeypatch, key):
    request = {"TableName": "query-hash-only", "KeyConditionExpression": "h = :h",
               "ExpressionAttributeValues": {":h": {"S": key}}}
    patched, unpatched = _both(query_tables, monkeypatch, request)
    assert patched == unpatched


def test_a_query_of_an_absent_partition_creates_nothing(query_tables):
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(config.table_name())
    before = len(table.items)
    query_tables.query(TableName=config.table_name(), KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": "Q#never-written"}})
    assert len(table.items) == before
