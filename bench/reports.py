"""Benchmark: a one-month staff-performance report reads the month, not the clinic's year.

Seeds one clinic (in-process moto) with a year of follow-up history written straight into the
billing table with PynamoDB batch writes, keyed exactly as the services key them: contact
attempts (`ATT` timeline, at their instant), promises (`PROMISE`, at resolution), callbacks
(`CB`, done ones at `done_at`, others at `due_at`) and payments (`PAY`, at `received_at`, with
`recovered_by`). Then it sends real requests through the app (`chalice.test.Client`, a real
Cognito ID token) for the last complete clinic-local month and records every DynamoDB call of
each request: how many, how many items they read (`ScannedCount`; a GetItem reads 1) and the
time inside botocore, next to the time of the whole request. It also seeds open, paid and
in-plan invoices and plans and measures the aging report the same way.

    .venv/bin/python bench/reports.py                       # ~200,000 attempts in the year
    .venv/bin/python bench/reports.py --attempts 20000 --reps 5

Goal (issue 6): items read / the month's items <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import offline  # noqa: E402

offline.isolate()

from moto import mock_aws  # noqa: E402

TZ = "America/New_York"
STAFF = 10
CHANNELS = ("phone", "email", "sms", "in_person")
OUTCOMES = (("no_answer", 40), ("promised_payment", 15), ("dispute", 5), ("hung_up", 15), ("refused", 10),
            ("no_payment_despite_promise", 15))



def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class History:
    """A year of one clinic's follow-up events, written straight to the table; counts what is
    keyed inside the report's window."""

    def __init__(self, clinic_id: str, subs: list[str], start: datetime, end: datetime, window, rng):
        self.clinic_id, self.subs, self.start, self.end = clinic_id, subs, start, end
        self.window, self.rng = window, rng
        self.items = 0
        self.in_month = {"ATT": 0, "PROMISE": 0, "CB": 0, "PAY": 0}

    def _when(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.uniform(0, (self.end - self.start).total_seconds()))

    def _keyed(self, kind: str, at: datetime) -> bool:
        inside = self.window.start <= at < self.window.end
        self.in_month[kind] += inside
        return inside

    def seed(self, attempts: int, batch) -> None:
        from chalicelib.store import keys
        from chalicelib.store.models import AttemptRecord, CallbackRecord, PaymentRecord, PromiseMap, PromiseRecord

        rng, c = self.rng, self.clinic_id
        names, weights = zip(*OUTCOMES, strict=True)
        patients = max(1, attempts // 10)
        for n in range(attempts):
            pid = f"pat_b{n % patients:015d}"
            pk = keys.patient_pk(c, pid)
            at = self._when()
            by = rng.choice(self.subs)
            outcome = rng.choices(names, weights)[0]
            attempt_id = f"att_b{n % patients:015d}_{n:012d}"
            promise_id = f"prom_b{n % patients:015d}_{n:012d}" if outcome == "promised_payment" else None
            batch.save(AttemptRecord(
                pk, keys.ATTEMPT + attempt_id, attempt_id=attempt_id, patient_id=pid, at=iso(at), by=by,
                channel=rng.choice(CHANNELS), outcome=outcome, promise_id=promise_id,
                promised_amount_cents=5_000 if promise_id else None,
                tl_pk=keys.timeline_pk(c, "ATT"), tl_sk=keys.timeline_sk(iso(at), attempt_id)))
            self._keyed("ATT", at)
            self.items += 1
            if promise_id:  # resolved 1-20 days later (kept 60%), or still pending when recent
                resolved = at + timedelta(days=rng.uniform(1, 20))
                status = "pending" if resolved > self.end else ("kept" if rng.random() < 0.6 else "broken")
                key_at = at if status == "pending" else resolved
                batch.save(PromiseRecord(pk, keys.PROMISE + promise_id, patient_id=pid, promise=PromiseMap(
                    promise_id=promise_id, attempt_id=attempt_id, amount_cents=5_000,
                    promised_date=(at + timedelta(days=10)).date().isoformat(), made_at=iso(at), made_by=by,
                    paid_cents=5_000 if status == "kept" else 0, status=status,
                    resolved_at=None if status == "pending" else iso(resolved)),
                    tl_pk=keys.timeline_pk(c, "PROMISE"), tl_sk=keys.timeline_sk(iso(key_at), promise_id)))
                self._keyed("PROMISE", key_at)
                self.items += 1
            if n % 5 == 0:  # a callback for one attempt in five
                due = at + timedelta(days=rng.uniform(0.5, 7))
                roll = rng.random()
                status = "cancelled" if roll < 0.05 else ("scheduled" if roll < 0.3 or due > self.end else "done")
                done = due + timedelta(hours=rng.uniform(-2, 30)) if status == "done" else None
                cb_id = f"cb_b{n % patients:015d}_{n:012d}"
                key_at = done if done else due
                batch.save(CallbackRecord(
                    pk, keys.CALLBACK + cb_id, callback_id=cb_id, patient_id=pid, due_at=iso(due), assignee_sub=by,
                    status=status, created_at=iso(at), created_by=by, done_at=iso(done) if done else None,
                    tl_pk=keys.timeline_pk(c, "CB"), tl_sk=keys.timeline_sk(iso(key_at), cb_id)))
                self._keyed("CB", key_at)
                self.items += 1
            if n % 8 == 0:  # a payment for one attempt in eight, credited when within 30 days
                received = at + timedelta(days=rng.uniform(0, 45))
                if received > self.end:
                    continue
                pay_id = f"pay_b{n % patients:015d}_{n:012d}"
                batch.save(PaymentRecord(
                    pk, keys.PAYMENT + pay_id, payment_id=pay_id, patient_id=pid, amount_cents=2_500,
                    method="card", received_at=iso(received), allocations=[], balance_after_cents=0,
                    created_at=iso(received), created_by=by,
                    recovered_by=by if received - at <= timedelta(days=30) else None,
                    tl_pk=keys.timeline_pk(c, "PAY"), tl_sk=keys.timeline_sk(iso(received), pay_id)))
                self._keyed("PAY", received)
                self.items += 1


def seed_owed(clinic_id: str, invoices: int, today: date, rng, batch) -> dict:
    """Invoices (a third open, the rest paid or moved into a plan) and plans; returns counts."""
    from chalicelib.domain import account as acc
    from chalicelib.store import accounts

    counts = {"open": 0, "closed": 0, "plans": 0}
    for n in range(invoices):
        pid = f"pat_o{n // 3:015d}"
        status = "open" if n % 3 == 0 else ("paid" if n % 3 == 1 else "in_plan")
        amount = 1_000 + (n * 7_331) % 90_000
        invoice = acc.Invoice(invoice_id=f"inv_o{n // 3:015d}_{n:012d}", patient_id=pid, amount_cents=amount,
                              balance_cents=amount if status == "open" else 0,
                              invoice_date=today - timedelta(days=rng.randrange(0, 400)), status=status,
                              created_at=datetime.now(UTC))
        batch.save(accounts.invoice_record(clinic_id, invoice))
        counts["open" if status == "open" else "closed"] += 1
        if status == "in_plan" and n % 30 == 2:  # some patients' invoices went into a plan
            plan = acc.Plan(plan_id=f"plan_o{n // 3:015d}_{n:012d}", patient_id=pid, total_cents=12_000,
                            installment_cents=1_000, frequency="monthly", start_date=today,
                            installments=[acc.Installment(i + 1, today + timedelta(days=30 * i), 1_000)
                                          for i in range(12)], created_at=datetime.now(UTC), created_by="bench")
            batch.save(accounts.plan_record(clinic_id, plan))
            counts["plans"] += 1
    return counts


def measure(http, token: str, path: str, reps: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    samples = offline.timed_gets(http, path, headers, reps)
    calls = samples[-1][1]
    request = statistics.median(t for t, _, _ in samples)
    dynamo = statistics.median(sum(d for _, d, _ in c) for _, c, _ in samples)
    return {"calls": len(calls), "ops": dict_count(op for op, _, _ in calls), "items": sum(r for _, _, r in calls),
            "request_ms": request * 1000, "dynamodb_ms": dynamo * 1000, "app_ms": (request - dynamo) * 1000,
            "response": samples[-1][2]}


def dict_count(ops) -> str:
    seen: dict[str, int] = {}
    for op in ops:
        seen[op] = seen.get(op, 0) + 1
    return " + ".join(f"{n} {op}" for op, n in seen.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=200_000, help="attempts in the year of history")
    parser.add_argument("--invoices", type=int, default=15_000, help="invoices for the aging report")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    with mock_aws():
        from tests.support import provision_embedded_aws

        provision_embedded_aws()

        from chalice.test import Client

        from app import app
        from chalicelib.domain import clock
        from chalicelib.domain.reports import Window
        from chalicelib.services import clinics, staff
        from chalicelib.store.models import Record
        from chalicelib.store.uow import UnitOfWork
        from tests.support import PASSWORD, id_token

        now = datetime.now(UTC)
        uow = UnitOfWork()
        clinic = clinics.create(uow, now, name="Bench Clinic", timezone=TZ, currency="USD")
        subs = []
        for i in range(STAFF):
            role = "Owner" if i == 0 else "BillingStaff"
            subs.append(staff.create(uow, clinic.clinic_id, now, email=f"staff{i}@example.test", name=f"Staff {i:02d}",
                                     role=role, password=PASSWORD).sub)
        token = id_token("staff0@example.test")
        today = clinic.today(now)
        last = today.replace(day=1) - timedelta(days=1)  # the last complete clinic-local month
        first = last.replace(day=1)
        window = Window(clock.start_of_local_day(first, TZ), clock.end_of_local_day(last, TZ))
        history = History(clinic.clinic_id, subs, now - timedelta(days=365), now, window, random.Random(6))

        t0 = time.perf_counter()
        with Record.batch_write() as batch:
            history.seed(args.attempts, batch)
            owed = seed_owed(clinic.clinic_id, args.invoices, today, random.Random(7), batch)
        seeded = time.perf_counter() - t0
        print(f"seeded {history.items:,} timeline items ({args.attempts:,} attempts) and {args.invoices:,} invoices "
              f"+ {owed['plans']} plans in {seeded:.0f}s", file=sys.stderr, flush=True)

        with Client(app, stage_name="local") as client:
            http = client.http
            path = f"/reports/staff-performance?from={first}&to={last}"
            http.get(path + "&to_warm=1", headers={"Authorization": f"Bearer {token}"})  # imports, JWKS (a 400)
            perf = measure(http, token, path, args.reps)
            csv_run = measure(http, token, path + "&format=csv", 1)
            aging = measure(http, token, "/reports/aging", args.reps)

    body = json.loads(perf["response"].body)
    month = sum(history.in_month.values())
    attempts_in_body = sum(i["attempts"] for i in body["items"])
    print(f"\nStaff performance {first}..{last} ({TZ}), {STAFF} staff; in-process moto, chalice.test.Client, "
          f"real ID token; median of {args.reps}\n")
    print(f"  history (the clinic's year): {history.items:,} timeline items")
    print(f"  the month's items:           {month:,} ({', '.join(f'{k} {v:,}' for k, v in history.in_month.items())})")
    print(f"  items read by the request:   {perf['items']:,} ({perf['calls']} calls: {perf['ops']}; "
          f"1 clinic + {STAFF} staff records + the month)")
    print(f"  ratio items read / month:    {perf['items'] / month:.4f} (goal <= 1.2)")
    print(f"  ratio items read / history:  {perf['items'] / history.items:.4f}")
    print(f"  attempts in the JSON:        {attempts_in_body:,} (ATT keyed in the month: {history.in_month['ATT']:,})")
    print(f"  request ms {perf['request_ms']:,.0f} | DynamoDB ms {perf['dynamodb_ms']:,.0f} | "
          f"app ms {perf['app_ms']:,.0f}")
    print(f"  format=csv: {csv_run['items']:,} items read, request ms {csv_run['request_ms']:,.0f}, "
          f"app ms {csv_run['app_ms']:,.0f}")
    opened = owed["open"] + owed["plans"]
    print(f"\nAging: {args.invoices:,} invoices ({owed['open']:,} open, {owed['closed']:,} paid or in a plan), "
          f"{owed['plans']} active plans")
    print(f"  items read {aging['items']:,} ({aging['ops']}) = 1 clinic + {opened:,} open invoices and plans; "
          f"ratio to what is owed {aging['items'] / opened:.3f}")
    print(f"  request ms {aging['request_ms']:,.0f} | DynamoDB ms {aging['dynamodb_ms']:,.0f} | "
          f"app ms {aging['app_ms']:,.0f}")
    ok = perf["items"] / month <= 1.2 and attempts_in_body == history.in_month["ATT"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
