"""The bounds of what a client may send: the calendar range of input dates, and how far ahead a plan may go."""

from __future__ import annotations

from datetime import date, timedelta

from .errors import ValidationError

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
HORIZON_DAYS = 366


def in_calendar_range(day: date) -> bool:
    """Business rule: every date and instant a client sends lies between 1900-01-01 and
    2199-12-31 (an instant by the date it is written with). Nothing real is outside, and inside
    it every conversion (to UTC, across a time zone, a schedule of 120 months) stays within
    what `datetime` can hold."""
    return EARLIEST_DATE <= day <= LATEST_DATE


RANGE_MESSAGE = f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"


def check_within_horizon(field: str, day: date, today: date, *, days: int = HORIZON_DAYS) -> None:
    """Business rule: a date someone commits to ahead of time (a plan's first installment, a
    promised payment, the end of a hold) is at most `days` (366) after the clinic's today."""
    last = today + timedelta(days=days)
    if day > last:
        raise ValidationError(f"{field} is more than {days} days after today",
                              fields={field: f"at most {days} days after today ({last.isoformat()})"})
