"""Benchmarks for integrations (issue 17): a patient-search page at 1,000 / 10,000 / 100,000
patients, and the import's throughput against a bare BatchWriteItem loader of the same items.

    .venv/bin/python bench/integrations.py search [--sizes 1000,10000,100000]
    .venv/bin/python bench/integrations.py import [--rows 2000]

Both on in-process moto through the real code: search through the app (`chalice.test.Client`, a
real ID token), import through `services.imports.run` in chunks of 1,000 rows, which is what
`followups import` runs for each chunk (the CLI adds only reading the file).

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


def import_rows(args) -> int:
    from pynamodb.connection.base import Connection

    with mock_aws():
        from tests.support import provision_embedded_aws

        provision_embedded_aws()
        from chalicelib.domain.roles import Caller
        from chalicelib.services import imports
        from chalicelib.store.uow import UnitOfWork

        clinic, _ = _clinic()
        caller = Caller("cli", clinic.clinic_id, frozenset({"Owner"}))
        day = (clinic.today(datetime.now(UTC)) - timedelta(days=60)).isoformat()
        rows = [{"patient_external_id": f"mrn-{n % (args.rows // 2)}", "patient_name": f"Imported Person {n}",
                 "phone": f"+1 555 {n % 10_000:04d}", "invoice_external_id": f"inv-{n}", "invoice_date": day,
                 "amount_cents": str(1_000 + n)} for n in range(args.rows)]
        calls, written = [], []
        original = Connection._make_api_call

        def spy(conn, op, kwargs):
            calls.append(op)
            if op == "TransactWriteItems":
                written.append(len(kwargs["TransactItems"]))
            elif op == "BatchWriteItem":
                written.append(sum(len(v) for v in kwargs["RequestItems"].values()))
            return original(conn, op, kwargs)

        Connection._make_api_call = spy
        t0 = time.perf_counter()
        chunk = args.chunk
        for start in range(0, len(rows), chunk):
            summary = imports.run(UnitOfWork(), caller, datetime.now(UTC), rows[start:start + chunk])
            assert not summary.errors, summary.errors[:3]
            print(f"  {start + chunk:>6,} rows after {time.perf_counter() - t0:6.1f}s, {len(calls):,} calls",
                  file=sys.stderr, flush=True)
        imported = time.perf_counter() - t0
        import_calls, import_items = len(calls), sum(written)
        # The bare loader: the same number of items, 25 per BatchWriteItem, no conditions, nothing read.
        from chalicelib.store.models import ExternalIdRecord

        calls.clear()
        written.clear()
        t0 = time.perf_counter()
        with ExternalIdRecord.batch_write() as batch:
            for n in range(import_items):
                batch.save(ExternalIdRecord(f"C#{clinic.clinic_id}#BARE#{n}", "XID", external_id=str(n),
                                            patient_id="pat_x"))
        bare = time.perf_counter() - t0
        Connection._make_api_call = original
    n = args.rows
    print(f"\nImport of {n:,} rows ({n // 2:,} patients, {n:,} invoices), in-process moto")
    print(f"  import: {imported:.1f} s = {n / imported:.0f} rows/s; DynamoDB calls/row {import_calls / n:.2f}; "
          f"items written/row {import_items / n:.2f}")
    print(f"  bare BatchWriteItem loader of the same {import_items:,} items: {bare:.1f} s "
          f"({len(calls)} calls); import / bare = {imported / bare:.1f}x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("search")
    s.add_argument("--sizes", default="1000,10000,100000")
    s.add_argument("--reps", type=int, default=5)
    i = sub.add_parser("import")
    i.add_argument("--rows", type=int, default=2000)
    i.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    return search(args) if args.what == "search" else import_rows(args)


if __name__ == "__main__":
    sys.exit(main())
