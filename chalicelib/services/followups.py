"""The follow-up worklist (one Query on the sparse `worklist` index per page) and a patient's detail.

Aging is computed at read time from the clinic-local today: nothing rewrites rows as days pass.
The index order is "most overdue first", a bucket or invoice-date filter is a key range, and a
cursor is the last row a page returned (keyset pagination: rows that did not change are never
skipped or repeated, whatever happens to other rows between pages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from ..domain import aging, clock, contact_rules
from ..domain import cursor as cursors
from ..domain.account import CLOSED, FOLLOW_UP_STATUSES, WRITTEN_OFF, Invoice, Patient, Payment, Plan
from ..domain.clinic import Clinic
from ..domain.contact import Attempt, Callback
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id
from ..domain.roles import Caller
from . import clinics, pages

# Only patients with an open invoice are in the index, and those are never closed or written off.
_NEVER_LISTED = (CLOSED, WRITTEN_OFF)
DEFAULT_LIMIT = 25
RECENT_PAYMENTS = 20
WORKLIST = "worklist"
_PATIENT_ID = re.compile(r"^pat_[0-9a-z]{6,40}$")


@dataclass(frozen=True)
class NextAction:
    type: str  # callback, promise, installment
    due: datetime | date  # an instant for a callback, a date otherwise


def next_action(tz: str, next_callback_at: datetime | None, promise_date: date | None,
                installment_date: date | None) -> NextAction | None:
    """Business rule: the earliest of the next scheduled callback (at its instant), the pending
    promise and the plan's next uninvoiced installment (each from the start of its clinic-local
    day); on a tie a callback comes first, then the promise."""
    options = []
    if next_callback_at is not None:
        options.append((next_callback_at, 0, NextAction("callback", next_callback_at)))
    if promise_date is not None:
        options.append((clock.start_of_local_day(promise_date, tz), 1, NextAction("promise", promise_date)))
    if installment_date is not None:
        options.append((clock.start_of_local_day(installment_date, tz), 2, NextAction("installment", installment_date)))
    if not options:
        return None
    return min(options, key=lambda o: (o[0], o[1]))[2]


def date_window(today: date, bucket: str | None, date_from: date | None,
                date_to: date | None) -> tuple[date | None, date | None] | None:
    """Business rule: the oldest-open-invoice dates the filters allow (inclusive; None = open
    end), or None when bucket and date range do not overlap (an empty list, not an error)."""
    low, high = date_from, date_to
    if bucket is not None:
        oldest, newest = aging.invoice_date_range(bucket, today)
        if oldest is not None:
            low = oldest if low is None else max(low, oldest)
        high = newest if high is None else min(high, newest)
    if low is not None and high is not None and low > high:
        return None
    return low, high


@dataclass(frozen=True)
class FollowUpRow:
    """A patient as the worklist shows them today."""

    patient: Patient
    days_overdue: int | None
    bucket: str | None
    next_action: NextAction | None
    contact: contact_rules.ContactState
    zone: str  # the time zone the rules judged the row in: the patient's own, else the clinic's


def contact_of(clinic: Clinic, patient: Patient, now: datetime) -> contact_rules.ContactState:
    """The patient's contact state now, from the row's own facts (no read)."""
    return contact_rules.contact_state(clinic.contact_policy, clinic.timezone, patient.contact_facts(), now)


def row(patient: Patient, today: date, clinic: Clinic, now: datetime,
        contact: contact_rules.ContactState | None = None) -> FollowUpRow:
    tz = clinic.timezone
    days = bucket = None
    if patient.oldest_open_invoice_date is not None:
        days = aging.days_overdue(patient.oldest_open_invoice_date, today)
        bucket = aging.bucket_for(days)
    promise = patient.pending_promise
    return FollowUpRow(patient, days, bucket, next_action(
        tz, patient.next_callback_at, promise.promised_date if promise else None, patient.plan_next_due),
        contact if contact is not None else contact_of(clinic, patient, now), patient.contact_facts().zone(tz))


@dataclass(frozen=True)
class Filters:
    bucket: str | None = None
    min_balance_cents: int | None = None
    max_balance_cents: int | None = None
    invoice_date_from: date | None = None
    invoice_date_to: date | None = None
    status: str | None = None
    contactable: bool = False  # only patients no contact rule blocks from a call now

    def check(self) -> None:
        problems = {}
        if self.bucket is not None and self.bucket not in aging.BUCKETS:
            problems["bucket"] = f"one of {', '.join(aging.BUCKETS)}"
        if self.status is not None and self.status not in FOLLOW_UP_STATUSES:
            problems["status"] = f"one of {', '.join(FOLLOW_UP_STATUSES)}"
        if (self.min_balance_cents is not None and self.max_balance_cents is not None
                and self.min_balance_cents > self.max_balance_cents):
            problems["max_balance_cents"] = "must not be less than min_balance_cents"
        if (self.invoice_date_from is not None and self.invoice_date_to is not None
                and self.invoice_date_from > self.invoice_date_to):
            problems["invoice_date_to"] = "must not be before invoice_date_from"
        if problems:
            raise ValidationError("invalid filter", fields=problems)


@dataclass(frozen=True)
class WorklistPage:
    as_of: date
    rows: list[FollowUpRow]
    next_cursor: str | None


def _after(cursor: str) -> tuple[date, str]:
    position = cursors.decode(WORKLIST, cursor)
    bad = ValidationError("cursor is not a cursor this list returned", fields={"cursor": "invalid"})
    if len(position) != 2 or not all(isinstance(p, str) for p in position) or not _PATIENT_ID.match(position[1]):
        raise bad
    try:
        return date.fromisoformat(position[0]), position[1]
    except ValueError as e:
        raise bad from e


def worklist(uow, caller: Caller, now: datetime, filters: Filters | None = None, *, limit: int = DEFAULT_LIMIT,
             cursor: str | None = None) -> WorklistPage:
    """One page of the clinic's follow-ups, most overdue first."""
    filters = filters or Filters()
    filters.check()
    if not 1 <= limit <= 100:
        raise ValidationError("limit must be 1-100", fields={"limit": "must be 1-100"})
    after = _after(cursor) if cursor is not None else None
    clinic = clinics.get(uow, caller.clinic_id)
    today = clinic.today(now)
    window = date_window(today, filters.bucket, filters.invoice_date_from, filters.invoice_date_to)
    if window is None or filters.status in _NEVER_LISTED:
        return WorklistPage(today, [], None)
    states: dict[str, contact_rules.ContactState] = {}

    def callable_now(patient: Patient) -> bool:
        # Judged once per row read: the rows kept reuse their state for `contact`.
        states[patient.patient_id] = state = contact_of(clinic, patient, now)
        return state.call_now

    patients, resume_after = uow.accounts.worklist_page(
        caller.clinic_id, low=window[0], high=window[1], after=after, limit=limit,
        min_balance_cents=filters.min_balance_cents, max_balance_cents=filters.max_balance_cents,
        status=filters.status, keep=callable_now if filters.contactable else None)
    next_cursor = cursors.encode(WORKLIST, [resume_after[0].isoformat(), resume_after[1]]) if resume_after else None
    return WorklistPage(today, [row(p, today, clinic, now, states.get(p.patient_id)) for p in patients],
                        next_cursor)


