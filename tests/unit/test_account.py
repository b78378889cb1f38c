"""The patient's account: what payments settle, what a plan moves, what a write-off zeroes."""

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.account import Account, Invoice, Promise
from chalicelib.domain.errors import Conflict, Overpayment, ValidationError

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
TODAY = date(2026, 5, 1)


def account_with(*invoices: tuple[str, int, date]) -> Account:
    acc = Account("pat_aaaaaaaaaaaaaaaa")
    for invoice_id, cents, day in invoices:
        acc.add_invoice(Invoice(invoice_id, acc.patient_id, cents, cents, day, created_at=NOW))
    acc.changes.__init__()
    return acc


def test_a_payment_settles_the_oldest_invoice_first():
    acc = account_with(("inv_new", 100, date(2026, 4, 1)), ("inv_old", 100, date(2026, 1, 1)))
    allocations = acc.apply_payment(150, "pay_1", TODAY)
    assert [(a.invoice_id, a.amount_cents) for a in allocations] == [("inv_old", 100), ("inv_new", 50)]
    assert acc.invoices["inv_old"].status == "paid" and acc.balance_cents == 50
    acc.check_invariant()


def test_a_named_invoice_is_settled_before_older_ones():
    acc = account_with(("inv_new", 100, date(2026, 4, 1)), ("inv_old", 100, date(2026, 1, 1)))
    allocations = acc.apply_payment(120, "pay_1", TODAY, invoice_id="inv_new")
    assert [(a.invoice_id, a.amount_cents) for a in allocations] == [("inv_new", 100), ("inv_old", 20)]


def test_paying_more_than_is_owed_is_refused_and_changes_nothing():
    acc = account_with(("inv_a", 100, date(2026, 4, 1)))
    with pytest.raises(Overpayment):
        acc.apply_payment(101, "pay_1", TODAY)
    assert acc.balance_cents == 100 and acc.changes.ledger == []


def test_clearing_the_balance_closes_the_follow_up():
    acc = account_with(("inv_a", 100, date(2026, 4, 1)))
    acc.apply_payment(100, "pay_1", TODAY)
    assert acc.status == "closed" and acc.oldest_open_invoice_date is None


def test_aging_reads_the_oldest_open_invoice():
    acc = account_with(("inv_a", 100, date(2026, 1, 30)), ("inv_b", 100, date(2026, 4, 1)))
    assert acc.aging(TODAY) == (91, "90+")
    acc.apply_payment(100, "pay_1", TODAY)
    assert acc.aging(TODAY) == (30, "0-30")


def test_a_plan_takes_the_whole_balance_and_moves_open_invoices_into_it():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)), ("inv_b", 500, date(2026, 4, 2)))
    plan = acc.convert_to_plan("plan_1", 400, "monthly", date(2026, 5, 31), TODAY, NOW, "sub")
    assert [i.amount_cents for i in plan.installments] == [400, 400, 400, 300]
    assert [i.due_date for i in plan.installments][:2] == [date(2026, 5, 31), date(2026, 6, 30)]
    assert {i.status for i in acc.invoices.values()} == {"in_plan"}
    assert acc.status == "payment_plan" and acc.oldest_open_invoice_date is None
    acc.check_invariant()
    assert acc.changes.ledger == []  # debt moved, nothing owed changed


def test_installments_become_invoices_dated_their_due_date_once():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    acc.convert_to_plan("plan_x_1", 400, "weekly", TODAY, TODAY, NOW, "sub")
    created = acc.invoice_due_installments(date(2026, 5, 8), NOW)
    assert [(i.invoice_date, i.amount_cents) for i in created] == [(date(2026, 5, 1), 400), (date(2026, 5, 8), 400)]
    assert acc.invoice_due_installments(date(2026, 5, 8), NOW) == []
    acc.check_invariant()


def test_money_beyond_open_invoices_prepays_the_plan_from_its_last_installment():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    acc.convert_to_plan("plan_x_1", 400, "weekly", TODAY, TODAY, NOW, "sub")
    acc.invoice_due_installments(TODAY, NOW)  # 400 invoiced, 600 in the plan
    acc.apply_payment(700, "pay_1", TODAY)
    installments = acc.plan.installments
    assert [i.status for i in installments] == ["paid", "scheduled", "paid"]
    assert installments[1].prepaid_cents == 100
    acc.check_invariant()
    acc.apply_payment(300, "pay_2", TODAY)
    assert acc.plan is None and acc.status == "closed"


def test_a_second_plan_while_one_is_active_is_a_conflict():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    acc.convert_to_plan("plan_x_1", 400, "weekly", TODAY, TODAY, NOW, "sub")
    with pytest.raises(Conflict):
        acc.convert_to_plan("plan_x_2", 400, "weekly", TODAY, TODAY, NOW, "sub")


def test_more_than_120_installments_is_refused():
    acc = account_with(("inv_a", 12_100, date(2026, 4, 1)))
    with pytest.raises(ValidationError):
        acc.convert_to_plan("plan_x_1", 100, "weekly", TODAY, TODAY, NOW, "sub")


def test_a_promise_is_kept_when_payments_reach_it_by_its_date():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    acc.record_promise(Promise("prom_1", "att_1", 500, date(2026, 5, 10), NOW, "sub"), TODAY)
    assert acc.status == "promised"
    acc.apply_payment(200, "pay_1", date(2026, 5, 5))
    assert acc.promise is not None
    acc.apply_payment(300, "pay_2", date(2026, 5, 10))
    assert acc.promise is None and acc.promises_kept == 1 and acc.status == "open"


def test_a_payment_after_the_promised_date_does_not_keep_it():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    acc.record_promise(Promise("prom_1", "att_1", 500, date(2026, 5, 10), NOW, "sub"), TODAY)
    acc.apply_payment(500, "pay_1", date(2026, 5, 11))
    assert acc.promise is not None and acc.promises_kept == 0


def test_a_write_off_zeroes_open_invoices_and_cancels_the_plan():
    acc = account_with(("inv_a", 1000, date(2026, 4, 1)))
    plan = acc.convert_to_plan("plan_x_1", 400, "weekly", TODAY, TODAY, NOW, "sub")
    acc.invoice_due_installments(TODAY, NOW)
    assert acc.write_off("ref") == 1000
    assert plan.status == "cancelled" and acc.status == "written_off" and acc.balance_cents == 0
    assert acc.changes.ledger[-1].amount_cents == -1000
    acc.check_invariant()
    with pytest.raises(Conflict):
        acc.write_off("ref")
