"""A patient's account in DynamoDB: load it with one Query, write its changes in one Unit.

Every write to a patient's partition goes through `stage_account`, which saves the patient
record with its version condition: two writers of one patient can never both win, and the
loser reloads and tries again (`tx.retrying`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..domain import account as acc
from ..domain.clock import iso_z, parse_iso_z
from ..domain.errors import NotFound
from ..domain.ids import new_child_id
from . import keys
from .models import (
    InstallmentMap,
    InvoiceRecord,
    LedgerRecord,
    PatientRecord,
    PlanRecord,
    PromiseMap,
    PromiseRecord,
    Record,
)
from .tx import Unit


@dataclass
class LoadedAccount:
    clinic_id: str
    profile: PatientRecord
    account: acc.Account


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _t(text: str | None) -> datetime | None:
    return parse_iso_z(text) if text else None


# ----- records -> domain -------------------------------------------------------------------
def invoice_from(r: InvoiceRecord) -> acc.Invoice:
    return acc.Invoice(
        invoice_id=r.invoice_id, patient_id=r.patient_id, amount_cents=int(r.amount_cents),
        balance_cents=int(r.balance_cents), invoice_date=_d(r.invoice_date), status=r.status,
        source=r.source, service_date=_d(r.service_date), description=r.description,
        external_id=r.external_id, plan_id=r.plan_id,
        installment_number=int(r.installment_number) if r.installment_number is not None else None,
        created_at=_t(r.created_at))


def plan_from(r: PlanRecord) -> acc.Plan:
    return acc.Plan(
        plan_id=r.plan_id, patient_id=r.patient_id, total_cents=int(r.total_cents),
        installment_cents=int(r.installment_cents), frequency=r.frequency, start_date=_d(r.start_date),
        installments=[acc.Installment(int(i.number), _d(i.due_date), int(i.amount_cents),
                                      int(i.prepaid_cents or 0), i.status, i.invoice_id)
                      for i in r.installments],
        status=r.status, created_at=_t(r.created_at), created_by=r.created_by)


def promise_from(m: PromiseMap) -> acc.Promise:
    return acc.Promise(
        promise_id=m.promise_id, attempt_id=m.attempt_id, amount_cents=int(m.amount_cents),
        promised_date=_d(m.promised_date), made_at=_t(m.made_at), made_by=m.made_by,
        paid_cents=int(m.paid_cents or 0), status=m.status, resolved_at=_t(m.resolved_at))


# ----- domain -> records -------------------------------------------------------------------
def invoice_record(clinic_id: str, i: acc.Invoice) -> InvoiceRecord:
    record = InvoiceRecord(
        keys.patient_pk(clinic_id, i.patient_id), keys.INVOICE + i.invoice_id,
        invoice_id=i.invoice_id, patient_id=i.patient_id, amount_cents=i.amount_cents,
        balance_cents=i.balance_cents, invoice_date=i.invoice_date.isoformat(),
        service_date=i.service_date.isoformat() if i.service_date else None, status=i.status,
        source=i.source, description=i.description, external_id=i.external_id, plan_id=i.plan_id,
        installment_number=i.installment_number, created_at=iso_z(i.created_at))
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
        created_at=iso_z(p.created_at), created_by=p.created_by)
    due = p.next_due_date
    if due is not None:  # sparse: only plans with an installment still to invoice
        record.due_pk = keys.clinic_pk(clinic_id)
        record.due_sk = f"{due.isoformat()}#PLAN#{p.plan_id}"
    if p.uninvoiced_cents > 0:  # sparse: an active plan's part not invoiced yet (aging report)
        record.tl_pk = keys.timeline_pk(clinic_id, keys.OWED)
        record.tl_sk = keys.owed_plan_sk(p.plan_id)
    return record


def promise_map(p: acc.Promise) -> PromiseMap:
    return PromiseMap(
        promise_id=p.promise_id, attempt_id=p.attempt_id, amount_cents=p.amount_cents,
        promised_date=p.promised_date.isoformat(), made_at=iso_z(p.made_at), made_by=p.made_by,
        paid_cents=p.paid_cents, status=p.status, resolved_at=iso_z(p.resolved_at) if p.resolved_at else None)


# ----- load and stage ----------------------------------------------------------------------
def load(clinic_id: str, patient_id: str) -> LoadedAccount:
    """The patient record, its invoices and its plans: one strongly consistent Query."""
    profile = None
    invoices: dict[str, acc.Invoice] = {}
    plans: dict[str, PlanRecord] = {}
    for item in Record.query(keys.patient_pk(clinic_id, patient_id),
                             Record.sk.between(keys.ACCOUNT_FIRST, keys.ACCOUNT_LAST), consistent_read=True):
        if isinstance(item, PatientRecord):
            profile = item
        elif isinstance(item, InvoiceRecord):
            invoices[item.invoice_id] = invoice_from(item)
        elif isinstance(item, PlanRecord):
            plans[item.plan_id] = item
    if profile is None:
        raise NotFound(f"no patient {patient_id}")
    active = plans.get(profile.active_plan_id) if profile.active_plan_id else None
    account = acc.Account(
        patient_id=patient_id, balance_cents=int(profile.balance_cents), status=profile.status,
        invoices=invoices, plan=plan_from(active) if active else None,
        promise=promise_from(profile.pending_promise) if profile.pending_promise else None,
        promises_made=int(profile.promises_made), promises_kept=int(profile.promises_kept),
        promises_broken=int(profile.promises_broken))
    return LoadedAccount(clinic_id, profile, account)


def stage_account(unit: Unit, loaded: LoadedAccount) -> list[LedgerRecord]:
    """Add every change the account recorded, plus the patient record, to `unit`."""
    clinic_id, profile, account = loaded.clinic_id, loaded.profile, loaded.account
    changes = account.changes
    for invoice in changes.invoices.values():
        record = invoice_record(clinic_id, invoice)
        if invoice.invoice_id in changes.new_invoice_ids:
            unit.create(record, label=f"invoice:{invoice.invoice_id}")
        else:
            unit.save(record, label=f"invoice:{invoice.invoice_id}")
    if changes.plan is not None:
        record = plan_record(clinic_id, changes.plan)
        if changes.new_plan:
            unit.create(record, label="plan")
        else:
            unit.save(record, label="plan")
    seen_promises = {}
    for promise in changes.promises:
        seen_promises[promise.promise_id] = promise  # the last state of each promise wins
    for promise in seen_promises.values():
        unit.save(PromiseRecord(keys.patient_pk(clinic_id, account.patient_id), keys.PROMISE + promise.promise_id,
                                patient_id=account.patient_id, promise=promise_map(promise),
                                tl_pk=keys.timeline_pk(clinic_id, "PROMISE"),
                                tl_sk=keys.timeline_sk(iso_z(promise.resolved_at or promise.made_at),
                                                       promise.promise_id)),
                  label=f"promise:{promise.promise_id}")
    ledger = []
    running = int(profile.balance_cents)
    seq = int(profile.ledger_seq)
    for entry in changes.ledger:
        seq += 1
        running += entry.amount_cents
        record = LedgerRecord(
            keys.ledger_pk(clinic_id, account.patient_id), keys.ledger_sk(seq),
            entry_id=new_child_id("ent", account.patient_id),
            patient_id=account.patient_id, seq=seq, at=iso_z(unit.now), type=entry.type,
            amount_cents=entry.amount_cents, balance_after_cents=running, ref=entry.ref)
        unit.create(record, label="ledger")
        ledger.append(record)
    assert running == account.balance_cents, (running, account.balance_cents)
    account.check_invariant()
    apply_to_profile(clinic_id, profile, account)
    profile.ledger_seq = seq
    unit.save(profile, label="patient")
    return ledger


def apply_to_profile(clinic_id: str, profile: PatientRecord, account: acc.Account) -> None:
    """Copy the account's state onto the patient record and keep its index entries current."""
    profile.balance_cents = account.balance_cents
    profile.status = account.status
    oldest = account.oldest_open_invoice_date
    profile.oldest_open_invoice_date = oldest.isoformat() if oldest else None
    # The worklist is a sparse index: a patient is in it only while an invoice is open.
    if oldest is not None:
        profile.wl_pk = keys.clinic_pk(clinic_id)
        profile.wl_sk = keys.worklist_sk(oldest.isoformat(), account.patient_id)
    else:
        profile.wl_pk = profile.wl_sk = None
    profile.active_plan_id = account.plan.plan_id if account.plan else None
    next_due = account.plan.next_due_date if account.plan else None
    profile.plan_next_due = next_due.isoformat() if next_due else None
    profile.pending_promise = promise_map(account.promise) if account.promise else None
    profile.promises_made = account.promises_made
    profile.promises_kept = account.promises_kept
    profile.promises_broken = account.promises_broken
    # Pending promises are found by date when the nightly run marks broken ones.
    if account.promise is not None:
        profile.due_pk = keys.clinic_pk(clinic_id)
        profile.due_sk = f"{account.promise.promised_date.isoformat()}#PROMISE#{account.patient_id}"
    else:
        profile.due_pk = profile.due_sk = None


def new_profile(clinic_id: str, patient_id: str, **fields) -> PatientRecord:
    return PatientRecord(keys.patient_pk(clinic_id, patient_id), keys.PROFILE, patient_id=patient_id, **fields)
