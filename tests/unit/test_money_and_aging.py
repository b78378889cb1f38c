from datetime import date

import pytest

from chalicelib.domain import aging
from chalicelib.domain.money import allocate_oldest_first


def test_a_payment_settles_each_balance_fully_before_the_next():
    assert allocate_oldest_first(150, [100, 100]) == [100, 50]


def test_what_exceeds_every_balance_is_left_over():
    parts = allocate_oldest_first(250, [100, 100])
    assert parts == [100, 100] and 250 - sum(parts) == 50


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        allocate_oldest_first(-1, [10])


@pytest.mark.parametrize("days,bucket", [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                         (61, "61-90"), (90, "61-90"), (91, "90+"), (4000, "90+")])
def test_bucket_boundaries(days, bucket):
    assert aging.bucket_for(days) == bucket


def test_age_counts_from_the_invoice_date_in_whole_days():
    assert aging.days_overdue(date(2026, 1, 1), date(2026, 3, 2)) == 60


def test_a_bucket_filter_is_a_range_of_invoice_dates():
    today = date(2026, 6, 30)
    assert aging.invoice_date_range("0-30", today) == (date(2026, 5, 31), today)
    assert aging.invoice_date_range("90+", today) == (None, date(2026, 3, 31))
    oldest, newest = aging.invoice_date_range("31-60", today)
    assert aging.days_overdue(newest, today) == 31 and aging.days_overdue(oldest, today) == 60
