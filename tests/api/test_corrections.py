"""Corrections and holds in DynamoDB: the keys a hold moves, what a worklist page costs with
holds in the clinic, the once-per-payment reversal item, and each correction's calls.

In the moto tier because the keys, conditions and call counts are DynamoDB's; the behaviour
(who may, what changes, what the reports say) is tests/fast/test_corrections.py and test_holds.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain.account import Reversal
from chalicelib.domain.roles import ADMIN, Caller
from chalicelib.services import corrections, holds, reports
from chalicelib.services.followups import Filters
from chalicelib.store import keys
from chalicelib.store.models import PatientRecord, ReversalRecord
from chalicelib.store.uow import StaleWrite
from tests.followups_support import as_staff, at, new_clinic, owing, pay, worklist
from tests.support import dynamodb_calls

NOW = at("2026-03-16T15:00:00Z")  # 11:00 in New York


def admin(clinic_id: str) -> Caller:
    return Caller("admin-sub", clinic_id, frozenset({ADMIN}))


@pytest.fixture(scope="module")
def held_clinic(aws):
    """Twelve patients owing, every third one on hold."""
    clinic_id = new_clinic(NOW - timedelta(days=100))
    pids = [owing(clinic_id, NOW, date(2026, 3, 1) - timedelta(days=n), cents=1_000 + n) for n in range(12)]
    held = pids[::3]
    for pid in held:
        holds.place(routing.unit_of_work(), as_staff(clinic_id), NOW, patient_id=pid, reason="dispute",
                    until=date(2026, 4, 1))
    return clinic_id, pids, held


def test_a_hold_moves_the_worklist_key_apart_and_the_due_key_to_its_last_day(held_clinic):
    clinic_id, _, held = held_clinic
    record = PatientRecord.get(keys.patient_pk(clinic_id, held[0]), keys.PROFILE)
    assert record.wl_sk.startswith(keys.HELD) and record.status == "on_hold"
    assert record.due_sk == keys.due_sk(date(2026, 4, 1), keys.DUE_HOLD, held[0])
    assert record.tl_sk == keys.owed_patient_sk(held[0])  # in the aging report's one Query


def test_the_worklist_without_holds_and_the_on_hold_list_are_each_one_query_reading_only_their_rows(held_clinic):
    clinic_id, pids, held = held_clinic
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, limit=100)
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == len(page["items"]) == 8
    assert not set(held) & {r["patient_id"] for r in page["items"]}
    with dynamodb_calls() as calls:
        page = worklist(clinic_id, NOW, Filters(status="on_hold", invoice_date_from=date(2026, 2, 25)), limit=100)
    assert calls.ops() == ["GetItem", "Query"] and calls.scanned() == len(page["items"])
    assert {r["patient_id"] for r in page["items"]} == {pids[0], pids[3]}  # a key range inside the held rows
    first = worklist(clinic_id, NOW, Filters(status="on_hold"), limit=2)
    second = worklist(clinic_id, NOW, Filters(status="on_hold"), limit=2, cursor=first["next_cursor"])
    assert [r["patient_id"] for r in first["items"] + second["items"]] == sorted(
        held, key=lambda p: (-pids.index(p), p))


def test_the_aging_report_tells_the_held_part_from_one_query(held_clinic):
    clinic_id, _, held = held_clinic
    with dynamodb_calls() as calls:
        report = reports.aging(routing.unit_of_work(), as_staff(clinic_id), NOW)
    assert calls.ops() == ["GetItem", "Query"]
    assert report["on_hold_cents"] == sum(1_000 + n for n in range(0, 12, 3))
    assert report["total_cents"] == sum(1_000 + n for n in range(12))


def test_a_payment_is_reversed_once_and_the_second_reversal_item_is_refused_by_its_condition(aws):
    clinic_id = new_clinic(NOW - timedelta(days=10))
    pid = owing(clinic_id, NOW, date(2026, 3, 1), cents=5_000)
    paid = pay(clinic_id, NOW, pid, 2_000)
    with dynamodb_calls() as calls:
        corrections.reverse_payment(routing.unit_of_work(), admin(clinic_id), NOW + timedelta(hours=1),
                                    payment_id=paid["payment_id"], reason="chargeback")
    # the payment (strongly consistent), the account, then one transaction
    assert calls.ops() == ["GetItem", "Query", "TransactWriteItems"]
    stored = ReversalRecord.get(keys.patient_pk(clinic_id, pid), keys.REVERSAL + paid["payment_id"])
    assert (stored.amount_cents, stored.tl_pk) == (2_000, keys.timeline_pk(clinic_id, keys.PAYMENTS_TIMELINE))
    # A racing second reversal that read the payment before the first committed loses at commit.
    uow = routing.unit_of_work()
    payment = uow.accounts.payment(clinic_id, pid, paid["payment_id"], consistent=True)
    uow.accounts.add_reversal(clinic_id, payment, Reversal("rev_x", paid["payment_id"], pid, 2_000, "returned",
                                                          NOW, "admin-sub"))
    with pytest.raises(StaleWrite) as lost:
        uow.commit()
    assert "reversal" in lost.value.failed


def test_void_adjust_and_hold_are_one_read_and_one_transaction(aws):
    clinic_id = new_clinic(NOW - timedelta(days=10))
    pid = owing(clinic_id, NOW, date(2026, 3, 1), cents=5_000)
    [invoice_id] = routing.unit_of_work().accounts.load(clinic_id, pid).account.invoices
    with dynamodb_calls() as calls:
        corrections.adjust_invoice(routing.unit_of_work(), admin(clinic_id), NOW, invoice_id=invoice_id,
                                   amount_cents=500, reason="discount")
    assert calls.ops() == ["Query", "TransactWriteItems"]
    with dynamodb_calls() as calls:
        holds.place(routing.unit_of_work(), admin(clinic_id), NOW, patient_id=pid, reason="other",
                    until=date(2026, 3, 30))
    assert calls.ops() == ["GetItem", "Query", "TransactWriteItems"]  # the clinic (today), the account
    with dynamodb_calls() as calls:
        corrections.void_invoice(routing.unit_of_work(), admin(clinic_id), NOW, invoice_id=invoice_id,
                                 reason="duplicate")
    assert calls.ops() == ["Query", "TransactWriteItems"]
    record = PatientRecord.get(keys.patient_pk(clinic_id, pid), keys.PROFILE)
    assert (record.status, record.hold, record.wl_sk, record.due_sk) == ("closed", None, None, None)
