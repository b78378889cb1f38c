"""Auto-invoicing: the 03:00 clinic-local run (installments due, broken promises) and the one
function that invoices a plan, shared by the scheduled function, the manual `run` route and the CLI.

Cost grows with the work due, not with the data: the run finds the clinics whose 03:00 has come
with one Query of the `due` index, then one Query per clinic for the plans and promises dated up
to the run date. Exactly once: an installment's invoice has a deterministic id and is created
with `attribute_not_exists` in the same transaction as the plan, the version-checked patient
record and the audit record, so a second run, a retry or a manual run racing it fails its
condition, reloads and finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..domain import account as acc
from ..domain import clock
from ..domain.account import INSTALLMENT_INVOICES_PER_TRANSACTION
from ..domain.clinic import Clinic
from ..domain.contact import NO_PAYMENT_DESPITE_PROMISE, Attempt
from ..domain.errors import ConcurrentUpdate, InvariantViolation, NotFound
from ..domain.ids import new_child_id
from ..domain.roles import SYSTEM, Caller, system
from ..logs import logger
from ..store.accounts import LoadedAccount
from ..store.uow import StaleWrite
from . import audit, events

# Invoicing reads only the patient record and the plan (see `_load_plan_account`); the patient's
# other open invoices stand in the account as one read-only summary under this id, built from
# the record's balance and oldest open invoice date. It is never written.
OTHER_OPEN_INVOICES = "inv_(other-open-invoices)"


@dataclass
class RunResult:
    clinics_run: list[str] = field(default_factory=list)
    invoices_created: int = 0
    promises_broken: int = 0
    clinics_failed: list[str] = field(default_factory=list)  # retried by the next tick
    stopped_early: bool = False  # out of time: the clinics not started stay due for the next tick


@dataclass
class _Advance:
    """Moving a clinic to its next run date. It rides on the clinic's last transaction when there
    is one (one call fewer per clinic with work), else it is a conditional put of its own."""

    clinic: Clinic
    next_date: date
    pending: bool = True  # may still ride on a transaction
    done: bool = False
    stale: bool = False  # the ride was refused by the clinic's version: reread before the put

    def stage(self, uow) -> None:
        if self.pending:
            self.clinic.next_run_date = self.next_date
            uow.clinics.save(self.clinic)  # the version refuses it if another run moved the clinic

    def commit(self, uow) -> None:
        try:
            uow.commit()
        except StaleWrite as e:
            if self.pending and "clinic" in e.failed:
                self.pending, self.stale = False, True
            raise
        if self.pending:
            self.pending, self.done = False, True


def _commit(uow, advance: _Advance | None) -> None:
    if advance is None:
        uow.commit()
    else:
        advance.commit(uow)


# ----- one plan -----------------------------------------------------------------------------
def _load_plan_account(uow, clinic_id: str, patient_id: str, plan_id: str) -> LoadedAccount | None:
    """The patient record and one plan as one snapshot; None when the plan is not the patient's
    active plan. The other open invoices are summarized from the patient record (their total is
    the balance minus the plan's uninvoiced part; their oldest date is on the record), which is
    all that invoicing installments needs to keep the balance invariant and the worklist exact."""
    found = uow.accounts.load_with_plan(clinic_id, patient_id, plan_id)
    if found is None:
        raise NotFound(f"no payment plan {plan_id}")
    patient, plan = found
    if plan.status != "active" or patient.active_plan_id != plan_id:
        return None
    account = patient.account({}, plan)
    others = account.balance_cents - plan.uninvoiced_cents
    if others:
        if patient.oldest_open_invoice_date is None:
            raise InvariantViolation("open_invoices_without_date", patient_id=patient_id, others_cents=others)
        account.invoices[OTHER_OPEN_INVOICES] = acc.Invoice(
            invoice_id=OTHER_OPEN_INVOICES, patient_id=patient_id, amount_cents=others, balance_cents=others,
            invoice_date=patient.oldest_open_invoice_date)
    account.check_invariant()
    return LoadedAccount(clinic_id, patient, account)


def invoice_plan(uow, caller: Caller, patient_id: str, plan_id: str, run_date: date, now: datetime,
                 advance: _Advance | None = None) -> list[str]:
    """Business rule: every installment of the plan due on or before `run_date` without an
    invoice gets one (dated its due date), at most once ever. Returns the invoice ids this call
    created: none when another run got there first. More installments than one transaction
    holds (a plan whose runs were missed for long) are invoiced one transaction's worth at a time."""
    clinic_id = caller.clinic_id

    def attempt() -> list[str]:
        loaded = _load_plan_account(uow, clinic_id, patient_id, plan_id)
        if loaded is None:
            return []
        created = loaded.account.invoice_due_installments(run_date, now, INSTALLMENT_INVOICES_PER_TRANSACTION)
        if not created:
            return []
        last = len(created) < INSTALLMENT_INVOICES_PER_TRANSACTION
        if OTHER_OPEN_INVOICES in loaded.account.changes.invoices:
            raise InvariantViolation("summary_invoice_changed", patient_id=patient_id, plan_id=plan_id)
        balance_before, status_before = loaded.account.balance_cents, loaded.account.status
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, clinic_id, caller.actor, "plan.invoiced", now, patient_id=patient_id,
                     details={"plan_id": plan_id, "run_date": run_date.isoformat(),
                              "invoices": [{"invoice_id": i.invoice_id, "installment_number": i.installment_number,
                                            "amount_cents": i.amount_cents, "balance_cents": i.balance_cents,
                                            "invoice_date": i.invoice_date.isoformat()} for i in created]})
        for invoice in created:  # one event per installment invoice, its id the invoice's (made once ever)
            events.announce(uow, clinic_id, "plan.invoiced", source_id=invoice.invoice_id, at=now,
                            data={"plan_id": plan_id, "invoice_id": invoice.invoice_id, "patient_id": patient_id,
                                  "installment_number": invoice.installment_number,
                                  "amount_cents": invoice.amount_cents, "due_date": events.day(invoice.invoice_date)})
        events.after_money_change(uow, clinic_id, entry.audit_id, loaded.account, now,
                                  balance_before=balance_before, status_before=status_before)
        ride = advance if last else None  # the clinic moves on with the plan's last batch only
        if ride is not None:
            ride.stage(uow)
        _commit(uow, ride)
        return [i.invoice_id for i in created]

    invoiced: list[str] = []
    while True:
        batch = uow.retrying(attempt)
        invoiced += batch
        if len(batch) < INSTALLMENT_INVOICES_PER_TRANSACTION:
            return invoiced


