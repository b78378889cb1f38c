"""Concurrent requests against the real local stack: no lost update, no double payment."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.test_local_stack import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def owing_patient(local_stack):
    _, info = local_stack
    api, h = info["api_url"], {"Authorization": sign_in(info, "billing@demo.clinic")}
    patient = requests.post(f"{api}/patients", json={"name": "Race Patient"}, headers=h, timeout=5).json()
    r = requests.post(f"{api}/invoices", json={"patient_id": patient["patient_id"], "amount_cents": 100_000,
                                               "invoice_date": "2026-01-01"}, headers=h, timeout=5)
    assert r.status_code == 201
    return api, h, patient["patient_id"]


def test_twenty_identical_payments_with_one_key_make_one_payment(owing_patient):
    api, h, pid = owing_patient
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"patient_id": pid, "amount_cents": 1_000, "method": "card"}
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: requests.post(f"{api}/payments", json=body, headers={**h, **key},
                                                          timeout=30), range(20)))
    ok = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert {r.json()["payment_id"] for r in ok} and len({r.json()["payment_id"] for r in ok}) == 1
    ledger = requests.get(f"{api}/patients/{pid}/ledger", headers=h, timeout=5).json()["items"]
    assert [e["type"] for e in ledger] == ["invoice", "payment"]


def test_concurrent_different_payments_lose_no_update(owing_patient):
    api, h, pid = owing_patient

    def pay(i):
        return requests.post(f"{api}/payments", json={"patient_id": pid, "amount_cents": 100 + i, "method": "cash"},
                             headers={**h, "Idempotency-Key": str(uuid.uuid4())}, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(pay, range(16)))
    paid = sum(100 + i for i, r in enumerate(responses) if r.status_code == 201)
    assert all(r.status_code in (201, 409) for r in responses)
    assert sum(r.status_code == 201 for r in responses) >= 8  # retries absorb most conflicts
    patient = requests.get(f"{api}/patients/{pid}", headers=h, timeout=5).json()
    ledger = requests.get(f"{api}/patients/{pid}/ledger", headers=h, timeout=5).json()["items"]
    assert patient["balance_cents"] == 100_000 - paid == sum(e["amount_cents"] for e in ledger)
    assert ledger[-1]["balance_after_cents"] == patient["balance_cents"]
    running = 0
    for entry in ledger:
        running += entry["amount_cents"]
        assert entry["balance_after_cents"] == running
