"""Money operations driven through the store, for tests on branches without their routes.

Each function is what the plan and promise services do: load the account with one Query, call
the domain method, stage the changes (ledger, indexes, version-conditioned patient record) and
commit them with the audit record in one transaction, through the unit of work the routes use
(`routing.unit_of_work()`: DynamoDB in the moto tier, the memory store in tests/fast). The
readers below read DynamoDB back (the stored records themselves: what the moto tests are about).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from pynamodb.connection.base import Connection

from chalicelib.api import routing
from chalicelib.domain.account import Promise
from chalicelib.domain.ids import new_child_id
from chalicelib.domain.roles import SYSTEM, Caller
from chalicelib.services import audit
from chalicelib.store import keys
from chalicelib.store.models import InvoiceRecord, LedgerRecord, PatientRecord, PlanRecord, Record


def caller(world, who: str) -> Caller:
    """The `Caller` a request of `who` (a user of a tests.support.ClinicWorld) is served as."""
    user = world.users[who]
    return Caller(sub=user["sub"], clinic_id=world.clinic_id, roles=frozenset({user["role"]}), email=user["email"])


def convert_to_plan(clinic_id: str, patient_id: str, installment_cents: int, frequency: str, start: date,
                    today: date, now: datetime, actor: str = "tester") -> str:
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, patient_id)
    plan = loaded.account.convert_to_plan(new_child_id("plan", patient_id), installment_cents, frequency,
                                          start, today, now, actor)
    uow.accounts.stage(loaded, now)
    audit.record(uow, clinic_id, actor, "plan.created", now, patient_id=patient_id,
                 details={"plan_id": plan.plan_id, "total_cents": plan.total_cents})
    uow.commit()
    return plan.plan_id


def run_plan(clinic_id: str, patient_id: str, run_date: date, now: datetime) -> list[str]:
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, patient_id)
    created = loaded.account.invoice_due_installments(run_date, now)
    if not created:
        return []
    uow.accounts.stage(loaded, now)
    audit.record(uow, clinic_id, SYSTEM, "plan.invoiced", now, patient_id=patient_id,
                 details={"invoice_ids": [i.invoice_id for i in created]})
    uow.commit()
    return [i.invoice_id for i in created]


def promise(clinic_id: str, patient_id: str, amount_cents: int, promised_date: date, today: date,
            now: datetime, actor: str = "tester") -> str:
    uow = routing.unit_of_work()
    loaded = uow.accounts.load(clinic_id, patient_id)
    promise_id = new_child_id("prom", patient_id)
    loaded.account.record_promise(Promise(promise_id, new_child_id("att", patient_id), amount_cents,
                                          promised_date, now, actor), today)
    uow.accounts.stage(loaded, now)
    audit.record(uow, clinic_id, actor, "attempt.logged", now, patient_id=patient_id,
                 details={"promise_id": promise_id})
    uow.commit()
    return promise_id


@contextlib.contextmanager
def dynamodb_ops():
    """The DynamoDB operations PynamoDB sends during the block, in order (they still happen)."""
    ops: list[str] = []
    original = Connection._make_api_call

    def spy(self, operation_name, operation_kwargs):
        ops.append(operation_name)
        return original(self, operation_name, operation_kwargs)

    Connection._make_api_call = spy
    try:
        yield ops
    finally:
        Connection._make_api_call = original


# ----- reading back ------------------------------------------------------------------------
def profile(clinic_id: str, patient_id: str) -> PatientRecord:
    return PatientRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PROFILE, consistent_read=True)


def ledger(clinic_id: str, patient_id: str) -> list[LedgerRecord]:
    return list(LedgerRecord.query(keys.ledger_pk(clinic_id, patient_id), consistent_read=True))


def invoices(clinic_id: str, patient_id: str) -> list[InvoiceRecord]:
    return list(InvoiceRecord.query(keys.patient_pk(clinic_id, patient_id), InvoiceRecord.sk.startswith(keys.INVOICE),
                                    consistent_read=True))


def plans(clinic_id: str, patient_id: str) -> list[PlanRecord]:
    return list(PlanRecord.query(keys.patient_pk(clinic_id, patient_id), PlanRecord.sk.startswith(keys.PLAN),
                                 consistent_read=True))


def due_index_sort_keys(clinic_id: str) -> list[str]:
    return [r.due_sk for r in Record.due.query(keys.clinic_pk(clinic_id))]
