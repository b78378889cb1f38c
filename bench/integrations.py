"""Benchmarks for integrations (issue 17): a patient-search page at 1,000 / 10,000 / 100,000
patients, and the import's throughput against a bare BatchWriteItem loader of the same items.

    .venv/bin/python bench/integrations.py search [--sizes 1000,10000,100000]
    .venv/bin/python bench/integrations.py import [--rows 10000] [--chunk 1000]

Both on in-process moto through the real code: search through the app (`chalice.test.Client`, a
real ID token); import through the CLI itself (`followups import FILE --clinic ID`, run in this
process on a CSV it writes), then a bare BatchWriteItem loader of the very items the import wrote
(recorded from its requests, replayed in order into empty copies of the tables), in the same run.

Search seeds the worst case: every patient of the clinic shares the word the query asks for
(one search partition holding the whole clinic), straight into the table with batch writes of the
items the store itself builds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import offline  # noqa: E402

offline.isolate()

from moto import mock_aws  # noqa: E402

from devtools import moto_patch  # noqa: E402

moto_patch.install()  # as the local stack and the tests run moto: a transaction copies what it touches only

LIMIT = 25


def _clinic():
    from chalicelib.services import clinics, staff
    from chalicelib.store.uow import UnitOfWork
    from tests.support import PASSWORD, id_token

    now = datetime.now(UTC)
    uow = UnitOfWork()
    clinic = clinics.create(uow, now, name="Bench Clinic", timezone="America/New_York", currency="USD")
    staff.create(uow, clinic.clinic_id, now, email="bench@example.test", name="Bench", role="Owner",
                 password=PASSWORD)
    return clinic, id_token("bench@example.test")


def seed_search(clinic_id: str, start: int, stop: int) -> None:
    from chalicelib.domain.account import Patient
    from chalicelib.store import accounts, directory
    from chalicelib.store.models import Record

    now = datetime.now(UTC)
    with Record.batch_write() as batch:
        for i in range(start, stop):
            patient = Patient(f"pat_s{i:015d}", f"Garcia Person{i:06d}", now, "bench", version=1)
            batch.save(accounts.patient_record(clinic_id, patient))
            for (pk, _), item in directory._search_items(clinic_id, patient).items():
                if pk.endswith("#n#ga"):  # the partition the query reads; the others do not change its cost
                    batch.save(item)


def search(args) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with mock_aws():
        from tests.support import provision_embedded_aws

        provision_embedded_aws()
        from chalice.test import Client

        from app import app

        clinic, token = _clinic()
        seeded = 0
        with Client(app, stage_name="local") as client:
            headers = {"Authorization": f"Bearer {token}"}
            for size in sizes:
                t0 = time.perf_counter()
                seed_search(clinic.clinic_id, seeded, size)
                seeded = size
                print(f"seeded {size:>7,} patients in {time.perf_counter() - t0:6.1f}s", file=sys.stderr, flush=True)
                first = json.loads(client.http.get(f"/patients?q=ga&limit={LIMIT}", headers=headers).body)
                for name, path in (("first page", f"/patients?q=ga&limit={LIMIT}"),
                                   ("second page (cursor)", f"/patients?q=ga&limit={LIMIT}&cursor="
                                                            f"{first['next_cursor']}")):
                    samples = offline.timed_gets(client.http, path, headers, args.reps)
                    results[(size, name)] = {
                        "calls": max(len(c) for _, c, _ in samples),
                        "ops": "+".join(op for op, _, _ in samples[-1][1]),
                        "query_items": max(sum(r for op, _, r in c if op == "Query") for _, c, _ in samples),
                        "request_ms": statistics.median(t for t, _, _ in samples) * 1000}
    print(f"\nSearch page cost (q=ga, every patient matches), limit {LIMIT}, median of {args.reps}\n")
    print(f"{'patients':>9} | {'page':<22} | {'calls':<40} | {'Query items':>11} | {'ms':>7}")
    for (size, name), r in results.items():
        print(f"{size:>9,} | {name:<22} | {r['calls']} ({r['ops']}){'':<{max(0, 36 - len(r['ops']))}} | "
              f"{r['query_items']:>11} | {r['request_ms']:>7.1f}")
    low, high = sizes[0], sizes[-1]
    ok = True
    for name in ("first page", "second page (cursor)"):
        a, b = results[(low, name)], results[(high, name)]
        ratio = b["calls"] / a["calls"], b["query_items"] / a["query_items"]
        ok &= ratio[0] <= 1.1 and ratio[1] <= 1.1 and b["query_items"] <= LIMIT + 1
        print(f"  {name:<22} {low:,} -> {high:,}: calls x{ratio[0]:.2f}, items x{ratio[1]:.2f}, "
              f"Query items {b['query_items']} (<= {LIMIT + 1})")
    return 0 if ok else 1


def _import_csv(path: Path, rows: int, day: str) -> None:
    """`rows` rows of rows/2 patients with two invoices each, on two rows one after the other
    (the second renames the patient, so half the rows update a patient and move its search
    items), a phone each: every chunk does the same work, so its time shows any growth."""
    import csv

    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["patient_external_id", "patient_name", "phone", "invoice_external_id", "invoice_date",
                         "amount_cents"])
        for n in range(rows):
            writer.writerow([f"mrn-{n // 2}", f"Imported Person {n}", f"+1 555 {n % 10_000:04d}",
                             f"inv-{n}", day, 1_000 + n])


class _Writes:
    """Every DynamoDB call PynamoDB makes, and every item it writes, in order: (table, request)
    with request a BatchWriteItem entry (`PutRequest` / `DeleteRequest`), for the bare loader."""

    def __init__(self):
        from pynamodb.connection.base import Connection  # noqa: PLC0415 - after isolate()

        self.calls: list[str] = []
        self.seconds: dict[str, float] = {}
        self.requests: list[tuple[str, dict]] = []
        self.checks = 0
        self._connection, self._original = Connection, Connection._make_api_call

    def __enter__(self):
        original = self._original

        def spy(conn, op, kwargs):
            self.calls.append(op)
            if op == "TransactWriteItems":
                for action in kwargs["TransactItems"]:
                    kind, body = next(iter(action.items()))
                    if kind == "Put":
                        self.requests.append((body["TableName"], {"PutRequest": {"Item": body["Item"]}}))
                    elif kind == "Delete":
                        self.requests.append((body["TableName"], {"DeleteRequest": {"Key": body["Key"]}}))
                    elif kind == "ConditionCheck":
                        self.checks += 1
                    else:
                        raise AssertionError(f"the bare loader cannot replay {kind}")
            elif op == "BatchWriteItem":
                self.requests.extend((table, r) for table, rs in kwargs["RequestItems"].items() for r in rs)
            elif op in ("PutItem", "DeleteItem", "UpdateItem"):
                raise AssertionError(f"the bare loader cannot replay {op}")
            t0 = time.perf_counter()
            try:
                return original(conn, op, kwargs)
            finally:
                self.seconds[op] = self.seconds.get(op, 0.0) + time.perf_counter() - t0

        self._connection._make_api_call = spy
        return self

    def __exit__(self, *exc):
        self._connection._make_api_call = self._original


def _bare_tables(client, names: set[str], prefix: str) -> dict[str, str]:
    """An empty copy of each table (keys, indexes) for the bare loader: it writes the same items
    into tables that grow as the import's did."""
    copies = {}
    for name in sorted(names):
        table = client.describe_table(TableName=name)["Table"]
        spec = {"TableName": f"{prefix}{name}", "BillingMode": "PAY_PER_REQUEST", "KeySchema": table["KeySchema"],
                "AttributeDefinitions": table["AttributeDefinitions"]}
        if table.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = [{k: i[k] for k in ("IndexName", "KeySchema", "Projection")}
                                              for i in table["GlobalSecondaryIndexes"]]
        client.create_table(**spec)
        copies[name] = spec["TableName"]
    return copies


