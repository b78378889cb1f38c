"""External ids: one patient and one invoice per id in a clinic; PUT by external id creates,
then answers the same thing again without writing; a used id is 409 `external_id_in_use`."""

from __future__ import annotations

from tests.fast.support import audit_entries
from tests.integrations_support import PMS_SCOPES, issue_key


def test_putting_a_patient_twice_creates_them_once_and_the_second_time_changes_nothing(http, clinic):
    first = clinic.billing.put("/patients/by-external-id/mrn-100", {"name": "Ada Byron", "phone": "+1 555 0101"})
    assert first.status == 201 and first.body["external_id"] == "mrn-100"
    trail = len(audit_entries(clinic.clinic_id))
    again = clinic.billing.put("/patients/by-external-id/mrn-100", {"name": "Ada Byron", "phone": "+1 555 0101"})
    assert again.status == 200 and again.body["patient_id"] == first.body["patient_id"]
    assert len(audit_entries(clinic.clinic_id)) == trail


def test_putting_a_patient_with_new_details_updates_only_what_is_sent(http, clinic):
    pid = clinic.billing.put("/patients/by-external-id/mrn-101", {"name": "Ada", "phone": "+1 555 0102",
                                                                  "email": "ada@example.test"}).body["patient_id"]
    r = clinic.billing.put("/patients/by-external-id/mrn-101", {"name": "Ada Lovelace"})
    assert r.status == 200 and r.body["patient_id"] == pid
    assert (r.body["name"], r.body["phone"], r.body["email"]) == ("Ada Lovelace", "+1 555 0102", "ada@example.test")
    assert "patient.updated" in [e.action for e in audit_entries(clinic.clinic_id, patient_id=pid)]


def test_a_patient_is_found_by_external_id_and_an_unknown_one_is_404(http, clinic):
    pid = clinic.patient("Found By Id", external_id="mrn/102 ü")
    assert clinic.billing.get("/patients/by-external-id/mrn%2F102%20%C3%BC").body["patient_id"] == pid
    assert clinic.billing.get("/patients/by-external-id/nobody-has-this").status == 404


def test_creating_a_patient_with_a_used_external_id_is_409(http, clinic):
    clinic.patient("First Holder", external_id="mrn-103")
    r = clinic.billing.post("/patients", {"name": "Second Holder", "external_id": "mrn-103"})
    assert r.status == 409 and r.body["error"]["code"] == "external_id_in_use"


def test_external_ids_are_per_clinic(http, clinic, other_clinic):
    clinic.patient("Here", external_id="mrn-shared")
    assert other_clinic.billing.post("/patients", {"name": "There", "external_id": "mrn-shared"}).status == 201


def test_putting_an_invoice_twice_gives_201_then_200_and_one_invoice(http, clinic):
    pid = clinic.patient("Invoiced Twice", external_id="mrn-104")
    body = {"patient_external_id": "mrn-104", "amount_cents": 12_500, "invoice_date": clinic.days_ago(40),
            "description": "Cleaning"}
    first = clinic.billing.put("/invoices/by-external-id/inv-104", body)
    assert first.status == 201 and first.body["invoice_date"] == clinic.days_ago(40)
    again = clinic.billing.put("/invoices/by-external-id/inv-104", body)
    assert again.status == 200 and again.body["invoice_id"] == first.body["invoice_id"]
    assert clinic.billing.get(f"/follow-ups/{pid}").body["balance_cents"] == 12_500


def test_an_invoice_sent_again_with_other_values_is_409_and_changes_nothing(http, clinic):
    pid = clinic.patient("Different Values")
    body = {"patient_id": pid, "amount_cents": 1_000, "invoice_date": clinic.days_ago(2)}
    assert clinic.billing.put("/invoices/by-external-id/inv-105", body).status == 201
    r = clinic.billing.put("/invoices/by-external-id/inv-105", {**body, "amount_cents": 1_001})
    assert r.status == 409 and r.body["error"]["code"] == "external_id_in_use"
    assert clinic.billing.get(f"/follow-ups/{pid}").body["balance_cents"] == 1_000


def test_posting_an_invoice_with_a_used_external_id_is_409(http, clinic):
    pid = clinic.patient("Posted Twice")
    clinic.invoice(pid, 700, clinic.days_ago(1), external_id="inv-106")
    r = clinic.billing.post("/invoices", {"patient_id": pid, "amount_cents": 700, "invoice_date": clinic.days_ago(1),
                                          "external_id": "inv-106"})
    assert r.status == 409 and r.body["error"]["code"] == "external_id_in_use"


def test_an_invoice_names_its_patient_once_and_an_unknown_patient_external_id_is_400(http, clinic):
    pid = clinic.patient("Named Once", external_id="mrn-107")
    both = {"patient_id": pid, "patient_external_id": "mrn-107", "amount_cents": 100,
            "invoice_date": clinic.days_ago(1)}
    assert clinic.billing.put("/invoices/by-external-id/inv-107", both).status == 400
    unknown = {"patient_external_id": "mrn-nobody", "amount_cents": 100, "invoice_date": clinic.days_ago(1)}
    r = clinic.billing.put("/invoices/by-external-id/inv-107", unknown)
    assert r.status == 400 and "patient_external_id" in r.body["error"]["fields"]


def test_a_sync_that_retries_every_call_leaves_one_patient_one_invoice_and_one_payment(http, clinic):
    pms, _ = issue_key(clinic, PMS_SCOPES)
    for _ in range(2):
        p = pms.put("/patients/by-external-id/mrn-108", {"name": "Retried Sync"})
        i = pms.put("/invoices/by-external-id/inv-108", {"patient_external_id": "mrn-108", "amount_cents": 3_000,
                                                        "invoice_date": clinic.days_ago(10)})
        pay = pms.post("/payments", {"patient_id": p.body["patient_id"], "amount_cents": 1_000, "method": "card"},
                       headers={"Idempotency-Key": "charge-108"})
        assert p.status in (200, 201) and i.status in (200, 201) and pay.status == 201
    detail = clinic.billing.get(f"/follow-ups/{p.body['patient_id']}").body
    assert (len(detail["invoices"]), len(detail["payments"]), detail["balance_cents"]) == (1, 1, 2_000)
