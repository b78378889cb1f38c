"""A patient's account in DynamoDB: the patient record, invoices, plans, promises, payments and
the ledger, all in the patient's partition `C#<clinic>#P#<patient>` (the ledger beside it).

Every write to a patient goes through `stage`, which saves the patient record with its version
condition: two writers of one patient can never both win, and the loser reloads and tries again
(`uow.retrying`). Sparse index keys are set here and only here:
- `worklist` (`C#<clinic>` / `<oldest open invoice date>#<patient>`): a patient while an invoice is open;
- `due` (`C#<clinic>` / `<date>#PLAN#..` or `<date>#PROMISE#..`): what the nightly run looks for;
- `timeline` `OWED`: an invoice while open, a plan while it has an uninvoiced remainder (aging);
  `PAY` and `PROMISE`: payments and promises by time (staff performance).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactGet

from ..domain import account as acc
from ..domain import reports
from ..domain.clock import iso_z
from ..domain.contact import LastAttempt
from ..domain.contact_rules import ContactFacts
from . import keys
from .mapping import d, d_out, n, t, t_out
from .models import (
    AllocationMap,
    HoldMap,
    InstallmentMap,
    InvoiceRecord,
    LastAttemptMap,
    LedgerRecord,
    PatientRecord,
    PaymentRecord,
    PlanRecord,
    PromiseMap,
    PromiseRecord,
    Record,
    ReversalRecord,
)
from .uow import StaleWrite, Transaction, connection

log = logging.getLogger(__name__)
SETTLE_ROUNDS = 20  # follow-on batches one commit runs (80 invoices each): 1,600 invoices

# A balance or status filter on the worklist is a filter expression: DynamoDB reads the rows of
# the key range and drops the ones that do not match. A page keeps querying until it is full,
# within this budget; past it the page comes back short, resuming where reading stopped.
FILTER_MAX_QUERIES = 8
FILTER_MAX_READ = 2_000
FILTER_MAX_PAGE = 1_000
_PAYMENT_FIELDS = ["pk", "sk", "kind", "recovered_by", "amount_cents", "received_at", "at"]
_PROMISE_FIELDS = ["pk", "sk", "kind", "promise"]


@dataclass
class LoadedAccount:
    """A patient and the money side of their follow-up, loaded to be changed and staged."""

    clinic_id: str
    patient: acc.Patient
    account: acc.Account


# ----- records -> domain -------------------------------------------------------------------
def invoice_from(r: InvoiceRecord) -> acc.Invoice:
    return acc.Invoice(
        invoice_id=r.invoice_id, patient_id=r.patient_id, amount_cents=int(r.amount_cents),
        balance_cents=int(r.balance_cents), invoice_date=d(r.invoice_date), status=r.status, source=r.source,
        service_date=d(r.service_date), description=r.description, external_id=r.external_id, plan_id=r.plan_id,
        installment_number=n(r.installment_number), created_at=t(r.created_at),
        paid_cents=_paid_cents(r), adjusted_cents=int(r.adjusted_cents or 0))


def _paid_cents(r: InvoiceRecord) -> int:
    """Invoices stored before corrections existed had no adjustments: what payments took is the
    amount less the balance (an installment's prepaid part included)."""
    if r.paid_cents is not None:
        return int(r.paid_cents)
    return int(r.amount_cents) - int(r.balance_cents) if r.status in ("open", "paid") else 0


def plan_from(r: PlanRecord) -> acc.Plan:
    return acc.Plan(
        plan_id=r.plan_id, patient_id=r.patient_id, total_cents=int(r.total_cents),
        installment_cents=int(r.installment_cents), frequency=r.frequency, start_date=d(r.start_date),
        installments=[acc.Installment(int(i.number), d(i.due_date), int(i.amount_cents), int(i.prepaid_cents or 0),
                                      i.status, i.invoice_id) for i in r.installments],
        status=r.status, created_at=t(r.created_at), created_by=r.created_by,
        oldest_invoice_date=d(r.oldest_invoice_date), remainder_invoice_id=r.remainder_invoice_id)


def hold_from(m: HoldMap | None) -> acc.Hold | None:
    if m is None:
        return None
    return acc.Hold(hold_id=m.hold_id, reason=m.reason, until=d(m.until), note=m.note, created_by=m.created_by,
                    created_at=t(m.created_at))


def hold_map(h: acc.Hold | None) -> HoldMap | None:
    if h is None:
        return None
    return HoldMap(hold_id=h.hold_id, reason=h.reason, until=h.until.isoformat(), note=h.note,
                   created_by=h.created_by, created_at=iso_z(h.created_at))


def promise_from(m: PromiseMap) -> acc.Promise:
    return acc.Promise(
        promise_id=m.promise_id, attempt_id=m.attempt_id, amount_cents=int(m.amount_cents),
        promised_date=d(m.promised_date), made_at=t(m.made_at), made_by=m.made_by,
        paid_cents=int(m.paid_cents or 0), status=m.status, resolved_at=t(m.resolved_at))


def patient_from(r: PatientRecord) -> acc.Patient:
    last = r.last_attempt
    return acc.Patient(
        patient_id=r.patient_id, name=r.name, created_at=t(r.created_at), created_by=r.created_by, phone=r.phone,
        email=r.email, external_id=r.external_id, balance_cents=int(r.balance_cents), status=r.status,
        oldest_open_invoice_date=d(r.oldest_open_invoice_date), ledger_seq=int(r.ledger_seq),
        active_plan_id=r.active_plan_id, plan_next_due=d(r.plan_next_due),
        pending_promise=promise_from(r.pending_promise) if r.pending_promise else None,
        promises_made=int(r.promises_made), promises_kept=int(r.promises_kept),
        promises_broken=int(r.promises_broken),
        last_attempt=LastAttempt(t(last.at), last.channel, last.outcome, last.by) if last else None,
        next_callback_at=t(r.next_callback_at), deferred_invoices=_deferred_from(r.deferred_invoices),
        hold=hold_from(r.hold),
        contact=ContactFacts.from_stored(r.contact.as_dict() if r.contact is not None else None),
        version=r.version, timezone=r.timezone, do_not_contact=tuple(r.do_not_contact or ()),
        preferred_channel=r.preferred_channel)


def _deferred_from(text: str | None) -> dict[str, acc.InvoiceState]:
    if not text:
        return {}
    return {i: acc.InvoiceState(s, int(b), date.fromisoformat(d_)) for i, (s, b, d_) in json.loads(text).items()}


def _deferred_out(deferred: dict[str, acc.InvoiceState]) -> str | None:
    if not deferred:
        return None
    return json.dumps({i: [s.status, s.balance_cents, s.invoice_date.isoformat()] for i, s in sorted(deferred.items())},
                      separators=(",", ":"))


def payment_from(r: PaymentRecord) -> acc.Payment:
    return acc.Payment(
        payment_id=r.payment_id, patient_id=r.patient_id, amount_cents=int(r.amount_cents), method=r.method,
        received_at=t(r.received_at),
        allocations=[acc.Allocation(a.invoice_id, int(a.amount_cents), a.plan_id, _parts_from(a.installments))
                     for a in r.allocations],
        balance_after_cents=int(r.balance_after_cents), created_at=t(r.created_at), created_by=r.created_by,
        invoice_id=r.invoice_id, note=r.note, status_after=r.status_after, recovered_by=r.recovered_by,
        reversal_id=r.reversal_id, reversed_at=t(r.reversed_at))


def _parts_from(flat: list | None) -> list[tuple[int, int]]:
    flat = [int(x) for x in flat or []]
    return list(zip(flat[::2], flat[1::2], strict=True))


def _parts_out(parts: list[tuple[int, int]]) -> list[int] | None:
    return [x for part in parts for x in part] or None


def ledger_line_from(r: LedgerRecord) -> acc.LedgerLine:
    return acc.LedgerLine(r.entry_id, r.patient_id, int(r.seq), t(r.at), r.type, int(r.amount_cents),
                          int(r.balance_after_cents), r.ref)


# ----- domain -> records -------------------------------------------------------------------
def invoice_record(clinic_id: str, i: acc.Invoice) -> InvoiceRecord:
    record = InvoiceRecord(
        keys.patient_pk(clinic_id, i.patient_id), keys.INVOICE + i.invoice_id,
        invoice_id=i.invoice_id, patient_id=i.patient_id, amount_cents=i.amount_cents,
        balance_cents=i.balance_cents, invoice_date=i.invoice_date.isoformat(), service_date=d_out(i.service_date),
        status=i.status, source=i.source, description=i.description, external_id=i.external_id, plan_id=i.plan_id,
        installment_number=i.installment_number, created_at=t_out(i.created_at), paid_cents=i.paid_cents,
        adjusted_cents=i.adjusted_cents)
    if i.is_open:  # sparse: the aging report reads the clinic's open invoices and nothing else
        record.tl_pk = keys.timeline_pk(clinic_id, keys.OWED)
        record.tl_sk = keys.owed_invoice_sk(record.invoice_date, i.invoice_id)
    return record


def plan_record(clinic_id: str, p: acc.Plan) -> PlanRecord:
    record = PlanRecord(
        keys.patient_pk(clinic_id, p.patient_id), keys.PLAN + p.plan_id, plan_id=p.plan_id,
        patient_id=p.patient_id, status=p.status, total_cents=p.total_cents,
        installment_cents=p.installment_cents, frequency=p.frequency, start_date=p.start_date.isoformat(),
        installments=[InstallmentMap(number=i.number, due_date=i.due_date.isoformat(),
                                     amount_cents=i.amount_cents, prepaid_cents=i.prepaid_cents,
                                     status=i.status, invoice_id=i.invoice_id) for i in p.installments],
        created_at=t_out(p.created_at), created_by=p.created_by, oldest_invoice_date=d_out(p.oldest_invoice_date),
        remainder_invoice_id=p.remainder_invoice_id)
    due = p.next_due_date
    if due is not None:  # sparse: only plans with an installment still to invoice
        record.due_pk = keys.clinic_pk(clinic_id)
        record.due_sk = keys.due_sk(due, keys.DUE_PLAN, p.plan_id)
    if p.uninvoiced_cents > 0:  # sparse: an active plan's part not invoiced yet (aging report)
        record.tl_pk = keys.timeline_pk(clinic_id, keys.OWED)
        record.tl_sk = keys.owed_plan_sk(p.plan_id)
    return record


def promise_map(p: acc.Promise) -> PromiseMap:
    return PromiseMap(
        promise_id=p.promise_id, attempt_id=p.attempt_id, amount_cents=p.amount_cents,
        promised_date=p.promised_date.isoformat(), made_at=iso_z(p.made_at), made_by=p.made_by,
        paid_cents=p.paid_cents, status=p.status, resolved_at=t_out(p.resolved_at))


def patient_record(clinic_id: str, p: acc.Patient) -> PatientRecord:
    last = p.last_attempt
    record = PatientRecord(
        keys.patient_pk(clinic_id, p.patient_id), keys.PROFILE, patient_id=p.patient_id, name=p.name,
        phone=p.phone, email=p.email, external_id=p.external_id, created_at=iso_z(p.created_at),
        created_by=p.created_by, balance_cents=p.balance_cents, status=p.status,
        oldest_open_invoice_date=d_out(p.oldest_open_invoice_date), ledger_seq=p.ledger_seq,
        active_plan_id=p.active_plan_id, plan_next_due=d_out(p.plan_next_due),
        pending_promise=promise_map(p.pending_promise) if p.pending_promise else None,
        promises_made=p.promises_made, promises_kept=p.promises_kept, promises_broken=p.promises_broken,
        last_attempt=LastAttemptMap(at=iso_z(last.at), channel=last.channel, outcome=last.outcome, by=last.by)
        if last else None,
        next_callback_at=t_out(p.next_callback_at), deferred_invoices=_deferred_out(p.deferred_invoices),
        hold=hold_map(p.hold),
        # Only once there is something to know: rows without facts stay as they were (and as small).
        contact=p.contact.as_stored() if p.contact != ContactFacts() else None,
        timezone=p.timezone, do_not_contact=list(p.do_not_contact) or None, preferred_channel=p.preferred_channel)
    # In the `OWED` partition: invoices with deferred writes, or a hold (the aging report's
    # `on_hold_cents` reads both from its one Query).
    if p.deferred_invoices or p.hold is not None:
        record.tl_pk = keys.timeline_pk(clinic_id, keys.OWED)
        record.tl_sk = keys.owed_patient_sk(p.patient_id)
    if p.version is not None:
        record.version = p.version
    # The worklist is a sparse index: a patient is in it only while an invoice is open.
    if p.oldest_open_invoice_date is not None:
        record.wl_pk = keys.clinic_pk(clinic_id)
        record.wl_sk = keys.worklist_sk(p.oldest_open_invoice_date.isoformat(), p.patient_id, p.hold is not None)
    # A hold is found by its last day when the nightly run releases it; pending promises (not on
    # hold) by date when it marks broken ones.
    if p.hold is not None:
        record.due_pk = keys.clinic_pk(clinic_id)
        record.due_sk = keys.due_sk(p.hold.until, keys.DUE_HOLD, p.patient_id)
    elif p.pending_promise is not None:
        record.due_pk = keys.clinic_pk(clinic_id)
        record.due_sk = keys.due_sk(p.pending_promise.promised_date, keys.DUE_PROMISE, p.patient_id)
    return record


def payment_record(clinic_id: str, p: acc.Payment) -> PaymentRecord:
    return PaymentRecord(
        keys.patient_pk(clinic_id, p.patient_id), keys.PAYMENT + p.payment_id, payment_id=p.payment_id,
        patient_id=p.patient_id, amount_cents=p.amount_cents, method=p.method, received_at=iso_z(p.received_at),
        invoice_id=p.invoice_id, note=p.note,
        allocations=[AllocationMap(invoice_id=a.invoice_id, amount_cents=a.amount_cents, plan_id=a.plan_id,
                                   installments=_parts_out(a.installments)) for a in p.allocations],
        balance_after_cents=p.balance_after_cents, status_after=p.status_after, created_at=iso_z(p.created_at),
        created_by=p.created_by, recovered_by=p.recovered_by, reversal_id=p.reversal_id,
        reversed_at=t_out(p.reversed_at),
        tl_pk=keys.timeline_pk(clinic_id, keys.PAYMENTS_TIMELINE),
        tl_sk=keys.timeline_sk(iso_z(p.received_at), p.payment_id))


class Settling:
    """Follow-on batches: after a commit, write the invoices its change deferred.

    Each batch is its own transaction: up to `INVOICE_WRITES_PER_TRANSACTION` invoices with the
    patient record (version-checked) losing them from its deferred set, so a batch that races
    another change of the patient fails and reloads. Whatever is not written (a crash, a timeout,
    a change that keeps winning) stays correct for every reader, who sees deferred invoices as
    decided, and is written by the patient's next change or the nightly run. Shared by the
    DynamoDB and the in-memory repositories: both have `load`, `stage` and a `_tx` to send."""

    def _note_deferred(self, clinic_id: str, patient: acc.Patient, at: datetime) -> None:
        key = (clinic_id, patient.patient_id)
        waiting = self.__dict__.setdefault("_deferred", {})
        if patient.deferred_invoices:
            waiting[key] = at
        else:
            waiting.pop(key, None)

    def settle_deferred(self) -> int:
        """Write what the commit just sent deferred (called by the unit of work after a commit).
        Never fails the committed change; returns the invoices written."""
        waiting, self.__dict__["_deferred"] = self.__dict__.get("_deferred", {}), {}
        written = 0
        for (clinic_id, patient_id), at in sorted(waiting.items()):
            try:
                written += self.settle(clinic_id, patient_id, at)
            except Exception:  # noqa: BLE001 - the change committed; readers see the deferred state
                log.exception("deferred invoices not written yet", extra={"clinic_id": clinic_id,
                                                                           "patient_id": patient_id})
        self.__dict__["_deferred"] = {}
        return written

    def settle(self, clinic_id: str, patient_id: str, at: datetime) -> int:
        """Write the patient's deferred invoices, batch after batch; returns how many were written."""
        written = 0
        for _ in range(SETTLE_ROUNDS):
            loaded = self.load(clinic_id, patient_id)
            if loaded is None or not loaded.patient.deferred_invoices:
                break
            before = len(loaded.patient.deferred_invoices)
            self.stage(loaded, at)
            try:
                self._tx.send()
            except StaleWrite:
                continue
            written += before - len(loaded.patient.deferred_invoices)
        self.__dict__.get("_deferred", {}).pop((clinic_id, patient_id), None)
        return written


class AccountRepository(Settling):
    def __init__(self, tx: Transaction):
        self._tx = tx

    # ----- patients ------------------------------------------------------------------------
    def get_patient(self, clinic_id: str, patient_id: str, *, consistent: bool = False) -> acc.Patient | None:
        try:
            return patient_from(PatientRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PROFILE,
                                                  consistent_read=consistent))
        except DoesNotExist:
            return None

    def add_patient(self, clinic_id: str, patient: acc.Patient) -> None:
        self._tx.create(patient_record(clinic_id, patient), label="patient")

    def save_patient(self, clinic_id: str, patient: acc.Patient) -> None:
        """Stage the patient record; refused at commit if another writer changed it since it was read."""
        self._tx.save(patient_record(clinic_id, patient), label="patient")

    def names(self, clinic_id: str, patient_ids: Iterable[str]) -> dict[str, str]:
        """Names for a set of patients with batch reads (100 keys per call)."""
        wanted = sorted(set(patient_ids))
        if not wanted:
            return {}
        return {r.patient_id: r.name for r in PatientRecord.batch_get(
            [(keys.patient_pk(clinic_id, pid), keys.PROFILE) for pid in wanted])}

    # ----- the money operations ------------------------------------------------------------
    def load(self, clinic_id: str, patient_id: str) -> LoadedAccount | None:
        """The patient record, its invoices and its plans: one strongly consistent Query."""
        profile = None
        invoices: dict[str, acc.Invoice] = {}
        plans: dict[str, PlanRecord] = {}
        for item in Record.query(keys.patient_pk(clinic_id, patient_id),
                                 Record.sk.between(keys.ACCOUNT_FIRST, keys.ACCOUNT_LAST), consistent_read=True):
            if isinstance(item, PatientRecord):
                profile = patient_from(item)
            elif isinstance(item, InvoiceRecord):
                invoices[item.invoice_id] = invoice_from(item)
            elif isinstance(item, PlanRecord):
                plans[item.plan_id] = item
        if profile is None:
            return None
        active = plans.get(profile.active_plan_id) if profile.active_plan_id else None
        return LoadedAccount(clinic_id, profile, profile.account(invoices, plan_from(active) if active else None))

    def load_with_plan(self, clinic_id: str, patient_id: str, plan_id: str) -> tuple[acc.Patient, acc.Plan] | None:
        """The patient record and one plan, read as one snapshot (TransactGet: no transaction can
        be seen half-applied across the two): two items whatever the patient's history."""
        pk = keys.patient_pk(clinic_id, patient_id)
        with TransactGet(connection=connection()) as get:
            profile_future = get.get(PatientRecord, pk, keys.PROFILE)
            plan_future = get.get(PlanRecord, pk, keys.PLAN + plan_id)
        try:
            return patient_from(profile_future.get()), plan_from(plan_future.get())
        except DoesNotExist:
            return None

    def stage(self, loaded: LoadedAccount, at: datetime) -> list[acc.LedgerLine]:
        """Stage a change of the account: the invoices `Patient.post` writes now (the rest are
        deferred on the patient record, written after the commit by `settle_deferred`), the
        plan, the promises, the ledger lines and the version-checked patient record."""
        clinic_id, patient, account = loaded.clinic_id, loaded.patient, loaded.account
        changes = account.changes
        posting = patient.post(account, at)
        for invoice in posting.invoices:
            record = invoice_record(clinic_id, invoice)
            if invoice.invoice_id in posting.new_invoice_ids:
                self._tx.create(record, label=f"invoice:{invoice.invoice_id}")
            else:
                self._tx.save(record, label=f"invoice:{invoice.invoice_id}")
        if changes.plan is not None:
            record = plan_record(clinic_id, changes.plan)
            if changes.new_plan:
                self._tx.create(record, label="plan")
            else:
                self._tx.save(record, label="plan")
        latest = {promise.promise_id: promise for promise in changes.promises}  # the last state of each wins
        for promise in latest.values():
            self._tx.save(PromiseRecord(
                keys.patient_pk(clinic_id, account.patient_id), keys.PROMISE + promise.promise_id,
                patient_id=account.patient_id, promise=promise_map(promise),
                tl_pk=keys.timeline_pk(clinic_id, keys.PROMISES_TIMELINE),
                tl_sk=keys.timeline_sk(iso_z(promise.resolved_at or promise.made_at), promise.promise_id)),
                label=f"promise:{promise.promise_id}")
        for line in posting.ledger:
            self._tx.create(LedgerRecord(
                keys.ledger_pk(clinic_id, account.patient_id), keys.ledger_sk(line.seq), entry_id=line.entry_id,
                patient_id=line.patient_id, seq=line.seq, at=iso_z(line.at), type=line.type,
                amount_cents=line.amount_cents, balance_after_cents=line.balance_after_cents, ref=line.ref),
                label="ledger")
        self.save_patient(clinic_id, patient)
        self._note_deferred(clinic_id, patient, at)
        return posting.ledger

    # ----- single items --------------------------------------------------------------------
    def invoice(self, clinic_id: str, patient_id: str, invoice_id: str) -> acc.Invoice | None:
        """The invoice as its last change decided it: the item and the patient record in one BatchGetItem."""
        pk = keys.patient_pk(clinic_id, patient_id)
        found = {type(r): r for r in Record.batch_get([(pk, keys.INVOICE + invoice_id), (pk, keys.PROFILE)])}
        if InvoiceRecord not in found:
            return None
        invoice = invoice_from(found[InvoiceRecord])
        return patient_from(found[PatientRecord]).with_deferred(invoice) if PatientRecord in found else invoice

    def plan(self, clinic_id: str, patient_id: str, plan_id: str) -> acc.Plan | None:
        try:
            return plan_from(PlanRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PLAN + plan_id,
                                            consistent_read=True))
        except DoesNotExist:
            return None

    def payment(self, clinic_id: str, patient_id: str, payment_id: str, *,
                consistent: bool = False) -> acc.Payment | None:
        try:
            return payment_from(PaymentRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PAYMENT + payment_id,
                                                  consistent_read=consistent))
        except DoesNotExist:
            return None

    def add_payment(self, clinic_id: str, payment: acc.Payment) -> None:
        self._tx.create(payment_record(clinic_id, payment), label="payment")

    def add_reversal(self, clinic_id: str, payment: acc.Payment, reversal: acc.Reversal) -> None:
        """Stage a reversal: its own item, created only if the payment has none (409
        `already_reversed` for the loser of a race), and the payment marked reversed."""
        pk = keys.patient_pk(clinic_id, reversal.patient_id)
        self._tx.create(ReversalRecord(
            pk, keys.REVERSAL + reversal.payment_id, reversal_id=reversal.reversal_id,
            payment_id=reversal.payment_id, patient_id=reversal.patient_id, amount_cents=reversal.amount_cents,
            reason=reversal.reason, note=reversal.note, at=iso_z(reversal.at), by=reversal.by,
            recovered_by=reversal.recovered_by, tl_pk=keys.timeline_pk(clinic_id, keys.PAYMENTS_TIMELINE),
            tl_sk=keys.timeline_sk(iso_z(reversal.at), reversal.reversal_id)), label="reversal")
        self._tx.save(payment_record(clinic_id, payment), label="payment")

    def payments_of(self, clinic_id: str, patient_id: str, limit: int) -> list[acc.Payment]:
        """The patient's latest payments, newest recorded first: one Query, at most `limit` items."""
        lo, hi = keys.newest_first_range(keys.PAYMENT, None)
        return [payment_from(r) for r in Record.query(
            keys.patient_pk(clinic_id, patient_id), Record.sk.between(lo, hi), scan_index_forward=False,
            consistent_read=True, limit=limit, page_size=limit) if isinstance(r, PaymentRecord)]

    def ledger_page(self, clinic_id: str, patient_id: str, limit: int,
                    after_seq: int | None) -> tuple[list[acc.LedgerLine], bool]:
        """Up to `limit` entries after entry `after_seq`, oldest first, and whether more follow."""
        found = [ledger_line_from(r) for r in LedgerRecord.query(
            keys.ledger_pk(clinic_id, patient_id), LedgerRecord.sk >= keys.ledger_after(after_seq),
            consistent_read=True, limit=limit + 1, page_size=limit + 1)]
        return found[:limit], len(found) > limit

    # ----- the worklist --------------------------------------------------------------------
    def worklist_page(self, clinic_id: str, *, low: date | None, high: date | None,
                      after: tuple[date, str] | None, limit: int, min_balance_cents: int | None = None,
                      max_balance_cents: int | None = None, status: str | None = None,
                      keep: Callable[[acc.Patient], bool] | None = None
                      ) -> tuple[list[acc.Patient], tuple[date, str] | None]:
        """Up to `limit` patients whose oldest open invoice date is in [low, high], most overdue
        first, strictly after the row `after`; and the row the next page continues after (None
        at the end). Asks for limit + 1 rows: the extra row proves there is a next page without
        another call, so without a filter this is exactly one Query reading at most limit + 1 items.

        `keep` is a filter DynamoDB cannot evaluate (the contact rules, judged on each row read):
        applied to the rows the Query returns, with the same growing pages and budget as the
        balance and status filters."""
        held = status == acc.ON_HOLD  # a key range of its own (keys.HELD), not a filter
        bounds = keys.worklist_range(low, high, after, held)
        if bounds is None:
            return [], None
        if held:
            status = None
        parts = []
        if min_balance_cents is not None:
            parts.append(PatientRecord.balance_cents >= min_balance_cents)
        if max_balance_cents is not None:
            parts.append(PatientRecord.balance_cents <= max_balance_cents)
        if status is not None:
            parts.append(PatientRecord.status == status)
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        filtered = condition is not None or keep is not None
        found: list[tuple[acc.Patient, str]] = []
        start_key = None
        calls = read = 0
        while True:
            want = limit + 1 - len(found)
            size = min(FILTER_MAX_PAGE, max(want, (limit + 1) * 2 ** calls)) if filtered else want
            result = Record.worklist.query(
                keys.clinic_pk(clinic_id), Record.wl_sk.between(*bounds), filter_condition=condition,
                page_size=size, last_evaluated_key=start_key)
            raw = next(result.page_iter)
            calls += 1
            read += raw["ScannedCount"]
            for item in raw.get("Items", []):
                record = Record.from_raw_data(item)
                patient = patient_from(record)
                if keep is None or keep(patient):
                    found.append((patient, record.wl_sk))
            start_key = raw.get("LastEvaluatedKey")
            if len(found) > limit:
                return [p for p, _ in found[:limit]], keys.worklist_position(found[limit - 1][1])
            if start_key is None:
                return [p for p, _ in found], None
            if calls >= FILTER_MAX_QUERIES or read >= FILTER_MAX_READ:
                # A short page: the next one continues after the last row read, matching or not.
                return [p for p, _ in found], keys.worklist_position(start_key["wl_sk"]["S"])

    # ----- what the nightly run and the reports read ----------------------------------------
    def due_work(self, clinic_id: str, run_date: date) -> list[tuple[str, str, str | None]]:
        """(kind, patient_id, plan_id) for every plan with an installment due on or before the run
        date, every pending promise dated before it and every hold whose last day is before it: one
        Query of the clinic's `due` partition."""
        work = []
        for item in Record.due.query(keys.clinic_pk(clinic_id), Record.due_sk <= keys.due_until(run_date)):
            day, kind, _ = keys.due_parts(item.due_sk)
            if kind == keys.DUE_PLAN and isinstance(item, PlanRecord):
                work.append(("plan", item.patient_id, item.plan_id))
            elif kind == keys.DUE_PROMISE and isinstance(item, PatientRecord) and day < run_date:
                work.append(("promise", item.patient_id, None))
            elif kind == keys.DUE_HOLD and isinstance(item, PatientRecord) and day < run_date:
                work.append(("hold", item.patient_id, None))
        return work

    def owed(self, clinic_id: str) -> tuple[list[reports.OpenInvoice], list[int], set[str]]:
        """Open invoices, active plans' uninvoiced parts and the patients on hold: one Query of
        the clinic's `OWED` partition, which also holds the patients whose invoices have deferred
        writes (usually none), so those invoices count as their change decided."""
        invoices, remainders, deferred, held = [], [], {}, set()
        for record in Record.timeline.query(keys.timeline_pk(clinic_id, keys.OWED)):
            if isinstance(record, InvoiceRecord) and record.status == "open":
                invoices.append(reports.OpenInvoice(record.patient_id, d(record.invoice_date),
                                                    int(record.balance_cents), record.invoice_id))
            elif isinstance(record, PlanRecord):
                remainders.append(plan_from(record).uninvoiced_cents)
            elif isinstance(record, PatientRecord):
                patient = patient_from(record)
                if patient.deferred_invoices:
                    deferred[record.patient_id] = patient.deferred_invoices
                if patient.hold is not None:
                    held.add(record.patient_id)
        return reports.with_deferred(invoices, deferred), remainders, held

    def payments_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.PaymentEvent]:
        for r in timeline(clinic_id, keys.PAYMENTS_TIMELINE, start, end, _PAYMENT_FIELDS):
            if isinstance(r, PaymentRecord):
                yield reports.PaymentEvent(r.recovered_by, int(r.amount_cents), t(r.received_at))
            elif isinstance(r, ReversalRecord):  # counts against the member on its own date
                yield reports.PaymentEvent(r.recovered_by, -int(r.amount_cents), t(r.at))

    def promises_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.PromiseEvent]:
        for r in timeline(clinic_id, keys.PROMISES_TIMELINE, start, end, _PROMISE_FIELDS):
            if isinstance(r, PromiseRecord):
                yield reports.PromiseEvent(r.promise.made_by, r.promise.status, t(r.promise.resolved_at))


def timeline(clinic_id: str, kind: str, start: datetime, end: datetime, fields: list[str]):
    """The clinic's `kind` timeline items keyed in [start, end): `tl_sk` is `<iso_z>#<id>`, and
    `iso_z(end)` sorts before every key at the instant `end` itself, so BETWEEN is half-open.
    Only the attributes a figure needs come back (`kind` picks the model class)."""
    return Record.timeline.query(keys.timeline_pk(clinic_id, kind), Record.tl_sk.between(iso_z(start), iso_z(end)),
                                 attributes_to_get=fields)
