"""Who read what: one structured line per API request, with ids and never a patient's data.

The line names the clinic, the caller (`sub`), the route's template, the patient the request is
about (from the path, a child id in the path, or the body's `patient_id`), the status, the
latency and the request id. Bodies, query strings and free text never appear.
"""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.logs import logger

NAME = "Philomena Quackenbush"
PHONE = "+1 917 555 0199"
EMAIL = "philomena.q@private-mail.test"
NOTE = "paid in the car park, grumpy about parking"
PRIVATE = (NAME, "Quackenbush", PHONE, "555 0199", EMAIL, "private-mail", NOTE, "car park")


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logger.registered_formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines():
    """The service logger's formatted lines at INFO, the level deployed stages log at (the
    suite runs at WARNING)."""
    handler = Collect()
    service_logger = logging.getLogger(logger.name)
    level = service_logger.level
    service_logger.addHandler(handler)
    logger.setLevel("INFO")
    try:
        yield handler.lines
    finally:
        service_logger.removeHandler(handler)
        service_logger.setLevel(level)


def request_lines(lines: list[str]) -> list[dict]:
    return [doc for doc in map(json.loads, lines) if doc["message"] == "request"]


def test_each_request_logs_one_line_with_who_read_which_patient_how_it_went_and_how_long(clinic, lines):
    pid = clinic.patient(NAME, phone=PHONE, email=EMAIL)
    invoice = clinic.invoice(pid, 5_000, clinic.today().isoformat(), description=NOTE)
    lines.clear()
    clinic.billing.get(f"/follow-ups/{pid}")
    clinic.billing.get(f"/invoices/{invoice['invoice_id']}")
    paid = clinic.pay(pid, 1_000, note=NOTE)
    clinic.admin.get(f"/audit?patient_id={pid}&action=payment.recorded")
    clinic.billing.get("/follow-ups?bucket=0-30&limit=5")
    seen = request_lines(lines)
    assert [(d["route"], d["status"], d.get("patient_id")) for d in seen] == [
        ("GET /follow-ups/{patient_id}", 200, pid),
        ("GET /invoices/{invoice_id}", 200, pid),  # the patient inside the invoice's id
        ("POST /payments", 201, pid),  # the body's patient_id
        ("GET /audit", 200, pid),  # the query's patient_id
        ("GET /follow-ups", 200, None),
    ]
    assert paid.status == 201
    for doc, who in zip(seen, ["billing", "billing", "billing", "admin", "billing"], strict=True):
        assert doc["clinic_id"] == clinic.clinic_id and doc["sub"] == clinic.sub(who)
        assert doc["level"] == "INFO" and doc["request_id"]
        assert isinstance(doc["latency_ms"], int | float) and doc["latency_ms"] >= 0
        assert "query" not in json.dumps(doc) and "bucket" not in json.dumps(doc)
    joined = "\n".join(lines)
    for text in PRIVATE:
        assert text.lower() not in joined.lower(), f"{text!r} leaked: {joined}"


def test_refusals_are_logged_once_with_their_status_and_code_and_no_caller_when_there_is_none(clinic, http, lines):
    from tests.support import Api

    pid = clinic.patient(NAME)
    lines.clear()
    clinic.billing.post("/patients", {"name": NAME, "phone": PHONE, "diagnosis": NOTE})
    clinic.billing.post(f"/follow-ups/{pid}/write-off", {"reason": NOTE})
    clinic.pay(pid, 1_000, note=NOTE)  # nothing is owed: an overpayment
    Api(http, None).get(f"/follow-ups/{pid}")
    clinic.billing.get("/follow-ups/Philomena%20Quackenbush")
    clinic.billing.request("POST", "/patients", raw=json.dumps({"name": NAME}), headers={"Content-Type": "text/plain"})
    seen = request_lines(lines)
    assert [(d["route"], d["status"], d.get("error_code"), d.get("patient_id")) for d in seen] == [
        ("POST /patients", 400, "validation_error", None),
        ("POST /follow-ups/{patient_id}/write-off", 403, "forbidden", pid),
        ("POST /payments", 409, "overpayment", pid),
        ("GET /follow-ups/{patient_id}", 401, "unauthorized", pid),
        ("GET /follow-ups/{patient_id}", 404, "not_found", None),  # not an id: not logged as one
        ("POST /patients", 415, "unsupported_media_type", None),
    ]
    assert "sub" not in seen[3] and "clinic_id" not in seen[3]
    assert not any(d["message"] == "request refused" for d in map(json.loads, lines)), "one line per request"
    joined = "\n".join(lines)
    for text in PRIVATE:
        assert text.lower() not in joined.lower(), f"{text!r} leaked: {joined}"


def test_a_500_names_the_request_id_its_log_line_carries(clinic, lines, monkeypatch):
    from chalicelib.services import patients

    def explode(*args, **kwargs):
        raise ValueError(f"cannot store {NAME}")

    monkeypatch.setattr(patients, "create", explode)
    lines.clear()
    r = clinic.billing.post("/patients", {"name": NAME})
    assert r.status == 500 and r.body["error"]["request_id"]
    [line] = request_lines(lines)
    assert (line["status"], line["error_code"], line["request_id"]) == (500, "internal_error",
                                                                        r.body["error"]["request_id"])
    assert NAME not in "\n".join(lines)


def test_a_keyed_request_logs_the_integration_as_its_caller_and_never_the_key_or_a_searched_name(clinic, lines):
    from tests.integrations_support import issue_key

    reader, made = issue_key(clinic, ["patients:read"])
    lines.clear()
    assert reader.get("/patients?q=quackenbush").status == 200
    assert reader.get("/follow-ups").status == 403
    text = "\n".join(lines)
    assert made["key"] not in text and made["key"][8:20] not in text and "quackenbush" not in text.lower()
    logged = request_lines(lines)
    assert [d["sub"] for d in logged] == [f"integration:{made['integration_id']}"] * 2
    assert [d["status"] for d in logged] == [200, 403]
