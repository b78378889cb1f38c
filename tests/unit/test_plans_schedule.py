from datetime import date

import pytest

from chalicelib.domain.plans import add_months, build_schedule


def test_monthly_keeps_the_start_day_and_clamps_to_short_months():
    dates = [s.due_date for s in build_schedule(400, 100, "monthly", date(2028, 1, 31))]
    assert dates == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]


def test_weekly_adds_seven_days():
    dates = [s.due_date for s in build_schedule(300, 100, "weekly", date(2026, 12, 29))]
    assert dates == [date(2026, 12, 29), date(2027, 1, 5), date(2027, 1, 12)]


def test_the_last_installment_takes_the_remainder():
    assert [s.amount_cents for s in build_schedule(1001, 250, "weekly", date(2026, 1, 1))] == [250, 250, 250, 250, 1]


@pytest.mark.parametrize("total,step", [(1, 1), (99, 100), (12_345, 17), (100_000_000, 999_999)])
def test_installments_always_add_up_to_the_total(total, step):
    assert sum(s.amount_cents for s in build_schedule(total, step, "monthly", date(2026, 1, 31))) == total


def test_add_months_crosses_years():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
