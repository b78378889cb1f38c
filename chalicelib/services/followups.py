"""The follow-up worklist (one Query on the sparse `worklist` index per page) and a patient's detail.

Aging is computed at read time from the clinic-local today: nothing rewrites rows as days pass.
The index sort key is `<oldest open invoice date>#<patient_id>`, so "most overdue first" is the
index order, a bucket or invoice-date filter is a key condition, and a cursor is the last sort
key a page returned (keyset pagination: rows that did not change are never skipped or repeated,
whatever happens to other rows between pages).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date, datetime

from ..domain import aging, clock
from ..domain.clock import parse_iso_z, short_z
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id
from ..store import accounts, keys
from ..store.models import (
    AttemptRecord,
    CallbackRecord,
    InvoiceRecord,
    PatientRecord,
    PaymentRecord,
    PlanRecord,
    Record,
)
from . import attempts, callbacks, clinics, invoices, patients, payments
from . import plans as plan_service

OPEN, PROMISED, PAYMENT_PLAN, CLOSED, WRITTEN_OFF = "open", "promised", "payment_plan", "closed", "written_off"
STATUSES = (OPEN, PROMISED, PAYMENT_PLAN, CLOSED, WRITTEN_OFF)
# Only patients with an open invoice are in the index, and those are never closed or written off.
_NEVER_LISTED = (CLOSED, WRITTEN_OFF)
DEFAULT_LIMIT = 25
RECENT_PAYMENTS = 20
# A balance or status filter is a filter expression: DynamoDB reads the rows of the key range
# and drops the ones that do not match. A page keeps querying until it is full, within this
# budget; past it the page comes back short with a cursor where reading stopped.
FILTER_MAX_QUERIES = 8
FILTER_MAX_READ = 2_000
FILTER_MAX_PAGE = 1_000

_CURSOR_PREFIX = "wl1|"
_WL_SK = re.compile(r"^\d{4}-\d{2}-\d{2}#pat_[0-9a-z]{6,40}$")
_HIGHEST = "~"  # sorts after every character of a patient id and after '#'
_AFTER = "!"  # sorts before every character of a patient id: `<sk>!` is the first key after <sk>


# ----- pure helpers --------------------------------------------------------------------------
def encode_cursor(wl_sk: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + wl_sk).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The worklist sort key a cursor continues after; anything else is a 400."""
    bad = ValidationError("cursor is not a cursor this list returned", fields={"cursor": "invalid"})
    if not isinstance(cursor, str) or not cursor or len(cursor) > 200:
        raise bad
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise bad from e
    if not text.startswith(_CURSOR_PREFIX) or not _WL_SK.match(text[len(_CURSOR_PREFIX):]):
        raise bad
    return text[len(_CURSOR_PREFIX):]


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


def sort_key_range(window: tuple[date | None, date | None], after: str | None) -> tuple[str, str] | None:
    """The `wl_sk BETWEEN lo AND hi` of a page: the date window, strictly after the cursor."""
    low, high = window
    lo = f"{low.isoformat()}#" if low else "0000-00-00#"
    hi = f"{high.isoformat()}#{_HIGHEST}" if high else f"9999-99-99#{_HIGHEST}"
    if after is not None:
        lo = max(lo, after + _AFTER)
    return (lo, hi) if lo <= hi else None


def next_action(tz: str, next_callback_at: datetime | None, promise_date: date | None,
                installment_date: date | None) -> dict | None:
    """Business rule: the earliest of the next scheduled callback (at its instant), the pending
    promise and the plan's next uninvoiced installment (each from the start of its clinic-local
    day); on a tie a callback comes first, then the promise."""
    options = []
    if next_callback_at is not None:
        options.append((next_callback_at, 0, {"type": "callback", "due": short_z(next_callback_at)}))
    if promise_date is not None:
        options.append((clock.start_of_local_day(promise_date, tz), 1,
                        {"type": "promise", "due": promise_date.isoformat()}))
    if installment_date is not None:
        options.append((clock.start_of_local_day(installment_date, tz), 2,
                        {"type": "installment", "due": installment_date.isoformat()}))
    if not options:
        return None
    return min(options, key=lambda o: (o[0], o[1]))[2]