# ----- one promise --------------------------------------------------------------------------
def _promise_channel(uow, clinic_id: str, patient: acc.Patient, attempt_id: str) -> str:
    """The system's attempt is logged on the channel the promise was made on."""
    made = uow.contacts.attempt(clinic_id, patient.patient_id, attempt_id)
    if made is not None:
        return made.channel
    return patient.last_attempt.channel if patient.last_attempt else "phone"


def break_promise(uow, clinic_id: str, patient_id: str, run_date: date, now: datetime,
                  advance: _Advance | None = None) -> bool:
    """Business rule: a promise whose date is before the run date and is still pending is broken,
    as if `no_payment_despite_promise` had been logged by `system`. Returns whether it broke it."""

    def attempt() -> bool:
        loaded = uow.accounts.load(clinic_id, patient_id)
        promise = loaded.account.promise if loaded is not None else None
        if promise is None or promise.promised_date >= run_date or loaded.account.hold is not None:
            return False  # on hold, no promise breaks: the run that releases the hold does it
        channel = _promise_channel(uow, clinic_id, loaded.patient, promise.attempt_id)
        loaded.account.break_promise(now)
        logged = Attempt(new_child_id("att", patient_id, now), patient_id, now, SYSTEM, channel,
                         NO_PAYMENT_DESPITE_PROMISE, promise_id=promise.promise_id)
        loaded.patient.last_attempt = logged.summary()
        uow.accounts.stage(loaded, now)
        uow.contacts.add_attempt(clinic_id, logged)
        entry = audit.record(uow, clinic_id, SYSTEM, "promise.broken", now, patient_id=patient_id,
                     details={"promise_id": promise.promise_id, "attempt_id": logged.attempt_id,
                              "promised_date": promise.promised_date.isoformat(),
                              "amount_cents": promise.amount_cents, "paid_cents": promise.paid_cents,
                              "made_by": promise.made_by})
        events.promise_broken(uow, clinic_id, entry.audit_id, patient_id, promise, now)
        if advance is not None:
            advance.stage(uow)
        _commit(uow, advance)
        return True

    return uow.retrying(attempt)


