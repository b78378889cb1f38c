"""Soak: thousands of mixed requests across many clinics through the real local stack, from
several threads; then every patient's money is checked through the API.

    .venv/bin/python -m bench.soak                                  # 10,000 requests, 20 clinics, 8 threads
    .venv/bin/python -m bench.soak --requests 400 --clinics 4 --threads 4
    .venv/bin/python -m bench.soak --stack-file .local/stack.json   # against a running `make run`

Without --stack-file it starts the local stack (`python -m devtools.devstack`: moto server +
`chalice local`) on free ports and stops it afterwards. Clinics and their Owner and BillingStaff
users are made by a child process (`--provision`) that talks to the embedded AWS the way the CLI
does; everything after that is HTTP to the API with real Cognito ID tokens.

The mix: worklist pages (following cursors), follow-up details, patients, ledgers, invoices,
payments with fresh Idempotency-Keys and replays of earlier ones (which must return the first
response), attempts (promises too), callbacks and their updates, write-offs by Owners, payment
plans and their manual runs (when the build has the plan routes), audit reads; and (when the
build has them) the corrections: voids, adjustments, payment reversals, plan cancellations and
changes, holds placed and released. Bounded in count and in time.

Afterwards, for EVERY patient (GET /follow-ups/{id} + GET /patients/{id}/ledger):
  balance == sum of ledger entries == last balance_after == sum of open invoice balances +
  the active plan's uninvoiced remainder == what this client was told it invoiced, minus the
  distinct payments it was told landed, minus what it was told was written off, voided and
  adjusted, plus the payments it was told were reversed;
and no request returned a 5xx or no answer; every replay returned the first response.
Prints a JSON report (p50/p99/max request times, throughput, statuses by operation).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Soak-Password-2026"
TIMEZONES = ("America/New_York", "Europe/Athens", "Asia/Kathmandu", "Pacific/Chatham", "America/Los_Angeles",
             "Europe/Lisbon", "Australia/Adelaide", "UTC")
# (operation, weight): the share of each kind in the mix.
MIX = (
    ("worklist", 14), ("detail", 14), ("patient", 3), ("ledger", 4), ("invoice", 12), ("payment", 14),
    ("replay", 5), ("attempt", 9), ("callback", 4), ("callback_update", 2), ("new_patient", 3),
    ("get_invoice", 2), ("get_payment", 2), ("write_off", 2), ("plan", 3), ("plan_run", 2), ("audit", 5),
    ("void", 2), ("adjust", 2), ("reverse", 2), ("plan_cancel", 1), ("plan_change", 1), ("hold", 2),
    ("release", 1),
)
PLAN_OPS = ("plan", "plan_run")
CORRECTION_OPS = ("void", "adjust", "reverse", "plan_cancel", "plan_change", "hold", "release")


# ---- the local stack and the clinics -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This environment without any AWS or app setting (a test process has its own)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "FOLLOWUPS_")) or k == "AWS_DEFAULT_REGION"}


class Stack:
    """`python -m devtools.devstack` on free ports, as tests/e2e/conftest.py starts it."""

    def __init__(self, workdir: Path):
        self.stack_file, self.log = workdir / "stack.json", workdir / "stack.log"
        self.env = {**clean_env(), "FOLLOWUPS_API_PORT": str(free_port()), "FOLLOWUPS_AWS_PORT": str(free_port()),
                    "FOLLOWUPS_STACK_FILE": str(self.stack_file), "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> dict:
        started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "devtools.devstack"], cwd=ROOT, env=self.env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        while time.monotonic() - started < timeout:
            if self.stack_file.exists():
                return json.loads(self.stack_file.read_text())
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("local stack not ready:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def provision(stack_file: Path, clinics: int, tag: str) -> list[dict]:
    """Clinics with an Owner and a BillingStaff each (in a child process: the app's models read
    their settings at import, and a test process has other ones)."""
    env = {**clean_env(), "FOLLOWUPS_STACK_FILE": str(stack_file)}
    done = subprocess.run([sys.executable, "-m", "bench.soak", "--provision", str(clinics), "--tag", tag],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def _provision_main(count: int, tag: str) -> None:
    from devtools.cli import _configure

    _configure()
    import boto3

    from chalicelib import config
    from chalicelib.services import clinics, staff
    from chalicelib.store.uow import UnitOfWork

    cognito = boto3.client("cognito-idp", region_name=config.region())
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        tz = TIMEZONES[n % len(TIMEZONES)]
        uow = UnitOfWork()
        clinic = clinics.create(uow, now, name=f"Soak Clinic {n}", timezone=tz, currency="USD", actor="soak")
        entry = {"clinic_id": clinic.clinic_id, "timezone": tz}
        for who, role in (("owner", "Owner"), ("billing", "BillingStaff")):
            email = f"soak-{tag}-{n}-{who}@example.test"
            member = staff.create(uow, clinic.clinic_id, now, email=email, name=f"Soak {who} {n}", role=role,
                                  actor="soak", password=PASSWORD)
            token = cognito.initiate_auth(ClientId=config.settings().user_pool_client_id,
                                          AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
            entry[who] = {"sub": member.sub, "token": token["AuthenticationResult"]["IdToken"]}
        out.append(entry)
    print(json.dumps(out))


# ---- what the client knows -----------------------------------------------------------------------------

@dataclass
class PatientBook:
    """What this client was told about one patient's money."""

    invoiced: int = 0
    paid: dict[str, int] = field(default_factory=dict)  # payment_id -> cents
    written_off: int = 0
    invoices: list[str] = field(default_factory=list)
    invoice_count: int = 0
    voided: int = 0
    adjusted: int = 0
    reversed: dict[str, int] = field(default_factory=dict)  # payment_id -> cents