def age_of(oldest_open_invoice_date: str | None, today: date) -> tuple[int | None, str | None]:
    if not oldest_open_invoice_date:
        return None, None
    days = aging.days_overdue(date.fromisoformat(oldest_open_invoice_date), today)
    return days, aging.bucket_for(days)


# ----- rows ----------------------------------------------------------------------------------
def last_attempt_view(r: PatientRecord) -> dict | None:
    a = r.last_attempt
    if a is None:
        return None
    return {"at": short_z(parse_iso_z(a.at)), "channel": a.channel, "outcome": a.outcome, "by": a.by}


def next_action_of(r: PatientRecord, tz: str) -> dict | None:
    promise = r.pending_promise
    return next_action(
        tz,
        parse_iso_z(r.next_callback_at) if r.next_callback_at else None,
        date.fromisoformat(promise.promised_date) if promise is not None else None,
        date.fromisoformat(r.plan_next_due) if r.plan_next_due else None)


def row(r: PatientRecord, today: date, tz: str) -> dict:
    days, bucket = age_of(r.oldest_open_invoice_date, today)
    return {"patient_id": r.patient_id, "patient_name": r.name, "status": r.status,
            "balance_cents": int(r.balance_cents), "oldest_invoice_date": r.oldest_open_invoice_date,
            "days_overdue": days, "bucket": bucket, "last_attempt": last_attempt_view(r),
            "next_action": next_action_of(r, tz)}


# ----- the worklist --------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    bucket: str | None = None
    min_balance_cents: int | None = None
    max_balance_cents: int | None = None
    invoice_date_from: date | None = None
    invoice_date_to: date | None = None
    status: str | None = None

    def check(self) -> None:
        problems = {}
        if self.bucket is not None and self.bucket not in aging.BUCKETS:
            problems["bucket"] = f"one of {', '.join(aging.BUCKETS)}"
        if self.status is not None and self.status not in STATUSES:
            problems["status"] = f"one of {', '.join(STATUSES)}"
        if (self.min_balance_cents is not None and self.max_balance_cents is not None
                and self.min_balance_cents > self.max_balance_cents):
            problems["max_balance_cents"] = "must not be less than min_balance_cents"
        if (self.invoice_date_from is not None and self.invoice_date_to is not None
                and self.invoice_date_from > self.invoice_date_to):
            problems["invoice_date_to"] = "must not be before invoice_date_from"
        if problems:
            raise ValidationError("invalid filter", fields=problems)

    def condition(self):
        """The filter expression for what the key condition cannot say, or None."""
        parts = []
        if self.min_balance_cents is not None:
            parts.append(PatientRecord.balance_cents >= self.min_balance_cents)
        if self.max_balance_cents is not None:
            parts.append(PatientRecord.balance_cents <= self.max_balance_cents)
        if self.status is not None:
            parts.append(PatientRecord.status == self.status)
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        return condition


def worklist(clinic_id: str, now: datetime, filters: Filters | None = None, *, limit: int = DEFAULT_LIMIT,
             cursor: str | None = None) -> dict:
    """One page of the clinic's follow-ups, most overdue first."""
    filters = filters or Filters()
    filters.check()
    if not 1 <= limit <= 100:
        raise ValidationError("limit must be 1-100", fields={"limit": "must be 1-100"})
    after = decode_cursor(cursor) if cursor is not None else None
    clinic = clinics.get(clinic_id)
    today = clinic.today(now)
    page = {"as_of": today.isoformat(), "items": [], "next_cursor": None}
    window = date_window(today, filters.bucket, filters.invoice_date_from, filters.invoice_date_to)
    if window is None or filters.status in _NEVER_LISTED:
        return page
    bounds = sort_key_range(window, after)
    if bounds is None:
        return page
    rows, resume_after = _read_page(clinic_id, bounds, filters.condition(), limit)
    page["items"] = [row(r, today, clinic.timezone) for r in rows]
    page["next_cursor"] = encode_cursor(resume_after) if resume_after else None
    return page


