"""What a worklist page costs in DynamoDB: bucket filters as key conditions, one Query per page,
filtered pages that read on and stop at their read budget.

In the moto tier because the DynamoDB calls themselves are the point (the `dynamodb_calls` spy,
`ScannedCount`, the store's `FILTER_MAX_QUERIES`); who is on the list, in what order, with which
filters and cursors is tests/fast/test_followups_worklist.py.
"""

from __future__ import annotations

import pytest

from chalicelib.services.followups import Filters
from chalicelib.store import accounts as store_accounts
from tests.followups_support import all_pages, at, boundary_ages, crowd_of_45, mixed_debts, worklist
from tests.support import dynamodb_calls

NOW = at("2026-03-15T15:00:00Z")  # 11:00 in New York, a Sunday after the DST change


def ids(page: dict) -> list[str]:
    return [row["patient_id"] for row in page["items"]]


@pytest.fixture(scope="module")
def boundaries(aws):
    return boundary_ages(NOW)


@pytest.fixture(scope="module")
def mixed(aws):
    return mixed_debts(NOW)


@pytest.fixture(scope="module")
def crowd(aws):
    return crowd_of_45(NOW)


def test_a_bucket_filter_is_a_key_condition_reading_only_matching_rows(boundaries):
    clinic_id, _ = boundaries
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, Filters(bucket="31-60"))
    assert calls.ops() == ["GetItem", "Query"]  # the clinic (its time zone), then one page
    assert calls.scanned() == len(page["items"]) == 2


def test_a_closed_or_written_off_status_filter_costs_no_query(mixed):
    clinic_id, _ = mixed
    with dynamodb_calls() as calls:
        assert worklist(clinic_id, NOW, Filters(status="written_off"))["items"] == []
    assert "Query" not in calls.ops()


def test_one_page_is_one_query_reading_at_most_limit_plus_one_items(crowd):
    clinic_id, _ = crowd
    first = worklist(clinic_id, NOW, limit=10)
    with dynamodb_calls() as calls:
        worklist(clinic_id, NOW, limit=10, cursor=first["next_cursor"])
    assert calls.ops() == ["GetItem", "Query"]
    assert calls.scanned() == 11


def test_filtered_pages_keep_querying_until_full_and_never_skip_a_match(crowd):
    clinic_id, pids = crowd
    # Balances are 1000 + i and the first patients are the youngest: the 12 matches sit at the
    # end of the list, behind 33 rows the filter drops.
    filters = Filters(min_balance_cents=1_000, max_balance_cents=1_011)
    expected = [p for p in ids(worklist(clinic_id, NOW, limit=100)) if pids.index(p) < 12]
    with dynamodb_calls() as calls:
        first = worklist(clinic_id, NOW, filters, limit=5)
    assert len(first["items"]) == 5 and calls.ops().count("Query") > 1
    rows, pages = all_pages(clinic_id, NOW, filters, limit=5)
    assert [r["patient_id"] for r in rows] == expected
    assert pages == 3


def test_a_filtered_page_stops_at_its_read_budget_with_a_cursor_where_reading_stopped(crowd, monkeypatch):
    clinic_id, pids = crowd
    monkeypatch.setattr(store_accounts, "FILTER_MAX_QUERIES", 1)
    filters = Filters(min_balance_cents=1_000, max_balance_cents=1_011)
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, filters, limit=5)
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == 6
    assert page["items"] == [] and page["next_cursor"] is not None
    rows, _ = all_pages(clinic_id, NOW, filters, limit=5)
    everyone = ids(worklist(clinic_id, NOW, limit=100))
    assert [r["patient_id"] for r in rows] == [p for p in everyone if pids.index(p) < 12]
