"""Writing off a balance: everything owed becomes zero in one transaction, or nothing changes (on
the memory store, read back through the repositories; the races of a write-off with a revoke, a
demotion or a payment, and the `due` index keys it clears, are tests/api/test_writeoffs.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import account, clock
from chalicelib.domain.audit import AuditEntry
from tests.fast.support import audit_entries


def today(world) -> date:
    return clock.local_date(datetime.now(UTC), world.timezone)


def days_ago(world, n: int) -> str:
    return (today(world) - timedelta(days=n)).isoformat()


def audit_of(world, patient_id: str) -> list[AuditEntry]:
    """The patient's audit trail, newest first."""
    return audit_entries(world.clinic_id, patient_id=patient_id)


def profile(world, patient_id: str) -> account.Patient:
    return routing.unit_of_work().accounts.get_patient(world.clinic_id, patient_id, consistent=True)


def on_worklist(world, patient_id: str) -> bool:
    patients, _ = routing.unit_of_work().accounts.worklist_page(world.clinic_id, low=None, high=None, after=None,
                                                               limit=1_000)
    return patient_id in {p.patient_id for p in patients}


def snapshot(world, patient_id: str):
    """Everything a write-off could touch, as plain values."""
    uow = routing.unit_of_work()
    p = profile(world, patient_id)
    loaded = uow.accounts.load(world.clinic_id, patient_id)
    plan = loaded.account.plan
    return ((p.balance_cents, p.status, p.version, p.oldest_open_invoice_date, on_worklist(world, patient_id),
             p.active_plan_id),
            sorted((i.invoice_id, i.status, i.balance_cents) for i in loaded.account.invoices.values()),
            [(plan.plan_id, plan.status)] if plan else [],
            [x.entry_id for x in uow.accounts.ledger_page(world.clinic_id, patient_id, 1_000, None)[0]],
            [a.audit_id for a in audit_of(world, patient_id)])


def test_an_owner_writes_off_every_open_invoice_and_the_balance_becomes_zero(clinic):
    pid = clinic.patient("Ann Writeoff")
    first = clinic.invoice(pid, 10_000, days_ago(clinic, 40))
    second = clinic.invoice(pid, 2_500, days_ago(clinic, 10))
    paid = clinic.invoice(pid, 1_000, days_ago(clinic, 50))
    assert clinic.pay(pid, 1_000, invoice_id=paid["invoice_id"]).status == 201
    assert clinic.pay(pid, 4_000).status == 201  # oldest open first: 4,000 off the first invoice

    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "Patient moved abroad, uncollectable"})

    assert r.status == 200, r
    assert r.body["written_off_cents"] == 8_500
    assert r.body["follow_up_status"] == "written_off"
    ledger = clinic.owner.get(f"/patients/{pid}/ledger").body["items"]
    assert ledger[-1] == {**ledger[-1], "entry_id": r.body["entry_id"], "type": "write_off",
                          "amount_cents": -8_500, "balance_after_cents": 0}
    assert sum(e["amount_cents"] for e in ledger) == 0
    statuses = {i: clinic.owner.get(f"/invoices/{i}").body for i in
                (first["invoice_id"], second["invoice_id"], paid["invoice_id"])}
    for written_off in (first, second):  # zeroed, and the amount invoiced kept
        assert statuses[written_off["invoice_id"]] == {**statuses[written_off["invoice_id"]], "status": "written_off",
                                                       "balance_cents": 0, "amount_cents": written_off["amount_cents"]}
    assert statuses[paid["invoice_id"]]["status"] == "paid"  # a settled invoice is not written off
    assert sorted(r.body["written_off_invoice_ids"]) == sorted([first["invoice_id"], second["invoice_id"]])
    patient = clinic.owner.get(f"/patients/{pid}").body
    assert (patient["balance_cents"], patient["follow_up_status"]) == (0, "written_off")
    # The patient leaves the worklist: no open invoice is left.
    assert profile(clinic, pid).oldest_open_invoice_date is None and not on_worklist(clinic, pid)


def test_the_audit_record_explains_the_write_off_and_the_ledger_entry_points_to_it(clinic):
    pid = clinic.patient()
    inv = clinic.invoice(pid, 7_700, days_ago(clinic, 3))
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "  Hardship programme approval #12  "})
    assert r.status == 200, r
    record = audit_of(clinic, pid)[0]
    assert (record.action, record.actor, record.patient_id) == ("writeoff.recorded", clinic.sub("owner"), pid)
    assert record.details == {"amount_cents": 7_700, "entry_id": r.body["entry_id"],
                                        "invoice_ids": [inv["invoice_id"]], "plan_id": None,
                                        "reason": "Hardship programme approval #12"}
    entry = routing.unit_of_work().accounts.ledger_page(clinic.clinic_id, pid, 1_000, None)[0][-1]
    assert (entry.type, entry.ref, entry.entry_id) == ("write_off", record.audit_id, r.body["entry_id"])
    assert r.body["audit_id"] == record.audit_id


def test_nothing_owed_is_409_conflict_and_writes_nothing(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, days_ago(clinic, 1))
    assert clinic.pay(pid, 1_000).status == 201
    before = snapshot(clinic, pid)
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "Nothing to see"})
    assert r.status == 409 and r.body["error"]["code"] == "conflict", r
    assert snapshot(clinic, pid) == before


def test_a_patient_written_off_once_cannot_be_written_off_again_until_invoiced_again(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, days_ago(clinic, 1))
    assert clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "first"}).status == 200
    assert clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "second"}).status == 409
    clinic.invoice(pid, 600, days_ago(clinic, 0))
    assert clinic.owner.get(f"/patients/{pid}").body["follow_up_status"] == "open"
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "third"})
    assert r.status == 200 and r.body["written_off_cents"] == 600
    balances = [e["balance_after_cents"] for e in clinic.owner.get(f"/patients/{pid}/ledger").body["items"]]
    assert balances == [1_000, 0, 600, 0]


@pytest.mark.parametrize("body", [
    {}, {"reason": ""}, {"reason": "ab"}, {"reason": "   "}, {"reason": " a "}, {"reason": "x" * 501},
    {"reason": 123}, {"reason": None}, {"reason": "fine reason", "amount_cents": 5},
], ids=["missing", "empty", "two-chars", "spaces", "one-char-padded", "too-long", "number", "null", "unknown-field"])
def test_a_missing_or_bad_reason_is_400_and_changes_nothing(clinic, body):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, days_ago(clinic, 1))
    before = snapshot(clinic, pid)
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", body)
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
    assert snapshot(clinic, pid) == before


def test_a_body_that_is_not_a_json_object_is_400(clinic):
    pid = clinic.patient()
    for raw in ("not json", "[]", '"reason"'):
        r = clinic.owner.request("POST", f"/follow-ups/{pid}/write-off", raw=raw)
        assert r.status == 400, (raw, r)


def test_exactly_three_and_five_hundred_characters_are_accepted(clinic):
    for reason in ("abc", "y" * 500):
        pid = clinic.patient()
        clinic.invoice(pid, 100, days_ago(clinic, 0))
        assert clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": reason}).status == 200


def test_an_unknown_patient_is_404_for_an_owner(clinic):
    for pid in ("pat_0000000000000000", "nonsense", "inv_abc_def"):
        r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "whatever"})
        assert r.status == 404 and r.body["error"]["code"] == "not_found", (pid, r)