@dataclass
class ClinicState:
    clinic_id: str
    timezone: str
    tokens: dict[str, str]
    patients: list[str] = field(default_factory=list)
    books: dict[str, PatientBook] = field(default_factory=dict)
    payments: list[str] = field(default_factory=list)
    replayable: list[tuple[str, dict, int, dict]] = field(default_factory=list)  # key, body, status, body
    callbacks: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()


class Soak:
    def __init__(self, api: str, clinics: list[dict], seed: int, plan_routes: bool, correction_routes: bool = False):
        self.api = api
        self.rng_seed = seed
        self.clinics = [ClinicState(c["clinic_id"], c["timezone"],
                                    {"owner": c["owner"]["token"], "billing": c["billing"]["token"]})
                        for c in clinics]
        self.plan_routes = plan_routes
        self.lock = threading.Lock()
        self.samples: list[tuple[str, int, float]] = []  # (operation, status, seconds)
        self.refusals: dict[str, Counter] = defaultdict(Counter)  # operation -> "409 overpayment": n
        self.failures: list[str] = []
        self.local = threading.local()
        self.mix = [(op, w) for op, w in MIX if (plan_routes or op not in PLAN_OPS)
                    and (correction_routes or op not in CORRECTION_OPS)]
        self.budget = 0  # requests still to send; `call` sends nothing once it is spent

    # -- HTTP --
    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, op: str, clinic: ClinicState, method: str, path: str, body=None, who: str = "billing",
             headers: dict | None = None, record: bool = True) -> requests.Response | None:
        if record:
            with self.lock:
                if self.budget <= 0:
                    return None
                self.budget -= 1
        h = {"Authorization": f"Bearer {clinic.tokens[who]}", **(headers or {})}
        started = time.perf_counter()
        try:
            r = self.session().request(method, self.api + path, json=body, headers=h, timeout=60)
        except requests.RequestException as e:
            with self.lock:
                self.failures.append(f"{op} {method} {path}: no answer ({type(e).__name__})")
                if record:
                    self.samples.append((op, 0, time.perf_counter() - started))
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            if record:
                self.samples.append((op, r.status_code, elapsed))
            if r.status_code >= 500:
                self.failures.append(f"{op} {method} {path}: {r.status_code} {r.text[:200]}")
            elif r.status_code >= 400 and record:
                try:
                    code = r.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "no error shape"
                    self.failures.append(f"{op} {method} {path}: {r.status_code} without the error shape")
                self.refusals[op][f"{r.status_code} {code}"] += 1
        return r

    # -- operations: each sends one request (seeding sends a few) --
    def new_patient(self, clinic: ClinicState, rng: random.Random) -> None:
        r = self.call("new_patient", clinic, "POST", "/patients", {"name": f"Soak Patient {rng.randrange(10**6)}"})
        if r is not None and r.status_code == 201:
            pid = r.json()["patient_id"]
            with self.lock:
                clinic.patients.append(pid)
                clinic.books[pid] = PatientBook()

    def invoice(self, clinic: ClinicState, rng: random.Random, pid: str | None = None) -> None:
        pid = pid or rng.choice(clinic.patients)
        cents = rng.randrange(500, 60_000)
        invoice_date = (clinic.today() - timedelta(days=rng.randrange(1, 150))).isoformat()
        r = self.call("invoice", clinic, "POST", "/invoices",
                      {"patient_id": pid, "amount_cents": cents, "invoice_date": invoice_date})
        if r is not None and r.status_code == 201:
            with self.lock:
                book = clinic.books[pid]
                book.invoiced += cents
                book.invoice_count += 1
                book.invoices.append(r.json()["invoice_id"])

    def payment(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        body = {"patient_id": pid, "amount_cents": rng.randrange(100, 20_000),
                "method": rng.choice(["cash", "card", "check", "bank_transfer", "other"])}
        key = secrets.token_hex(12)
        r = self.call("payment", clinic, "POST", "/payments", body, headers={"Idempotency-Key": key})
        if r is not None and r.status_code == 201:
            self._landed(clinic, pid, r.json())
            with self.lock:
                clinic.replayable.append((key, body, r.status_code, r.json()))

    def _landed(self, clinic: ClinicState, pid: str, payment: dict) -> None:
        with self.lock:
            clinic.books[pid].paid[payment["payment_id"]] = payment["amount_cents"]
            if payment["payment_id"] not in clinic.payments:
                clinic.payments.append(payment["payment_id"])

    def replay(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.replayable:
            return self.payment(clinic, rng)
        key, body, status, first = rng.choice(clinic.replayable)
        who = rng.choice(["owner", "billing"])  # keys are scoped to the clinic, not the user
        r = self.call("replay", clinic, "POST", "/payments", body, who=who, headers={"Idempotency-Key": key})
        if r is None:
            return None
        if r.status_code != status or r.json() != first:
            with self.lock:
                self.failures.append(f"replay of {key} answered {r.status_code} {r.text[:200]}, first was {first}")
        else:
            self._landed(clinic, body["patient_id"], r.json())
        return None

    def attempt(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        outcome = rng.choice(["no_answer", "dispute", "hung_up", "refused", "promised_payment"])
        body = {"channel": rng.choice(["phone", "email", "sms", "in_person"]), "outcome": outcome,
                "notes": "soak"}
        if outcome == "promised_payment":
            body.update(promised_amount_cents=100, promised_date=(clinic.today() + timedelta(days=7)).isoformat())
        self.call("attempt", clinic, "POST", f"/follow-ups/{pid}/attempts", body)

    def callback(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        due = datetime.now(UTC) + timedelta(hours=rng.randrange(1, 72))
        r = self.call("callback", clinic, "POST", f"/follow-ups/{pid}/callbacks", {"due_at": due.isoformat()})
        if r is not None and r.status_code == 201:
            with self.lock:
                clinic.callbacks.append(r.json()["callback_id"])

    def callback_update(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.callbacks:
            return self.callback(clinic, rng)
        body = rng.choice([{"status": "done"}, {"status": "cancelled"},
                           {"due_at": (datetime.now(UTC) + timedelta(hours=5)).isoformat()}])
        self.call("callback_update", clinic, "PATCH", f"/callbacks/{rng.choice(clinic.callbacks)}", body)
        return None

    def write_off(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        r = self.call("write_off", clinic, "POST", f"/follow-ups/{pid}/write-off", {"reason": "soak write-off"},
                      who="owner")
        if r is not None and r.status_code == 200:
            with self.lock:
                clinic.books[pid].written_off += r.json()["written_off_cents"]

    def plan(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        body = {"installment_cents": rng.randrange(1_000, 20_000), "frequency": rng.choice(["weekly", "monthly"]),
                "start_date": (clinic.today() - timedelta(days=0)).isoformat()}
        r = self.call("plan", clinic, "POST", f"/follow-ups/{pid}/payment-plan", body)
        if r is not None and r.status_code == 201:
            with self.lock:
                clinic.plans.append(r.json()["plan_id"])

    def plan_run(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.plans:
            return self.plan(clinic, rng)
        self.call("plan_run", clinic, "POST", f"/payment-plans/{rng.choice(clinic.plans)}/run")
        return None

    # -- corrections and holds --
    def _some_invoice(self, clinic: ClinicState, rng: random.Random) -> tuple[str, str] | None:
        pid = rng.choice(clinic.patients)
        invoices = clinic.books[pid].invoices
        return (pid, rng.choice(invoices)) if invoices else None

    def void(self, clinic: ClinicState, rng: random.Random) -> None:
        picked = self._some_invoice(clinic, rng)
        if picked is None:
            return
        pid, invoice_id = picked
        r = self.call("void", clinic, "POST", f"/invoices/{invoice_id}/void", {"reason": "soak duplicate"}, who="owner")
        if r is not None and r.status_code == 200:
            with self.lock:
                clinic.books[pid].voided += r.json()["voided_cents"]

    def adjust(self, clinic: ClinicState, rng: random.Random) -> None:
        picked = self._some_invoice(clinic, rng)
        if picked is None:
            return
        pid, invoice_id = picked
        cents = rng.randrange(1, 2_000)
        r = self.call("adjust", clinic, "POST", f"/invoices/{invoice_id}/adjustments",
                      {"amount_cents": cents, "reason": "soak discount"}, who="owner")
        if r is not None and r.status_code == 201:
            with self.lock:
                clinic.books[pid].adjusted += cents

    def reverse(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.payments:
            return self.payment(clinic, rng)
        payment_id = rng.choice(clinic.payments)
        pid = "pat_" + payment_id.split("_")[1]
        r = self.call("reverse", clinic, "POST", f"/payments/{payment_id}/reversal",
                      {"reason": rng.choice(["returned", "chargeback", "entered_in_error"])}, who="owner")
        if r is not None and r.status_code == 201:
            with self.lock:
                clinic.books[pid].reversed[payment_id] = r.json()["amount_cents"]
        return None

    def plan_cancel(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.plans:
            return self.plan(clinic, rng)
        self.call("plan_cancel", clinic, "POST", f"/payment-plans/{rng.choice(clinic.plans)}/cancel",
                  {"reason": "soak cancel"}, who="owner")
        return None

    def plan_change(self, clinic: ClinicState, rng: random.Random) -> None:
        if not clinic.plans:
            return self.plan(clinic, rng)
        body = {"installment_cents": rng.randrange(1_000, 20_000), "frequency": rng.choice(["weekly", "monthly"])}
        self.call("plan_change", clinic, "PATCH", f"/payment-plans/{rng.choice(clinic.plans)}", body)
        return None

    def hold(self, clinic: ClinicState, rng: random.Random) -> None:
        pid = rng.choice(clinic.patients)
        until = (clinic.today() + timedelta(days=rng.randrange(1, 181))).isoformat()
        self.call("hold", clinic, "POST", f"/follow-ups/{pid}/hold",
                  {"reason": rng.choice(["dispute", "insurance_pending", "hardship", "other"]), "until": until})

    def release(self, clinic: ClinicState, rng: random.Random) -> None:
        self.call("release", clinic, "DELETE", f"/follow-ups/{rng.choice(clinic.patients)}/hold")

    def worklist(self, clinic: ClinicState, rng: random.Random) -> None:
        query = rng.choice(["", "&bucket=0-30", "&bucket=90%2B", "&status=open", "&min_balance_cents=10000",
                            "&status=on_hold"])
        r = self.call("worklist", clinic, "GET", f"/follow-ups?limit={rng.choice([5, 10, 25])}{query}")
        cursor = r.json().get("next_cursor") if r is not None and r.status_code == 200 else None
        if cursor and rng.random() < 0.5:
            self.call("worklist", clinic, "GET", f"/follow-ups?limit=5&cursor={requests.utils.quote(cursor)}")

    def detail(self, clinic, rng):
        self.call("detail", clinic, "GET", f"/follow-ups/{rng.choice(clinic.patients)}")

    def patient(self, clinic, rng):
        self.call("patient", clinic, "GET", f"/patients/{rng.choice(clinic.patients)}")

    def ledger(self, clinic, rng):
        self.call("ledger", clinic, "GET", f"/patients/{rng.choice(clinic.patients)}/ledger")

    def get_invoice(self, clinic, rng):
        invoices = [i for b in list(clinic.books.values()) for i in b.invoices[-3:]]
        if invoices:
            self.call("get_invoice", clinic, "GET", f"/invoices/{rng.choice(invoices)}")

    def get_payment(self, clinic, rng):
        if clinic.payments:
            self.call("get_payment", clinic, "GET", f"/payments/{rng.choice(clinic.payments)}")

    def audit(self, clinic, rng):
        query = rng.choice(["", f"?patient_id={rng.choice(clinic.patients)}", "?action=payment.recorded"])
        self.call("audit", clinic, "GET", f"/audit{query}", who="owner")

    # -- the run --
    def seed(self, patients_per_clinic: int) -> None:
        """A few patients with invoices in every clinic (these requests count too)."""
        def seed_clinic(clinic: ClinicState):
            rng = random.Random(f"{self.rng_seed}-{clinic.clinic_id}")
            for _ in range(patients_per_clinic):
                self.new_patient(clinic, rng)
            for pid in list(clinic.patients):
                for _ in range(rng.randrange(1, 3)):
                    self.invoice(clinic, rng, pid)

        self.budget = 10**9
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(seed_clinic, self.clinics))
        self.budget = 0

    def run(self, total: int, threads: int, max_seconds: float) -> float:
        """Send mixed requests until `total` were sent or `max_seconds` passed; returns the wall time."""
        operations = [op for op, _ in self.mix]
        weights = [w for _, w in self.mix]
        started = time.monotonic()
        deadline = started + max_seconds

        with self.lock:
            self.budget = total - len(self.samples)

        def worker(n: int) -> None:
            rng = random.Random(f"{self.rng_seed}-worker-{n}")
            while time.monotonic() < deadline:
                with self.lock:
                    if self.budget <= 0:
                        return
                clinic = rng.choice(self.clinics)
                op = rng.choices(operations, weights)[0]
                getattr(self, op)(clinic, rng)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, range(threads)))
        return time.monotonic() - started

    def verify(self) -> dict:
        """Every patient of every clinic, read back through the API (not counted in the figures)."""
        checked, problems = 0, []

        def check(args) -> None:
            nonlocal checked
            clinic, pid = args
            detail = self.call("verify", clinic, "GET", f"/follow-ups/{pid}", record=False)
            ledger = self.call("verify", clinic, "GET", f"/patients/{pid}/ledger", record=False)
            if detail is None or ledger is None or detail.status_code != 200 or ledger.status_code != 200:
                problems.append(f"{pid}: could not read it back")
                return
            d, entries = detail.json(), ledger.json()["items"]
            balance = d["balance_cents"]
            open_invoices = sum(i["balance_cents"] for i in d["invoices"] if i["status"] == "open")
            plan = d.get("plan")
            remainder = 0
            if plan and plan["status"] == "active":
                remainder = sum(i["amount_cents"] - i.get("prepaid_cents", 0) for i in plan["installments"]
                                if i["status"] == "scheduled")
            book = clinic.books[pid]
            told = (book.invoiced - sum(book.paid.values()) - book.written_off - book.voided - book.adjusted
                    + sum(book.reversed.values()))
            running, ok_running = 0, True
            for e in entries:
                running += e["amount_cents"]
                ok_running &= e["balance_after_cents"] == running
            facts = {"balance": balance, "ledger_sum": sum(e["amount_cents"] for e in entries),
                     "last_balance_after": entries[-1]["balance_after_cents"] if entries else 0,
                     "open_invoices_plus_plan_remainder": open_invoices + remainder, "client_books": told}
            counts = Counter(e["type"] for e in entries)
            if len(set(facts.values())) != 1 or not ok_running:
                problems.append(f"{pid}: {facts} running balances ok: {ok_running}")
            if (counts["invoice"] != book.invoice_count or counts["payment"] != len(book.paid)
                    or counts["payment_reversal"] != len(book.reversed)):
                problems.append(f"{pid}: ledger has {dict(counts)}, client saw {book.invoice_count} invoices "
                                f"and {len(book.paid)} payments")
            with self.lock:
                checked += 1

        todo = [(c, pid) for c in self.clinics for pid in list(c.patients)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(check, todo))
        return {"patients_checked": checked, "patients": len(todo), "problems": problems}

    def figures(self, wall: float) -> dict:
        times = sorted(t for _, _, t in self.samples)
        q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        by_op: dict[str, Counter] = defaultdict(Counter)
        for op, status, _ in self.samples:
            by_op[op][status] += 1
        return {"requests": len(self.samples), "seconds": round(wall, 1),
                "throughput_rps": round(len(self.samples) / wall, 1) if wall else None,
                "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
                "max_ms": round(times[-1] * 1000, 1) if times else None,
                "statuses": dict(sorted(Counter(s for _, s, _ in self.samples).items())),
                "by_operation": {op: dict(sorted(c.items())) for op, c in sorted(by_op.items())},
                "refusals": {op: dict(sorted(c.items())) for op, c in sorted(self.refusals.items())},
                "five_hundreds": sum(1 for _, s, _ in self.samples if s >= 500),
                "no_answer": sum(1 for _, s, _ in self.samples if s == 0),
                "failures": self.failures[:20]}


def soak(info: dict, clinics: list[dict], requests_total: int, threads: int, max_seconds: float,
         patients_per_clinic: int, seed: int = 8) -> dict:
    """Seed, run the mix, verify; the report (seeding requests count towards the total)."""
    paths = requests.get(f"{info['api_url']}/openapi.json", timeout=10).json()["paths"]
    plan_routes = "/payment-plans/{plan_id}/run" in paths
    correction_routes = "/payments/{payment_id}/reversal" in paths
    s = Soak(info["api_url"], clinics, seed, plan_routes, correction_routes)
    started = time.monotonic()
    s.seed(patients_per_clinic)
    s.run(requests_total, threads, max_seconds - (time.monotonic() - started))
    wall = time.monotonic() - started
    report = {"clinics": len(clinics), "threads": threads, "plan_routes": plan_routes, **s.figures(wall)}
    report["verify"] = s.verify()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--patients", type=int, default=15, help="patients seeded per clinic")
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--stack-file", type=Path, help="a running local stack's stack file")
    parser.add_argument("--provision", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.provision is not None:
        _provision_main(args.provision, args.tag)
        return 0
    import tempfile

    tag = secrets.token_hex(3)
    with tempfile.TemporaryDirectory() as tmp:
        stack = None
        if args.stack_file:
            stack_file = args.stack_file
        else:
            stack = Stack(Path(tmp))
            stack.start()
            stack_file = stack.stack_file
        try:
            info = json.loads(stack_file.read_text())
            t0 = time.monotonic()
            clinics = provision(stack_file, args.clinics, tag)
            print(f"provisioned {len(clinics)} clinics in {time.monotonic() - t0:.1f}s", file=sys.stderr)
            report = soak(info, clinics, args.requests, args.threads, args.max_seconds, args.patients, args.seed)
        finally:
            if stack is not None:
                stack.stop()
    print(json.dumps(report, indent=2))
    held = not report["failures"] and report["five_hundreds"] == 0 and not report["verify"]["problems"] and (
        report["verify"]["patients_checked"] == report["verify"]["patients"])
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
