"""Bad input is a 400 with the contract's error shape, and changes nothing (on the memory store)."""

from datetime import timedelta

import pytest


def assert_validation_error(r, field=None):
    assert r.status == 400, r
    assert r.body["error"]["code"] == "validation_error" and r.body["error"]["message"]
    if field:
        assert field in r.body["error"].get("fields", {}), r.body


@pytest.mark.parametrize("amount", [100.0, "100", True, None, 0, -5, 100_000_001, 10**30, [100], {"v": 1}])
def test_amounts_must_be_integer_cents_in_range(clinic, amount):
    pid = clinic.patient()
    r = clinic.billing.post("/invoices", {"patient_id": pid, "amount_cents": amount,
                                          "invoice_date": clinic.today().isoformat()})
    assert_validation_error(r, "amount_cents")
    assert clinic.billing.get(f"/patients/{pid}").body["balance_cents"] == 0


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z",
                                 "yesterday", 20260101, ""])
def test_dates_must_exist_and_be_yyyy_mm_dd(clinic, day):
    pid = clinic.patient()
    r = clinic.billing.post("/invoices", {"patient_id": pid, "amount_cents": 100, "invoice_date": day})
    assert_validation_error(r, "invoice_date")


def test_an_invoice_dated_after_today_is_refused(clinic):
    pid = clinic.patient()
    later = (clinic.today() + timedelta(days=2)).isoformat()
    assert_validation_error(clinic.billing.post(
        "/invoices", {"patient_id": pid, "amount_cents": 100, "invoice_date": later}), "invoice_date")


@pytest.mark.parametrize("field", ["clinic_id", "balance_cents", "status", "patient_id_x"])
def test_unknown_fields_are_refused_not_assigned(clinic, field):
    pid = clinic.patient()
    r = clinic.billing.post("/invoices", {"patient_id": pid, "amount_cents": 100,
                                          "invoice_date": clinic.today().isoformat(), field: "x"})
    assert_validation_error(r, field)


@pytest.mark.parametrize("raw", ["not json", "[1,2]", '"a string"', "null", "{", ""])
def test_a_body_that_is_not_a_json_object_is_refused(clinic, raw):
    assert_validation_error(clinic.billing.request("POST", "/patients", raw=raw))


def test_a_body_of_another_content_type_is_415_in_the_contracts_shape(clinic):
    r = clinic.billing.request("POST", "/patients", raw='{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert r.status == 415 and r.body["error"]["code"] == "unsupported_media_type", r
    assert "Content-Type" in r.body["error"]["fields"]


def test_an_oversized_body_is_refused(clinic):
    r = clinic.billing.post("/patients", {"name": "x" * 70_000})
    assert_validation_error(r)


def test_unicode_names_are_kept_as_they_are(clinic):
    r = clinic.billing.post("/patients", {"name": "Zoë Ångström-Nguyễn 王"})
    assert r.status == 201 and r.body["name"] == "Zoë Ångström-Nguyễn 王"


def test_overlong_strings_are_refused(clinic):
    assert_validation_error(clinic.billing.post("/patients", {"name": "x" * 201}), "name")


def test_an_unknown_payment_method_is_refused(clinic):
    pid = clinic.patient()
    r = clinic.pay(pid, 100, method="bitcoin")
    assert_validation_error(r, "method")


@pytest.mark.parametrize("instant", ["2026-01-01T10:00:00", "2026-01-01", "2026-01-32T10:00:00Z", 1700000000])
def test_instants_need_an_offset_and_must_exist(clinic, instant):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.today().isoformat())
    assert_validation_error(clinic.pay(pid, 100, received_at=instant), "received_at")


def test_a_payment_received_in_the_future_is_refused(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.today().isoformat())
    assert_validation_error(clinic.pay(pid, 100, received_at="2099-01-01T00:00:00Z"), "received_at")


def test_an_unknown_time_zone_is_refused(clinic):
    assert_validation_error(clinic.owner.patch("/clinic", {"timezone": "Mars/Olympus"}), "timezone")


@pytest.mark.parametrize("path", ["/audit", "/follow-ups"])
@pytest.mark.parametrize("limit", ["1.0", "%205", "+5", "1e1", "0", "101", "99999999999999999999"])
def test_every_lists_limit_is_a_whole_number_from_1_to_100(clinic, path, limit):
    r = clinic.owner.get(f"{path}?limit={limit}")
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", (limit, r)
    assert "limit" in r.body["error"]["fields"]
