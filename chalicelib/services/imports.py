"""Import of a clinic's open balances: rows of patients and their unpaid invoices, written by
external id, so the same file sent twice creates nothing the second time.

A row is validated whole before anything of it is written; a row with an error writes nothing
and is reported with its row number (data rows from 1) and field. Each valid row goes through
the same services as the API's PUTs (uniqueness items, search items and audit records in each
change's transaction); the request ends with one `import.completed` audit record (counts only).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from ..domain.bounds import RANGE_MESSAGE, in_calendar_range
from ..domain.errors import ExternalIdInUse, FollowUpsError, TooManyRows, ValidationError
from ..domain.money import MAX_CENTS, MIN_CENTS
from ..domain.roles import Caller
from . import audit, invoices, patients

MAX_ROWS = 1000
MAX_BYTES = 2 * 1024 * 1024
COLUMNS = ("patient_external_id", "patient_name", "phone", "email", "invoice_external_id", "invoice_date",
           "amount_cents", "service_date", "description")
INVOICE_COLUMNS = ("invoice_external_id", "invoice_date", "amount_cents")
LIMITS = {"patient_external_id": 100, "patient_name": 200, "phone": 40, "email": 254, "invoice_external_id": 100,
          "description": 500}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)


@dataclass
class Summary:
    rows: int = 0
    patients_created: int = 0
    patients_updated: int = 0
    invoices_created: int = 0
    invoices_unchanged: int = 0
    errors: list[dict] = field(default_factory=list)


def parse_rows(raw: bytes, media_type: str) -> list[dict]:
    """The rows of a CSV with a header row, or of a JSON `{"rows": [{..}]}`; 413 past MAX_ROWS."""
    if len(raw) > MAX_BYTES:
        raise TooManyRows(f"an import request carries at most {MAX_BYTES} bytes; send more requests")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError("the body is not UTF-8 text") from e
    if media_type == "text/csv":
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        if not header or unknown or len(set(header)) != len(header):
            raise ValidationError("the CSV header names unknown or repeated columns",
                                  fields={"header": f"columns among {', '.join(COLUMNS)}"})
        rows = []
        for row in reader:
            rows.append({k: v for k, v in row.items() if k is not None})
            if len(rows) > MAX_ROWS:
                raise TooManyRows(f"at most {MAX_ROWS} rows a request")
        return rows
    try:
        document = json.loads(text)
    except ValueError as e:
        raise ValidationError("the body is not valid JSON") from e
    if not isinstance(document, dict) or set(document) != {"rows"} or not isinstance(document["rows"], list):
        raise ValidationError('the body must be {"rows": [..]}', fields={"rows": "a list of row objects"})
    if len(document["rows"]) > MAX_ROWS:
        raise TooManyRows(f"at most {MAX_ROWS} rows a request")
    return document["rows"]


def check_count(rows: list) -> list:
    if len(rows) > MAX_ROWS:
        raise TooManyRows(f"at most {MAX_ROWS} rows a request")
    return rows


@dataclass(frozen=True)
class Row:
    patient_external_id: str
    patient_name: str
    phone: str | None
    email: str | None
    invoice_external_id: str | None
    invoice_date: date | None
    amount_cents: int | None
    service_date: date | None
    description: str | None


def _date(value, name: str, problems: dict) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        problems[name] = "must be a date YYYY-MM-DD"
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        problems[name] = "is not a real date"
        return None
    if not in_calendar_range(day):
        problems[name] = RANGE_MESSAGE
        return None
    return day


def validate(raw, today: date) -> tuple[Row | None, dict[str, str]]:
    """Business rule: a row names its patient (external id and name); an invoice part, if any,
    has its external id, date (not after today) and amount still owed (integer cents)."""
    if not isinstance(raw, dict):
        return None, {"row": "must be an object of columns"}
    problems: dict[str, str] = {}
    for name in raw:
        if name not in COLUMNS:
            problems[name] = "unknown column"
    values = {}
    for name in COLUMNS:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and name != "amount_cents" and not isinstance(value, str):
            problems[name] = "must be text"
            value = None
        if isinstance(value, str) and name in LIMITS and len(value) > LIMITS[name]:
            problems[name] = f"at most {LIMITS[name]} characters"
        values[name] = value
    for name in ("patient_external_id", "patient_name"):
        if values[name] is None and name not in problems:
            problems[name] = "required"
    amount = values["amount_cents"]
    if isinstance(amount, str):
        amount = int(amount) if _DIGITS.fullmatch(amount) else "bad"
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)
                               or not MIN_CENTS <= amount <= MAX_CENTS):
        problems["amount_cents"] = f"an integer number of cents, {MIN_CENTS} to {MAX_CENTS}"
        amount = None
    invoice_date = _date(values["invoice_date"], "invoice_date", problems)
    service_date = _date(values["service_date"], "service_date", problems)
    if invoice_date is not None and invoice_date > today:
        problems["invoice_date"] = "must not be in the future"
    if any(values[c] is not None for c in (*INVOICE_COLUMNS, "service_date", "description")):
        for name in INVOICE_COLUMNS:
            if values[name] is None and name not in problems:
                problems[name] = "required for a row with an invoice"
    if problems:
        return None, problems
    return Row(values["patient_external_id"], values["patient_name"], values["phone"], values["email"],
               values["invoice_external_id"], invoice_date, amount, service_date, values["description"]), {}


def run(uow, caller: Caller, now: datetime, rows: list) -> Summary:
    from . import clinics  # noqa: PLC0415

    today = clinics.get(uow, caller.clinic_id).today(now)
    summary = Summary(rows=len(rows))
    for number, raw in enumerate(rows, start=1):
        row, problems = validate(raw, today)
        if row is None:
            summary.errors.extend({"row": number, "field": f, "message": m} for f, m in problems.items())
            continue
        try:
            _write(uow, caller, now, today, row, summary)
        except FollowUpsError as e:
            uow.discard()
            name = next(iter(e.fields), "row") if e.fields else "row"
            summary.errors.append({"row": number, "field": _column(name), "message": e.message})
    audit.record(uow, caller.clinic_id, caller.actor, "import.completed", now, details={
        "rows": summary.rows, "patients_created": summary.patients_created,
        "patients_updated": summary.patients_updated, "invoices_created": summary.invoices_created,
        "invoices_unchanged": summary.invoices_unchanged, "errors": len(summary.errors)})
    uow.commit()
    return summary


def _column(name: str) -> str:
    return {"external_id": "invoice_external_id", "name": "patient_name"}.get(name, name)


def _write(uow, caller: Caller, now: datetime, today: date, row: Row, summary: Summary) -> None:
    """One row: the invoice's external id is checked before the patient is written, so a row
    whose invoice conflicts writes nothing. What this check reads (the two external ids, the
    patient) is handed to the PUT services instead of being read again; the uniqueness items'
    conditional Puts and the patient record's version still decide, in each change's transaction."""
    patient_id, held = uow.directory.holders(caller.clinic_id, row.patient_external_id, row.invoice_external_id)
    if row.invoice_external_id is not None:
        if held is not None:
            invoice = uow.accounts.invoice(caller.clinic_id, held[0], held[1])
            same = (invoice is not None and held[0] == patient_id and invoice.amount_cents == row.amount_cents
                    and invoice.invoice_date == row.invoice_date and invoice.service_date == row.service_date
                    and invoice.description == row.description)
            if not same:
                raise ExternalIdInUse("an invoice with this external id exists with other values",
                                      fields={"invoice_external_id": "in use"})
    given = frozenset(f for f in ("phone", "email") if getattr(row, f) is not None)
    before = uow.accounts.get_patient(caller.clinic_id, patient_id) if patient_id else None
    patient, created = patients.put_by_external_id(uow, caller, now, row.patient_external_id, name=row.patient_name,
                                                   phone=row.phone, email=row.email, given=given,
                                                   holder=patient_id, current=before)
    if created:
        summary.patients_created += 1
    elif before is not None and before.version != patient.version:
        summary.patients_updated += 1
    if row.invoice_external_id is None:
        return
    if held is not None:  # the same invoice, checked above: nothing to write (a file sent again)
        summary.invoices_unchanged += 1
        return
    _, made = invoices.put_by_external_id(
        uow, caller, now, row.invoice_external_id, patient_id=patient.patient_id, patient_external_id=None,
        amount_cents=row.amount_cents, invoice_date=row.invoice_date, service_date=row.service_date,
        description=row.description, today=today, free=True)
    if made:
        summary.invoices_created += 1
    else:
        summary.invoices_unchanged += 1
