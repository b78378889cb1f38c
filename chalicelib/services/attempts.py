"""Contact attempts: append-only, each one updating the patient's last attempt (and promise) with it.

An attempt is written in the same transaction as the patient record it changes (`last_attempt`,
and for `promised_payment` the pending promise and the trust counters), so the worklist row
and the contact history always agree.
"""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Promise
from ..domain.clock import iso_z, parse_iso_z, short_z
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id
from ..store import accounts, keys
from ..store.models import AttemptRecord, LastAttemptMap
from ..store.tx import Unit, retrying
from . import clinics

CHANNELS = ("phone", "email", "sms", "in_person")
OUTCOMES = ("no_answer", "promised_payment", "dispute", "hung_up", "refused", "no_payment_despite_promise")
PROMISED_PAYMENT = "promised_payment"
NO_PAYMENT_DESPITE_PROMISE = "no_payment_despite_promise"
MAX_NOTES = 2000


def view(r: AttemptRecord) -> dict:
    return {"attempt_id": r.attempt_id, "patient_id": r.patient_id, "at": short_z(parse_iso_z(r.at)), "by": r.by,
            "channel": r.channel, "outcome": r.outcome, "notes": r.notes,
            "promised_amount_cents": int(r.promised_amount_cents) if r.promised_amount_cents is not None else None,
            "promised_date": r.promised_date, "promise_id": r.promise_id}


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


def log(clinic_id: str, actor: str, now: datetime, patient_id: str, *, channel: str, outcome: str,
        notes: str | None = None, promised_amount_cents: int | None = None,
        promised_date: date | None = None) -> dict:
    """Log a contact attempt; `promised_payment` records a promise (at most the balance, due
    today or later)."""
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")
    check(channel, outcome, notes, promised_amount_cents, promised_date)
    clinic = clinics.get(clinic_id)
    today = clinic.today(now)
    attempt_id = new_child_id("att", patient_id)
    promise_id = new_child_id("prom", patient_id) if outcome == PROMISED_PAYMENT else None

    def attempt() -> dict:
        loaded = accounts.load(clinic_id, patient_id)
        account = loaded.account
        broken = []
        if outcome == PROMISED_PAYMENT:
            replaced = account.promise
            account.record_promise(Promise(promise_id=promise_id, attempt_id=attempt_id,
                                           amount_cents=promised_amount_cents, promised_date=promised_date,
                                           made_at=now, made_by=actor), today)
            if replaced is not None and replaced.status == "broken":
                broken.append(replaced)
        elif outcome == NO_PAYMENT_DESPITE_PROMISE and account.promise is not None \
                and account.promise.promised_date < today:
            # The promise's date has passed unkept: break it now rather than at the next run.
            broken.append(account.break_promise(now))
        record = AttemptRecord(
            keys.patient_pk(clinic_id, patient_id), keys.ATTEMPT + attempt_id, attempt_id=attempt_id,
            patient_id=patient_id, at=iso_z(now), by=actor, channel=channel, outcome=outcome, notes=notes,
            promised_amount_cents=promised_amount_cents,
            promised_date=promised_date.isoformat() if promised_date else None, promise_id=promise_id,
            tl_pk=keys.timeline_pk(clinic_id, "ATT"), tl_sk=keys.timeline_sk(iso_z(now), attempt_id))
        loaded.profile.last_attempt = LastAttemptMap(at=iso_z(now), channel=channel, outcome=outcome, by=actor)
        unit = Unit(now)
        accounts.stage_account(unit, loaded)
        unit.create(record, label="attempt")
        details = {"attempt_id": attempt_id, "channel": channel, "outcome": outcome}
        if promise_id:
            details.update(promise_id=promise_id, promised_amount_cents=promised_amount_cents,
                           promised_date=promised_date.isoformat())
        unit.audit(clinic_id, actor, "attempt.logged", patient_id=patient_id, details=details)
        for promise in broken:
            unit.audit(clinic_id, actor, "promise.broken", patient_id=patient_id,
                       details={"promise_id": promise.promise_id, "amount_cents": promise.amount_cents,
                                "paid_cents": promise.paid_cents, "attempt_id": attempt_id})
        unit.commit()
        return {**view(record), "follow_up_status": account.status, "balance_cents": account.balance_cents}

    return retrying(attempt)
