"""The ledger invariant under random sequences of every money operation (pure domain, no AWS).

After every step:  balance == sum of ledger entries == sum of open invoice balances + the
active plan's uninvoiced remainder, the ledger's running balances follow from its amounts, and
an independent tally (invoiced - paid - written off) agrees. Refused operations change nothing.
The same machine runs through the services and DynamoDB in
tests/api/test_writeoffs_ledger_property.py.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.domain.account import (
    CLOSED,
    ON_HOLD,
    OPEN,
    PAYMENT_PLAN,
    PROMISED,
    WRITTEN_OFF,
    Account,
    Changes,
    Hold,
    Invoice,
    Payment,
    Promise,
)
from chalicelib.domain.errors import Conflict, Overpayment, ValidationError
from chalicelib.domain.plans import MAX_INSTALLMENTS

PATIENT = "pat_0123456789abcdef"
START = date(2026, 1, 15)


def check_ledger(entries: list[tuple[int, int]], balance: int) -> None:
    """entries: (amount, balance_after) oldest first."""
    running = 0
    for amount, after in entries:
        running += amount
        assert after == running, entries
        assert after >= 0
    assert running == balance


class AccountMachine(RuleBasedStateMachine):
    """One patient's account; each rule is one service call (load -> method -> stage)."""

    def __init__(self):
        super().__init__()
        self.account = Account(PATIENT)
        self.today = START
        self.ledger: list[tuple[int, int]] = []
        self.invoiced = self.paid = self.written_off = self.voided = self.adjusted = self.reversed = 0
        self.n = 0
        self.payments: list[Payment] = []
        self.plans: dict = {}  # every plan made, by id (a reversal may reactivate a completed one)

    # ----- helpers ---------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime(self.today.year, self.today.month, self.today.day, 15, tzinfo=UTC)

    def _next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_0123456789abcdef_{self.n:012d}"

    def _commit(self) -> None:
        """What stage_account does with the recorded changes: append the ledger entries."""
        balance = self.ledger[-1][1] if self.ledger else 0
        for entry in self.account.changes.ledger:
            balance += entry.amount_cents
            self.ledger.append((entry.amount_cents, balance))
        self.account.check_invariant()
        self.account.changes = Changes()

    def _refused(self, operation, error: type[Exception]) -> None:
        before = copy.deepcopy(self.account)
        with pytest.raises(error):
            operation()
        # The service discards a refused account; the domain must not have half-applied it either
        # for the errors raised before any change (all of those exercised here).
        assert self.account == before
        self.account.changes = Changes()

    # ----- rules -------------------------------------------------------------------------------
    @initialize(amounts=st.lists(st.integers(1, 50_000), min_size=0, max_size=3), days_back=st.integers(0, 90))
    def opening_invoices(self, amounts, days_back):
        """Most patients arrive owing something: start most runs with a balance."""
        for amount in amounts:
            self.invoice(amount, days_back)

    @rule(amount=st.integers(1, 50_000), days_back=st.integers(0, 90))
    def invoice(self, amount, days_back):
        self.account.add_invoice(Invoice(self._next_id("inv"), PATIENT, amount, amount,
                                         self.today - timedelta(days=days_back), created_at=self._now()))
        self.invoiced += amount
        self._commit()

    @precondition(lambda self: self.account.balance_cents > 0)
    @rule(data=st.data())
    def pay(self, data):
        amount = data.draw(st.integers(1, self.account.balance_cents), label="amount")
        named = None
        opened = self.account.open_invoices()
        if opened and data.draw(st.booleans(), label="name an invoice"):
            named = data.draw(st.sampled_from(opened), label="invoice").invoice_id
        payment_id = self._next_id("pay")
        allocations = self.account.apply_payment(amount, payment_id, self.today, invoice_id=named,
                                                 paid_at=self._now())
        assert sum(a.amount_cents for a in allocations) == amount
        for a in allocations:
            if a.invoice_id is None:
                assert sum(cents for _, cents in a.installments) == a.amount_cents
        if named is not None:
            assert allocations[0].invoice_id == named
        self.payments.append(Payment(payment_id, PATIENT, amount, "cash", self._now(), allocations,
                                     self.account.balance_cents, self._now(), "u"))
        self.paid += amount
        self._commit()

    @rule(extra=st.integers(1, 10_000))
    def overpay(self, extra):
        self._refused(lambda: self.account.apply_payment(self.account.balance_cents + extra, self._next_id("pay"),
                                                         self.today), Overpayment)

    @precondition(lambda self: self.account.plan is None and self.account.balance_cents > 0)
    @rule(data=st.data(), frequency=st.sampled_from(["weekly", "monthly"]), start_in=st.integers(0, 40))
    def convert_to_plan(self, data, frequency, start_in):
        balance = self.account.balance_cents
        installment = data.draw(st.integers(-(-balance // MAX_INSTALLMENTS), balance), label="installment")
        was_open = [i.invoice_id for i in self.account.open_invoices()]
        plan = self.account.convert_to_plan(self._next_id("plan"), installment, frequency,
                                            self.today + timedelta(days=start_in), self.today, self._now(), "u")
        assert plan.total_cents == balance == sum(i.amount_cents for i in plan.installments)
        assert all(self.account.invoices[i].status == "in_plan" for i in was_open)
        assert self.account.status in (PAYMENT_PLAN, ON_HOLD)
        self.plans[plan.plan_id] = plan
        self._commit()

    @precondition(lambda self: self.account.plan is not None)
    @rule()
    def convert_again(self):
        self._refused(lambda: self.account.convert_to_plan(self._next_id("plan"), 100, "weekly", self.today,
                                                           self.today, self._now(), "u"), Conflict)

    @rule(days=st.integers(0, 45))
    def nightly_run(self, days):
        """Time passes; the run invoices due installments and breaks promises whose date passed."""
        self.today += timedelta(days=days)
        created = self.account.invoice_due_installments(self.today, self._now())
        assert all(i.invoice_date <= self.today and i.source == "plan" for i in created)
        # Running again the same day creates nothing (exactly once).
        assert self.account.invoice_due_installments(self.today, self._now()) == []
        hold = self.account.hold
        if hold is not None and hold.until < self.today:
            self.account.release_hold()  # the first run after the hold's last day
        if (self.account.promise is not None and self.account.promise.promised_date < self.today
                and self.account.hold is None):  # never while on hold
            self.account.break_promise(self._now())
        self._commit()

    @precondition(lambda self: self.account.balance_cents > 0)
    @rule(data=st.data(), days=st.integers(0, 30))
    def promise(self, data, days):
        amount = data.draw(st.integers(1, self.account.balance_cents), label="promised")
        self.account.record_promise(Promise(self._next_id("prom"), self._next_id("att"), amount,
                                            self.today + timedelta(days=days), self._now(), "u"), self.today)
        self._commit()

    @rule()
    def write_off(self):
        owed = self.account.balance_cents
        if owed == 0:
            self._refused(lambda: self.account.write_off("aud_x"), Conflict)
            return
        plan = self.account.plan
        assert self.account.write_off(self._next_id("aud")) == owed
        assert self.account.changes.ledger[-1].amount_cents == -owed
        assert not self.account.open_invoices() and self.account.plan is None and self.account.promise is None
        if plan is not None:
            assert plan.status == "cancelled" and plan.next_due_date is None
        self.written_off += owed
        self._commit()

    # ----- corrections -------------------------------------------------------------------------
    @precondition(lambda self: self.account.invoices)
    @rule(data=st.data())
    def void(self, data):
        invoice = data.draw(st.sampled_from(sorted(self.account.invoices.values(), key=lambda i: i.invoice_id)))
        voidable = (invoice.is_open and invoice.paid_cents == 0 and invoice.source != "plan")
        if not voidable:
            self._refused(lambda: self.account.void_invoice(invoice.invoice_id, invoice.invoice_id), Conflict)
            return
        owed = invoice.balance_cents
        assert self.account.void_invoice(invoice.invoice_id, invoice.invoice_id) == owed
        assert self.account.invoices[invoice.invoice_id].status == "void"
        self.voided += owed
        self._commit()

    @precondition(lambda self: self.account.open_invoices())
    @rule(data=st.data())
    def adjust(self, data):
        invoice = data.draw(st.sampled_from(self.account.open_invoices()))
        if invoice.source == "plan":
            self._refused(lambda: self.account.adjust_invoice(invoice.invoice_id, 1, "adj"), Conflict)
            return
        too_much = invoice.balance_cents + 1
        self._refused(lambda: self.account.adjust_invoice(invoice.invoice_id, too_much, "adj"), ValidationError)
        amount = data.draw(st.integers(1, invoice.balance_cents), label="adjustment")
        self.account.adjust_invoice(invoice.invoice_id, amount, self._next_id("adj"))
        self.adjusted += amount
        self._commit()

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def reverse(self, data):
        payment = data.draw(st.sampled_from(self.payments), label="payment")
        active = self.account.plan.plan_id if self.account.plan else None
        others = {pid: p for pid, p in self.plans.items() if pid != active}
        before = copy.deepcopy(self.account)
        try:
            self.account.reverse_payment(payment, self._next_id("rev"), others)
        except Conflict as refused:
            assert self.account == before, refused  # refused whole, nothing half-applied
            if payment.reversed:
                assert refused.code == "already_reversed"
            self.account.changes = Changes()
            return
        assert not payment.reversed
        payment.reversal_id = self._next_id("rev")
        self.reversed += payment.amount_cents
        self._commit()

    @precondition(lambda self: any(i.source == "plan" for i in self.account.open_invoices()))
    @rule(data=st.data())
    def a_cheque_for_installments_bounces(self, data):
        """A payment that paid installment invoices (and maybe prepaid the plan) is reversed."""
        installment = next(i for i in self.account.open_invoices() if i.source == "plan")
        amount = data.draw(st.integers(installment.balance_cents, self.account.balance_cents), label="amount")
        self.pay_and_reverse(amount, installment.invoice_id)

    def pay_and_reverse(self, amount: int, invoice_id: str) -> None:
        payment_id = self._next_id("pay")
        allocations = self.account.apply_payment(amount, payment_id, self.today, invoice_id=invoice_id,
                                                 paid_at=self._now())
        self.paid += amount
        self._commit()
        payment = Payment(payment_id, PATIENT, amount, "check", self._now(), allocations, 0, self._now(), "u")
        active = self.account.plan.plan_id if self.account.plan else None
        self.account.reverse_payment(payment, self._next_id("rev"),
                                     {pid: p for pid, p in self.plans.items() if pid != active})
        assert self.account.invoices[invoice_id].is_open
        self.reversed += amount
        self._commit()

    @precondition(lambda self: self.account.plan is not None)
    @rule()
    def cancel_plan(self):
        plan = self.account.plan
        remainder = plan.uninvoiced_cents
        invoice = self.account.cancel_plan(plan.plan_id, self._next_id("inv"), self._now())
        assert plan.status == "cancelled" and self.account.plan is None
        if remainder:
            assert (invoice.amount_cents, invoice.source, invoice.invoice_date) == (
                remainder, "plan_remainder", plan.oldest_invoice_date)
        else:
            assert invoice is None
        assert not self.account.changes.ledger  # nothing owed changes
        self._commit()

    @precondition(lambda self: self.account.plan is not None)
    @rule(data=st.data(), frequency=st.sampled_from(["weekly", "monthly", None]), start_in=st.integers(0, 40))
    def change_plan(self, data, frequency, start_in):
        plan = self.account.plan
        remainder = plan.uninvoiced_cents
        issued = [(i.number, i.status, i.invoice_id) for i in plan.installments if i.status != "scheduled"]
        if remainder == 0:
            self._refused(lambda: self.account.change_plan(plan.plan_id, self.today, installment_cents=100), Conflict)
            return
        cents = data.draw(st.integers(-(-remainder // MAX_INSTALLMENTS), remainder), label="installment")
        self.account.change_plan(plan.plan_id, self.today, installment_cents=cents, frequency=frequency,
                                 next_due_date=self.today + timedelta(days=start_in))
        assert plan.uninvoiced_cents == remainder
        assert [(i.number, i.status, i.invoice_id) for i in plan.installments
                if i.status != "scheduled" and i.invoice_id] == [x for x in issued if x[2]]
        assert len({i.number for i in plan.installments}) == len(plan.installments)
        assert not self.account.changes.ledger
        self._commit()

    @rule(until_in=st.integers(-2, 200), reason=st.sampled_from(["dispute", "hardship"]))
    def place_hold(self, until_in, reason):
        hold = Hold(self._next_id("hold"), reason, self.today + timedelta(days=until_in), "u", self._now())
        if not 1 <= until_in <= 180:
            self._refused(lambda: self.account.place_hold(hold, self.today), ValidationError)
        elif self.account.balance_cents == 0 or self.account.hold is not None:
            self._refused(lambda: self.account.place_hold(hold, self.today), Conflict)
        else:
            self.account.place_hold(hold, self.today)
            assert self.account.status == ON_HOLD
            self._commit()

    @rule()
    def release_hold(self):
        if self.account.hold is None:
            self._refused(self.account.release_hold, Conflict)
            return
        self.account.release_hold()
        self._commit()

    # ----- invariants --------------------------------------------------------------------------
    @invariant()
    def balance_equals_ledger_equals_open_invoices_plus_plan_remainder(self):
        a = self.account
        remainder = a.plan.uninvoiced_cents if a.plan else 0
        assert a.balance_cents == sum(amount for amount, _ in self.ledger)
        assert a.balance_cents == sum(i.balance_cents for i in a.open_invoices()) + remainder
        assert a.balance_cents == (self.invoiced - self.paid - self.written_off - self.voided - self.adjusted
                                   + self.reversed)
        check_ledger(self.ledger, a.balance_cents)

    @invariant()
    def invoices_plans_and_status_agree(self):
        a = self.account
        for i in a.invoices.values():
            assert 0 <= i.balance_cents <= i.amount_cents
            assert (i.status == "paid") == (i.balance_cents == 0 and i.status not in ("written_off", "in_plan", "void"))
            if i.status in ("written_off", "void"):
                assert i.balance_cents == 0
            assert i.paid_cents >= 0
        if a.plan is not None:
            assert a.plan.status == "active"
            assert sum(i.amount_cents for i in a.plan.installments) == a.plan.total_cents
            for inst in a.plan.installments:
                assert 0 <= inst.prepaid_cents <= inst.amount_cents
                if inst.invoice_id:
                    assert a.invoices[inst.invoice_id].plan_id == a.plan.plan_id
        if a.balance_cents == 0:
            assert a.status in (CLOSED, WRITTEN_OFF) and a.hold is None
        elif a.hold is not None:
            assert a.status == ON_HOLD
        elif a.plan is not None:
            assert a.status == PAYMENT_PLAN
        elif a.promise is not None:
            assert a.status == PROMISED
        else:
            assert a.status == OPEN


AccountMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_the_ledger_invariant_holds_after_every_money_operation = AccountMachine.TestCase
