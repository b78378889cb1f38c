"""Billing reports as pure rules: the aging summary, the staff-performance tally, its CSV, and
which staff member a payment is credited to.

Nothing here reads the clock or the store: the services pass in the records of the range they
read, the clinic-local `today`, the range's UTC bounds and `now`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from . import aging
from .errors import ValidationError
from .roles import SYSTEM  # the scheduled run's `by`: not a staff member

RECOVERY_WINDOW = timedelta(days=30)
MAX_RANGE_DAYS = 366


# ----- aging ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenInvoice:
    patient_id: str
    invoice_date: date
    balance_cents: int
    invoice_id: str = ""


def with_deferred(invoices: Iterable[OpenInvoice], deferred: dict[str, dict]) -> list[OpenInvoice]:
    """Business rule: what is owed counts each invoice as its last change decided it, written
    yet or not (`deferred`: patient id -> {invoice id: InvoiceState})."""
    decided = {(pid, iid): state for pid, states in deferred.items() for iid, state in states.items()}
    out = [i for i in invoices if (i.patient_id, i.invoice_id) not in decided]
    out += [OpenInvoice(pid, state.invoice_date, state.balance_cents, iid)
            for (pid, iid), state in sorted(decided.items()) if state.is_open]
    return out


def aging_report(invoices: Iterable[OpenInvoice], plan_remainders: Iterable[int], today: date,
                 on_hold: Iterable[str] = ()) -> dict:
    """Business rule: every open invoice counts in the bucket of its own age (not its patient's
    oldest); a patient counts once in each bucket they have an invoice in; the total is the sum
    of the buckets, and plans' uninvoiced parts are reported apart; `on_hold_cents` is the part
    of the total owed by patients on hold."""
    held = set(on_hold)
    held_cents = 0
    counts = {name: 0 for name in aging.BUCKETS}
    balances = {name: 0 for name in aging.BUCKETS}
    patients: dict[str, set[str]] = {name: set() for name in aging.BUCKETS}
    for invoice in invoices:
        if invoice.balance_cents <= 0:
            continue
        bucket = aging.bucket_for(aging.days_overdue(invoice.invoice_date, today))
        counts[bucket] += 1
        balances[bucket] += invoice.balance_cents
        patients[bucket].add(invoice.patient_id)
        if invoice.patient_id in held:
            held_cents += invoice.balance_cents
    buckets = [{"bucket": name, "invoices": counts[name], "patients": len(patients[name]),
                "balance_cents": balances[name]} for name in aging.BUCKETS]
    return {"as_of": today.isoformat(), "buckets": buckets,
            "total_cents": sum(b["balance_cents"] for b in buckets),
            "plan_remainder_cents": sum(r for r in plan_remainders if r > 0), "on_hold_cents": held_cents}


# ----- the reporting range ---------------------------------------------------------------------
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)  # keeps UTC instants and keys in range


def check_range(start: date, end: date) -> None:
    """Business rule: a report covers `from`..`to` inclusive, `from` <= `to`, at most 366 days
    apart; `to` may be in the future."""
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST <= day <= LATEST:
            raise ValidationError(f"{name} is out of range",
                                  fields={name: f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"})
    if start > end:
        raise ValidationError("from is after to", fields={"to": "must be on or after from"})
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationError(f"the range is more than {MAX_RANGE_DAYS} days",
                              fields={"to": f"at most {MAX_RANGE_DAYS} days after from"})


# ----- who recovered a payment ---------------------------------------------------------------
def recovering_member(attempts: Iterable[tuple[datetime, str]], received_at: datetime) -> str | None:
    """Business rule: a payment is recovered by the staff member whose attempt on the patient is
    the latest before it, if that attempt is at most 30 days older; the scheduled run's attempts
    are nobody's. One payment credits one member (or nobody)."""
    before = [(at, by) for at, by in attempts if by != SYSTEM and at <= received_at]
    if not before:
        return None
    at, by = max(before)
    return by if received_at - at <= RECOVERY_WINDOW else None


# ----- staff performance ---------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    sub: str
    name: str


@dataclass(frozen=True)
class AttemptEvent:
    by: str
    at: datetime
    channel: str
    outcome: str
    rule_flags: tuple[str, ...] = ()  # the contact rules it broke (contact_rules.rule_flags)


@dataclass(frozen=True)
class PromiseEvent:
    made_by: str
    status: str  # pending, kept, broken, cancelled
    resolved_at: datetime | None


@dataclass(frozen=True)
class CallbackEvent:
    assignee: str
    status: str  # scheduled, done, cancelled
    due_at: datetime
    done_at: datetime | None
    override_by: str | None = None  # who scheduled it past a contact rule (with an `override_reason`)

    @property
    def timeline_at(self) -> datetime:
        """Where the clinic's callback timeline keeps it: done ones when done, others when due."""
        return self.done_at if self.status == "done" and self.done_at else self.due_at


@dataclass(frozen=True)
class PaymentEvent:
    recovered_by: str | None
    amount_cents: int
    received_at: datetime


@dataclass(frozen=True)
class Window:
    """The range as UTC instants: [start, end) = the first instant of `from`'s clinic-local day
    up to the first instant of the day after `to`."""

    start: datetime
    end: datetime

    def __contains__(self, instant: datetime | None) -> bool:
        return instant is not None and self.start <= instant < self.end