def _read_page(clinic_id: str, bounds: tuple[str, str], condition, limit: int
               ) -> tuple[list[PatientRecord], str | None]:
    """Up to `limit` rows in the key range, and the sort key the next page continues after.

    Asks for limit + 1 rows: the extra row proves there is a next page without another call.
    Without a filter that is exactly one Query reading at most limit + 1 items.
    """
    found: list[PatientRecord] = []
    start_key = None
    calls = read = 0
    while True:
        want = limit + 1 - len(found)
        size = want if condition is None else min(FILTER_MAX_PAGE, max(want, (limit + 1) * 2 ** calls))
        result = Record.worklist.query(
            keys.clinic_pk(clinic_id), Record.wl_sk.between(*bounds), filter_condition=condition,
            page_size=size, last_evaluated_key=start_key)
        raw = next(result.page_iter)
        calls += 1
        read += raw["ScannedCount"]
        found.extend(Record.from_raw_data(item) for item in raw.get("Items", []))
        start_key = raw.get("LastEvaluatedKey")
        if len(found) > limit:
            return found[:limit], found[limit - 1].wl_sk
        if start_key is None:
            return found, None
        if calls >= FILTER_MAX_QUERIES or read >= FILTER_MAX_READ:
            # A short page: the next one continues after the last row read, matching or not.
            return found, start_key["wl_sk"]["S"]


# ----- one patient's follow-up ---------------------------------------------------------------
def promise_view(m) -> dict:
    return {"promise_id": m.promise_id, "attempt_id": m.attempt_id, "amount_cents": int(m.amount_cents),
            "promised_date": m.promised_date, "paid_cents": int(m.paid_cents or 0),
            "made_at": short_z(parse_iso_z(m.made_at)), "made_by": m.made_by, "status": m.status}


def detail(clinic_id: str, patient_id: str, now: datetime) -> dict:
    """Everything about one patient's follow-up from one Query on the patient's partition."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    clinic = clinics.get(clinic_id)
    profile = None
    inv, pays, atts, cbs, plans = [], [], [], [], {}
    for item in Record.query(keys.patient_pk(clinic_id, patient_id), consistent_read=True):
        if isinstance(item, PatientRecord):
            profile = item
        elif isinstance(item, InvoiceRecord):
            inv.append(accounts.invoice_from(item))
        elif isinstance(item, PaymentRecord):
            pays.append(item)
        elif isinstance(item, AttemptRecord):
            atts.append(item)
        elif isinstance(item, CallbackRecord):
            cbs.append(item)
        elif isinstance(item, PlanRecord):
            plans[item.plan_id] = item
    if profile is None:
        raise NotFound(f"no patient {patient_id}")
    today = clinic.today(now)
    days, bucket = age_of(profile.oldest_open_invoice_date, today)
    inv.sort(key=lambda i: (i.invoice_date, i.created_at or datetime.min, i.invoice_id), reverse=True)
    pays.sort(key=lambda p: (p.received_at, p.payment_id), reverse=True)
    atts.sort(key=lambda a: (a.at, a.attempt_id), reverse=True)
    cbs.sort(key=lambda c: (c.due_at, c.callback_id))
    active = plans.get(profile.active_plan_id) if profile.active_plan_id else None
    return {
        "as_of": today.isoformat(),
        "patient": patients.view(profile),
        "status": profile.status,
        "balance_cents": int(profile.balance_cents),
        "oldest_invoice_date": profile.oldest_open_invoice_date,
        "days_overdue": days,
        "bucket": bucket,
        "invoices": [invoices.view(i) for i in inv],
        "payments": [payments.view(p) for p in pays[:RECENT_PAYMENTS]],
        "attempts": [attempts.view(a) for a in atts],
        "callbacks": [callbacks.view(c) for c in cbs],
        "plan": plan_service.view(accounts.plan_from(active)) if active is not None else None,
        "promises": {"made": int(profile.promises_made), "kept": int(profile.promises_kept),
                     "broken": int(profile.promises_broken)},
        "pending_promise": promise_view(profile.pending_promise) if profile.pending_promise else None,
        "last_attempt": last_attempt_view(profile),
        "next_action": next_action_of(profile, clinic.timezone),
    }

