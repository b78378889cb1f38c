"""Aging: days overdue from the invoice date (never the service date) and the four buckets."""

from __future__ import annotations

from datetime import date, timedelta

BUCKETS = ("0-30", "31-60", "61-90", "90+")
# (lowest days, highest days) per bucket, inclusive; None = unbounded.
_BOUNDS = {"0-30": (0, 30), "31-60": (31, 60), "61-90": (61, 90), "90+": (91, None)}


def days_overdue(invoice_date: date, today: date) -> int:
    """Business rule: age counts whole clinic-local days since the invoice date."""
    return max(0, (today - invoice_date).days)


def bucket_for(days: int) -> str:
    """Business rule: 0-30, 31-60, 61-90, and 91 days or more is 90+."""
    for name, (low, high) in _BOUNDS.items():
        if days >= low and (high is None or days <= high):
            return name
    raise ValueError(f"negative age {days}")


def invoice_date_range(bucket: str, today: date) -> tuple[date | None, date]:
    """The invoice dates (inclusive; None = no lower bound) whose age today falls in `bucket`.

    This is what turns a bucket filter into a key condition on the invoice date.
    """
    low, high = _BOUNDS[bucket]
    newest = today - timedelta(days=low)
    oldest = None if high is None else today - timedelta(days=high)
    return oldest, newest
