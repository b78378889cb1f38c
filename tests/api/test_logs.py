"""Logs are structured JSON and carry ids only: no patient name, phone, email, note or reason.

The scenario runs every route of this branch with distinctive personal text in every free-text
field, with the service's logger at DEBUG and every other logger at INFO, and captures what the
powertools handler formats, every record that reaches the root logger, and the process's raw
stdout/stderr. Error paths are included: refusals, and unhandled exceptions whose message
carries the patient's data.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib.domain import clock
from chalicelib.logs import logger
from chalicelib.services import patients
from tests.support import make_clinic

NAME = "Philomena Quackenbush"
PHONE = "+1 917 555 0199"
EMAIL = "philomena.q@private-mail.test"
NOTE = "paid in the car park, grumpy about parking"
REASON = "Deceased; estate has no assets"
DESCRIPTION = "Root canal, upper left molar"
SECRETS = (NAME, "Philomena", "Quackenbush", PHONE, "555 0199", EMAIL, "private-mail", NOTE, "car park", REASON,
           "estate has no assets", DESCRIPTION, "molar")


class Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None = None):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class CollectRaw(Collect):
    """Everything a record carries, whatever a handler would choose to print of it."""

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in vars(record).items() if k not in ("msg", "args")}
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.lines.append(f"{record.getMessage()} {extra} {trace}")


@pytest.fixture
def captured():
    structured = Collect(logger.registered_formatter)
    raw = CollectRaw()
    service_logger = logging.getLogger(logger.name)
    root = logging.getLogger()
    old = (service_logger.level, root.level)
    service_logger.addHandler(structured)
    root.addHandler(raw)
    logger.setLevel("DEBUG")
    root.setLevel(logging.INFO)
    try:
        yield structured, raw
    finally:
        service_logger.removeHandler(structured)
        root.removeHandler(raw)
        service_logger.setLevel(old[0])
        root.setLevel(old[1])


def run_scenario(http) -> dict:
    w = make_clinic(http, extra_staff=(("delegate", "BillingStaff"),))
    today = clock.local_date(datetime.now(UTC), w.timezone).isoformat()
    pid = w.billing.post("/patients", {"name": NAME, "phone": PHONE, "email": EMAIL}).body["patient_id"]
    w.owner.get(f"/patients/{pid}")
    inv = w.invoice(pid, 12_000, today, description=DESCRIPTION)
    w.owner.get(f"/invoices/{inv['invoice_id']}")
    key = secrets.token_hex(8)
    paid = w.billing.post("/payments", {"patient_id": pid, "amount_cents": 2_000, "method": "cash", "note": NOTE},
                          headers={"Idempotency-Key": key})
    assert paid.status == 201, paid
    w.owner.get(f"/payments/{paid.body['payment_id']}")
    # Refusals carrying personal text: unknown field, overpayment, reused key, wrong role.
    assert w.billing.post("/patients", {"name": NAME, "phone": PHONE, "diagnosis": NOTE}).status == 400
    assert w.billing.post("/payments", {"patient_id": pid, "amount_cents": 99_999, "method": "cash", "note": NOTE},
                          headers={"Idempotency-Key": secrets.token_hex(8)}).status == 409
    assert w.billing.post("/payments", {"patient_id": pid, "amount_cents": 1, "method": "cash", "note": NOTE},
                          headers={"Idempotency-Key": key}).status == 409
    assert w.billing.post(f"/follow-ups/{pid}/write-off", {"reason": REASON}).status == 403
    assert w.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "no"}).status == 400
    grant = w.owner.post("/delegations", {"grantee_sub": w.sub("delegate"), "permission": "write_off",
                                          "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=2))})
    assert grant.status == 201
    w.admin.get("/delegations")
    w.as_("delegate").get("/me")
    r = w.as_("delegate").post(f"/follow-ups/{pid}/write-off", {"reason": REASON})
    assert r.status == 200, r
    assert w.owner.post(f"/follow-ups/{pid}/write-off", {"reason": REASON}).status == 409
    assert w.owner.delete(f"/delegations/{grant.body['delegation_id']}").status == 204
    w.owner.patch("/clinic", {"name": "Quackenbush Family Dental"})
    w.admin.post("/staff", {"email": EMAIL.replace("philomena", "staffer"), "name": NAME, "role": "BillingStaff"})
    w.owner.get(f"/patients/{pid}/ledger")
    w.owner.get(f"/audit?patient_id={pid}")
    w.owner.get("/audit?cursor=not-a-cursor")
    return {"world": w, "patient_id": pid, "entry_id": r.body["entry_id"]}


def assert_clean(lines: list[str]) -> None:
    for line in lines:
        for text in SECRETS:
            assert text.lower() not in line.lower(), f"{text!r} leaked into a log line: {line}"


def test_a_full_scenario_logs_ids_and_never_patient_data(http, captured, capfd):
    structured, raw = captured
    ids = run_scenario(http)
    out, err = capfd.readouterr()
    assert structured.lines, "the scenario logged nothing: the capture is broken"
    for line in structured.lines:
        doc = json.loads(line)  # structured: one JSON object per line
        assert doc["service"] == "followups" and doc["level"] and doc["message"]
    joined = "\n".join(structured.lines)
    # The ids are there (that is what the logs are for) ...
    assert ids["patient_id"] in joined and ids["entry_id"] in joined
    assert '"error_code":"forbidden"' in joined and '"error_code":"conflict"' in joined
    # ... and nothing personal, in any form.
    assert_clean(structured.lines)
    assert_clean(raw.lines)
    assert_clean(out.splitlines() + err.splitlines())


@pytest.mark.parametrize("error", [
    ValueError(f"cannot store {NAME} {PHONE} {EMAIL}"),
    ClientError({"Error": {"Code": "ValidationException", "Message": f"bad item {{'name': '{NAME}'}}"}}, "PutItem"),
], ids=["plain-exception", "aws-error"])
def test_an_unhandled_error_logs_its_type_and_frames_but_not_its_message(http, captured, capfd, monkeypatch, error):
    structured, raw = captured
    w = make_clinic(http)

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(patients, "create", explode)
    r = w.billing.post("/patients", {"name": NAME, "phone": PHONE, "email": EMAIL})
    assert r.status == 500 and r.body["error"]["code"] == "internal_error"
    assert NAME not in r.text
    out, err = capfd.readouterr()
    [line] = [json.loads(x) for x in structured.lines if "unhandled error" in x]
    assert line["exception_name"] == type(error).__name__
    assert any("explode" in frame for frame in line["frames"])
    if isinstance(error, ClientError):
        assert line["aws_error_code"] == "ValidationException"
    assert_clean(structured.lines)
    assert_clean(raw.lines)
    assert_clean(out.splitlines() + err.splitlines())
