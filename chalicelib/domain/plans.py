"""Payment-plan schedules: pure functions over dates and cents."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

MAX_INSTALLMENTS = 120
FREQUENCIES = ("weekly", "monthly")


@dataclass(frozen=True)
class ScheduledInstallment:
    number: int
    due_date: date
    amount_cents: int


def add_months(start: date, months: int) -> date:
    """Business rule: monthly keeps the start day, clamped to short months (31 Jan -> 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def installment_count(total_cents: int, installment_cents: int) -> int:
    return -(-total_cents // installment_cents)


def build_schedule(total_cents: int, installment_cents: int, frequency: str, start: date
                   ) -> list[ScheduledInstallment]:
    """Business rule: every installment is `installment_cents`; the last takes the remainder."""
    if total_cents <= 0 or installment_cents <= 0:
        raise ValueError("total and installment must be positive")
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}")
    count = installment_count(total_cents, installment_cents)
    schedule = []
    for i in range(count):
        due = start + timedelta(weeks=i) if frequency == "weekly" else add_months(start, i)
        amount = installment_cents if i < count - 1 else total_cents - installment_cents * (count - 1)
        schedule.append(ScheduledInstallment(number=i + 1, due_date=due, amount_cents=amount))
    return schedule
