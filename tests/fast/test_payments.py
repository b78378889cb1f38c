"""Recording payments: allocation, overpayment, closing, and Idempotency-Key semantics (on the memory store)."""

from tests.support import Api


def test_a_payment_settles_the_oldest_invoice_first(clinic):
    pid = clinic.patient()
    newer = clinic.invoice(pid, 5_000, clinic.days_ago(10))
    older = clinic.invoice(pid, 3_000, clinic.days_ago(40))
    r = clinic.pay(pid, 4_000)
    assert r.status == 201, r
    assert r.body["allocations"] == [{"invoice_id": older["invoice_id"], "amount_cents": 3_000},
                                     {"invoice_id": newer["invoice_id"], "amount_cents": 1_000}]
    assert r.body["balance_cents"] == 4_000 and r.body["follow_up_status"] == "open"
    assert clinic.billing.get(f"/invoices/{older['invoice_id']}").body["status"] == "paid"


def test_a_payment_for_a_named_invoice_goes_there_first(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 3_000, clinic.days_ago(40))
    newer = clinic.invoice(pid, 5_000, clinic.days_ago(10))
    r = clinic.pay(pid, 2_000, invoice_id=newer["invoice_id"])
    assert r.body["allocations"] == [{"invoice_id": newer["invoice_id"], "amount_cents": 2_000}]


def test_an_invoice_of_another_patient_is_a_validation_error(clinic):
    a, b = clinic.patient("A"), clinic.patient("B")
    clinic.invoice(a, 1_000, clinic.days_ago(1))
    other = clinic.invoice(b, 1_000, clinic.days_ago(1))
    r = clinic.pay(a, 500, invoice_id=other["invoice_id"])
    assert r.status == 400 and r.body["error"]["code"] == "validation_error"


def test_paying_more_than_is_owed_is_an_overpayment_and_changes_nothing(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(1))
    r = clinic.pay(pid, 1_001)
    assert r.status == 409 and r.body["error"]["code"] == "overpayment"
    assert len(clinic.billing.get(f"/patients/{pid}/ledger").body["items"]) == 1


def test_a_payment_that_clears_the_balance_closes_the_follow_up(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    r = clinic.pay(pid, 1_000)
    assert r.body["follow_up_status"] == "closed" and r.body["balance_cents"] == 0
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "closed"


def test_the_same_key_and_body_return_the_first_response_again(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 10_000, clinic.days_ago(5))
    first = clinic.pay(pid, 1_000, key="retry-me")
    again = clinic.pay(pid, 1_000, key="retry-me")
    assert (again.status, again.body) == (first.status, first.body)
    ledger = clinic.billing.get(f"/patients/{pid}/ledger").body["items"]
    assert [e["type"] for e in ledger] == ["invoice", "payment"]


def test_any_user_of_the_clinic_replaying_a_key_gets_the_same_payment(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 10_000, clinic.days_ago(5))
    body = {"patient_id": pid, "amount_cents": 700, "method": "cash"}
    first = clinic.billing.post("/payments", body, headers={"Idempotency-Key": "shared-key"})
    second = clinic.owner.post("/payments", body, headers={"Idempotency-Key": "shared-key"})
    assert second.body["payment_id"] == first.body["payment_id"]


def test_the_same_key_with_another_body_is_refused(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 10_000, clinic.days_ago(5))
    clinic.pay(pid, 1_000, key="k1")
    r = clinic.pay(pid, 2_000, key="k1")
    assert r.status == 409 and r.body["error"]["code"] == "idempotency_key_reused"


def test_keys_are_scoped_to_the_clinic(clinic, other_clinic):
    a = clinic.patient()
    clinic.invoice(a, 10_000, clinic.days_ago(5))
    b = other_clinic.patient()
    other_clinic.invoice(b, 10_000, other_clinic.days_ago(5))
    assert clinic.pay(a, 1_000, key="same").status == 201
    assert other_clinic.pay(b, 1_000, key="same").status == 201


def test_a_rejected_request_stores_nothing_under_its_key(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    assert clinic.pay(pid, 5_000, key="first-try").status == 409
    r = clinic.pay(pid, 500, key="first-try")
    assert r.status == 201, r


def test_a_payment_without_an_idempotency_key_is_refused(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    r = clinic.billing.post("/payments", {"patient_id": pid, "amount_cents": 100, "method": "card"})
    assert r.status == 400 and r.body["error"]["code"] == "validation_error"


def test_a_payment_for_an_unknown_patient_is_a_validation_error_on_the_body(clinic):
    # API.md, Errors: a body that refers to something not in the clinic is 400; only POST /invoices
    # says otherwise for its patient_id.
    for patient_id in ("pat_0000000000000000", "not-an-id"):
        r = clinic.pay(patient_id, 100)
        assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
        assert "patient_id" in r.body["error"]["fields"]


def test_reading_a_payment_gives_what_recording_it_answered(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    recorded = clinic.pay(pid, 1_000)
    assert recorded.status == 201 and recorded.body["follow_up_status"] == "closed"
    clinic.invoice(pid, 500, clinic.days_ago(1))  # the follow-up moves on; the payment does not
    read = clinic.billing.get(f"/payments/{recorded.body['payment_id']}")
    assert read.status == 200 and read.body == recorded.body


def test_a_payment_is_readable_by_id(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    paid = clinic.pay(pid, 250, received_at="2026-01-02T10:00:00+02:00")
    r = clinic.billing.get(f"/payments/{paid.body['payment_id']}")
    assert r.status == 200 and r.body["received_at"] == "2026-01-02T08:00:00Z"
    assert r.body["amount_cents"] == 250


def test_the_ledger_runs_oldest_first_to_the_balance(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, clinic.days_ago(5))
    clinic.invoice(pid, 2_000, clinic.days_ago(3))
    clinic.pay(pid, 1_500)
    items = clinic.billing.get(f"/patients/{pid}/ledger").body["items"]
    assert [(e["type"], e["amount_cents"], e["balance_after_cents"]) for e in items] == [
        ("invoice", 1_000, 1_000), ("invoice", 2_000, 3_000), ("payment", -1_500, 1_500)]
    assert items[-1]["balance_after_cents"] == clinic.billing.get(f"/patients/{pid}").body["balance_cents"]


def test_an_anonymous_caller_cannot_pay(http):
    assert Api(http, None).post("/payments", {}).status == 401
