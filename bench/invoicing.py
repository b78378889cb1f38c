"""Benchmark: one run of the scheduled auto-invoicing function over many clinics and plans.

Counts every DynamoDB call the run makes and every item those calls read, and relates them to
the number of installments due. Seeds in-process moto directly with batch writes (the shapes the
services write), then invokes the Lambda entry point once with an EventBridge event.

    .venv/bin/python bench/invoicing.py                        # 1,000 clinics, 100,000 plans, 1% due
    .venv/bin/python bench/invoicing.py --clinics 100 --plans 10000
    .venv/bin/python bench/invoicing.py --compare              # also the same due work among 10x fewer plans

Goal (issue 4): <= 3 calls and <= 2 items read per due installment, plus one query per clinic.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_REGION": "us-east-1", "FOLLOWUPS_TABLE": "followups-bench",
                   "FOLLOWUPS_AUDIT_TABLE": "followups-bench-audit", "FOLLOWUPS_LOG_LEVEL": "ERROR",
                   "POWERTOOLS_LOG_LEVEL": "ERROR"})
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)

import botocore.client  # noqa: E402
import botocore.exceptions  # noqa: E402

NOW = "2026-06-15T12:00:00Z"  # a tick at which every clinic's 03:00 has come (zones from -10 to +12:45)
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu", "Europe/Athens",
         "Europe/London", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Sydney", "Pacific/Chatham"]
TOTAL, INSTALLMENT = 60_000, 10_000  # six monthly installments


# ----- counting -----------------------------------------------------------------------------
class Meter:
    """Every DynamoDB call (botocore's one entry point) and the items each one read."""

    def __init__(self):
        self.on = False
        self.calls: Counter = Counter()
        self.items: Counter = Counter()
        self.writes: Counter = Counter()
        self.errors: Counter = Counter()

    @staticmethod
    def _items_read(op: str, response: dict) -> int:
        if op in ("Query", "Scan"):
            return int(response.get("ScannedCount", 0))
        if op == "GetItem":
            return 1 if response.get("Item") else 0
        if op == "BatchGetItem":
            return sum(len(v) for v in response.get("Responses", {}).values())
        if op == "TransactGetItems":
            return sum(1 for r in response.get("Responses", []) if r.get("Item"))
        return 0

    @staticmethod
    def _items_written(op: str, params: dict) -> int:
        if op == "TransactWriteItems":
            return len(params.get("TransactItems", []))
        if op == "BatchWriteItem":
            return sum(len(v) for v in params.get("RequestItems", {}).values())
        return 1 if op in ("PutItem", "UpdateItem", "DeleteItem") else 0

    def install(self) -> None:
        real = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client, operation_name, api_params):
            try:
                response = real(client, operation_name, api_params)
            except botocore.exceptions.ClientError as e:
                if meter.on:
                    meter.errors[f"{operation_name}:{e.response['Error']['Code']}"] += 1
                raise
            if meter.on and client.meta.service_model.service_name == "dynamodb":
                index = api_params.get("IndexName", "")
                key = f"{operation_name}" + (f"({index}:{_partition_kind(api_params)})" if index else "")
                meter.calls[key] += 1
                if read := self._items_read(operation_name, response):
                    meter.items[key] += read
                if written := self._items_written(operation_name, api_params):
                    meter.writes[key] += written
            return response

        botocore.client.BaseClient._make_api_call = counted

    @contextmanager
    def measuring(self):
        self.calls.clear(), self.items.clear(), self.writes.clear(), self.errors.clear()
        self.on = True
        try:
            yield self
        finally:
            self.on = False


def _partition_kind(params: dict) -> str:
    values = params.get("ExpressionAttributeValues", {})
    hashes = [v.get("S", "") for v in values.values() if isinstance(v, dict)]
    return "RUNS" if "RUNS" in hashes else "clinic"


