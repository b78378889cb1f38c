"""Exactly-once races with real threads and processes, against the embedded AWS (moto's server,
which serializes requests as DynamoDB applies transactions atomically; in-process moto is not
thread-safe). Run as its own process, because the AWS endpoint must be set before any model is
imported:

    python -m tests.jobs.race_harness [scenario ...]

prints one JSON object {scenario: facts}; tests/jobs/test_exactly_once.py asserts on the facts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PATIENTS = 5
TOTAL, INSTALLMENT = 80_000, 10_000  # 8 weekly installments
TZ = "America/New_York"
CREATED = datetime.fromisoformat("2026-01-05T17:00:00+00:00")  # noon in New York
START = date(2026, 1, 6)  # installments due 01-06, 01-13, 01-20, 01-27, 02-03, 02-10, ...
TICK = "2026-02-03T08:00:00Z"  # 03:00 EST on 02-03: five installments of each plan are due
THREADS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_aws() -> str:
    """The embedded AWS on a free port; the environment points this process (and children) at it."""
    port = _free_port()
    from devtools.devstack import aws_environment, start_embedded_aws

    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(aws_environment(endpoint))
    os.environ.update({"AWS_ACCESS_KEY_ID": "race", "AWS_SECRET_ACCESS_KEY": "race",
                       "FOLLOWUPS_TABLE": "followups-race", "FOLLOWUPS_AUDIT_TABLE": "followups-race-audit",
                       "FOLLOWUPS_LOG_LEVEL": "ERROR", "POWERTOOLS_LOG_LEVEL": "ERROR"})
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    start_embedded_aws(port)
    return endpoint


def _reset(endpoint: str) -> None:
    import requests

    from devtools import bootstrap

    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    bootstrap.create_tables()


def _staff(clinic_id: str, sub: str):
    from chalicelib.domain.roles import BILLING, Caller

    return Caller(sub=sub, clinic_id=clinic_id, roles=frozenset({BILLING}))


def _setup() -> dict:
    from chalicelib.services import clinics, invoices, patients, plans
    from chalicelib.store.uow import UnitOfWork

    uow = UnitOfWork()
    clinic = clinics.create(uow, CREATED, name="Race Clinic", timezone=TZ, currency="USD")
    staff = _staff(clinic.clinic_id, "staff")
    worlds = []
    for n in range(PATIENTS):
        pid = patients.create(uow, staff, CREATED, name=f"Racer {n}").patient_id
        invoices.create(uow, staff, CREATED, patient_id=pid, amount_cents=TOTAL, invoice_date=date(2025, 12, 1))
        plan = plans.create(uow, staff, CREATED, patient_id=pid, installment_cents=INSTALLMENT,
                            frequency="weekly", start_date=START)
        worlds.append({"patient_id": pid, "plan_id": plan.plan_id})
    return {"clinic_id": clinic.clinic_id, "plans": worlds}


def _event(time: str) -> dict:
    return {"version": "0", "id": f"race-{time}", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": time, "region": "us-east-1", "resources": [], "detail": {}}


def _scheduled(time: str) -> dict:
    """The Lambda entry point exactly as deployed: chalice's handler wrapping our function."""
    from app import app

    return app.handler_map["auto_invoicing"](_event(time), None)


COMMITS = Counter()


def _count_commits() -> None:
    """Count transactions committed and refused by a condition: proof that the race happened."""
    from chalicelib.store.uow import StaleWrite, Transaction

    real = Transaction.send

    def counted(self):
        try:
            real(self)
        except StaleWrite:
            COMMITS["refused"] += 1
            raise
        COMMITS["committed"] += 1

    Transaction.send = counted


def _race(calls: list) -> tuple[list, list[str]]:
    """Start every call at the same moment on its own thread; (results, errors)."""
    COMMITS.clear()
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[str] = []

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as e:  # a 409 (ConcurrentUpdate) of a manual run is a legitimate answer
            results[i] = {"error": type(e).__name__}
            if type(e).__name__ != "ConcurrentUpdate":
                errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _with_commits(facts: dict) -> dict:
    facts["transactions"] = dict(COMMITS)
    return facts


