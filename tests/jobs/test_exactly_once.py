"""Each installment is invoiced at most once, ever: duplicate deliveries, overlapping runs, a
manual run at the same moment, payments meanwhile, and separate processes (as separate Lambdas).

The races run with real threads (and processes) against the embedded AWS in a child process
(tests/jobs/race_harness.py): in-process moto is not thread-safe for transactions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["duplicate_deliveries", "overlapping_runs", "manual_run_during_the_scheduled_run",
             "payments_during_runs", "cli_processes"]


@pytest.fixture(scope="module")
def races(tmp_path_factory):
    env = {"PATH": "/usr/bin:/bin", "RACE_TMP": str(tmp_path_factory.mktemp("races")), "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, "-m", "tests.jobs.race_harness", *SCENARIOS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_due_installment_is_invoiced_exactly_once_under_concurrency(races, scenario):
    facts = races[scenario]
    assert facts["errors"] == []
    assert facts["expected_invoices"] == 25
    # every invoice was reported created by exactly one of the racing runs
    assert facts["reported_created"] == facts["expected_invoices"]
    for plan in facts["plans"].values():
        assert plan["invoiced"] == plan["due"], plan  # one stored invoice per due installment
        assert plan["audited"] == plan["due"], plan  # each in exactly one plan.invoiced audit record


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_money_appears_or_vanishes_while_runs_race(races, scenario):
    for patient in races[scenario]["patients"].values():
        assert patient["invariant"], patient  # balance = open invoices + the plan's uninvoiced part
        assert patient["balance"] == races[scenario]["total"] - patient["paid"] == patient["ledger_last"]
        # invoicing a plan moves debt between invoices: no ledger entry of its own
        assert patient["ledger_types"].get("invoice") == 1


def test_the_races_really_raced(races):
    """Conditions refused transactions: the runs did collide, and lost without harm."""
    for scenario in ("duplicate_deliveries", "overlapping_runs", "manual_run_during_the_scheduled_run"):
        assert races[scenario]["transactions"].get("refused", 0) > 0, races[scenario]["transactions"]


def test_racing_runs_move_the_clinic_to_the_day_after_the_latest_run_date(races):
    assert races["duplicate_deliveries"]["next_run_date"] == "2026-02-04"
    assert races["overlapping_runs"]["next_run_date"] == "2026-02-05"  # never moved back by a slower run


def test_payments_racing_the_runs_all_land(races):
    facts = races["payments_during_runs"]
    assert facts["payments_refused"] == 0
    assert all(p["paid"] == 7_000 for p in facts["patients"].values())


def test_separate_cli_processes_print_summaries_that_add_up(races):
    summaries = races["cli_processes"]["summaries"]
    assert len(summaries) == 4
    assert all(set(s) == {"clinics_run", "invoices_created", "promises_broken"} for s in summaries)
    assert sum(s["invoices_created"] for s in summaries) <= 25
