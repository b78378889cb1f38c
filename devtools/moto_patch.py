"""Make moto's TransactWriteItems and base-table Query cost what they touch, not what the table holds.

moto 5.2 deep-copies every table named in a transaction, once per item, to be able to roll
back: a 10-item transaction on a table of 50,000 items copies 500,000 items. The local stack
and the test suite slow down as their data grows (quadratically over a test session).

This replacement keeps moto's semantics for what we use (Put, Update, Delete, ConditionCheck;
one action per item; all or nothing): it evaluates every condition against the state before
the transaction, and only when all hold applies the writes, backing up just the items it
touches so that a failure while applying restores them. Used by the local stack and the tests;
never on AWS. The upstream report, with a reproduction and figures: docs/moto-transact-write-items.md.

moto 5.2 also answers a Query on the base table by sorting every item of the table
(`Table.all_items()`) and keeping the partition asked for (moto/dynamodb/models/table.py,
`Table.query`, the `else:` branch of "FIND POSSIBLE RESULTS"): a request that reads one account
costs time in proportion to the whole table, so an import of n rows takes O(n^2). `_query` runs
moto's own `Table.query` unchanged, against a view of the table whose `all_items()` is that one
partition (`table.items[hash_key]`, in the order moto's would give): range key conditions,
filters, ScanIndexForward, Limit, ExclusiveStartKey and projections stay moto's code. Index
queries (which carry an index name) are passed through untouched: moto keeps no per-index
partitions, so they still walk the table. tests/api/test_embedded_dynamodb.py checks the patched
Query against moto's for a range of key conditions and pages.

Both are dev-only (devtools/ is not in the Lambda package; tests/deploy checks it). Written
against one moto version (WRITTEN_FOR_MOTO); tests/api/test_embedded_dynamodb.py fails when
another is installed, so the copies are re-checked against moto's new code, or dropped once
moto backs up only the touched items and reads only the partition queried.
"""

from __future__ import annotations

import copy
from typing import Any

WRITTEN_FOR_MOTO = "5.2.5"  # DynamoDBBackend.transact_write_items (models/__init__.py), Table.query (models/table.py)
_PATCHED = False
_MOTO_QUERY = None  # moto's own Table.query, which _query runs


def install() -> None:
    global _PATCHED, _MOTO_QUERY
    if _PATCHED:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    DynamoDBBackend.transact_write_items = _transact_write_items
    _MOTO_QUERY = Table.query
    Table.query = _query
    _PATCHED = True


class _Partition:
    """The table as moto's `Table.query` sees it, except that `all_items()` is one partition.

    Everything else is the table's own (attributes and bound methods), and nothing is changed on
    the table: a Scan or another request running at the same time (moto server's threads) sees
    the whole table as before."""

    def __init__(self, table, hash_key):
        self._table, self._hash_key = table, hash_key

    def __getattr__(self, name: str):
        return getattr(self._table, name)

    def all_items(self):
        # `items` is a defaultdict: .get, so that a query of an absent partition creates nothing.
        held = self._table.items.get(self._hash_key)
        if held is None:
            return []
        if not self._table.range_key_attr:
            return [held]
        # moto's order: by (hash key, range key), i.e. by range key within one partition.
        return sorted(held.values(), key=lambda item: item.range_key)


def _query(self, hash_key, *args, **kwargs):
    """moto's `Table.query`; on the base table it reads the one partition its hash key names."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None:
        return _MOTO_QUERY(self, hash_key, *args, **kwargs)
    return _MOTO_QUERY(_Partition(self, hash_key), hash_key, *args, **kwargs)


def _transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression as filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        original_item = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = filter_expression(condition, op.get("ExpressionAttributeNames"),
                                          op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            planned.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - reported per item, as moto does
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    backups = [(table_name, key, copy.deepcopy(self.get_item(table_name, key)))
               for _, _, table_name, key in planned]
    try:
        for op_type, op, table_name, key in planned:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names,
                                 expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
    except Exception:
        for table_name, key, old in backups:
            if old is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, old.to_json()["Attributes"])
        raise
