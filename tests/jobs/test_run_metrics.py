"""Each scheduled run reports itself as CloudWatch embedded metrics (EMF: one JSON document in the
function's log output, no API call): clinics run, clinics failed, installments invoiced, promises
broken. The template's alarm on failed clinics reads exactly these (tests/deploy/test_alarms.py)."""

import json
from datetime import date

import pytest

from tests.jobs.helpers import add_plan, clinic_with_plan, cw_event, instant, patient_owing, promise


@pytest.fixture
def tick(chalice_client, capsys):
    """Invoke the function as EventBridge does; the run's summary and the EMF documents it printed."""
    def invoke(time_: str) -> tuple[dict, list[dict]]:
        capsys.readouterr()
        summary = chalice_client.lambda_.invoke("auto_invoicing", cw_event(time_, chalice_client.events)).payload
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return summary, [doc for doc in printed if "_aws" in doc]
    return invoke


def the_metrics(documents: list[dict]) -> dict:
    [document] = documents  # one document per run
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Followups"
    assert directive["Dimensions"] == [["function", "service"]]
    assert document["function"] == "auto_invoicing" and document["service"] == "followups"
    assert all(m["Unit"] == "Count" for m in directive["Metrics"])
    values = {m["Name"]: document[m["Name"]] for m in directive["Metrics"]}
    assert all(isinstance(v, list) and len(v) == 1 for v in values.values()), "one value of each per run"
    return {name: v[0] for name, v in values.items()}


def test_a_run_counts_its_clinics_installments_and_broken_promises(tick):
    created = instant("2026-05-04T12:00:00Z")
    world = clinic_with_plan("Europe/Madrid", created, start=date(2026, 5, 5))
    add_plan(world.clinic_id, "Europe/Madrid", created, start=date(2026, 5, 5))
    owing = patient_owing(world.clinic_id, "Europe/Madrid", created, 8_000)
    promise(world.clinic_id, "Europe/Madrid", owing, 2_000, date(2026, 5, 4), created)
    summary, documents = tick("2026-05-05T01:00Z")  # 03:00 on the 5th in Madrid
    assert world.clinic_id in summary["clinics_run"] and summary["promises_broken"] >= 1
    assert the_metrics(documents) == {
        "ClinicsRun": float(len(summary["clinics_run"])), "ClinicsFailed": 0.0,
        "InstallmentsInvoiced": float(summary["invoices_created"]), "PromisesBroken": float(summary["promises_broken"]),
        "RunsStoppedEarly": 0.0}
    assert summary["invoices_created"] >= 2


def test_a_clinic_whose_run_fails_is_counted_as_failed(tick, monkeypatch):
    created = instant("2026-05-11T12:00:00Z")
    world = clinic_with_plan("Asia/Tokyo", created, start=date(2026, 5, 12))
    from chalicelib.services import invoicing

    real = invoicing.invoice_plan

    def throttled_for_one(uow, caller, patient_id, *args, **kwargs):
        if patient_id == world.patient_id:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return real(uow, caller, patient_id, *args, **kwargs)

    monkeypatch.setattr(invoicing, "invoice_plan", throttled_for_one)
    summary, documents = tick("2026-05-11T18:00Z")  # 03:00 on the 12th in Tokyo
    assert world.clinic_id not in summary["clinics_run"]
    metrics = the_metrics(documents)
    assert metrics["ClinicsFailed"] == 1.0 and metrics["ClinicsRun"] == float(len(summary["clinics_run"]))
    monkeypatch.setattr(invoicing, "invoice_plan", real)
    summary, documents = tick("2026-05-11T18:15Z")  # the next tick runs it
    assert world.clinic_id in summary["clinics_run"]
    assert the_metrics(documents)["ClinicsFailed"] == 0.0


def test_a_tick_with_nothing_due_still_reports_zeros(tick):
    _, documents = tick("2026-01-01T00:00Z")  # before any clinic of this module exists
    assert the_metrics(documents) == {"ClinicsRun": 0.0, "ClinicsFailed": 0.0, "InstallmentsInvoiced": 0.0,
                                      "PromisesBroken": 0.0, "RunsStoppedEarly": 0.0}
