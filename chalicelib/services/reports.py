"""Billing reports: aging (what is owed, by age) and staff performance (a date range).

Both read only what they report on, with Queries on the `timeline` index keyed by the clinic:
- aging: the clinic's `OWED` partition, which holds exactly the open invoices and the active
  plans with an uninvoiced remainder (kept by `store/accounts` in every money transaction);
- staff performance: the range [first instant of `from`, first instant of the day after `to`)
  of the clinic's `ATT`, `PROMISE`, `CB` and `PAY` partitions, one Query each.
See docs/data-model.md (issue 6) for why these keys and not running totals.
"""

from __future__ import annotations

from datetime import date, datetime

from ..domain import clock, reports
from ..domain.clock import iso_z, parse_iso_z
from ..store import accounts, keys
from ..store.models import (
    AttemptRecord,
    CallbackRecord,
    InvoiceRecord,
    PaymentRecord,
    PlanRecord,
    PromiseRecord,
    Record,
)
from . import attempts as attempts_service
from . import clinics, staff

# Only the attributes a figure needs come back (the read costs the same; the response and the
# parsing are smaller). `kind` picks the model class.
_ATTEMPT_FIELDS = ["pk", "sk", "kind", "at", "by", "channel", "outcome"]
_PROMISE_FIELDS = ["pk", "sk", "kind", "promise"]
_CALLBACK_FIELDS = ["pk", "sk", "kind", "assignee_sub", "status", "due_at", "done_at"]
_PAYMENT_FIELDS = ["pk", "sk", "kind", "recovered_by", "amount_cents", "received_at"]


def aging(clinic_id: str, now: datetime) -> dict:
    """Open invoices by the age of each (clinic-local today) and the plans' uninvoiced parts:
    one Query of the clinic's `OWED` partition (paged by DynamoDB's 1 MB)."""
    today = clinics.get(clinic_id).today(now)
    invoices, remainders = [], []
    for record in Record.timeline.query(keys.timeline_pk(clinic_id, keys.OWED)):
        if isinstance(record, InvoiceRecord) and record.status == "open":
            invoices.append(reports.OpenInvoice(record.patient_id, date.fromisoformat(record.invoice_date),
                                                int(record.balance_cents)))
        elif isinstance(record, PlanRecord):
            remainders.append(accounts.plan_from(record).uninvoiced_cents)
    return reports.aging_report(invoices, remainders, today)


def _window(clinic_id: str, start: date, end: date) -> reports.Window:
    """The clinic-local dates `start`..`end` as UTC instants [start of `start`, start of the day after `end`)."""
    reports.check_range(start, end)
    tz = clinics.get(clinic_id).timezone
    return reports.Window(clock.start_of_local_day(start, tz), clock.end_of_local_day(end, tz))


def _in(clinic_id: str, kind: str, window: reports.Window, fields: list[str]):
    """The clinic's `kind` timeline items keyed in [start, end): `tl_sk` is `<iso_z>#<id>`, and
    `iso_z(end)` sorts before every key at the instant `end` itself, so BETWEEN is half-open."""
    return Record.timeline.query(keys.timeline_pk(clinic_id, kind),
                                 Record.tl_sk.between(iso_z(window.start), iso_z(window.end)),
                                 attributes_to_get=fields)


def _t(text: str | None) -> datetime | None:
    return parse_iso_z(text) if text else None


def staff_performance(clinic_id: str, now: datetime, start: date, end: date) -> dict:
    """Per staff member, the figures of the clinic-local dates `start`..`end` (inclusive)."""
    window = _window(clinic_id, start, end)
    members = [reports.Member(m.sub, m.name) for m in staff.list_members(clinic_id)]
    items = reports.staff_performance(
        members, window, now, channels=attempts_service.CHANNELS, outcomes=attempts_service.OUTCOMES,
        promised_outcome=attempts_service.PROMISED_PAYMENT,
        attempts=(reports.AttemptEvent(r.by, parse_iso_z(r.at), r.channel, r.outcome)
                  for r in _in(clinic_id, "ATT", window, _ATTEMPT_FIELDS) if isinstance(r, AttemptRecord)),
        promises=(reports.PromiseEvent(r.promise.made_by, r.promise.status, _t(r.promise.resolved_at))
                  for r in _in(clinic_id, "PROMISE", window, _PROMISE_FIELDS) if isinstance(r, PromiseRecord)),
        callbacks=(reports.CallbackEvent(r.assignee_sub, r.status, parse_iso_z(r.due_at), _t(r.done_at))
                   for r in _in(clinic_id, "CB", window, _CALLBACK_FIELDS) if isinstance(r, CallbackRecord)),
        payments=(reports.PaymentEvent(r.recovered_by, int(r.amount_cents), parse_iso_z(r.received_at))
                  for r in _in(clinic_id, "PAY", window, _PAYMENT_FIELDS) if isinstance(r, PaymentRecord)))
    return {"from": start.isoformat(), "to": end.isoformat(), "items": items}


def staff_performance_csv(report: dict) -> str:
    return reports.to_csv(report["items"], attempts_service.CHANNELS, attempts_service.OUTCOMES)
