"""Contact with a patient: attempts (what happened) and callbacks (what is planned)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

CHANNELS = ("phone", "email", "sms", "in_person")
OUTCOMES = ("no_answer", "promised_payment", "dispute", "hung_up", "refused", "no_payment_despite_promise")
PROMISED_PAYMENT = "promised_payment"
NO_PAYMENT_DESPITE_PROMISE = "no_payment_despite_promise"
MAX_NOTES = 2000

SCHEDULED, DONE, CANCELLED = "scheduled", "done", "cancelled"
CALLBACK_STATUSES = (SCHEDULED, DONE, CANCELLED)


@dataclass(frozen=True)
class LastAttempt:
    """What the worklist row shows of the patient's latest attempt."""

    at: datetime
    channel: str
    outcome: str
    by: str


@dataclass
class Attempt:
    attempt_id: str
    patient_id: str
    at: datetime
    by: str
    channel: str
    outcome: str
    notes: str | None = None
    promised_amount_cents: int | None = None
    promised_date: date | None = None
    promise_id: str | None = None
    rule_flags: tuple[str, ...] = ()  # the contact rules it broke, judged when it was logged

    def summary(self) -> LastAttempt:
        return LastAttempt(self.at, self.channel, self.outcome, self.by)


@dataclass
class Callback:
    callback_id: str
    patient_id: str
    due_at: datetime
    assignee_sub: str
    status: str
    created_at: datetime
    created_by: str
    notes: str | None = None
    updated_at: datetime | None = None
    done_at: datetime | None = None
    override_reason: str | None = None  # why it was scheduled although a contact rule blocks due_at
    override_by: str | None = None  # who gave that reason

    @property
    def is_scheduled(self) -> bool:
        return self.status == SCHEDULED


def next_callback_at(callbacks) -> datetime | None:
    """Business rule: a patient's next callback is the soonest one still scheduled."""
    due = [c.due_at for c in callbacks if c.is_scheduled]
    return min(due) if due else None


@dataclass(frozen=True)
class CalendarFeed:
    """One member's secret calendar URL: only the secret's SHA-256 is kept."""

    sub: str
    secret_sha256: str
    created_at: datetime
