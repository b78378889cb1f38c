"""Billing reports: aging (what is owed, by age) and staff performance (a date range).

Both read only what they report on, with Queries on the `timeline` index keyed by the clinic:
- aging: the clinic's `OWED` partition, which holds exactly the open invoices and the active
  plans with an uninvoiced remainder (kept by `store/accounts` in every money transaction);
- staff performance: the range [first instant of `from`, first instant of the day after `to`)
  of the clinic's attempts, promises, callbacks and payments timelines, one Query each.
See docs/data-model.md for why these keys and not running totals.
"""

from __future__ import annotations

from datetime import date, datetime

from ..domain import clock, contact_rules, reports
from ..domain.contact import CHANNELS, OUTCOMES, PROMISED_PAYMENT
from ..domain.roles import Caller
from . import clinics


def aging(uow, caller: Caller, now: datetime) -> dict:
    """Open invoices by the age of each (clinic-local today) and the plans' uninvoiced parts."""
    today = clinics.get(uow, caller.clinic_id).today(now)
    invoices, remainders, on_hold = uow.accounts.owed(caller.clinic_id)
    return reports.aging_report(invoices, remainders, today, on_hold)


def staff_performance(uow, caller: Caller, now: datetime, start: date, end: date) -> dict:
    """Per staff member, the figures of the clinic-local dates `start`..`end` (inclusive)."""
    reports.check_range(start, end)
    clinic_id = caller.clinic_id
    tz = clinics.get(uow, clinic_id).timezone
    window = reports.Window(clock.start_of_local_day(start, tz), clock.end_of_local_day(end, tz))
    members = [reports.Member(m.sub, m.name) for m in uow.staff.list(clinic_id)]
    items = reports.staff_performance(
        members, window, now, channels=CHANNELS, outcomes=OUTCOMES, promised_outcome=PROMISED_PAYMENT,
        attempts=uow.contacts.attempts_between(clinic_id, window.start, window.end),
        promises=uow.accounts.promises_between(clinic_id, window.start, window.end),
        callbacks=uow.contacts.callbacks_between(clinic_id, window.start, window.end),
        payments=uow.accounts.payments_between(clinic_id, window.start, window.end))
    return {"from": start.isoformat(), "to": end.isoformat(), "items": items}


def contact_compliance(uow, caller: Caller, now: datetime, start: date, end: date) -> dict:
    """Per staff member, the attempts of the clinic-local dates `start`..`end` (inclusive), those
    that broke each contact rule, and the callbacks they scheduled past a rule: the staff
    report's attempt and callback timeline Queries over the same range, nothing else."""
    reports.check_range(start, end)
    clinic_id = caller.clinic_id
    tz = clinics.get(uow, clinic_id).timezone
    window = reports.Window(clock.start_of_local_day(start, tz), clock.end_of_local_day(end, tz))
    members = [reports.Member(m.sub, m.name) for m in uow.staff.list(clinic_id)]
    items = reports.contact_compliance(
        members, window, rules=contact_rules.RULES,
        attempts=uow.contacts.attempts_between(clinic_id, window.start, window.end),
        callbacks=uow.contacts.callbacks_between(clinic_id, window.start, window.end))
    return {"from": start.isoformat(), "to": end.isoformat(), "items": items}


def contact_compliance_csv(report: dict) -> str:
    return reports.compliance_to_csv(report["items"], contact_rules.RULES)


def staff_performance_csv(report: dict) -> str:
    return reports.to_csv(report["items"], CHANNELS, OUTCOMES)
