"""`followups invoicing run --at INSTANT` runs the scheduled function as EventBridge would, and its
stdout is the run's summary alone (tests/e2e/test_cli.py does the same in a subprocess)."""

import json
from datetime import date

from click.testing import CliRunner

from chalicelib.domain.ids import installment_invoice_id
from devtools.cli import cli
from tests.jobs.helpers import clinic_with_plan, instant


def run_cli(tmp_path, monkeypatch, *args):
    monkeypatch.setenv("FOLLOWUPS_STACK_FILE", str(tmp_path / "no-stack.json"))  # use this process's AWS
    return CliRunner().invoke(cli, ["invoicing", "run", *args])


def test_the_cli_runs_the_clinics_due_at_the_given_instant_and_prints_the_summary(aws, tmp_path, monkeypatch):
    world = clinic_with_plan("Asia/Kathmandu", instant("2026-02-01T06:00Z"), start=date(2026, 2, 2))
    result = run_cli(tmp_path, monkeypatch, "--at", "2026-02-01T21:15:00Z")  # 03:00 on the 2nd in Kathmandu
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # one document: the logs of the run went to stderr
    assert set(summary) == {"clinics_run", "invoices_created", "promises_broken"}
    assert world.clinic_id in summary["clinics_run"] and summary["invoices_created"] >= 1
    assert world.invoice(installment_invoice_id(world.plan_id, 1))["invoice_date"] == "2026-02-02"
    again = json.loads(run_cli(tmp_path, monkeypatch, "--at", "2026-02-01T21:15:00+00:00").stdout)
    assert world.clinic_id not in again["clinics_run"]


def test_the_cli_refuses_an_instant_without_an_offset(aws, tmp_path, monkeypatch):
    result = run_cli(tmp_path, monkeypatch, "--at", "2026-02-01T21:15:00")
    assert result.exit_code == 2 and "offset" in result.output and result.stdout == ""
    assert run_cli(tmp_path, monkeypatch, "--at", "tomorrow").exit_code == 2