def _facts(world: dict, reported_created: int, expected_due: date) -> dict:
    """What is stored after the race, per plan and per patient."""
    from chalicelib.domain.errors import InvariantViolation
    from chalicelib.services import clinics, plans
    from chalicelib.store import keys
    from chalicelib.store.models import AuditRecord, InvoiceRecord, LedgerRecord, PaymentRecord, Record
    from chalicelib.store.uow import UnitOfWork

    clinic_id = world["clinic_id"]
    audited: dict[str, list[int]] = {}
    for audit in AuditRecord.by_action.query(keys.audit_action_pk(clinic_id, "plan.invoiced")):
        audited.setdefault(audit.details["plan_id"], []).extend(
            int(i["installment_number"]) for i in audit.details["invoices"])
    per_plan, per_patient = {}, {}
    expected = 0
    for w in world["plans"]:
        pid, plan_id = w["patient_id"], w["plan_id"]
        plan = plans.get(UnitOfWork(), _staff(clinic_id, "staff"), plan_id)
        due = [i.number for i in plan.installments if i.due_date <= expected_due]
        expected += len(due)
        items = list(Record.query(keys.patient_pk(clinic_id, pid), consistent_read=True))
        plan_invoices = sorted(int(r.installment_number) for r in items
                               if isinstance(r, InvoiceRecord) and r.source == "plan")
        paid = sum(int(r.amount_cents) for r in items if isinstance(r, PaymentRecord))
        loaded = UnitOfWork().accounts.load(clinic_id, pid)
        try:
            loaded.account.check_invariant()
            invariant = True
        except InvariantViolation:
            invariant = False
        ledger = list(LedgerRecord.query(keys.ledger_pk(clinic_id, pid), consistent_read=True))
        per_plan[plan_id] = {"due": due, "invoiced": plan_invoices, "audited": sorted(audited.get(plan_id, [])),
                             "installment_status": [i.status for i in plan.installments]}
        per_patient[pid] = {"balance": loaded.account.balance_cents, "paid": paid, "invariant": invariant,
                            "ledger_last": int(ledger[-1].balance_after_cents),
                            "ledger_types": Counter(e.type for e in ledger)}
    return {"expected_invoices": expected, "reported_created": reported_created, "plans": per_plan,
            "patients": per_patient, "total": TOTAL,
            "next_run_date": clinics.get(UnitOfWork(), clinic_id).next_run_date.isoformat()}


def _finish(time: str) -> int:
    """The next tick after the race: whatever a conflict left undone, it does (and reports)."""
    later = (datetime.fromisoformat(time.replace("Z", "+00:00")) + timedelta(minutes=15)).isoformat()
    return _scheduled(later)["invoices_created"]


# ----- scenarios ----------------------------------------------------------------------------
def duplicate_deliveries() -> dict:
    """EventBridge delivers the same tick eight times at once (and Lambda retries it)."""
    world = _setup()
    results, errors = _race([lambda: _scheduled(TICK)] * THREADS)
    created = sum(r["invoices_created"] for r in results if "error" not in r)
    facts = _with_commits(_facts(world, created + _finish(TICK), date(2026, 2, 3)))
    facts.update(errors=errors, runs_reporting_the_clinic=sum(world["clinic_id"] in r.get("clinics_run", [])
                                                              for r in results))
    return facts


def overlapping_runs() -> dict:
    """Runs for different ticks (yesterday's late retry, today's, today's next tick, tomorrow's)
    all at once."""
    world = _setup()
    ticks = ["2026-02-02T08:00:00Z", TICK, "2026-02-03T08:15:00Z", "2026-02-04T08:00:00Z"] * 2
    results, errors = _race([(lambda t=t: _scheduled(t)) for t in ticks])
    created = sum(r["invoices_created"] for r in results if "error" not in r)
    facts = _with_commits(_facts(world, created + _finish("2026-02-04T08:00:00Z"), date(2026, 2, 4)))
    facts["errors"] = errors
    return facts