# ----- one hold -----------------------------------------------------------------------------
def expire_hold(uow, clinic_id: str, patient_id: str, run_date: date, now: datetime,
                advance: _Advance | None = None) -> bool:
    """Business rule: the first scheduled run after a hold's last day releases it (audit
    `hold.expired`, actor `system`); returns whether this call released it."""

    def attempt() -> bool:
        loaded = uow.accounts.load(clinic_id, patient_id)
        hold = loaded.account.hold if loaded is not None else None
        if hold is None or hold.until >= run_date:
            return False
        loaded.account.release_hold()
        uow.accounts.stage(loaded, now)
        entry = audit.record(uow, clinic_id, SYSTEM, "hold.expired", now, patient_id=patient_id,
                             details={"hold_id": hold.hold_id, "reason": hold.reason,
                                      "until": hold.until.isoformat(), "run_date": run_date.isoformat(),
                                      "follow_up_status": loaded.account.status})
        events.announce(uow, clinic_id, "hold.released", source_id=entry.audit_id, at=now, part="released",
                        data={"hold_id": hold.hold_id, "patient_id": patient_id, "status": "expired",
                              "follow_up_status": loaded.account.status})
        if advance is not None:
            advance.stage(uow)
        _commit(uow, advance)
        return True

    return uow.retrying(attempt)


# ----- one clinic ---------------------------------------------------------------------------
def _advance_alone(uow, advance: _Advance) -> None:
    """Put the clinic's next run date, conditioned on its version; a concurrent run that already
    moved it as far wins and this is done."""
    clinic = advance.clinic
    if advance.stale:
        clinic = uow.clinics.get(clinic.clinic_id, consistent=True)
    for _ in range(5):
        if clinic.next_run_date and clinic.next_run_date >= advance.next_date:
            return
        clinic.next_run_date = advance.next_date
        try:
            uow.clinics.save_now(clinic)
            return
        except StaleWrite:
            clinic = uow.clinics.get(clinic.clinic_id, consistent=True)
    raise ConcurrentUpdate(f"clinic {clinic.clinic_id} kept changing while its run date moved")


def run_clinic(uow, clinic: Clinic, now: datetime, result: RunResult,
               should_stop: Callable[[], bool] | None = None) -> None:
    """Run one clinic for the latest local date whose 03:00 has come (catching up any missed
    dates at once), then move it to the next date.

    A patient whose work fails is logged and skipped, and the clinic is then not moved on, so the
    next tick runs it again (what was done is found done; one bad patient never holds up the
    others). Out of time, it stops between patients, also without moving the clinic on."""
    clinic_id = clinic.clinic_id
    caller = system(clinic_id)
    run_date = clock.latest_run_date(now, clinic.timezone)
    if clinic.next_run_date and run_date < clinic.next_run_date:
        return  # a stale index entry: that date has run
    advance = _Advance(clinic, run_date + timedelta(days=1))
    invoices = promises = 0
    failed = stopped = False
    work = []
    try:
        work = uow.accounts.due_work(clinic_id, run_date)
    except Exception:
        logger.exception("auto-invoicing could not read the clinic's due work", extra={"clinic_id": clinic_id})
        failed = True
    for n, (kind, patient_id, plan_id) in enumerate(work):
        if should_stop is not None and should_stop():
            stopped = result.stopped_early = True
            break
        ride = advance if n == len(work) - 1 and not failed else None
        try:
            if kind == "plan":
                invoices += len(invoice_plan(uow, caller, patient_id, plan_id, run_date, now, ride))
            elif kind == "hold":
                # Released first, then a promise overdue meanwhile breaks in this same run.
                if expire_hold(uow, clinic_id, patient_id, run_date, now) and break_promise(
                        uow, clinic_id, patient_id, run_date, now):
                    promises += 1
            elif break_promise(uow, clinic_id, patient_id, run_date, now, ride):
                promises += 1
        except Exception:
            uow.discard()
            logger.exception("auto-invoicing failed for a patient; the next tick tries again",
                             extra={"clinic_id": clinic_id, "patient_id": patient_id, "plan_id": plan_id,
                                    "run_date": run_date.isoformat()})
            failed = True
    if not (failed or stopped or advance.done):
        try:
            _advance_alone(uow, advance)
        except Exception:
            logger.exception("auto-invoicing could not move the clinic on", extra={"clinic_id": clinic_id})
            failed = True
    result.invoices_created += invoices
    result.promises_broken += promises
    if failed:
        result.clinics_failed.append(clinic_id)
    elif not stopped:
        result.clinics_run.append(clinic_id)
        logger.info("auto-invoicing clinic run", extra={
            "clinic_id": clinic_id, "run_date": run_date.isoformat(), "invoices_created": invoices,
            "promises_broken": promises})


def run_scheduled(uow, now: datetime, should_stop: Callable[[], bool] | None = None) -> RunResult:
    """The scheduled run at instant `now` (the EventBridge event's `time`): every clinic whose
    03:00 has come. `should_stop` lets the Lambda stop before its timeout; clinics not started
    stay due and the next tick runs them."""
    result = RunResult()
    for clinic in uow.clinics.due_for_run(now):
        if should_stop is not None and should_stop():
            result.stopped_early = True
            break
        run_clinic(uow, clinic, now, result, should_stop)
    return result