def _bare_load(client, requests: list[tuple[str, dict]], tables: dict[str, str]) -> int:
    """Write `requests` in order with BatchWriteItem, 25 a call (a batch is cut early where a key
    comes again: BatchWriteItem refuses two requests on one item); no condition, nothing read.
    Returns the number of calls."""
    calls, batch, keys = 0, {}, set()

    def flush():
        nonlocal calls, batch, keys
        pending = batch
        while pending:
            calls += 1
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        batch, keys = {}, set()

    for table, request in requests:
        body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
        key = (table, body["pk"]["S"], body.get("sk", {}).get("S"))
        if key in keys or sum(len(v) for v in batch.values()) == 25:
            flush()
        batch.setdefault(tables[table], []).append(request)
        keys.add(key)
    flush()
    return calls


def import_rows(args) -> int:
    """The CLI itself (`followups import FILE --clinic ID`, devtools/cli.py, run in this process
    against in-process moto), then the bare loader of the items it wrote, in the same run."""
    import contextlib
    import io
    import os
    import tempfile

    import boto3

    os.environ["FOLLOWUPS_STACK_FILE"] = str(ROOT / ".local" / "no-stack.json")  # never a local stack
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        from tests.support import provision_embedded_aws

        provision_embedded_aws()
        from chalicelib import config
        from chalicelib.services import imports
        from devtools import cli

        clinic, _ = _clinic()
        day = (clinic.today(datetime.now(UTC)) - timedelta(days=60)).isoformat()
        source = Path(scratch) / "import.csv"
        _import_csv(source, args.rows, day)

        growth: list[tuple[int, float, int]] = []
        run = imports.run

        def timed_run(uow, caller, now, rows):  # what the CLI calls per chunk, timed
            summary = run(uow, caller, now, rows)
            done = (growth[-1][0] if growth else 0) + len(rows)
            growth.append((done, time.perf_counter() - t0, len(writes.calls)))
            print(f"  {done:>7,} rows after {growth[-1][1]:7.1f}s, {growth[-1][2]:,} calls", file=sys.stderr,
                  flush=True)
            return summary

        imports.run = timed_run
        out = io.StringIO()
        with _Writes() as writes, contextlib.redirect_stdout(out):
            t0 = time.perf_counter()
            try:
                cli.main(["import", str(source), "--clinic", clinic.clinic_id, "--chunk", str(args.chunk)])
            except SystemExit as e:
                assert e.code == 0, f"followups import exited {e.code}"
            imported = time.perf_counter() - t0
        imports.run = run
        summary = json.loads(out.getvalue())
        assert not summary["errors"] and summary["invoices_created"] == args.rows, summary
        assert summary["patients_created"] == args.rows // 2, summary

        # Twice, into fresh copies each time, and the faster counts: on a shared machine a slow
        # bare run would flatter the ratio.
        client = boto3.client("dynamodb", region_name=config.region())
        bare_runs = []
        for attempt in range(2):
            tables = _bare_tables(client, {table for table, _ in writes.requests}, f"bare{attempt}-")
            t0 = time.perf_counter()
            bare_calls = _bare_load(client, writes.requests, tables)
            bare_runs.append(time.perf_counter() - t0)
        bare = min(bare_runs)

    n, items = args.rows, len(writes.requests)
    ops = {op: writes.calls.count(op) for op in dict.fromkeys(writes.calls)}
    print(f"\nImport of {n:,} rows ({n // 2:,} patients, {n:,} invoices) with `followups import --chunk "
          f"{args.chunk}`, in-process moto\n")
    print(f"{'rows done':>9} | {'seconds':>7} | {'this chunk s':>12} | {'rows/s':>6} | {'calls':>7}")
    previous = (0, 0.0, 0)
    for done, seconds, calls in growth:
        chunk_s = seconds - previous[1]
        print(f"{done:>9,} | {seconds:>7.1f} | {chunk_s:>12.1f} | {(done - previous[0]) / chunk_s:>6.0f} | "
              f"{calls:>7,}")
        previous = (done, seconds, calls)
    print(f"\n  import: {imported:.1f} s = {n / imported:.0f} rows/s; DynamoDB calls/row "
          f"{len(writes.calls) / n:.2f} ({', '.join(f'{op} {c / n:.2f}' for op, c in ops.items())}); "
          f"items written/row {items / n:.2f}; condition checks {writes.checks}")
    print("  seconds inside the calls: " + ", ".join(f"{op} {s:.1f}" for op, s in writes.seconds.items()))
    print(f"  bare BatchWriteItem loader of the same {items:,} items: {bare:.1f} s = {n / bare:.0f} rows/s "
          f"({bare_calls:,} calls; the faster of {' and '.join(f'{b:.1f}' for b in bare_runs)} s); "
          f"import / bare = {imported / bare:.2f}x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("search")
    s.add_argument("--sizes", default="1000,10000,100000")
    s.add_argument("--reps", type=int, default=5)
    i = sub.add_parser("import")
    i.add_argument("--rows", type=int, default=10_000)
    i.add_argument("--chunk", type=int, default=1000, help="the CLI's --chunk (its default: 1,000)")
    args = parser.parse_args()
    return search(args) if args.what == "search" else import_rows(args)


if __name__ == "__main__":
    sys.exit(main())
