"""Onboarding a clinic's open balances: POST /imports with CSV or JSON rows, errors per row,
nothing written for a row with an error, idempotent on external ids, original invoice dates."""

from __future__ import annotations

import json

from tests.fast.support import audit_entries
from tests.integrations_support import issue_key

HEADER = ("patient_external_id,patient_name,phone,email,invoice_external_id,invoice_date,amount_cents,service_date,"
          "description")


def csv_of(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def send_csv(api, text: str):
    return api.request("POST", "/imports", raw=text.encode(), headers={"Content-Type": "text/csv"})


def test_a_csv_import_creates_patients_and_invoices_that_age_from_their_original_date(http, clinic):
    old = clinic.days_ago(75)
    text = csv_of(f"imp-1,Ana Ortiz,+1 555 0110,,imp-inv-1,{old},12000,,Crown",
                  f"imp-1,Ana Ortiz,+1 555 0110,,imp-inv-2,{clinic.days_ago(10)},3000,,",
                  f"imp-2,Ben Okafor,,ben@example.test,imp-inv-3,{clinic.days_ago(20)},4500,,")
    r = send_csv(clinic.owner, text)
    assert r.status == 200, r
    assert r.body == {"rows": 3, "patients_created": 2, "patients_updated": 0, "invoices_created": 3,
                      "invoices_unchanged": 0, "errors": []}
    ana = clinic.billing.get("/patients/by-external-id/imp-1").body
    rows = clinic.billing.get("/follow-ups?limit=100").body["items"]
    row = next(i for i in rows if i["patient_id"] == ana["patient_id"])
    assert (row["oldest_invoice_date"], row["days_overdue"], row["bucket"], row["balance_cents"]) == (
        old, 75, "61-90", 15_000)


def test_the_same_file_sent_twice_creates_nothing_the_second_time(http, clinic):
    text = csv_of(f"twice-1,Twice Patient,,,twice-inv-1,{clinic.days_ago(3)},1000,,")
    assert send_csv(clinic.owner, text).body["invoices_created"] == 1
    again = send_csv(clinic.owner, text).body
    assert again == {"rows": 1, "patients_created": 0, "patients_updated": 0, "invoices_created": 0,
                     "invoices_unchanged": 1, "errors": []}


def test_rows_with_errors_write_nothing_and_are_reported_by_row_and_field(http, clinic):
    text = csv_of(f"bad-1,Good Row,,,bad-inv-1,{clinic.days_ago(1)},500,,",
                  f"bad-2,,,,bad-inv-2,{clinic.days_ago(1)},500,,",
                  "bad-3,Bad Amount,,,bad-inv-3,2026-01-01,12.50,,",
                  "bad-4,Bad Date,,,bad-inv-4,2026-02-30,100,,",
                  f"bad-5,Missing Invoice Part,,,bad-inv-5,{clinic.days_ago(1)},,,")
    r = send_csv(clinic.owner, text).body
    assert (r["rows"], r["patients_created"], r["invoices_created"]) == (5, 1, 1)
    assert {(e["row"], e["field"]) for e in r["errors"]} == {(2, "patient_name"), (3, "amount_cents"),
                                                            (4, "invoice_date"), (5, "amount_cents")}
    for mrn in ("bad-2", "bad-3", "bad-4", "bad-5"):
        assert clinic.billing.get(f"/patients/by-external-id/{mrn}").status == 404, mrn


def test_a_row_whose_invoice_id_is_taken_with_other_values_writes_nothing(http, clinic):
    send_csv(clinic.owner, csv_of(f"conf-1,First,,,conf-inv,{clinic.days_ago(2)},700,,"))
    r = send_csv(clinic.owner, csv_of(f"conf-2,Second,,,conf-inv,{clinic.days_ago(2)},700,,")).body
    assert [(e["row"], e["field"]) for e in r["errors"]] == [(1, "invoice_external_id")]
    assert clinic.billing.get("/patients/by-external-id/conf-2").status == 404


def test_json_rows_are_imported_like_csv_and_an_invoice_date_in_the_future_is_a_row_error(http, clinic):
    rows = [{"patient_external_id": "json-1", "patient_name": "Json Row", "invoice_external_id": "json-inv-1",
             "invoice_date": clinic.days_ago(4), "amount_cents": 2500},
            {"patient_external_id": "json-2", "patient_name": "Future", "invoice_external_id": "json-inv-2",
             "invoice_date": clinic.days_ago(-3), "amount_cents": 100},
            {"patient_external_id": "json-3", "patient_name": "String Cents", "invoice_external_id": "json-inv-3",
             "invoice_date": clinic.days_ago(1), "amount_cents": 1.5}]
    r = clinic.owner.post("/imports", {"rows": rows}).body
    assert (r["invoices_created"], [(e["row"], e["field"]) for e in r["errors"]]) == (
        1, [(2, "invoice_date"), (3, "amount_cents")])


def test_more_than_1000_rows_is_413_and_writes_nothing(http, clinic):
    text = csv_of(*[f"big-{n},Big {n},,,big-inv-{n},{clinic.days_ago(1)},100,," for n in range(1001)])
    r = send_csv(clinic.owner, text)
    assert r.status == 413 and r.body["error"]["code"] == "too_many_rows"
    assert clinic.billing.get("/patients/by-external-id/big-0").status == 404
    rows = [{"patient_external_id": f"j{n}", "patient_name": "J"} for n in range(1001)]
    assert clinic.owner.post("/imports", {"rows": rows}).status == 413


def test_an_unknown_column_in_the_header_is_400(http, clinic):
    r = send_csv(clinic.owner, "patient_external_id,patient_name,ssn\nx,y,z\n")
    assert r.status == 400 and r.body["error"]["code"] == "validation_error"


def test_import_completed_is_audited_with_counts_only(http, clinic):
    send_csv(clinic.owner, csv_of(f"aud-1,Secret Name,+1 555 0177,,aud-inv-1,{clinic.days_ago(1)},100,,Notes"))
    [entry] = audit_entries(clinic.clinic_id, action="import.completed")
    assert entry.details == {"rows": 1, "patients_created": 1, "patients_updated": 0, "invoices_created": 1,
                             "invoices_unchanged": 0, "errors": 0}
    assert "Secret" not in json.dumps(entry.details)


def test_billing_staff_cannot_import_but_a_key_with_imports_write_can(http, clinic):
    text = csv_of(f"key-1,Key Import,,,key-inv-1,{clinic.days_ago(1)},100,,")
    assert send_csv(clinic.billing, text).status == 403
    importer, made = issue_key(clinic, ["imports:write"])
    assert send_csv(importer, text).status == 200
    [entry] = audit_entries(clinic.clinic_id, action="import.completed")
    assert entry.actor == f"integration:{made['integration_id']}"
    pms, _ = issue_key(clinic, ["patients:write", "invoices:write"])
    assert send_csv(pms, text).status == 403


def test_a_body_as_text_plain_is_415(http, clinic):
    r = clinic.owner.request("POST", "/imports", raw=b"a,b\n", headers={"Content-Type": "text/plain"})
    assert r.status == 415 and r.body["error"]["code"] == "unsupported_media_type"
