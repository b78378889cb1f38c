"""Every change that commits announces itself in its own transaction (issue 18, the outbox): each
contract event type comes from the change that causes it with the documented `data` (ids,
amounts, dates and statuses), a refused or rolled-back change announces nothing, an idempotent
payment replay announces nothing again, and no event carries a name, phone, email, note or reason.

Events are read from the memory store's event items (`store.events`), what `uow.events.add` staged
in the change's transaction. That the event item rides in the very TransactWriteItems of the
change on DynamoDB is tests/api/test_events.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain.account import INSTALLMENT_INVOICES_PER_TRANSACTION
from chalicelib.domain.webhooks import EVENT_TYPES, event_id
from chalicelib.jobs.auto_invoicing import event_time
from chalicelib.services import attempts, callbacks, corrections, holds, invoicing, plans, writeoffs
from tests import memory
from tests.audit_support import CASES, SECRET_TEXT
from tests.fast.support import audit_entries, make_clinic
from tests.followups_support import ACTOR, as_staff, at, new_clinic, owing, pay
from tests.jobs.helpers import cw_event
from tests.ledger_ops import caller
from tests.webhooks_support import personal_strings_in_events

# What each audited change announces beside its audit record (the part tells two events of one
# change apart). Changes not listed announce nothing: they are not in the contract's list.
ANNOUNCES = {
    "invoice.created": ["invoice.created"], "payment.recorded": ["payment.recorded"],
    "writeoff.recorded": ["writeoff.recorded", "follow_up.closed"],
    "invoice.voided": ["invoice.voided", "follow_up.closed"],  # the patient's only invoice: nothing owed
    "invoice.adjusted": ["invoice.adjusted"], "payment.reversed": ["payment.reversed"],
    "plan.created": ["plan.created"], "plan.cancelled": ["plan.cancelled"],
    "hold.placed": ["hold.placed"], "hold.released": ["hold.released"],
    "attempt.logged": ["attempt.logged"], "callback.scheduled": ["callback.scheduled"],
}
PART = {"follow_up.closed": "closed", "hold.released": "released", "plan.completed": "completed"}
# A scenario's personal strings (tests/audit_support puts SECRET_TEXT in every free-text field).
PERSONAL = [SECRET_TEXT, "555 0100", "@mail.test", "Patient cannot keep it", "Entered twice", "Agreed discount",
            "Business reason for the write-off", "Ann Lee", "+1 202 555 0142", "ann.lee@example.test",
            "call after lunch", "lost her job"]


NOW = datetime.now(UTC)


def events_of(store, clinic_id: str) -> list:
    return sorted((e for (c, _), e in store.events.items() if c == clinic_id), key=lambda e: e.created_at)


def only(events, event_type: str):
    found = [e for e in events if e.type == event_type]
    assert len(found) == 1, [e.type for e in events]
    return found[0]


def nightly(when: str):
    return invoicing.run_scheduled(routing.unit_of_work(), event_time(cw_event(when)))


# ----- every change, through its route -------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_each_change_announces_its_events_in_its_own_transaction_naming_nobody(http, store, case):
    world = make_clinic(http)
    before = {e.event_id for e in events_of(store, world.clinic_id)}
    response, patient_id = case.run(world)
    assert response.status == case.status, response
    new = [e for e in events_of(store, world.clinic_id) if e.event_id not in before]
    [record] = [r for r in audit_entries(world.clinic_id, action=case.action)
                if not patient_id or r.patient_id == patient_id][:1]
    if case.action == "plan.invoiced":  # one per installment invoice, its id from the invoice's
        invoiced = [e for e in new if e.type == "plan.invoiced"]
        assert [e.event_id for e in invoiced] == [event_id("plan.invoiced", i["invoice_id"])
                                                 for i in record.details["invoices"]] != []
    for event_type in ANNOUNCES.get(case.action, []):
        announced = only(new, event_type)
        assert announced.event_id == event_id(event_type, record.audit_id, PART.get(event_type, ""))
        assert announced.data["patient_id"] == patient_id
        assert announced.created_at == record.at
    if case.action == "import.completed":  # each imported invoice is announced as any other invoice
        assert [e.type for e in new] == ["invoice.created"]
    elif patient_id is None:
        assert new == []  # clinic, staff, delegation and calendar changes are not in the contract's list
    assert personal_strings_in_events(new, PERSONAL) == []


def test_a_refused_change_announces_nothing(http, store):
    world = make_clinic(http)
    pid = world.patient()
    before = len(events_of(store, world.clinic_id))
    refused = [
        world.billing.post(f"/follow-ups/{pid}/write-off", {"reason": "no permission"}),  # 403
        world.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "nothing owed"}),  # 409
        world.billing.post("/invoices", {"patient_id": pid, "amount_cents": 0, "invoice_date": "2020-01-01"}),
        world.billing.post("/payments", {"patient_id": pid, "amount_cents": -5, "method": "card"},
                           headers={"Idempotency-Key": "k-refused"}),
        world.owner.post(f"/follow-ups/{pid}/hold", {"reason": "dispute", "until": "2020-01-01"}),
    ]
    assert [r.status for r in refused] == [403, 409, 400, 400, 400]
    assert len(events_of(store, world.clinic_id)) == before


def test_a_payment_replayed_with_its_idempotency_key_announces_nothing_again(http, store):
    world = make_clinic(http)
    pid = world.patient()
    world.invoice(pid, 5_000, world.today().isoformat())
    first = world.pay(pid, 2_000, key="replay-key-1")
    again = world.pay(pid, 2_000, key="replay-key-1")
    assert (first.status, again.status, again.body["payment_id"]) == (201, 201, first.body["payment_id"])
    recorded = [e for e in events_of(store, world.clinic_id) if e.type == "payment.recorded"]
    assert [e.data["payment_id"] for e in recorded] == [first.body["payment_id"]]


def test_a_payment_that_loses_a_race_announces_once_from_the_transaction_that_committed(store, monkeypatch):
    now = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(now)
    pid = owing(clinic_id, now, date(2026, 5, 1), cents=5_000)
    load = memory.AccountRepository.load
    raced = []

    def load_then_race(self, clinic, patient_id, *a, **kw):
        loaded = load(self, clinic, patient_id, *a, **kw)
        if not raced:  # another clerk's attempt commits between this read and the payment's commit
            raced.append(1)
            attempts.log(routing.unit_of_work(), as_staff(clinic_id), now, pid, channel="phone", outcome="no_answer")
        return loaded

    monkeypatch.setattr(memory.AccountRepository, "load", load_then_race)
    paid = pay(clinic_id, now, pid, 1_000)
    events = events_of(store, clinic_id)
    assert only(events, "payment.recorded").data["payment_id"] == paid["payment_id"]
    [record] = audit_entries(clinic_id, action="payment.recorded")
    assert only(events, "payment.recorded").event_id == event_id("payment.recorded", record.audit_id)


# ----- the documented data, type by type -----------------------------------------------------------
def test_a_payment_that_clears_a_held_balance_announces_the_payment_the_closing_and_the_hold_ending(store):
    now = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(now)
    pid = owing(clinic_id, now, date(2026, 5, 1), cents=5_000, name="Ann Lee")
    [invoice_id] = [e.data["invoice_id"] for e in events_of(store, clinic_id) if e.type == "invoice.created"]
    hold = holds.place(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid, reason="hardship",
                       until=date(2026, 6, 20), note="lost her job")
    paid = pay(clinic_id, now + timedelta(hours=1), pid, 5_000, note="call after lunch")
    events = events_of(store, clinic_id)
    assert only(events, "invoice.created").data == {
        "invoice_id": invoice_id, "patient_id": pid, "amount_cents": 5_000, "balance_cents": 5_000,
        "invoice_date": "2026-05-01", "service_date": None, "source": "manual", "status": "open"}
    assert only(events, "hold.placed").data == {"hold_id": hold.hold_id, "patient_id": pid, "reason": "hardship",
                                                "until": "2026-06-20"}
    assert only(events, "payment.recorded").data == {
        "payment_id": paid["payment_id"], "patient_id": pid, "amount_cents": 5_000, "balance_cents": 0,
        "received_at": "2026-06-01T15:00:00.000000Z", "method": "cash", "follow_up_status": "closed",
        "invoice_ids": [invoice_id], "plan_id": None}
    assert only(events, "follow_up.closed").data == {"patient_id": pid, "balance_cents": 0, "status": "closed",
                                                     "previous_status": "on_hold"}
    assert only(events, "hold.released").data == {"hold_id": hold.hold_id, "patient_id": pid, "status": "ended",
                                                  "follow_up_status": "closed"}
    assert personal_strings_in_events(events, PERSONAL) == []


def test_paying_a_plans_last_installment_announces_the_plan_completed(store):
    now = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(now)
    pid = owing(clinic_id, now, date(2026, 5, 1), cents=6_000)
    plan = plans.create(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid, installment_cents=3_000,
                        frequency="weekly", start_date=date(2026, 6, 2))
    assert only(events_of(store, clinic_id), "plan.created").data == {
        "plan_id": plan.plan_id, "patient_id": pid, "total_cents": 6_000, "installment_cents": 3_000,
        "frequency": "weekly", "start_date": "2026-06-02", "installments": 2}
    pay(clinic_id, now, pid, 3_000)
    assert [e for e in events_of(store, clinic_id) if e.type == "plan.completed"] == []
    pay(clinic_id, now, pid, 3_000)
    events = events_of(store, clinic_id)
    assert only(events, "plan.completed").data == {"plan_id": plan.plan_id, "patient_id": pid, "status": "completed"}
    assert only(events, "follow_up.closed").data["previous_status"] == "payment_plan"


def test_the_nightly_run_announces_each_installment_invoice_the_broken_promise_and_the_expired_hold(store):
    start = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(start)
    planned = owing(clinic_id, start, date(2026, 5, 1), cents=6_000)
    plan = plans.create(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=planned,
                        installment_cents=2_000, frequency="weekly", start_date=date(2026, 6, 2))
    promised = owing(clinic_id, start, date(2026, 5, 1), cents=9_000)
    attempts.log(routing.unit_of_work(), as_staff(clinic_id), start, promised, channel="phone",
                 outcome="promised_payment", promised_amount_cents=4_000, promised_date=date(2026, 6, 3))
    held = owing(clinic_id, start, date(2026, 5, 1), cents=1_000)
    hold = holds.place(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=held, reason="dispute",
                       until=date(2026, 6, 5))
    nightly("2026-06-17T07:00Z")  # 03:00 in New York, the plan's three weeks due, the promise and hold past
    events = events_of(store, clinic_id)
    invoiced = sorted((e for e in events if e.type == "plan.invoiced"), key=lambda e: e.data["installment_number"])
    assert [(e.data["installment_number"], e.data["amount_cents"], e.data["due_date"]) for e in invoiced] == [
        (1, 2_000, "2026-06-02"), (2, 2_000, "2026-06-09"), (3, 2_000, "2026-06-16")]
    assert {e.data["plan_id"] for e in invoiced} == {plan.plan_id}
    assert [e.event_id for e in invoiced] == [event_id("plan.invoiced", e.data["invoice_id"]) for e in invoiced]
    broken = only(events, "promise.broken").data
    assert (broken["patient_id"], broken["amount_cents"], broken["promised_date"], broken["status"]) == (
        promised, 4_000, "2026-06-03", "broken")
    assert only(events, "hold.released").data == {"hold_id": hold.hold_id, "patient_id": held, "status": "expired",
                                                  "follow_up_status": "open"}
    nightly("2026-06-18T07:00Z")  # nothing more to do: nothing more announced
    assert len(events_of(store, clinic_id)) == len(events)


def test_a_clerk_logging_no_payment_after_the_date_announces_the_attempt_and_the_broken_promise(store):
    now = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(now)
    pid = owing(clinic_id, now, date(2026, 5, 1), cents=9_000)
    attempts.log(routing.unit_of_work(), as_staff(clinic_id), now, pid, channel="phone",
                 outcome="promised_payment", promised_amount_cents=4_000, promised_date=date(2026, 6, 3))
    later = now + timedelta(days=4)
    logged = attempts.log(routing.unit_of_work(), as_staff(clinic_id), later, pid, channel="sms",
                          outcome="no_payment_despite_promise", notes="call after lunch")
    events = events_of(store, clinic_id)
    last = [e for e in events if e.type == "attempt.logged"][-1]
    assert last.data == {"attempt_id": logged.attempt.attempt_id, "patient_id": pid, "channel": "sms",
                         "outcome": "no_payment_despite_promise", "at": "2026-06-05T14:00:00.000000Z", "by": ACTOR}
    assert only(events, "promise.broken").data["status"] == "broken"


def test_a_write_off_announces_the_write_off_the_closing_the_cancelled_plan_and_the_hold_ending(clinic, store):
    pid = clinic.patient("Ann Lee", phone="+1 202 555 0142", email="ann.lee@example.test")
    clinic.invoice(pid, 6_000, (clinic.today() - timedelta(days=30)).isoformat(), description="lost her job")
    owner = caller(clinic, "owner")
    plan = plans.create(routing.unit_of_work(), owner, NOW, patient_id=pid, installment_cents=3_000,
                        frequency="weekly", start_date=clinic.today() + timedelta(days=1))
    hold = holds.place(routing.unit_of_work(), owner, NOW, patient_id=pid, reason="hardship",
                       until=clinic.today() + timedelta(days=20), note="call after lunch")
    done = writeoffs.write_off(routing.unit_of_work(), owner, NOW, patient_id=pid,
                               reason="Business reason for the write-off")
    events = events_of(store, clinic.clinic_id)
    assert only(events, "writeoff.recorded").data == {"patient_id": pid, "written_off_cents": 6_000,
                                                      "invoice_ids": done.written_off_invoice_ids,
                                                      "status": "written_off"}
    assert only(events, "follow_up.closed").data == {"patient_id": pid, "balance_cents": 0, "status": "written_off",
                                                     "previous_status": "on_hold"}
    assert only(events, "plan.cancelled").data == {"plan_id": plan.plan_id, "patient_id": pid, "remainder_cents": 0,
                                                   "invoice_id": None, "status": "cancelled"}
    assert only(events, "hold.released").data["hold_id"] == hold.hold_id
    assert personal_strings_in_events(events, PERSONAL) == []


def test_corrections_announce_the_void_the_adjustment_and_the_reversal_with_amounts_and_statuses(clinic, store):
    day = (clinic.today() - timedelta(days=30)).isoformat()
    pid, other = clinic.patient("Ann Lee"), clinic.patient()
    first = clinic.invoice(pid, 5_000, day)["invoice_id"]
    second = clinic.invoice(other, 3_000, day)["invoice_id"]
    owner = caller(clinic, "owner")
    adjusted = corrections.adjust_invoice(routing.unit_of_work(), owner, NOW, invoice_id=first, amount_cents=500,
                                          reason="Agreed discount")
    paid = clinic.pay(pid, 1_000).body
    reversed_ = corrections.reverse_payment(routing.unit_of_work(), owner, NOW, payment_id=paid["payment_id"],
                                            reason="returned", note="call after lunch")
    corrections.void_invoice(routing.unit_of_work(), owner, NOW, invoice_id=second, reason="Entered twice")
    events = events_of(store, clinic.clinic_id)
    assert only(events, "invoice.adjusted").data == {"adjustment_id": adjusted.adjustment_id, "invoice_id": first,
                                                     "patient_id": pid, "amount_cents": 500, "balance_cents": 4_500}
    assert only(events, "payment.reversed").data == {
        "reversal_id": reversed_.reversal.reversal_id, "payment_id": paid["payment_id"], "patient_id": pid,
        "amount_cents": 1_000, "balance_cents": 4_500, "follow_up_status": "open"}
    assert only(events, "invoice.voided").data == {"invoice_id": second, "patient_id": other, "amount_cents": 3_000,
                                                   "status": "void"}
    assert only(events, "follow_up.closed").data == {"patient_id": other, "balance_cents": 0, "status": "closed",
                                                     "previous_status": "open"}
    assert personal_strings_in_events(events, PERSONAL) == []


def test_cancelling_a_plan_releasing_a_hold_and_scheduling_a_callback_announce_their_ids_and_statuses(store):
    now = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(now)
    pid = owing(clinic_id, now, date(2026, 5, 1), cents=6_000)
    plan = plans.create(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid, installment_cents=3_000,
                        frequency="weekly", start_date=date(2026, 6, 2))
    plans.cancel(routing.unit_of_work(), as_staff(clinic_id), now, plan_id=plan.plan_id,
                 reason="Patient cannot keep it")
    hold = holds.place(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid, reason="dispute",
                       until=date(2026, 6, 20))
    holds.release(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid)
    callback = callbacks.schedule(routing.unit_of_work(), as_staff(clinic_id), now, pid,
                                  due_at=at("2026-06-02T15:00:00Z"), notes="call after lunch")
    events = events_of(store, clinic_id)
    cancelled = only(events, "plan.cancelled").data
    assert {k: cancelled[k] for k in ("plan_id", "patient_id", "remainder_cents", "status")} == {
        "plan_id": plan.plan_id, "patient_id": pid, "remainder_cents": 6_000, "status": "cancelled"}
    assert cancelled["invoice_id"].startswith("inv_")
    assert only(events, "hold.released").data == {"hold_id": hold.hold_id, "patient_id": pid, "status": "released",
                                                  "follow_up_status": "open"}
    assert only(events, "callback.scheduled").data == {
        "callback_id": callback.callback_id, "patient_id": pid, "due_at": "2026-06-02T15:00:00.000000Z",
        "assignee_sub": ACTOR, "status": "scheduled"}
    assert personal_strings_in_events(events, PERSONAL) == []


def test_every_contract_event_type_but_the_ping_is_announced_by_some_change():
    # The ping is webhooks.send_test's (tests/fast/test_webhooks.py).
    announced = {t for types in ANNOUNCES.values() for t in types} | {"plan.invoiced", "plan.completed",
                                                                        "promise.broken"}
    assert announced | {"ping"} == set(EVENT_TYPES)


# ----- the 100-item transaction ------------------------------------------------------------------
@pytest.fixture
def transaction_sizes(monkeypatch):
    sizes: list[int] = []
    send = memory.MemoryTransaction.send

    def measured(self):
        sizes.append(len(self))
        return send(self)

    monkeypatch.setattr(memory.MemoryTransaction, "send", measured)
    return sizes


def test_a_plan_whose_runs_were_missed_for_long_is_invoiced_in_transactions_under_100_items(store,
                                                                                           transaction_sizes):
    start = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(start)
    pid = owing(clinic_id, start, date(2026, 5, 1), cents=100_000)
    plans.create(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=pid, installment_cents=1_000,
                 frequency="weekly", start_date=date(2026, 6, 2))
    transaction_sizes.clear()
    result = nightly("2028-06-01T07:00Z")  # 100 weekly installments due at once
    assert clinic_id in result.clinics_run and clinic_id not in result.clinics_failed
    invoiced = [e for e in events_of(store, clinic_id) if e.type == "plan.invoiced"]
    assert sorted(e.data["installment_number"] for e in invoiced) == list(range(1, 101))
    assert max(transaction_sizes) <= 100
    assert max(transaction_sizes) >= 2 * INSTALLMENT_INVOICES_PER_TRANSACTION  # each invoice with its event


def test_converting_and_writing_off_accounts_of_hundreds_of_invoices_stays_under_100_items(clinic, store,
                                                                                          transaction_sizes):
    from tests.large_accounts_cases import seed_invoices

    owner = caller(clinic, "owner")
    pid = clinic.patient("Many Invoices")
    seed_invoices(lambda: routing.unit_of_work(), clinic, pid, 300)
    transaction_sizes.clear()
    plans.create(routing.unit_of_work(), owner, NOW, patient_id=pid, installment_cents=50_000,
                 frequency="monthly", start_date=clinic.today() + timedelta(days=1))
    assert max(transaction_sizes) <= 100, transaction_sizes  # 300 invoices into the plan, with plan.created
    seed_invoices(lambda: routing.unit_of_work(), clinic, pid, 300)  # and 300 open ones beside the plan
    holds.place(routing.unit_of_work(), owner, NOW, patient_id=pid, reason="hardship",
                until=clinic.today() + timedelta(days=20))
    transaction_sizes.clear()
    writeoffs.write_off(routing.unit_of_work(), owner, NOW, patient_id=pid, reason="Business reason for the write-off")
    events = events_of(store, clinic.clinic_id)
    for event_type in ("writeoff.recorded", "follow_up.closed", "plan.cancelled", "hold.released"):
        only(events, event_type)
    assert len(transaction_sizes) > 1 and max(transaction_sizes) <= 100, transaction_sizes
