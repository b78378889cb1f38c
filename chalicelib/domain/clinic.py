"""The clinic: the tenant, its time zone and currency, and where its nightly run stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from . import clock
from .contact_rules import DEFAULT_POLICY, ContactPolicy

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "INR", "NPR", "CHF", "SEK", "NOK", "DKK",
              "JPY", "ZAR", "MXN", "BRL", "SGD", "AED")


@dataclass
class Clinic:
    clinic_id: str
    name: str
    timezone: str
    currency: str
    created_at: datetime
    next_run_date: date | None = None  # the clinic-local date auto-invoicing runs next
    version: int | None = None  # the store's optimistic lock; None until first stored
    calendar_show_names: bool = False  # the Owner's choice: calendar events name the patient
    contact_policy: ContactPolicy = DEFAULT_POLICY  # the Owner's; Regulation F's figures by default

    def callback_summary(self, patient_name: str | None) -> str:
        """Business rule: what a calendar app shows of a callback. Feeds are polled and kept by
        third parties, so no patient is named unless the clinic's Owner chose it."""
        if self.calendar_show_names and patient_name:
            return f"Call back {patient_name}"
        return "Follow-up callback"

    def today(self, now: datetime) -> date:
        """Business rule: "today" is the clinic-local date at the instant `now`."""
        return clock.local_date(now, self.timezone)

    def next_run_at(self) -> datetime | None:
        """The instant the next run falls due: the first tick at or after 03:00 on its date."""
        return clock.run_instant(self.next_run_date, self.timezone) if self.next_run_date else None
