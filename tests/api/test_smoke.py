def test_health_answers_without_a_token(http):
    from tests.support import Api
    r = Api(http, None).get("/health")
    assert r.status == 200 and r.body == {"status": "ok"}


def test_an_owner_records_an_invoice_and_a_payment_and_sees_the_ledger(clinic):
    pid = clinic.patient("Ann")
    inv = clinic.invoice(pid, 10_000, "2026-01-05")
    r = clinic.pay(pid, 4_000)
    assert r.status == 201, r
    assert r.body["allocations"] == [{"invoice_id": inv["invoice_id"], "amount_cents": 4000}]
    ledger = clinic.owner.get(f"/patients/{pid}/ledger")
    assert [e["balance_after_cents"] for e in ledger.body["items"]] == [10000, 6000]
