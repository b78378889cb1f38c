"""Concurrent requests against the real local stack: no lost update, no double payment, and a
write-off racing a payment leaves exactly one of two clean outcomes."""

import threading
import uuid
from collections import Counter
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


def test_fifty_identical_payments_with_one_key_make_one_payment(owing_patient):
    api, h, pid = owing_patient
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"patient_id": pid, "amount_cents": 1_000, "method": "card"}
    start = threading.Barrier(50)

    def send(_):
        try:
            start.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return requests.post(f"{api}/payments", json=body, headers={**h, **key}, timeout=60)

    # All 50 at once: the local API listens with a backlog of 128 (devtools/local_api.py); with
    # socketserver's default of 5, 16 clients connecting at the same instant got resets.
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(send, range(50)))
    ok = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    busy = [r.json()["error"]["code"] for r in responses if r.status_code == 409]
    assert set(busy) <= {"idempotency_key_in_use"}, busy
    assert {r.json()["payment_id"] for r in ok} and len({r.json()["payment_id"] for r in ok}) == 1
    assert len({r.text for r in ok}) == 1  # every 201 is the first response, byte for byte
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


def race_payment_and_write_off(api: str, pid: str, billing: dict, owner: dict, cents: int):
    """A payment and a write-off of one patient, released together from two threads."""
    start = threading.Barrier(2)

    def pay():
        start.wait(timeout=10)
        return requests.post(f"{api}/payments", json={"patient_id": pid, "amount_cents": cents, "method": "card"},
                             headers={**billing, "Idempotency-Key": str(uuid.uuid4())}, timeout=60)

    def write_off():
        start.wait(timeout=10)
        return requests.post(f"{api}/follow-ups/{pid}/write-off", json={"reason": "race"}, headers=owner, timeout=60)

    with ThreadPoolExecutor(2) as pool:
        paid, written = pool.submit(pay), pool.submit(write_off)
        return paid.result(), written.result()


def test_a_write_off_racing_a_payment_leaves_exactly_one_clean_outcome(local_stack):
    """Either the payment lands and the write-off takes the rest, or the write-off lands and the
    payment is refused with nothing written. Ten rounds, each on a fresh patient, the two
    requests released together from two threads."""
    _, info = local_stack
    api = info["api_url"]
    billing = {"Authorization": sign_in(info, "billing@demo.clinic")}
    owner = {"Authorization": sign_in(info, "owner@demo.clinic")}
    outcomes = Counter()
    for _ in range(10):
        pid = requests.post(f"{api}/patients", json={"name": "Race Write-off"}, headers=billing,
                            timeout=10).json()["patient_id"]
        assert requests.post(f"{api}/invoices", json={"patient_id": pid, "amount_cents": 100_000,
                                                      "invoice_date": "2026-01-01"},
                             headers=billing, timeout=10).status_code == 201
        paid, written = race_payment_and_write_off(api, pid, billing, owner, cents=30_000)
        assert written.status_code == 200, written.text
        detail = requests.get(f"{api}/follow-ups/{pid}", headers=billing, timeout=10).json()
        ledger = requests.get(f"{api}/patients/{pid}/ledger", headers=billing, timeout=10).json()["items"]
        assert detail["balance_cents"] == 0 and detail["status"] == "written_off"
        if paid.status_code == 201:
            outcomes["payment first"] += 1
            assert written.json()["written_off_cents"] == 70_000
            assert [(e["type"], e["amount_cents"]) for e in ledger] == [
                ("invoice", 100_000), ("payment", -30_000), ("write_off", -70_000)]
            assert [p["payment_id"] for p in detail["payments"]] == [paid.json()["payment_id"]]
        else:
            outcomes["write-off first"] += 1
            assert paid.status_code == 409, paid.text
            assert written.json()["written_off_cents"] == 100_000
            assert [(e["type"], e["amount_cents"]) for e in ledger] == [("invoice", 100_000), ("write_off", -100_000)]
            assert detail["payments"] == []
            audit = requests.get(f"{api}/audit?patient_id={pid}", headers=owner, timeout=10).json()["items"]
            assert "payment.recorded" not in {a["action"] for a in audit}
        assert sum(e["amount_cents"] for e in ledger) == 0 == ledger[-1]["balance_after_cents"]
    print(f"write-off vs payment outcomes: {dict(outcomes)}")
    assert sum(outcomes.values()) == 10, outcomes


def test_a_burst_of_clients_connecting_at_once_is_served_not_reset(local_stack):
    _, info = local_stack
    start = threading.Barrier(64)

    def health(_):
        start.wait(timeout=10)
        return requests.get(f"{info['api_url']}/health", timeout=60).status_code

    with ThreadPoolExecutor(64) as pool:
        assert Counter(pool.map(health, range(64))) == {200: 64}
