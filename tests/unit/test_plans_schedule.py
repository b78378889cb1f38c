"""Payment-plan schedules and the plan's life inside the Account aggregate (no AWS)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.account import Account, Invoice
from chalicelib.domain.errors import NothingOwed, PlanActive, ValidationError
from chalicelib.domain.ids import installment_invoice_id, new_child_id, new_patient_id, patient_of
from chalicelib.domain.plans import MAX_INSTALLMENTS, add_months, build_schedule

NOW = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
TODAY = date(2026, 1, 10)


def test_monthly_installments_keep_the_start_day_clamped_to_short_months():
    dates = [s.due_date for s in build_schedule(4_000, 1_000, "monthly", date(2024, 1, 31))]
    assert dates == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 31), 2) == date(2026, 3, 31)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_weekly_installments_are_seven_days_apart():
    dates = [s.due_date for s in build_schedule(3_000, 1_000, "weekly", date(2026, 12, 28))]
    assert dates == [date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 11)]


def test_the_last_installment_takes_the_remainder():
    schedule = build_schedule(10_001, 2_500, "monthly", TODAY)
    assert [s.amount_cents for s in schedule] == [2_500, 2_500, 2_500, 2_500, 1]
    assert [s.number for s in schedule] == [1, 2, 3, 4, 5]


@given(total=st.integers(1, 10_000_000), installment=st.integers(1, 10_000_000),
       frequency=st.sampled_from(["weekly", "monthly"]),
       start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
def test_a_schedule_adds_up_to_the_total_in_ascending_dates(total, installment, frequency, start):
    if -(-total // installment) > MAX_INSTALLMENTS:
        return
    schedule = build_schedule(total, installment, frequency, start)
    assert sum(s.amount_cents for s in schedule) == total
    assert all(0 < s.amount_cents <= installment for s in schedule)
    assert all(a.due_date < b.due_date for a, b in zip(schedule, schedule[1:], strict=False))
    assert schedule[0].due_date == start


def _account_owing(*amounts_and_dates) -> Account:
    account = Account(patient_id=new_patient_id())
    for n, (cents, day) in enumerate(amounts_and_dates):
        account.add_invoice(Invoice(f"inv_x_{n}", account.patient_id, cents, cents, day, created_at=NOW))
    account.changes = type(account.changes)()
    return account


def _plan(account: Account, installment=1_000, frequency="monthly", start=TODAY):
    plan_id = new_child_id("plan", account.patient_id)
    return account.convert_to_plan(plan_id, installment, frequency, start, TODAY, NOW, "sub-1")


def test_converting_moves_open_invoices_into_the_plan_without_a_ledger_entry():
    account = _account_owing((2_000, date(2025, 12, 1)), (1_500, date(2026, 1, 2)))
    plan = _plan(account)
    assert plan.total_cents == 3_500 and [i.amount_cents for i in plan.installments] == [1_000, 1_000, 1_000, 500]
    assert {i.status for i in account.invoices.values()} == {"in_plan"}
    assert account.status == "payment_plan" and account.balance_cents == 3_500
    assert account.changes.ledger == [] and account.oldest_open_invoice_date is None
    account.check_invariant()


def test_conversion_is_refused_for_nothing_owed_an_active_plan_a_past_start_or_too_many_installments():
    with pytest.raises(NothingOwed) as nothing:
        _plan(Account(patient_id=new_patient_id()))
    assert nothing.value.code == "conflict"
    account = _account_owing((5_000, TODAY))
    with pytest.raises(ValidationError):
        _plan(account, start=TODAY - timedelta(days=1))
    with pytest.raises(ValidationError):
        _plan(account, installment=41)  # 122 installments
    _plan(account, installment=42)  # 120 installments is the most
    with pytest.raises(PlanActive) as active:
        _plan(account)
    assert active.value.code == "conflict"


def test_due_installments_are_invoiced_once_dated_their_due_date_with_deterministic_ids():
    account = _account_owing((3_000, date(2025, 12, 1)))
    plan = _plan(account, frequency="weekly", start=TODAY)
    created = account.invoice_due_installments(TODAY + timedelta(days=8), NOW)
    assert [(i.invoice_id, i.invoice_date) for i in created] == [
        (installment_invoice_id(plan.plan_id, 1), TODAY),
        (installment_invoice_id(plan.plan_id, 2), TODAY + timedelta(days=7))]
    assert all(patient_of(i.invoice_id, "inv") == account.patient_id for i in created)
    assert account.invoice_due_installments(TODAY + timedelta(days=8), NOW) == []
    assert account.oldest_open_invoice_date == TODAY and account.balance_cents == 3_000
    assert plan.next_due_date == TODAY + timedelta(days=14)
    account.check_invariant()


def test_payments_settle_installment_invoices_oldest_first_then_prepay_from_the_last_installment():
    account = _account_owing((4_000, date(2025, 12, 1)))
    plan = _plan(account, frequency="weekly")
    account.invoice_due_installments(TODAY + timedelta(days=7), NOW)  # installments 1 and 2
    allocations = account.apply_payment(2_500, "pay_1", TODAY + timedelta(days=8))
    assert [(a.invoice_id, a.amount_cents) for a in allocations] == [
        (installment_invoice_id(plan.plan_id, 1), 1_000), (installment_invoice_id(plan.plan_id, 2), 1_000),
        (None, 500)]
    assert [(i.status, i.prepaid_cents) for i in plan.installments] == [
        ("paid", 0), ("paid", 0), ("scheduled", 0), ("scheduled", 500)]
    # the prepaid part is not invoiced again: installment 4 is invoiced for what is left
    created = account.invoice_due_installments(TODAY + timedelta(days=21), NOW)
    assert [(i.installment_number, i.amount_cents, i.balance_cents) for i in created] == [(3, 1_000, 1_000),
                                                                                          (4, 1_000, 500)]
    account.check_invariant()
    account.apply_payment(1_500, "pay_2", TODAY + timedelta(days=22))
    assert plan.status == "completed" and account.plan is None and account.status == "closed"
    account.check_invariant()
