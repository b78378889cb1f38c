"""One set of repository scenarios, run against DynamoDB (moto) and against tests/memory.py.

The fast tier trusts the memory store to refuse and order what DynamoDB refuses and orders; these
are the conditions that trust rests on: creates, versions, all-or-nothing, the worklist's order and
pages, idempotency expiry. (Signatures are pinned by tests/fast/test_memory_parity.py.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.account import Allocation, Invoice, Patient, Payment
from chalicelib.domain.audit import AuditEntry, StoredResponse
from chalicelib.domain.clinic import Clinic
from chalicelib.domain.ids import new_child_id, new_clinic_id, new_id, new_patient_id
from chalicelib.domain.team import ACTIVE, PENDING, Delegation, Enrolment, StaffMember
from chalicelib.store.uow import StaleWrite

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def a_patient(oldest: date | None = None, balance_cents: int = 0, status: str = "closed") -> Patient:
    return Patient(new_patient_id(), "Contract Patient", NOW, "tester", balance_cents=balance_cents, status=status,
                   oldest_open_invoice_date=oldest)


def an_audit_entry(patient_id: str | None = None) -> AuditEntry:
    return AuditEntry(new_id("aud"), NOW, "tester", "test.done", patient_id, {"n": 1})


def stored_patient(new_uow, clinic_id: str, **kw) -> Patient:
    uow = new_uow()
    patient = a_patient(**kw)
    uow.accounts.add_patient(clinic_id, patient)
    uow.commit()
    return uow.accounts.get_patient(clinic_id, patient.patient_id, consistent=True)


# ----- creates -------------------------------------------------------------------------------
def test_creating_an_item_that_exists_is_a_stale_write_with_its_label(new_uow, clinic_id):
    clinic = Clinic(clinic_id, "Contract Clinic", "UTC", "USD", NOW, date(2026, 3, 10))
    first = new_uow()
    first.clinics.add(clinic)
    first.commit()
    again = new_uow()
    again.clinics.add(clinic)
    with pytest.raises(StaleWrite) as refused:
        again.commit()
    assert refused.value.failed == ["clinic"]
    assert again.staged == 0


# ----- versions and all-or-nothing -----------------------------------------------------------
def test_a_stale_version_refuses_the_whole_transaction_and_names_what_failed(new_uow, clinic_id):
    pid = stored_patient(new_uow, clinic_id).patient_id
    first, second = new_uow(), new_uow()
    mine, theirs = first.accounts.load(clinic_id, pid), second.accounts.load(clinic_id, pid)
    for loaded, cents in ((mine, 1_000), (theirs, 2_000)):
        loaded.account.add_invoice(Invoice(new_child_id("inv", pid), pid, cents, cents, date(2026, 3, 1),
                                           created_at=NOW))
    first.accounts.stage(mine, NOW)
    first.commit()
    second.accounts.stage(theirs, NOW)
    loser_entry = an_audit_entry(pid)
    second.audit.add(clinic_id, loser_entry)
    with pytest.raises(StaleWrite) as refused:
        second.commit()
    # the new invoice could be created, but the ledger's entry 1 and the patient's version were taken
    assert refused.value.failed == ["ledger", "patient"]
    after = new_uow()
    assert after.accounts.get_patient(clinic_id, pid, consistent=True).balance_cents == 1_000
    assert [line.amount_cents for line in after.accounts.ledger_page(clinic_id, pid, 1000, None)[0]] == [1_000]
    assert list(after.accounts.load(clinic_id, pid).account.invoices.values())[0].amount_cents == 1_000
    entries, _ = after.audit.search(clinic_id, patient_id=pid, action=None, limit=10, before=None)
    assert loser_entry.audit_id not in [e.audit_id for e in entries]


def test_a_save_bumps_the_version_and_a_second_save_of_the_same_read_is_refused(new_uow, clinic_id):
    patient = stored_patient(new_uow, clinic_id)
    assert patient.version == 1
    for expected in ("saved", "refused"):
        uow = new_uow()
        uow.accounts.save_patient(clinic_id, patient)
        if expected == "saved":
            uow.commit()
        else:
            with pytest.raises(StaleWrite) as refused:
                uow.commit()
            assert refused.value.failed == ["patient"]
    assert new_uow().accounts.get_patient(clinic_id, patient.patient_id, consistent=True).version == 2


def test_a_clinic_saved_alone_gets_its_new_version_or_a_stale_write(new_uow, clinic_id):
    uow = new_uow()
    uow.clinics.add(Clinic(clinic_id, "Contract Clinic", "UTC", "USD", NOW, date(2026, 3, 10)))
    uow.commit()
    clinic, stale = uow.clinics.get(clinic_id, consistent=True), uow.clinics.get(clinic_id, consistent=True)
    clinic.next_run_date = date(2026, 3, 11)
    uow.clinics.save_now(clinic)
    assert clinic.version == 2 and uow.staged == 0
    with pytest.raises(StaleWrite) as refused:
        uow.clinics.save_now(stale)
    assert refused.value.failed == ["clinic"]


# ----- the worklist --------------------------------------------------------------------------
def test_the_worklist_runs_most_overdue_first_and_pages_without_skipping_or_repeating(new_uow, clinic_id):
    days = [date(2026, 1, 5), date(2026, 2, 1), date(2026, 1, 5), date(2025, 12, 24), date(2026, 3, 1)]
    made = [stored_patient(new_uow, clinic_id, oldest=d, balance_cents=1_000 * (n + 1), status="open")
            for n, d in enumerate(days)]
    stored_patient(new_uow, clinic_id)  # nothing open: not on the worklist
    expected = sorted((p.oldest_open_invoice_date, p.patient_id) for p in made)
    uow, seen, after = new_uow(), [], None
    while True:
        page, after = uow.accounts.worklist_page(clinic_id, low=None, high=None, after=after, limit=2)
        seen += [(p.oldest_open_invoice_date, p.patient_id) for p in page]
        if after is None:
            break
        assert after == seen[-1]
    assert seen == expected
    window, _ = uow.accounts.worklist_page(clinic_id, low=date(2026, 1, 1), high=date(2026, 2, 1), after=None,
                                           limit=10, min_balance_cents=2_000)
    assert [p.patient_id for p in window] == [made[2].patient_id, made[1].patient_id]


# ----- idempotency ---------------------------------------------------------------------------
def test_an_idempotency_key_holds_until_it_expires_and_can_then_be_taken_over(new_uow, clinic_id):
    expires = NOW + timedelta(hours=1)
    first = new_uow()
    first.idempotency.add(clinic_id, "payments", "key-1", StoredResponse("sha-a", 201, {"id": "a"}, NOW, expires), NOW)
    first.commit()
    assert new_uow().idempotency.get(clinic_id, "payments", "key-1", NOW).body == {"id": "a"}
    racer = new_uow()
    racer.idempotency.add(clinic_id, "payments", "key-1", StoredResponse("sha-b", 201, {"id": "b"}, NOW, expires), NOW)
    with pytest.raises(StaleWrite) as refused:
        racer.commit()
    assert refused.value.failed == ["idempotency"]
    later = NOW + timedelta(hours=2)
    assert new_uow().idempotency.get(clinic_id, "payments", "key-1", later) is None
    takeover = new_uow()
    takeover.idempotency.add(clinic_id, "payments", "key-1",
                             StoredResponse("sha-c", 201, {"id": "c"}, later, later + timedelta(hours=1)), later)
    takeover.commit()
    assert new_uow().idempotency.get(clinic_id, "payments", "key-1", later).request_sha256 == "sha-c"


# ----- the checks that guard permissions -----------------------------------------------------
def test_a_demotion_or_a_revoke_that_lands_first_refuses_what_relied_on_it(new_uow, clinic_id):
    owner, delegate = StaffMember("sub-owner", "o@example.test", "O", "Owner"), StaffMember(
        "sub-delegate", "d@example.test", "D", "BillingStaff")
    grant = Delegation(new_id("dlg"), delegate.sub, "write_off", NOW + timedelta(days=1), owner.sub, NOW)
    setup = new_uow()
    setup.staff.add(clinic_id, owner)
    setup.staff.add(clinic_id, delegate)
    setup.delegations.add(clinic_id, grant)
    setup.commit()
    revoke = new_uow()
    grant.revoked_at, grant.revoked_by = NOW, owner.sub
    revoke.delegations.save_revoked(clinic_id, grant)
    revoke.staff.require_role(clinic_id, owner, "Owner", label="owner")
    revoke.commit()
    twice, relying = new_uow(), new_uow()
    twice.delegations.save_revoked(clinic_id, grant)
    with pytest.raises(StaleWrite) as refused:
        twice.commit()
    assert refused.value.failed == ["delegation"]
    relying.staff.require_member(clinic_id, delegate)
    relying.delegations.require_unrevoked(clinic_id, grant)
    relying.staff.require_role(clinic_id, owner, "Admin", label="owner")
    entry = an_audit_entry()
    relying.audit.add(clinic_id, entry)
    with pytest.raises(StaleWrite) as refused:
        relying.commit()
    assert refused.value.failed == ["permission", "owner"]  # the member check held; the other two did not
    after = new_uow()
    assert after.delegations.active(clinic_id, NOW) == []
    assert after.audit.search(clinic_id, patient_id=None, action=None, limit=10, before=None) == ([], False)


# ----- creating a staff member ---------------------------------------------------------------
def test_an_email_is_enrolled_once_per_clinic_and_activated_once(new_uow, clinic_id):
    pending = Enrolment("New@Example.test", "N", "Admin", PENDING, NOW.isoformat(), "tester")
    first, racing = new_uow(), new_uow()
    first.staff.begin_enrolment(clinic_id, pending)
    first.commit()
    racing.staff.begin_enrolment(clinic_id, pending)
    with pytest.raises(StaleWrite) as refused:
        racing.commit()
    assert refused.value.failed == ["staff_enrolment"]
    assert new_uow().staff.enrolment(clinic_id, "new@example.test") == pending  # found whatever the case
    assert new_uow().staff.enrolment(new_clinic_id(), "new@example.test") is None  # per clinic

    # A retry that asks for another role replaces it only while it is as it was read.
    changed = Enrolment(pending.email, "N", "BillingStaff", PENDING, NOW.isoformat(), "tester")
    stale, fresh = new_uow(), new_uow()
    fresh.staff.begin_enrolment(clinic_id, changed, replaces=pending)
    fresh.commit()
    stale.staff.begin_enrolment(clinic_id, pending, replaces=pending)
    with pytest.raises(StaleWrite):
        stale.commit()

    member = StaffMember("sub-new", pending.email, "N", "BillingStaff", NOW.isoformat())
    active = Enrolment(pending.email, "N", "BillingStaff", ACTIVE, NOW.isoformat(), "tester", "sub-new")
    asks_other, activating = new_uow(), new_uow()
    asks_other.staff.activate(clinic_id, Enrolment(pending.email, "N", "Admin", ACTIVE, NOW.isoformat(), "tester",
                                                   "sub-other"), StaffMember("sub-other", pending.email, "N", "Admin"))
    with pytest.raises(StaleWrite) as refused:
        asks_other.commit()  # the enrolment no longer asks for Admin: nothing of it is written
    assert refused.value.failed == ["staff_enrolment"]
    assert new_uow().staff.get(clinic_id, "sub-other", consistent=True) is None
    activating.staff.activate(clinic_id, active, member)
    activating.commit()
    after = new_uow()
    assert after.staff.enrolment(clinic_id, pending.email) == active
    assert after.staff.get(clinic_id, "sub-new", consistent=True) == member
    assert [m.sub for m in after.staff.list(clinic_id)] == ["sub-new"]  # enrolments are not members
    again = new_uow()
    again.staff.activate(clinic_id, active, member)
    with pytest.raises(StaleWrite) as refused:
        again.commit()
    assert sorted(refused.value.failed) == ["staff", "staff_enrolment"]


def test_the_clinic_and_a_member_are_read_together_and_either_may_be_missing(new_uow, clinic_id):
    clinic = Clinic(clinic_id, "Contract Clinic", "UTC", "USD", NOW, date(2026, 3, 10))
    member = StaffMember("sub-reader", "r@example.test", "R", "Admin", NOW.isoformat())
    setup = new_uow()
    setup.clinics.add(clinic)
    setup.staff.add(clinic_id, member)
    setup.commit()
    uow = new_uow()
    found, who = uow.clinics.get_with_member(clinic_id, member.sub)
    assert (found.clinic_id, found.name, who) == (clinic_id, "Contract Clinic", member)
    assert uow.clinics.get(clinic_id).name == "Contract Clinic"
    assert uow.clinics.get_with_member(clinic_id, "sub-nobody")[1] is None
    assert new_uow().clinics.get_with_member(new_clinic_id(), member.sub) == (None, None)


def test_two_actions_on_one_item_in_one_transaction_are_refused_and_nothing_is_applied(new_uow, clinic_id):
    member = StaffMember("sub-twice", "t@example.test", "T", "Admin")
    uow = new_uow()
    uow.staff.add(clinic_id, member)
    uow.staff.require_member(clinic_id, member)
    with pytest.raises(Exception) as refused:
        uow.commit()
    assert not isinstance(refused.value, StaleWrite)  # a bug in the service, not a race to retry
    assert new_uow().staff.get(clinic_id, member.sub, consistent=True) is None


# ----- reads by time -------------------------------------------------------------------------
def test_the_audit_reads_newest_first_in_pages_before_the_last_entry_shown(new_uow, clinic_id):
    uow = new_uow()
    entries = [AuditEntry(new_id("aud"), NOW + timedelta(minutes=n), "tester", "test.done", None, {}) for n in range(5)]
    for entry in entries:
        uow.audit.add(clinic_id, entry)
    uow.commit()
    page, more = uow.audit.search(clinic_id, patient_id=None, action=None, limit=2, before=None)
    assert [e.audit_id for e in page] == [entries[4].audit_id, entries[3].audit_id] and more
    page, more = uow.audit.search(clinic_id, patient_id=None, action=None, limit=3, before=page[-1])
    assert [e.audit_id for e in page] == [e.audit_id for e in entries[2::-1]] and not more


def test_a_timeline_range_includes_its_start_and_excludes_its_end(new_uow, clinic_id):
    pid = stored_patient(new_uow, clinic_id).patient_id
    uow = new_uow()
    for minutes in (0, 30, 60):
        at = NOW + timedelta(minutes=minutes)
        uow.accounts.add_payment(clinic_id, Payment(new_child_id("pay", pid), pid, 100 + minutes, "cash", at,
                                                    [Allocation(None, 100)], 0, at, "tester"))
        uow.commit()
    found = list(uow.accounts.payments_between(clinic_id, NOW, NOW + timedelta(minutes=60)))
    assert [(p.amount_cents, p.received_at) for p in found] == [(100, NOW), (130, NOW + timedelta(minutes=30))]


def test_a_commit_refused_for_its_size_leaves_nothing_staged_to_send_again(new_uow, clinic_id):
    from chalicelib.domain.errors import Conflict

    uow = new_uow()
    for _ in range(101):
        uow.audit.add(clinic_id, an_audit_entry())
    with pytest.raises(Conflict):
        uow.commit()
    assert uow.staged == 0
    uow.audit.add(clinic_id, an_audit_entry())
    uow.commit()  # the next change of the same unit of work sends only itself
    entries, _ = new_uow().audit.search(clinic_id, patient_id=None, action=None, limit=100, before=None)
    assert len(entries) == 1


def test_a_clinics_contact_policy_is_stored_and_a_clinic_without_one_reads_the_defaults(new_uow, clinic_id):
    from datetime import time

    from chalicelib.domain.contact_rules import DEFAULT_POLICY, ContactPolicy

    uow = new_uow()
    uow.clinics.add(Clinic(clinic_id, "Policy Clinic", "Asia/Kathmandu", "NPR", NOW, date(2026, 3, 10)))
    uow.commit()
    assert new_uow().clinics.get(clinic_id, consistent=True).contact_policy == DEFAULT_POLICY
    policy = ContactPolicy(time(9, 30), time(17, 45), 3, 0)
    uow = new_uow()
    clinic = uow.clinics.get(clinic_id, consistent=True)
    clinic.contact_policy = policy
    uow.clinics.save(clinic)
    uow.commit()
    assert new_uow().clinics.get(clinic_id, consistent=True).contact_policy == policy


def test_a_patients_contact_facts_come_back_whole_and_a_row_without_them_reads_empty(new_uow, clinic_id):
    from chalicelib.domain.contact_rules import ContactFacts

    patient = stored_patient(new_uow, clinic_id, oldest=date(2026, 1, 5), balance_cents=1_000, status="open")
    assert patient.contact == ContactFacts()
    facts = ContactFacts("Asia/Kathmandu", frozenset({"phone", "sms"}),
                         ((NOW - timedelta(days=1), "no_answer"), (NOW, "dispute")), NOW, date(2026, 3, 20))
    uow = new_uow()
    patient.contact = facts
    uow.accounts.save_patient(clinic_id, patient)
    uow.commit()
    assert new_uow().accounts.get_patient(clinic_id, patient.patient_id, consistent=True).contact == facts
    [listed], _ = new_uow().accounts.worklist_page(clinic_id, low=None, high=None, after=None, limit=5)
    assert listed.contact == facts  # the worklist's index item carries them


def test_the_worklist_keeps_only_the_rows_a_predicate_keeps_and_pages_past_the_others(new_uow, clinic_id):
    made = [stored_patient(new_uow, clinic_id, oldest=date(2026, 1, n + 1), balance_cents=1_000, status="open")
            for n in range(7)]
    kept = {p.patient_id for n, p in enumerate(made) if n % 2 == 0}
    uow, seen, after = new_uow(), [], None
    while True:
        page, after = uow.accounts.worklist_page(clinic_id, low=None, high=None, after=after, limit=2,
                                                 keep=lambda p: p.patient_id in kept)
        seen += [p.patient_id for p in page]
        if after is None:
            break
    assert seen == [p.patient_id for p in made if p.patient_id in kept]


def test_an_attempts_rule_flags_and_a_callbacks_override_reach_the_timeline_events(new_uow, clinic_id):
    from chalicelib.domain.contact import Attempt, Callback

    pid = stored_patient(new_uow, clinic_id).patient_id
    uow = new_uow()
    uow.contacts.add_attempt(clinic_id, Attempt(new_child_id("att", pid), pid, NOW, "clerk", "phone", "no_answer",
                                                rule_flags=("outside_call_hours", "call_cap")))
    uow.contacts.add_attempt(clinic_id, Attempt(new_child_id("att", pid), pid, NOW, "clerk", "sms", "no_answer"))
    uow.contacts.add_callback(clinic_id, Callback(new_child_id("cb", pid), pid, NOW, "clerk", "scheduled", NOW,
                                                  "clerk", override_reason="works nights", override_by="boss"))
    uow.commit()
    window = (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    flags = sorted(e.rule_flags for e in new_uow().contacts.attempts_between(clinic_id, *window))
    assert flags == [(), ("outside_call_hours", "call_cap")]
    [callback] = new_uow().contacts.callbacks_between(clinic_id, *window)
    assert callback.override_by == "boss"
    [stored] = new_uow().contacts.callbacks_of(clinic_id, pid).values()
    assert (stored.override_reason, stored.override_by) == ("works nights", "boss")
