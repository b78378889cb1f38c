"""Contact attempts: append-only, each one updating the patient's last attempt (and promise) with it.

An attempt is written in the same transaction as the patient record it changes (`last_attempt`,
and for `promised_payment` the pending promise and the trust counters), so the worklist row and
the contact history always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..domain import contact_rules
from ..domain.account import Promise
from ..domain.bounds import check_within_horizon
from ..domain.contact import CHANNELS, MAX_NOTES, NO_PAYMENT_DESPITE_PROMISE, OUTCOMES, PROMISED_PAYMENT, Attempt
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id
from ..domain.roles import Caller
from . import audit, clinics, events


@dataclass(frozen=True)
class Logged:
    attempt: Attempt
    follow_up_status: str
    balance_cents: int


def check(channel: str, outcome: str, notes: str | None, promised_amount_cents: int | None,
          promised_date: date | None) -> None:
    """Business rule: a promised payment names an amount and a date; no other outcome does."""
    problems = {}
    if channel not in CHANNELS:
        problems["channel"] = f"one of {', '.join(CHANNELS)}"
    if outcome not in OUTCOMES:
        problems["outcome"] = f"one of {', '.join(OUTCOMES)}"
    if notes is not None and len(notes) > MAX_NOTES:
        problems["notes"] = f"at most {MAX_NOTES} characters"
    if outcome == PROMISED_PAYMENT:
        if promised_amount_cents is None:
            problems["promised_amount_cents"] = "required when the outcome is promised_payment"
        if promised_date is None:
            problems["promised_date"] = "required when the outcome is promised_payment"
    else:
        if promised_amount_cents is not None:
            problems["promised_amount_cents"] = "only for the outcome promised_payment"
        if promised_date is not None:
            problems["promised_date"] = "only for the outcome promised_payment"
    if problems:
        raise ValidationError("invalid attempt", fields=problems)


def log(uow, caller: Caller, now: datetime, patient_id: str, *, channel: str, outcome: str,
        notes: str | None = None, promised_amount_cents: int | None = None,
        promised_date: date | None = None) -> Logged:
    """Log a contact attempt; `promised_payment` records a promise (at most the balance, due
    today or later)."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    check(channel, outcome, notes, promised_amount_cents, promised_date)
    clinic_id = caller.clinic_id
    clinic = clinics.get(uow, clinic_id)
    today = clinic.today(now)
    attempt_id = new_child_id("att", patient_id, now)
    promise_id = new_child_id("prom", patient_id) if outcome == PROMISED_PAYMENT else None

    def attempt() -> Logged:
        loaded = uow.accounts.load(clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        account = loaded.account
        broken = []
        if outcome == PROMISED_PAYMENT:
            replaced = account.promise
            account.record_promise(Promise(promise_id=promise_id, attempt_id=attempt_id,
                                           amount_cents=promised_amount_cents, promised_date=promised_date,
                                           made_at=now, made_by=caller.actor), today)
            # After the account's own checks (more than is owed, a date in the past), which a
            # client hears about first; still before anything is staged.
            check_within_horizon("promised_date", promised_date, today)
            if replaced is not None and replaced.status == "broken":
                broken.append(replaced)
        elif outcome == NO_PAYMENT_DESPITE_PROMISE and account.promise is not None \
                and account.promise.promised_date < today:
            # The promise's date has passed unkept: break it now rather than at the next run.
            broken.append(account.break_promise(now))
        # Never refused for a rule: an attempt records what happened, judged on the facts before it.
        flags = contact_rules.rule_flags(clinic.contact_policy, clinic.timezone, loaded.patient.contact_facts(), now,
                                         channel, by=caller.actor)
        logged = Attempt(attempt_id, patient_id, now, caller.actor, channel, outcome, notes, promised_amount_cents,
                         promised_date, promise_id, flags)
        loaded.patient.last_attempt = logged.summary()
        loaded.patient.contact = contact_rules.remember_attempt(loaded.patient.contact, at=now, channel=channel,
                                                                outcome=outcome, by=caller.actor)
        uow.accounts.stage(loaded, now)
        uow.contacts.add_attempt(clinic_id, logged)
        details = {"attempt_id": attempt_id, "channel": channel, "outcome": outcome, "rule_flags": list(flags)}
        if promise_id:
            details.update(promise_id=promise_id, promised_amount_cents=promised_amount_cents,
                           promised_date=promised_date.isoformat())
        entry = audit.record(uow, clinic_id, caller.actor, "attempt.logged", now, patient_id=patient_id,
                             details=details)
        events.announce(uow, clinic_id, "attempt.logged", source_id=entry.audit_id, at=now,
                        data={"attempt_id": attempt_id, "patient_id": patient_id, "channel": channel,
                              "outcome": outcome, "at": events.instant(now), "by": caller.actor})
        for promise in broken:
            entry = audit.record(uow, clinic_id, caller.actor, "promise.broken", now, patient_id=patient_id,
                                 details={"promise_id": promise.promise_id, "amount_cents": promise.amount_cents,
                                          "paid_cents": promise.paid_cents, "attempt_id": attempt_id})
            events.promise_broken(uow, clinic_id, entry.audit_id, patient_id, promise, now)
        uow.commit()
        return Logged(logged, account.status, account.balance_cents)

    return uow.retrying(attempt)
