"""Plans through the API, for both tiers: a patient owing invoices of given ages, and a conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.clock import local_date


def today(clinic) -> date:
    return local_date(datetime.now(UTC), clinic.timezone)


def days(clinic, n: int) -> str:
    return (today(clinic) + timedelta(days=n)).isoformat()


def owing(clinic, *amounts: int, age_days: int = 40) -> str:
    pid = clinic.patient("Plan Patient")
    for n, cents in enumerate(amounts):
        clinic.invoice(pid, cents, days(clinic, -age_days + n))
    return pid


def convert(clinic, pid: str, installment_cents=3_000, frequency="monthly", start_date=None, who="billing"):
    return clinic.as_(who).post(f"/follow-ups/{pid}/payment-plan", {
        "installment_cents": installment_cents, "frequency": frequency,
        "start_date": start_date or today(clinic).isoformat()})
