"""Faults injected under the services: lost responses, throttling, conflicts, crashes.

Every mutation is one DynamoDB transaction (so a crash leaves all or nothing) or is safe to
repeat; these tests break the transport under it and check that no money moves twice.
"""

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from pynamodb.connection.base import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

REAL = Connection.transact_write_items


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "TransactWriteItems")


@pytest.fixture
def transport(monkeypatch):
    """Records every TransactWriteItems call and lets a test break chosen ones."""
    calls, plan = [], {}

    def faulty(self, *args, **kwargs):
        n = len(calls)
        calls.append(kwargs.get("client_request_token"))
        fault = plan.get(n)
        if fault == "lose_response":
            REAL(self, *args, **kwargs)  # it commits ...
            raise TransactWriteError("lost", ReadTimeoutError(endpoint_url="dynamodb"))  # ... the answer is lost
        if fault in ("ThrottlingException", "ProvisionedThroughputExceededException"):
            raise TransactWriteError("throttled", _client_error(fault))
        if fault == "crash_before":
            raise RuntimeError("the Lambda died before the transaction was sent")
        return REAL(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", faulty)
    return calls, plan


def ledger_types(clinic, pid):
    return [e["type"] for e in clinic.billing.get(f"/patients/{pid}/ledger").body["items"]]


def test_a_payment_whose_commit_answer_is_lost_is_recorded_once(clinic, transport):
    calls, plan = transport
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    plan[len(calls)] = "lose_response"
    r = clinic.pay(pid, 1_000, key="lost-answer")
    assert r.status == 201, r
    assert calls[-2] == calls[-1]  # retried under the same token (DynamoDB would answer success; moto says
    # the condition failed, so the service reloads and finds the stored response)
    assert ledger_types(clinic, pid) == ["invoice", "payment"]
    assert clinic.billing.get(f"/patients/{pid}").body["balance_cents"] == 4_000
    again = clinic.pay(pid, 1_000, key="lost-answer")  # and the client's own retry
    assert again.body == r.body


def test_an_invoice_whose_commit_answer_is_lost_is_created_once(clinic, transport):
    calls, plan = transport
    pid = clinic.patient()
    plan[len(calls)] = "lose_response"
    r = clinic.billing.post("/invoices", {"patient_id": pid, "amount_cents": 700,
                                          "invoice_date": clinic.today().isoformat()})
    assert r.status == 201, r
    assert ledger_types(clinic, pid) == ["invoice"]


def test_a_patient_whose_commit_answer_is_lost_is_created_once(clinic, transport):
    calls, plan = transport
    plan[len(calls)] = "lose_response"
    r = clinic.billing.post("/patients", {"name": "Lost Answer"})
    assert r.status == 201 and clinic.billing.get(f"/patients/{r.body['patient_id']}").status == 200


def test_throttling_is_retried_with_the_same_client_request_token(clinic, transport):
    calls, plan = transport
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    start = len(calls)
    plan[start] = "ThrottlingException"
    plan[start + 1] = "ProvisionedThroughputExceededException"
    r = clinic.pay(pid, 1_000)
    assert r.status == 201
    tokens = calls[start:]
    assert len(tokens) == 3 and len(set(tokens)) == 1 and tokens[0]


def test_a_transaction_conflict_reloads_and_succeeds(clinic, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    state = {"n": 0}

    def conflicting(self, *args, **kwargs):
        state["n"] += 1
        if state["n"] == 1:
            error = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"}},
                                       "TransactWriteItems", {}, cancellation_reasons=[
                                           CancellationReason(code="TransactionConflict")])
            raise TransactWriteError("conflict", error)
        return REAL(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", conflicting)
    r = clinic.pay(pid, 1_000)
    assert r.status == 201 and state["n"] == 2
    assert ledger_types(clinic, pid) == ["invoice", "payment"]


def test_a_crash_before_the_single_transaction_leaves_nothing_half_written(clinic, transport):
    calls, plan = transport
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    plan[len(calls)] = "crash_before"
    r = clinic.pay(pid, 1_000, key="crashed")
    assert r.status == 500 and r.body["error"]["code"] == "internal_error"
    assert ledger_types(clinic, pid) == ["invoice"]
    assert clinic.billing.get(f"/patients/{pid}").body["balance_cents"] == 5_000
    retry = clinic.pay(pid, 1_000, key="crashed")  # nothing was stored under the key either
    assert retry.status == 201 and ledger_types(clinic, pid) == ["invoice", "payment"]


def test_every_money_operation_is_exactly_one_write_call(clinic, monkeypatch):
    """No multi-step writes exist, so there is no step between which to crash."""
    import botocore.client

    writes = []
    real_call = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        if operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            writes.append(operation)
        return real_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    clinic.pay(pid, 1_000)
    clinic.owner.patch("/clinic", {"name": "One Write"})
    assert writes == ["TransactWriteItems"] * 4
