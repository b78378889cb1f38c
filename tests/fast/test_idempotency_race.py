"""Two requests with one Idempotency-Key in flight at once: the later one answers the first payment.

The contract allows 409 `idempotency_key_in_use` while the first request is being processed; this
service answers the first request's 201 instead (why: docs/data-model.md, "Payment idempotency").
The interleaving is made deterministic: request A has read the key (absent) and loaded the
account when request B, with the same key and body, runs to the end; A's transaction is then
refused (the key's record exists, the patient's version moved), A reloads and finds B's answer.
"""

from __future__ import annotations

import secrets

from tests.fast.support import audit_entries
from tests.memory import AccountRepository, IdempotencyRepository


def test_a_request_that_loses_the_race_for_its_key_answers_the_winners_payment_not_409(clinic, store, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 10_000, clinic.days_ago(3))
    key = secrets.token_hex(8)
    real_load = AccountRepository.load
    overtaken = []

    def load_then_be_overtaken(self, clinic_id, patient_id):
        loaded = real_load(self, clinic_id, patient_id)
        if not overtaken:  # only request A's first load: B runs to its end in between
            overtaken.append(None)
            overtaken[0] = clinic.pay(pid, 2_500, key=key, method="cash")
        return loaded

    real_get, key_reads = IdempotencyRepository.get, []

    def counted_get(self, *args):
        key_reads.append(args[2])
        return real_get(self, *args)

    monkeypatch.setattr(AccountRepository, "load", load_then_be_overtaken)
    monkeypatch.setattr(IdempotencyRepository, "get", counted_get)
    first = clinic.pay(pid, 2_500, key=key, method="cash")
    monkeypatch.undo()

    [winner] = overtaken
    assert winner.status == 201 and first.status == 201, (winner, first)
    assert first.text == winner.text  # the same answer, byte for byte: the same payment
    assert key_reads == [key, key, key]  # A (absent), B (absent), A again after its commit was refused
    payments = [p for (c, p_, _), p in store.payments.items() if c == clinic.clinic_id and p_ == pid]
    assert [p.payment_id for p in payments] == [winner.body["payment_id"]]
    assert len(audit_entries(clinic.clinic_id, action="payment.recorded", patient_id=pid)) == 1
    assert clinic.billing.get(f"/patients/{pid}").body["balance_cents"] == 7_500
