"""One clinic never sees another's patients; each role stays within its limits (on the memory store
and the fake user pool; signing in as a new staff member and Cognito's refusal of an existing email
are tests/api/test_tenancy_and_roles.py)."""

import pytest


@pytest.fixture
def theirs(other_clinic):
    pid = other_clinic.patient("Their Patient")
    invoice = other_clinic.invoice(pid, 5_000, other_clinic.days_ago(3))
    payment = other_clinic.pay(pid, 1_000).body
    return {"patient_id": pid, "invoice_id": invoice["invoice_id"], "payment_id": payment["payment_id"]}


def test_another_clinics_objects_are_not_found_on_every_read(clinic, theirs):
    for path in (f"/patients/{theirs['patient_id']}", f"/patients/{theirs['patient_id']}/ledger",
                 f"/invoices/{theirs['invoice_id']}", f"/payments/{theirs['payment_id']}"):
        r = clinic.owner.get(path)
        assert r.status == 404 and r.body["error"]["code"] == "not_found", path


def test_another_clinics_patient_cannot_be_invoiced_or_paid(clinic, theirs, other_clinic):
    r = clinic.owner.post("/invoices", {"patient_id": theirs["patient_id"], "amount_cents": 100,
                                        "invoice_date": clinic.today().isoformat()})
    assert r.status == 404  # "unknown patient -> 404" (API.md, POST /invoices)
    assert clinic.pay(theirs["patient_id"], 100).status == 400  # a body reference (API.md, Errors)
    ledger = other_clinic.owner.get(f"/patients/{theirs['patient_id']}/ledger").body["items"]
    assert len(ledger) == 2  # their invoice and payment, nothing of ours


@pytest.mark.parametrize("path", ["/patients/not-an-id", "/invoices/inv_x", "/payments/pay_!!_x",
                                  "/patients/pat_0000000000000000"])
def test_malformed_or_missing_ids_are_not_found(clinic, path):
    assert clinic.billing.get(path).status == 404


def test_billing_staff_cannot_see_or_create_staff_or_edit_the_clinic(clinic):
    assert clinic.billing.get("/staff").status == 403
    assert clinic.billing.post("/staff", {"email": "x@example.test", "name": "X", "role": "BillingStaff"}).status == 403
    assert clinic.billing.patch("/clinic", {"name": "Mine now"}).status == 403
    assert clinic.billing.get("/clinic").status == 200


def test_an_admin_manages_staff_but_not_owners_or_the_clinic(clinic):
    assert clinic.admin.get("/staff").status == 200
    r = clinic.admin.post("/staff", {"email": "boss@example.test", "name": "Boss", "role": "Owner"})
    assert r.status == 403 and r.body["error"]["code"] == "forbidden"
    assert clinic.admin.patch("/clinic", {"name": "x"}).status == 403


def test_staff_lists_only_the_callers_clinic(clinic, other_clinic):
    subs = {m["sub"] for m in clinic.admin.get("/staff").body["items"]}
    assert clinic.sub("owner") in subs and other_clinic.sub("owner") not in subs


def test_the_owner_renames_the_clinic_and_changes_its_time_zone(clinic):
    r = clinic.owner.patch("/clinic", {"name": "Renamed", "timezone": "Asia/Kathmandu"})
    assert r.status == 200 and r.body["timezone"] == "Asia/Kathmandu" and r.body["name"] == "Renamed"
    assert clinic.billing.get("/clinic").body == {**r.body}


def test_the_openapi_document_describes_every_route(http):
    from chalicelib.api.wiring import api_routes
    from tests.support import Api

    doc = Api(http, None).get("/openapi.json").body
    assert doc["openapi"].startswith("3.")
    for spec in api_routes():
        assert spec.method.lower() in doc["paths"][spec.path], spec.path
    assert "InvoiceIn" in doc["components"]["schemas"]