def staff_performance(members: Iterable[Member], window: Window, now: datetime, *,
                      channels: Sequence[str], outcomes: Sequence[str], promised_outcome: str,
                      attempts: Iterable[AttemptEvent] = (), promises: Iterable[PromiseEvent] = (),
                      callbacks: Iterable[CallbackEvent] = (), payments: Iterable[PaymentEvent] = ()) -> list[dict]:
    """Business rule: one row per staff member (activity or not), each figure counting the events
    whose instant falls in the window:
    - attempts by the member, by channel and by outcome (every name of the contract, 0 included);
      promises made = their `promised_payment` attempts;
    - promises kept / broken when they were resolved, credited to the member who made them;
    - callbacks done when they were done, by assignee; callbacks overdue: still scheduled, due in
      the window and before `now`;
    - recovered cents: payments received in the window credited to the member (`recovered_by`),
      less reversals of such payments made in the window (a reversal is a negative event on its
      own date; voids and adjustments are no events here: they never count as recovery).
    Events of anyone who is not a member (the scheduled run's `system`) count for nobody."""
    rows: dict[str, dict] = {}
    for m in sorted(members, key=lambda m: (m.name.casefold(), m.sub)):
        rows[m.sub] = {"sub": m.sub, "name": m.name, "attempts": 0,
                       "by_channel": {c: 0 for c in channels}, "by_outcome": {o: 0 for o in outcomes},
                       "promises_made": 0, "promises_kept": 0, "promises_broken": 0,
                       "callbacks_done": 0, "callbacks_overdue": 0, "recovered_cents": 0}
    for a in attempts:
        row = rows.get(a.by)
        if row is None or a.at not in window:
            continue
        row["attempts"] += 1
        row["by_channel"][a.channel] = row["by_channel"].get(a.channel, 0) + 1
        row["by_outcome"][a.outcome] = row["by_outcome"].get(a.outcome, 0) + 1
        if a.outcome == promised_outcome:
            row["promises_made"] += 1
    for p in promises:
        row = rows.get(p.made_by)
        if row is None or p.resolved_at not in window:
            continue
        if p.status == "kept":
            row["promises_kept"] += 1
        elif p.status == "broken":
            row["promises_broken"] += 1
    for c in callbacks:
        row = rows.get(c.assignee)
        if row is None:
            continue
        if c.status == "done" and c.done_at in window:
            row["callbacks_done"] += 1
        elif c.status == "scheduled" and c.due_at in window and c.due_at < now:
            row["callbacks_overdue"] += 1
    for p in payments:
        row = rows.get(p.recovered_by) if p.recovered_by else None
        if row is not None and p.received_at in window:
            row["recovered_cents"] += p.amount_cents
    return list(rows.values())


def csv_columns(channels: Sequence[str], outcomes: Sequence[str]) -> list[str]:
    """Fixed columns, whatever the data: every channel and outcome of the contract."""
    return ["sub", "name", "attempts", *(f"by_channel.{c}" for c in channels),
            *(f"by_outcome.{o}" for o in outcomes), "promises_made", "promises_kept", "promises_broken",
            "callbacks_done", "callbacks_overdue", "recovered_cents"]


def _cell(value) -> str | int:
    """Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
    leading apostrophe (OWASP's CSV-injection advice); numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(items: Iterable[dict], channels: Sequence[str], outcomes: Sequence[str]) -> str:
    """The staff rows as CSV (header row, one row per member, breakdowns flattened)."""
    columns = csv_columns(channels, outcomes)
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180 quoting, CRLF line ends
    writer.writerow(columns)
    for item in items:
        flat = {**item, **{f"by_channel.{k}": v for k, v in item["by_channel"].items()},
                **{f"by_outcome.{k}": v for k, v in item["by_outcome"].items()}}
        writer.writerow([_cell(flat.get(c, 0)) for c in columns])
    return out.getvalue()


# ----- contact compliance --------------------------------------------------------------------
def contact_compliance(members: Iterable[Member], window: Window, *, rules: Sequence[str],
                       attempts: Iterable[AttemptEvent] = (), callbacks: Iterable[CallbackEvent] = ()) -> list[dict]:
    """Business rule: one row per staff member (activity or not), from the same events as the
    staff report:
    - attempts: the member's attempts in the window, every channel;
    - flagged: for each contact rule (every one, 0 included), the member's attempts in the window
      that broke it (an attempt that broke two rules counts under both);
    - overrides: callbacks scheduled past a contact rule by the member (the one who gave the
      `override_reason`, not necessarily the assignee), counted where the callback timeline
      keeps them (the call the override is about: done ones when done, others when due).
    Events of anyone who is not a member (the scheduled run's `system`) count for nobody."""
    rows: dict[str, dict] = {}
    for m in sorted(members, key=lambda m: (m.name.casefold(), m.sub)):
        rows[m.sub] = {"sub": m.sub, "name": m.name, "attempts": 0, "flagged": {r: 0 for r in rules},
                       "overrides": 0}
    for a in attempts:
        row = rows.get(a.by)
        if row is None or a.at not in window:
            continue
        row["attempts"] += 1
        for rule in set(a.rule_flags):
            row["flagged"][rule] = row["flagged"].get(rule, 0) + 1
    for c in callbacks:
        row = rows.get(c.override_by) if c.override_by else None
        if row is not None and c.timeline_at in window:
            row["overrides"] += 1
    return list(rows.values())


def compliance_csv_columns(rules: Sequence[str]) -> list[str]:
    """Fixed columns, whatever the data: every rule of the contract."""
    return ["sub", "name", "attempts", *(f"flagged.{r}" for r in rules), "overrides"]


def compliance_to_csv(items: Iterable[dict], rules: Sequence[str]) -> str:
    """The compliance rows as CSV (header row, one row per member, `flagged` flattened)."""
    columns = compliance_csv_columns(rules)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for item in items:
        flat = {**item, **{f"flagged.{k}": v for k, v in item["flagged"].items()}}
        writer.writerow([_cell(flat.get(c, 0)) for c in columns])
    return out.getvalue()