# ----- one patient's follow-up ---------------------------------------------------------------
@dataclass(frozen=True)
class FollowUpDetail:
    as_of: date
    row: FollowUpRow
    invoices: pages.Page[Invoice]  # newest first, the first page of GET /patients/{id}/invoices
    payments: list[Payment]  # the latest RECENT_PAYMENTS, newest first
    attempts: pages.Page[Attempt]  # newest first
    callbacks: pages.Page[Callback]  # newest first
    plan: Plan | None


def detail(uow, caller: Caller, now: datetime, patient_id: str) -> FollowUpDetail:
    """A patient's follow-up: the account (one Query of the patient record, invoices and plans),
    the latest payments, and the first page of attempts and callbacks (one Query each): what
    it reads does not grow with the patient's history."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic = clinics.get(uow, caller.clinic_id)
    loaded = uow.accounts.load(caller.clinic_id, patient_id)
    if loaded is None:
        raise NotFound(f"no patient {patient_id}")
    today = clinic.today(now)
    patient = loaded.patient
    invoices = pages.invoice_page(pages.newest_invoices_first(loaded.account.invoices.values()), patient_id,
                                  pages.DETAIL_ITEMS, None)
    payments = sorted(uow.accounts.payments_of(caller.clinic_id, patient_id, RECENT_PAYMENTS),
                      key=lambda p: (p.received_at, p.payment_id), reverse=True)
    attempts = pages.attempts(uow, caller, patient_id, limit=pages.DETAIL_ITEMS, cursor=None, check_patient=False)
    callbacks = pages.callbacks(uow, caller, patient_id, limit=pages.DETAIL_ITEMS, cursor=None, check_patient=False)
    return FollowUpDetail(today, row(patient, today, clinic, now), invoices, payments, attempts, callbacks,
                          loaded.account.plan)