def faster_moto(queries: bool = True) -> None:
    """Make moto usable at 300,000 items without changing what it answers (the figures counted are
    the same with `--plain-moto`, at small sizes: see BENCHMARKS.md).

    - moto's Query builds a list of every item of the table and sorts it, then filters by the
      partition key and sorts the matches again: O(n log n) per query. The first sort is
      pointless for a query (the matches are sorted again), so queries get the items unsorted.
    - see `cheap_moto_transactions`."""
    cheap_moto_transactions()
    if not queries:
        return
    from moto.dynamodb.models.table import Table

    real_query = Table.query

    def unsorted_items(self):
        if self.range_key_attr:
            return [item for hash_set in self.items.values() for item in hash_set.values()]
        return list(self.items.values())

    def query(self, *args, **kwargs):
        self.all_items = unsorted_items.__get__(self)  # this call only; scans keep the sorted order
        try:
            return real_query(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def cheap_moto_transactions() -> None:
    """moto backs up every table a TransactWriteItems touches with a deep copy (for rollback), once
    per item, which at 300,000 items makes each transaction take seconds. This benchmark is
    single-threaded and no transaction in it may fail (a failed call aborts it, see `errors`), so
    the backup is the table itself. What is counted (calls, items) does not change."""
    import copy

    import moto.dynamodb.models as moto_models
    from moto.dynamodb.models.table import Table

    class _Copy:
        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    moto_models.copy = _Copy


# ----- seeding ------------------------------------------------------------------------------
def seed(clinics: int, plans: int, due_fraction: float, now: datetime, rng: random.Random) -> dict:
    """Clinics due at `now`; `plans` patients on plans spread over them; `due_fraction` of the plans
    have one installment due on the clinic's run date (two paid installment invoices behind it),
    the rest are due later. Written with BatchWriteItem, the shapes the services write."""
    from chalicelib.domain import account as acc
    from chalicelib.domain import clock
    from chalicelib.domain.clinic import Clinic
    from chalicelib.domain.ids import installment_invoice_id, new_child_id, new_clinic_id, new_patient_id
    from chalicelib.domain.plans import add_months
    from chalicelib.store import accounts
    from chalicelib.store.clinics import _record as clinic_record
    from chalicelib.store.models import Record

    due_count = round(plans * due_fraction)
    due_slots = set(rng.sample(range(plans), due_count))
    items = 0
    with Record.batch_write() as batch:
        clinic_rows = []
        for c in range(clinics):
            tz = ZONES[c % len(ZONES)]
            clinic_id = new_clinic_id()
            batch.save(clinic_record(Clinic(clinic_id, f"Bench {c}", tz, "USD", now - timedelta(days=400),
                                            next_run_date=clock.latest_run_date(now, tz))))
            clinic_rows.append((clinic_id, tz, clock.latest_run_date(now, tz)))
            items += 1
        for n in range(plans):
            clinic_id, tz, run_date = clinic_rows[n % clinics]
            pid = new_patient_id()
            plan_id = new_child_id("plan", pid)
            original = acc.Invoice(new_child_id("inv", pid), pid, TOTAL, TOTAL, run_date - timedelta(days=90),
                                   status="in_plan", created_at=now)
            if n in due_slots:  # started two months ago: 1 and 2 invoiced and paid, 3 due on the run date
                start = add_months(run_date, -2)
            else:
                start = run_date + timedelta(days=rng.randint(1, 27))
            installments = [acc.Installment(i + 1, add_months(start, i), INSTALLMENT) for i in range(6)]
            extra = []
            if n in due_slots:
                for inst in installments[:2]:
                    inst.status, inst.invoice_id = "paid", installment_invoice_id(plan_id, inst.number)
                    extra.append(acc.Invoice(inst.invoice_id, pid, INSTALLMENT, 0, inst.due_date, status="paid",
                                             source="plan", plan_id=plan_id, installment_number=inst.number,
                                             created_at=now))
            plan = acc.Plan(plan_id, pid, TOTAL, INSTALLMENT, "monthly", start, installments, created_at=now,
                            created_by="bench")
            account = acc.Account(pid, balance_cents=plan.uninvoiced_cents, status="payment_plan", plan=plan,
                                  invoices={i.invoice_id: i for i in [original, *extra]})
            account.check_invariant()
            patient = acc.Patient(pid, f"Patient {n}", now, "bench", version=1, ledger_seq=1)
            patient.take_state_of(account)
            batch.save(accounts.patient_record(clinic_id, patient))
            batch.save(accounts.plan_record(clinic_id, plan))
            for invoice in [original, *extra]:
                batch.save(accounts.invoice_record(clinic_id, invoice))
            items += 3 + len(extra)
    return {"clinics": clinics, "plans": plans, "due_plans": due_count, "items_seeded": items}


# ----- one scenario -------------------------------------------------------------------------
def run_scenario(meter: Meter, clinics: int, plans: int, due_fraction: float, seed_value: int) -> dict:
    from moto import mock_aws

    with mock_aws():
        from devtools import bootstrap

        bootstrap.create_tables()
        now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
        started = time.perf_counter()
        seeded = seed(clinics, plans, due_fraction, now, random.Random(seed_value))
        seed_seconds = time.perf_counter() - started
        print(f"seeded {seeded} in {seed_seconds:.0f}s", file=sys.stderr, flush=True)

        from app import app

        event = {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "000000000000", "time": NOW, "region": "us-east-1", "resources": [], "detail": {}}
        with meter.measuring():
            started = time.perf_counter()
            summary = app.handler_map["auto_invoicing"](event, None)
            run_seconds = time.perf_counter() - started
        calls, items, writes = dict(meter.calls), dict(meter.items), dict(meter.writes)
        if meter.errors or summary["invoices_created"] != seeded["due_plans"]:
            raise SystemExit(f"the run did not go cleanly: {dict(meter.errors)} {summary}")
        print(f"ran in {run_seconds:.0f}s: {calls} {items}", file=sys.stderr, flush=True)

        # Side by side: what the alternatives would read for the same run.
        scan_items = _scan_items(meter)
        full_load_items = _full_load_items(meter, summary)

        # A second run at the same tick finds every clinic already run: the cost of an idle tick.
        with meter.measuring():
            idle = app.handler_map["auto_invoicing"](event, None)
        idle_calls, idle_items = sum(meter.calls.values()), sum(meter.items.values())

    due = summary["invoices_created"]
    clinics_run = len(summary["clinics_run"])
    total_calls, total_items = sum(calls.values()), sum(items.values())
    clinic_queries = calls.get("Query(due:clinic)", 0)
    return {
        **seeded, "seed_seconds": round(seed_seconds, 1), "run_seconds_in_moto": round(run_seconds, 2),
        "clinics_run": clinics_run, "due_installments": due, "promises_broken": summary["promises_broken"],
        "calls": calls, "items_read": items, "items_written": writes,
        "total_calls": total_calls, "total_items_read": total_items,
        "calls_per_due_installment_beyond_one_query_per_clinic": round((total_calls - clinic_queries) / due, 3),
        "items_read_per_due_installment_beyond_the_index_queries": round(
            (total_items - items.get("Query(due:clinic)", 0) - items.get("Query(due:RUNS)", 0)) / due, 3),
        "items_read_per_due_installment_all_included": round(total_items / due, 3),
        "scan_based_run_would_read_items": scan_items,
        "account_query_per_due_plan_would_read_items": full_load_items,
        "idle_tick_calls": idle_calls, "idle_tick_items_read": idle_items,
        "idle_tick_clinics_run": len(idle["clinics_run"]),
    }


def _full_load_items(meter: Meter, summary: dict) -> int:
    """Items that loading each invoiced patient's whole account (one Query of profile, invoices and
    plans, `uow.accounts.load`) reads, against the two the run's TransactGet reads."""
    from chalicelib.store.uow import UnitOfWork

    patients = set()
    for clinic_id in summary["clinics_run"]:
        patients.update((clinic_id, a.patient_id) for a in _invoiced_audits(clinic_id))
    uow = UnitOfWork()
    with meter.measuring():
        for clinic_id, patient_id in patients:
            uow.accounts.load(clinic_id, patient_id)
        return sum(meter.items.values())


def _scan_items(meter: Meter) -> int:
    """Items a run that scanned the billing table for due plans would read: every item of the table
    (DescribeTable's count; moto re-sorts the whole table for every 1 MB page of a real Scan)."""
    import boto3

    from chalicelib import config

    client = boto3.client("dynamodb", region_name=config.region())
    return int(client.describe_table(TableName=config.table_name())["Table"]["ItemCount"])


def _invoiced_audits(clinic_id: str):
    from chalicelib.store import keys
    from chalicelib.store.models import AuditRecord

    return AuditRecord.by_action.query(keys.audit_action_pk(clinic_id, "plan.invoiced"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clinics", type=int, default=1_000)
    parser.add_argument("--plans", type=int, default=100_000)
    parser.add_argument("--due-fraction", type=float, default=0.01)
    parser.add_argument("--compare", action="store_true",
                        help="also run the same number of due plans among 10x fewer plans")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--plain-moto", action="store_true",
                        help="no speed-ups of moto (slow beyond a few thousand items; to check they change nothing)")
    args = parser.parse_args()
    meter = Meter()
    meter.install()
    if not args.plain_moto:
        faster_moto()
    results = {"main": run_scenario(meter, args.clinics, args.plans, args.due_fraction, args.seed)}
    print(json.dumps(results["main"]), file=sys.stderr, flush=True)
    if args.compare:
        results["same_due_work_10x_fewer_plans"] = run_scenario(
            meter, args.clinics, args.plans // 10, min(1.0, args.due_fraction * 10), args.seed)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
