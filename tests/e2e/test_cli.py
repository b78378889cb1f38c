"""`followups`, as a script calls it: each command, in a subprocess against a real local stack of its
own, prints exactly one JSON document on stdout; logs, metrics and warnings go to stderr; a failure
exits non-zero with `{"error": {...}}` as the last line of stderr and nothing on stdout.

The stack is this module's own: `invoicing run --at` a day ahead runs every clinic of the stack,
which the other end-to-end tests' clinics must not see."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import ROOT, LocalStack, free_port

pytestmark = pytest.mark.e2e
PASSWORD = "Cli-Password-2026"
PATIENTS = ("Clara Cliworth", "Petra Promiseton")  # names that must never reach the CLI's output


@pytest.fixture(scope="module")
def cli_stack(tmp_path_factory):
    stack = LocalStack(tmp_path_factory.mktemp("cli-stack"))
    info = stack.start()
    yield stack, info
    stack.stop()


def followups(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devtools.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def the_result(done: subprocess.CompletedProcess) -> dict:
    """The one JSON document a successful command prints: stdout is that document and a newline."""
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.endswith("\n") and done.stdout.count("\n") == 1, f"stdout is not one line: {done.stdout!r}"
    return json.loads(done.stdout)


def the_error(done: subprocess.CompletedProcess) -> dict:
    """A failed command: non-zero, nothing on stdout, `{"error": {...}}` as the last line of stderr."""
    assert done.returncode != 0
    assert done.stdout == "", f"a failure printed on stdout: {done.stdout!r}"
    error = json.loads(done.stderr.strip().splitlines()[-1])["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    return error


def stderr_lines(done: subprocess.CompletedProcess) -> list[dict]:
    """stderr carries JSON log lines (and EMF metric documents): every line parses."""
    return [json.loads(line) for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def clinic(cli_stack):
    """A clinic in UTC made with the CLI, with an Owner signed in through `followups token`."""
    stack, info = cli_stack
    made = the_result(followups(stack.env, "clinic", "create", "--name", "CLI Clinic", "--timezone", "UTC"))
    clinic_id = made["clinic_id"]
    owner = the_result(followups(stack.env, "user", "create", "--clinic", clinic_id, "--email",
                                 "cli-owner@example.test", "--password", PASSWORD, "--role", "Owner", "--name",
                                 "Cli Owner"))
    token = the_result(followups(stack.env, "token", "cli-owner@example.test", "--password", PASSWORD))
    return {"clinic_id": clinic_id, "owner": owner, "token": token, "api": info["api_url"]}


def test_clinic_create_user_create_and_token_each_print_one_json_document(clinic):
    assert clinic["clinic_id"].startswith("cln_")
    assert set(clinic["owner"]) == {"sub", "email"} and clinic["owner"]["email"] == "cli-owner@example.test"
    assert set(clinic["token"]) == {"id_token", "expires_in", "token_type"}
    assert clinic["token"]["token_type"] == "Bearer" and clinic["token"]["expires_in"] > 0
    me = requests.get(f"{clinic['api']}/me", headers={"Authorization": f"Bearer {clinic['token']['id_token']}"},
                      timeout=10)
    assert me.status_code == 200 and me.json()["clinic_id"] == clinic["clinic_id"]


def test_invoicing_run_with_work_due_prints_its_summary_alone_and_logs_on_stderr(cli_stack, clinic):
    stack, _ = cli_stack
    api, headers = clinic["api"], {"Authorization": f"Bearer {clinic['token']['id_token']}"}
    today = datetime.now(UTC).date()

    def post(path: str, body: dict) -> dict:
        r = requests.post(f"{api}{path}", json=body, headers=headers, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    in_plan, promising = (post("/patients", {"name": name})["patient_id"] for name in PATIENTS)
    for patient_id in (in_plan, promising):
        post("/invoices", {"patient_id": patient_id, "amount_cents": 30_000,
                           "invoice_date": (today - timedelta(days=40)).isoformat()})
    post(f"/follow-ups/{in_plan}/payment-plan", {"installment_cents": 10_000, "frequency": "monthly",
                                                  "start_date": today.isoformat()})
    post(f"/follow-ups/{promising}/attempts", {"channel": "phone", "outcome": "promised_payment",
                                               "promised_amount_cents": 5_000, "promised_date": today.isoformat(),
                                               "notes": "Petra says Friday"})
    # Tomorrow at noon UTC: the clinic's 03:00 has come, the first installment is due, the promise has passed.
    at = f"{(today + timedelta(days=1)).isoformat()}T12:00:00Z"
    done = followups(stack.env, "invoicing", "run", "--at", at)
    summary = the_result(done)
    assert set(summary) == {"clinics_run", "invoices_created", "promises_broken"}
    assert clinic["clinic_id"] in summary["clinics_run"]
    assert summary["invoices_created"] >= 1 and summary["promises_broken"] >= 1
    logged = stderr_lines(done)
    runs = [line for line in logged if line.get("message") == "auto-invoicing clinic run"
            and line.get("clinic_id") == clinic["clinic_id"]]
    assert runs and runs[0]["invoices_created"] == 1 and runs[0]["promises_broken"] == 1
    [emf] = [line for line in logged if "_aws" in line]  # the run's embedded metrics: stderr too
    assert emf["ClinicsRun"] == [float(len(summary["clinics_run"]))]
    for text in (done.stdout, done.stderr):
        assert not any(name in text for name in PATIENTS) and "Friday" not in text
    again = the_result(followups(stack.env, "invoicing", "run", "--at", at))
    assert clinic["clinic_id"] not in again["clinics_run"] and again["invoices_created"] == 0


@pytest.mark.parametrize("args,code", [
    (["invoicing", "run"], "validation_error"),  # click's own: a missing option
    (["invoicing", "run", "--at", "tomorrow"], "validation_error"),
    (["invoicing", "run", "--at", "2026-02-01T21:15:00"], "validation_error"),  # no offset
    (["invoicing", "run", "--at", "2026-02-01T21:15:00Z", "--verbose"], "usage_error"),  # no such option
    (["no-such-command"], "usage_error"),
    ([], "usage_error"),
    (["clinic", "create", "--name", "X", "--timezone", "Nowhere/City"], "validation_error"),
    (["user", "create", "--clinic", "cln_nosuchclinic0000000000", "--email", "a@example.test", "--password",
      PASSWORD, "--role", "Owner"], "not_found"),
    (["user", "create", "--clinic", "cln_x", "--email", "a@example.test", "--password", PASSWORD, "--role",
      "Overlord"], "validation_error"),
    (["token", "cli-owner@example.test", "--password", "Not-The-Password-1"], "unauthorized"),
])
def test_a_failure_prints_an_error_document_on_stderr_and_nothing_on_stdout(cli_stack, clinic, args, code):
    stack, _ = cli_stack
    done = followups(stack.env, *args)
    error = the_error(done)
    assert error["code"] == code, done.stderr[-2000:]
    assert done.returncode == (2 if code in ("usage_error", "validation_error") else 1)


def test_without_a_stack_or_aws_settings_the_cli_says_so_in_json(tmp_path):
    env = {k: v for k, v in LocalStack(tmp_path).env.items() if not k.startswith("FOLLOWUPS_")}
    env["FOLLOWUPS_STACK_FILE"] = str(tmp_path / "no-stack.json")
    done = followups(env, "clinic", "create", "--name", "X", "--timezone", "UTC")
    error = the_error(done)
    assert error["code"] == "not_configured" and "FOLLOWUPS_USER_POOL_ID" in error["message"]


def test_help_is_text_on_stdout_for_a_person(tmp_path):
    done = followups(LocalStack(tmp_path).env, "invoicing", "run", "--help")
    assert done.returncode == 0 and "--at" in done.stdout and done.stderr == ""


def test_a_stack_file_whose_aws_is_gone_is_an_aws_error_not_a_traceback(tmp_path):
    stack = LocalStack(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    stack.stack_file.write_text(json.dumps({"api_url": "http://127.0.0.1:1", "aws_endpoint_url": dead,
                                            "region": "us-east-1", "user_pool_id": "us-east-1_x",
                                            "user_pool_client_id": "x"}))
    done = followups(stack.env, "clinic", "create", "--name", "X", "--timezone", "UTC")
    error = the_error(done)
    assert error["code"] == "aws_error" and dead in error["message"] and done.returncode == 1
    assert "Traceback" not in done.stderr


def test_an_unexpected_error_shows_its_type_and_frames_but_not_its_message():
    from devtools.cli import _error

    def fails():
        raise ValueError("Clara Cliworth, 555-0100")

    try:
        fails()
    except ValueError as e:
        error, status = _error(e)
    assert status == 1 and error["code"] == "internal_error" and "ValueError" in error["message"]
    assert "Clara" not in json.dumps(error) and any("fails" in frame for frame in error["frames"])


def test_followups_import_streams_a_large_csv_in_chunks_and_a_second_run_creates_nothing(cli_stack, clinic,
                                                                                        tmp_path):
    stack, _ = cli_stack
    day = (datetime.now(UTC).date() - timedelta(days=45)).isoformat()
    rows = ["patient_external_id,patient_name,phone,email,invoice_external_id,invoice_date,amount_cents,"
            "service_date,description"]
    for n in range(1, 131):
        amount = "12.50" if n in (7, 117) else str(1_000 + n)  # two bad rows, in different chunks
        rows.append(f"cli-{n % 60},Imported Cliperson {n % 60},,,cli-inv-{n},{day},{amount},,")
    source = tmp_path / "balances.csv"
    source.write_text("\n".join(rows) + "\n")

    first = followups(stack.env, "import", str(source), "--clinic", clinic["clinic_id"], "--chunk", "50")
    summary = the_result(first)
    assert (summary["rows"], summary["patients_created"], summary["invoices_created"]) == (130, 60, 128)
    assert [(e["row"], e["field"]) for e in summary["errors"]] == [(7, "amount_cents"), (117, "amount_cents")]
    assert "importing" in first.stderr and "Cliperson" not in first.stdout
    again = the_result(followups(stack.env, "import", str(source), "--clinic", clinic["clinic_id"], "--chunk", "50"))
    assert (again["patients_created"], again["invoices_created"], again["invoices_unchanged"]) == (0, 0, 128)

    headers = {"Authorization": f"Bearer {clinic['token']['id_token']}"}
    found = requests.get(f"{clinic['api']}/patients", params={"q": "clipers", "limit": 3}, headers=headers,
                         timeout=10).json()
    assert len(found["items"]) == 3 and found["next_cursor"]
    row = requests.get(f"{clinic['api']}/patients/by-external-id/cli-5", headers=headers, timeout=10).json()
    assert row["balance_cents"] == 1_005 + 1_065 + 1_125  # cli-5 holds rows 5, 65 and 125