def manual_run_during_the_scheduled_run() -> dict:
    """Staff press "run" on every plan while the scheduled run (delivered twice) is running."""
    from chalicelib.services import plans
    from chalicelib.store.uow import UnitOfWork

    world = _setup()
    now = datetime.fromisoformat(TICK.replace("Z", "+00:00"))
    staff = _staff(world["clinic_id"], "staff-sub")

    def manual(order):
        created = 0
        for w in order:  # one request per plan, each with its own unit of work
            created += len(plans.run(UnitOfWork(), staff, now, w["plan_id"]))
        return {"invoices_created": created}

    forward, backward = world["plans"], list(reversed(world["plans"]))
    calls = [lambda: _scheduled(TICK)] * 4 + [lambda: manual(forward), lambda: manual(backward)] * 2
    results, errors = _race(calls)
    created = sum(r["invoices_created"] for r in results if "error" not in r)
    facts = _with_commits(_facts(world, created + _finish(TICK), date(2026, 2, 3)))
    facts["errors"] = errors
    return facts


def payments_during_runs() -> dict:
    """Patients pay while overlapping runs invoice their plans: money is neither lost nor counted twice."""
    from chalicelib.services import payments
    from chalicelib.store.uow import UnitOfWork

    world = _setup()
    now = datetime.fromisoformat(TICK.replace("Z", "+00:00"))
    staff = _staff(world["clinic_id"], "staff-sub")

    def pay(w, n):
        def call():
            created, _ = payments.record(UnitOfWork(), staff, now, idempotency_key=f"race-{w}-{n}",
                                         body={"patient_id": w, "amount_cents": 3_500, "method": "card"})
            return {"invoices_created": 0, "created": created}
        return call

    calls = [lambda: _scheduled(TICK)] * 3 + [pay(w["patient_id"], n) for w in world["plans"] for n in range(2)]
    results, errors = _race(calls)
    created = sum(r["invoices_created"] for r in results if "error" not in r)
    facts = _with_commits(_facts(world, created + _finish(TICK), date(2026, 2, 3)))
    facts["errors"] = errors
    facts["payments_refused"] = sum(1 for r in results if r and r.get("error"))
    return facts


def cli_processes(endpoint: str) -> dict:
    """Four `followups invoicing run --at` processes at once, as four Lambdas would be."""
    from devtools import bootstrap

    world = _setup()
    pool_id, client_id = bootstrap.create_user_pool("race-pool")
    stack = Path(os.environ.get("RACE_TMP", "/tmp")) / f"race-stack-{os.getpid()}.json"
    stack.write_text(json.dumps({"aws_endpoint_url": endpoint, "region": "us-east-1", "user_pool_id": pool_id,
                                 "user_pool_client_id": client_id, "api_url": "http://127.0.0.1:1"}))
    env = {**os.environ, "FOLLOWUPS_STACK_FILE": str(stack)}
    command = [str(Path(sys.executable).with_name("followups")), "invoicing", "run", "--at", TICK]
    try:
        processes = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(4)]
        outputs = [p.communicate(timeout=120) for p in processes]
    finally:
        stack.unlink(missing_ok=True)
    summaries, errors = [], []
    for p, (out, err) in zip(processes, outputs, strict=True):
        if p.returncode == 0:
            summaries.append(json.loads(out))
        else:
            errors.append(err[-2000:])
    created = sum(s["invoices_created"] for s in summaries)
    facts = _facts(world, created + _finish(TICK), date(2026, 2, 3))
    facts.update(errors=errors, summaries=summaries)
    return facts


SCENARIOS = {"duplicate_deliveries": duplicate_deliveries, "overlapping_runs": overlapping_runs,
             "manual_run_during_the_scheduled_run": manual_run_during_the_scheduled_run,
             "payments_during_runs": payments_during_runs, "cli_processes": cli_processes}


def main(names: list[str]) -> None:
    endpoint = _start_aws()
    sys.path.insert(0, str(ROOT))
    _count_commits()
    out = {}
    for name in names or list(SCENARIOS):
        _reset(endpoint)
        fn = SCENARIOS[name]
        try:
            out[name] = fn(endpoint) if name == "cli_processes" else fn()
        except Exception:
            out[name] = {"errors": [traceback.format_exc()]}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
