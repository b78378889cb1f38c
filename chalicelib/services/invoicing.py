"""Auto-invoicing: the 03:00 clinic-local run (installments due, broken promises) and the one
function that invoices a plan, shared by the scheduled function, the manual `run` route and the CLI.

Cost grows with the work due, not with the data: the run finds the clinics whose 03:00 has come
with one Query of the `due` index (partition `RUNS`), then one Query per clinic of its `due`
partition for the plans and promises dated up to the run date. Exactly once: an installment's
invoice has a deterministic id and is created with `attribute_not_exists` in the same
transaction as the plan, the version-checked patient record and the audit record, so a second
run, a retry or a manual run racing it fails its condition, reloads and finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.transactions import TransactGet

from ..domain import account as acc
from ..domain import clock
from ..domain.errors import ConcurrentUpdate, NotFound
from ..domain.ids import new_child_id
from ..logs import logger
from ..store import accounts, keys, tx
from ..store.models import AttemptRecord, ClinicRecord, LastAttemptMap, PatientRecord, PlanRecord, Record
from ..store.tx import StaleWrite, Unit, retrying
from . import clinics

SYSTEM = "system"
BROKEN_OUTCOME = "no_payment_despite_promise"
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

    def view(self) -> dict:
        return {"clinics_run": self.clinics_run, "invoices_created": self.invoices_created,
                "promises_broken": self.promises_broken}


@dataclass
class _Advance:
    """Moving a clinic to its next run date. It rides on the clinic's last transaction when there
    is one (one call fewer per clinic with work), else it is a conditional put of its own."""

    record: ClinicRecord
    next_date: date
    pending: bool = True  # may still ride on a transaction
    done: bool = False
    stale: bool = False  # the ride was refused by the clinic's version: reread before the put

    def stage(self, unit: Unit) -> None:
        if self.pending:
            clinics.set_run_schedule(self.record, self.next_date)
            unit.save(self.record, label="clinic")  # VersionAttribute: refused if another run moved it

    def commit(self, unit: Unit) -> None:
        try:
            unit.commit()
        except StaleWrite as e:
            if self.pending and "clinic" in e.failed:
                self.pending, self.stale = False, True
            raise
        if self.pending:
            self.pending, self.done = False, True


def _commit(unit: Unit, advance: _Advance | None) -> None:
    if advance is None:
        unit.commit()
    else:
        advance.commit(unit)


# ----- one plan -----------------------------------------------------------------------------
def _load_plan_account(clinic_id: str, patient_id: str, plan_id: str) -> accounts.LoadedAccount | None:
    """The patient record and one plan, read as one snapshot (TransactGet: no transaction can be
    seen half-applied across the two). None when the plan is not the patient's active plan.

    Two items whatever the patient's history, so a run reads two items per due plan; the other
    open invoices are summarized from the patient record (their total is the balance minus the
    plan's uninvoiced part; their oldest date is on the record), which is all that invoicing
    installments needs to keep the balance invariant and the worklist entry exact."""
    pk = keys.patient_pk(clinic_id, patient_id)
    with TransactGet(connection=tx.connection()) as get:
        profile_future = get.get(PatientRecord, pk, keys.PROFILE)
        plan_future = get.get(PlanRecord, pk, keys.PLAN + plan_id)
    try:
        profile, plan_record = profile_future.get(), plan_future.get()
    except DoesNotExist as e:
        raise NotFound(f"no payment plan {plan_id}") from e
    if plan_record.status != "active" or profile.active_plan_id != plan_id:
        return None
    plan = accounts.plan_from(plan_record)
    account = acc.Account(
        patient_id=patient_id, balance_cents=int(profile.balance_cents), status=profile.status, plan=plan,
        promise=accounts.promise_from(profile.pending_promise) if profile.pending_promise else None,
        promises_made=int(profile.promises_made), promises_kept=int(profile.promises_kept),
        promises_broken=int(profile.promises_broken))
    others = account.balance_cents - plan.uninvoiced_cents
    if others:
        assert profile.oldest_open_invoice_date, "open invoices without an oldest date"
        account.invoices[OTHER_OPEN_INVOICES] = acc.Invoice(
            invoice_id=OTHER_OPEN_INVOICES, patient_id=patient_id, amount_cents=others, balance_cents=others,
            invoice_date=date.fromisoformat(profile.oldest_open_invoice_date))
    account.check_invariant()
    return accounts.LoadedAccount(clinic_id, profile, account)


def invoice_plan(clinic_id: str, patient_id: str, plan_id: str, run_date: date, now: datetime, actor: str,
                 advance: _Advance | None = None) -> list[str]:
    """Business rule: every installment of the plan due on or before `run_date` without an
    invoice gets one (dated its due date), at most once ever. Returns the invoice ids this call
    created: none when another run got there first."""

    def attempt() -> list[str]:
        loaded = _load_plan_account(clinic_id, patient_id, plan_id)
        if loaded is None:
            return []
        created = loaded.account.invoice_due_installments(run_date, now)
        if not created:
            return []
        assert OTHER_OPEN_INVOICES not in loaded.account.changes.invoices
        unit = Unit(now)
        accounts.stage_account(unit, loaded)
        unit.audit(clinic_id, actor, "plan.invoiced", patient_id=patient_id,
                   details={"plan_id": plan_id, "run_date": run_date.isoformat(),
                            "invoices": [{"invoice_id": i.invoice_id, "installment_number": i.installment_number,
                                          "amount_cents": i.amount_cents, "balance_cents": i.balance_cents,
                                          "invoice_date": i.invoice_date.isoformat()} for i in created]})
        if advance is not None:
            advance.stage(unit)
        _commit(unit, advance)
        return [i.invoice_id for i in created]

    return retrying(attempt)


# ----- one promise --------------------------------------------------------------------------
def _promise_channel(clinic_id: str, patient_id: str, attempt_id: str, profile: PatientRecord) -> str:
    """The system's attempt is logged on the channel the promise was made on."""
    try:
        return AttemptRecord.get(keys.patient_pk(clinic_id, patient_id), keys.ATTEMPT + attempt_id).channel
    except DoesNotExist:
        return profile.last_attempt.channel if profile.last_attempt else "phone"


def break_promise(clinic_id: str, patient_id: str, run_date: date, now: datetime,
                  advance: _Advance | None = None) -> bool:
    """Business rule: a promise whose date is before the run date and is still pending is broken,
    as if `no_payment_despite_promise` had been logged by `system`. Returns whether it broke it."""

    def attempt() -> bool:
        loaded = accounts.load(clinic_id, patient_id)
        promise = loaded.account.promise
        if promise is None or promise.promised_date >= run_date:
            return False
        channel = _promise_channel(clinic_id, patient_id, promise.attempt_id, loaded.profile)
        loaded.account.break_promise(now)
        attempt_id = new_child_id("att", patient_id)
        at = clock.iso_z(now)
        attempt_record = AttemptRecord(
            keys.patient_pk(clinic_id, patient_id), keys.ATTEMPT + attempt_id, attempt_id=attempt_id,
            patient_id=patient_id, at=at, by=SYSTEM, channel=channel, outcome=BROKEN_OUTCOME,
            promise_id=promise.promise_id, tl_pk=keys.timeline_pk(clinic_id, "ATT"),
            tl_sk=keys.timeline_sk(at, attempt_id))
        loaded.profile.last_attempt = LastAttemptMap(at=at, channel=channel, outcome=BROKEN_OUTCOME, by=SYSTEM)
        unit = Unit(now)
        accounts.stage_account(unit, loaded)
        unit.create(attempt_record, label="attempt")
        unit.audit(clinic_id, SYSTEM, "promise.broken", patient_id=patient_id,
                   details={"promise_id": promise.promise_id, "attempt_id": attempt_id,
                            "promised_date": promise.promised_date.isoformat(),
                            "amount_cents": promise.amount_cents, "paid_cents": promise.paid_cents,
                            "made_by": promise.made_by})
        if advance is not None:
            advance.stage(unit)
        _commit(unit, advance)
        return True

    return retrying(attempt)


# ----- one clinic ---------------------------------------------------------------------------
def due_clinics(now: datetime):
    """Clinics whose next 03:00 run instant is at or before `now`, soonest first (a Query)."""
    for record in Record.due.query(keys.RUNS, Record.due_sk <= f"{clock.iso_z(now)}#~"):
        if isinstance(record, ClinicRecord):
            yield record


def _due_work(clinic_id: str, run_date: date) -> list[tuple[str, str, str | None]]:
    """(kind, patient_id, plan_id) for every plan with an installment due on or before the run
    date and every pending promise dated before it: one Query of the clinic's `due` partition."""
    work = []
    for item in Record.due.query(keys.clinic_pk(clinic_id), Record.due_sk <= f"{run_date.isoformat()}#~"):
        day, kind, _ = item.due_sk.split("#", 2)
        if kind == "PLAN" and isinstance(item, PlanRecord):
            work.append(("plan", item.patient_id, item.plan_id))
        elif kind == "PROMISE" and isinstance(item, PatientRecord) and date.fromisoformat(day) < run_date:
            work.append(("promise", item.patient_id, None))
    return work


def _advance_alone(advance: _Advance) -> None:
    """Put the clinic's next run date, conditioned on its version; a concurrent run that already
    moved it as far wins and this is done."""
    record = advance.record
    if advance.stale:
        record = ClinicRecord.get(record.pk, record.sk, consistent_read=True)
    for _ in range(5):
        if record.next_run_date and date.fromisoformat(record.next_run_date) >= advance.next_date:
            return
        clinics.set_run_schedule(record, advance.next_date)
        try:
            record.save()
            return
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
        record = ClinicRecord.get(record.pk, record.sk, consistent_read=True)
    raise ConcurrentUpdate(f"clinic {record.clinic_id} kept changing while its run date moved")


def run_clinic(record: ClinicRecord, now: datetime, result: RunResult,
               should_stop: Callable[[], bool] | None = None) -> None:
    """Run one clinic for the latest local date whose 03:00 has come (catching up any missed
    dates at once), then move it to the next date.

    A patient whose work fails is logged and skipped, and the clinic is then not moved on, so the
    next tick runs it again (what was done is found done; one bad patient never holds up the
    others). Out of time, it stops between patients, also without moving the clinic on."""
    clinic_id = record.clinic_id
    run_date = clock.latest_run_date(now, record.timezone)
    if record.next_run_date and run_date < date.fromisoformat(record.next_run_date):
        return  # a stale index entry: that date has run
    advance = _Advance(record, run_date + timedelta(days=1))
    invoices = promises = 0
    failed = stopped = False
    work = []
    try:
        work = _due_work(clinic_id, run_date)
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
                invoices += len(invoice_plan(clinic_id, patient_id, plan_id, run_date, now, SYSTEM, ride))
            elif break_promise(clinic_id, patient_id, run_date, now, ride):
                promises += 1
        except Exception:
            logger.exception("auto-invoicing failed for a patient; the next tick tries again",
                             extra={"clinic_id": clinic_id, "patient_id": patient_id, "plan_id": plan_id,
                                    "run_date": run_date.isoformat()})
            failed = True
    if not (failed or stopped or advance.done):
        try:
            _advance_alone(advance)
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


def run_scheduled(now: datetime, should_stop: Callable[[], bool] | None = None) -> RunResult:
    """The scheduled run at instant `now` (the EventBridge event's `time`): every clinic whose
    03:00 has come. `should_stop` lets the Lambda stop before its timeout; clinics not started
    stay due and the next tick runs them."""
    result = RunResult()
    for record in due_clinics(now):
        if should_stop is not None and should_stop():
            result.stopped_early = True
            break
        run_clinic(record, now, result, should_stop)
    return result
