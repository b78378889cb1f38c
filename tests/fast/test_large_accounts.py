"""Large accounts on the in-memory store, at the contract's scale: 500 open invoices.

The cases are tests/large_accounts_cases.py (tests/api runs them on moto at 200)."""

from __future__ import annotations

import pytest

from chalicelib.api import routing
from tests.large_accounts_cases import *  # noqa: F403 - the shared cases


@pytest.fixture
def new_uow():
    return routing.unit_of_work


@pytest.fixture
def open_invoices() -> int:
    return 500


@pytest.fixture
def attempt_count() -> int:
    return 3_000


@pytest.fixture
def stored_statuses(store):
    def read(clinic_id: str, patient_id: str) -> dict[str, str]:
        """What the stored invoices themselves say, without the patient's deferred states."""
        return {i.invoice_id: i.status for i in store.of_patient("invoices", clinic_id, patient_id)}

    return read
