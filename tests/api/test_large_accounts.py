"""Large accounts on moto: DynamoDB's 100-item transactions, paging and consistency for real.

The cases are tests/large_accounts_cases.py. Here: a write-off of 200 open invoices (three
transactions' worth: the first batch and two follow-on ones), the cancellation of a plan those
200 went into, follow-on batches that fail, and
the paged lists; all of them, plan conversion and a payment over 500 invoices and 3,000 long
attempts run in tests/fast, on the same code path (moto spends ~4 ms serializing each item a
Query returns, so the full set here would cost minutes of suite time)."""

from __future__ import annotations

import pytest

from chalicelib.store import keys
from chalicelib.store.models import InvoiceRecord
from chalicelib.store.uow import UnitOfWork
from tests.large_accounts_cases import (  # noqa: F401 - the shared cases that DynamoDB itself decides
    test_a_cursor_of_another_patient_or_list_is_refused,
    test_a_patient_with_thousands_of_long_attempts_still_opens_and_pages_newest_first,
    test_another_clinics_patient_has_no_pages,
    test_callbacks_page_newest_first_and_the_detail_shows_fifty,
    test_cancelling_a_plan_made_of_hundreds_of_invoices_leaves_one_remainder_aged_from_the_oldest,
    test_the_detail_lists_the_fifty_newest_invoices_and_the_route_goes_on,
    test_the_ledger_comes_in_pages_oldest_first_up_to_a_thousand,
    test_when_the_follow_on_batches_fail_every_read_still_shows_the_change_and_the_next_change_finishes_it,
    test_writing_off_hundreds_of_open_invoices_zeroes_every_one,
)


@pytest.fixture
def new_uow():
    return UnitOfWork


@pytest.fixture
def open_invoices() -> int:
    return 200


@pytest.fixture
def attempt_count() -> int:
    return 600  # 1.2 MB of notes: more than one DynamoDB page of the partition


@pytest.fixture
def stored_statuses():
    def read(clinic_id: str, patient_id: str) -> dict[str, str]:
        """What the invoice items in DynamoDB say, without the patient record's deferred states."""
        return {r.invoice_id: r.status for r in InvoiceRecord.query(
            keys.patient_pk(clinic_id, patient_id), InvoiceRecord.sk.startswith(keys.INVOICE),
            consistent_read=True)}

    return read
