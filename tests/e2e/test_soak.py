"""A small soak through the real local stack (bench/soak.py, 400 requests across 4 clinics from 4
threads): no 5xx, every replay answered as the first time, and afterwards every patient's balance
equals its ledger, its open invoices plus plan remainder, and what the client was told."""

import pytest

from bench import soak

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report(local_stack):
    stack, info = local_stack
    clinics = soak.provision(stack.stack_file, clinics=4, tag="e2e")
    return soak.soak(info, clinics, requests_total=400, threads=4, max_seconds=240, patients_per_clinic=6)


def test_four_hundred_mixed_requests_across_four_clinics_return_no_server_error(report):
    assert report["requests"] == 400, report
    assert report["five_hundreds"] == 0 and report["no_answer"] == 0, report["failures"]
    assert report["failures"] == [], report["failures"]


def test_every_kind_of_request_in_the_mix_was_sent_and_most_landed(report):
    by_op = report["by_operation"]
    expected = {"worklist", "detail", "invoice", "payment", "replay", "attempt", "callback", "new_patient",
                "write_off", "audit"}
    if report["plan_routes"]:
        expected |= {"plan", "plan_run"}
    assert expected <= set(by_op), by_op
    landed = sum(n for status, n in report["statuses"].items() if 200 <= int(status) < 300)
    assert landed >= 0.9 * report["requests"], report["statuses"]


def test_afterwards_every_patients_money_adds_up_every_way(report):
    verify = report["verify"]
    assert verify["patients"] >= 24 and verify["patients_checked"] == verify["patients"], verify
    assert verify["problems"] == [], verify["problems"]
