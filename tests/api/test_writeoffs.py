"""A write-off in DynamoDB: it takes a cancelled plan and an ended promise off the `due` index,
and racing another request, a revoke or a demotion that commits between the permission check and
the write-off's commit refuses it, and a payment that lands first is not lost.

In the moto tier because the index keys the write-off clears (`due_sk`) and PynamoDB-level races
are the point: the other request commits inside the write-off's `AccountRepository.load`, and
DynamoDB's transaction conditions (the grant, the staff role, the patient's version) decide.
What a write-off does to the balance, invoices, ledger and audit is tests/fast/test_writeoffs.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain.errors import Forbidden
from chalicelib.services import delegations, writeoffs
from chalicelib.store import keys
from chalicelib.store.accounts import AccountRepository
from chalicelib.store.models import AuditRecord
from chalicelib.store.uow import UnitOfWork
from tests import ledger_ops
from tests.support import make_clinic


def today(world) -> date:
    return clock.local_date(datetime.now(UTC), world.timezone)


def days_ago(world, n: int) -> str:
    return (today(world) - timedelta(days=n)).isoformat()


def audit_of(world, patient_id: str) -> list[AuditRecord]:
    return list(AuditRecord.by_patient.query(keys.audit_patient_pk(world.clinic_id, patient_id),
                                             scan_index_forward=False))


def snapshot(world, patient_id: str):
    """Everything a write-off could touch, as plain values."""
    p = ledger_ops.profile(world.clinic_id, patient_id)
    return ((int(p.balance_cents), p.status, p.version, p.wl_sk, p.active_plan_id),
            [(i.invoice_id, i.status, int(i.balance_cents)) for i in ledger_ops.invoices(world.clinic_id, patient_id)],
            [(x.plan_id, x.status) for x in ledger_ops.plans(world.clinic_id, patient_id)],
            [x.entry_id for x in ledger_ops.ledger(world.clinic_id, patient_id)],
            [a.audit_id for a in audit_of(world, patient_id)])


def test_a_write_off_cancels_the_active_plan_and_takes_it_out_of_the_due_index(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 9_000, days_ago(clinic, 20))
    now = datetime.now(UTC)
    plan_id = ledger_ops.convert_to_plan(clinic.clinic_id, pid, 3_000, "monthly", today(clinic), today(clinic), now)
    [installment_invoice] = ledger_ops.run_plan(clinic.clinic_id, pid, today(clinic), now)
    assert any(plan_id in sk for sk in ledger_ops.due_index_sort_keys(clinic.clinic_id))
    assert clinic.pay(pid, 1_000).status == 201  # 1,000 off the invoiced installment

    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "Clinic policy: small balance"})

    assert r.status == 200, r
    assert r.body["written_off_cents"] == 8_000  # 2,000 open on the installment + 6,000 not yet invoiced
    assert r.body["cancelled_plan_id"] == plan_id
    assert r.body["written_off_invoice_ids"] == [installment_invoice]
    [plan] = ledger_ops.plans(clinic.clinic_id, pid)
    assert plan.status == "cancelled"
    assert not any(plan_id in sk for sk in ledger_ops.due_index_sort_keys(clinic.clinic_id))
    profile = ledger_ops.profile(clinic.clinic_id, pid)
    assert (profile.active_plan_id, profile.plan_next_due, int(profile.balance_cents)) == (None, None, 0)
    assert clinic.owner.get(f"/invoices/{installment_invoice}").body["status"] == "written_off"
    assert audit_of(clinic, pid)[0].details.as_dict()["plan_id"] == plan_id


def test_a_write_off_ends_a_pending_promise_and_takes_it_off_the_due_index(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, days_ago(clinic, 5))
    now = datetime.now(UTC)
    ledger_ops.promise(clinic.clinic_id, pid, 2_000, today(clinic) + timedelta(days=3), today(clinic), now)
    assert ledger_ops.profile(clinic.clinic_id, pid).status == "promised"
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "Agreed settlement"})
    assert r.status == 200, r
    profile = ledger_ops.profile(clinic.clinic_id, pid)
    assert (profile.pending_promise, profile.due_sk, profile.status) == (None, None, "written_off")
    assert (int(profile.promises_kept), int(profile.promises_broken)) == (0, 0)



def test_a_grant_revoked_while_a_write_off_is_in_flight_stops_it(clinic, monkeypatch):
    """The write-off's transaction checks the grant it relied on: a revoke that commits between
    the permission check and the commit cancels it, and the retry answers 403."""
    world = make_clinic(clinic.http, extra_staff=(("delegate", "BillingStaff"),))
    pid = world.patient()
    world.invoice(pid, 4_000, days_ago(world, 2))
    now = datetime.now(UTC)
    owner = ledger_ops.caller(world, "owner")
    grant = delegations.grant(UnitOfWork(), owner, now, grantee_sub=world.sub("delegate"),
                              permission="write_off", expires_at=now + timedelta(days=1))
    real_load = AccountRepository.load
    revoked = []

    def load_then_revoke(self, clinic_id, patient_id):
        loaded = real_load(self, clinic_id, patient_id)
        if not revoked:  # the Owner's revoke (its own request) lands between the delegate's check and commit
            delegations.revoke(UnitOfWork(), owner, now, grant.delegation_id)
            revoked.append(True)
        return loaded

    monkeypatch.setattr(AccountRepository, "load", load_then_revoke)
    before = snapshot(world, pid)
    with pytest.raises(Forbidden):
        writeoffs.write_off(UnitOfWork(), ledger_ops.caller(world, "delegate"), now, patient_id=pid,
                            reason="in flight")
    monkeypatch.undo()
    assert snapshot(world, pid) == before


def test_an_owner_demoted_while_writing_off_is_stopped_too(clinic, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 4_000, days_ago(clinic, 2))
    from chalicelib.store.models import StaffRecord

    real_load = AccountRepository.load

    def load_then_demote(self, clinic_id, patient_id):
        loaded = real_load(self, clinic_id, patient_id)
        record = StaffRecord.get(keys.clinic_pk(clinic.clinic_id), keys.staff_sk(clinic.sub("owner")))
        if record.role == "Owner":
            record.role = "Admin"
            record.save()
        return loaded

    monkeypatch.setattr(AccountRepository, "load", load_then_demote)
    try:
        with pytest.raises(Forbidden):
            writeoffs.write_off(UnitOfWork(), ledger_ops.caller(clinic, "owner"), datetime.now(UTC), patient_id=pid,
                                reason="in flight")
    finally:
        monkeypatch.undo()
    assert int(ledger_ops.profile(clinic.clinic_id, pid).balance_cents) == 4_000


def test_a_payment_that_lands_during_a_write_off_is_not_lost(clinic, monkeypatch):
    """The patient record's version makes the write-off reload and write off what is left."""
    pid = clinic.patient()
    clinic.invoice(pid, 4_000, days_ago(clinic, 2))
    real_load = AccountRepository.load
    paid = []

    def load_then_pay(self, clinic_id, patient_id):
        loaded = real_load(self, clinic_id, patient_id)
        if not paid:
            paid.append(None)  # the payment's own load goes through here too
            paid[0] = clinic.pay(pid, 1_500).status
        return loaded

    monkeypatch.setattr(AccountRepository, "load", load_then_pay)
    result = writeoffs.write_off(UnitOfWork(), ledger_ops.caller(clinic, "owner"), datetime.now(UTC), patient_id=pid,
                                 reason="race")
    monkeypatch.undo()
    assert paid == [201]
    assert result.written_off_cents == 2_500
    amounts = [int(e.amount_cents) for e in ledger_ops.ledger(clinic.clinic_id, pid)]
    assert amounts == [4_000, -1_500, -2_500]
