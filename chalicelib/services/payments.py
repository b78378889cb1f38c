"""Payments: allocation, overpayment, and Idempotency-Key semantics.

The stored answer of a key is written in the same transaction as the payment itself, so a key
can never stand for a payment that did not happen, nor a payment lack its key. Two requests
racing with one key both try to create the key's record; the loser's transaction is cancelled,
it reloads, finds the winner's answer and returns that payment. The answer kept is what POST
answered (the payment with its balance and status right after), so a replay is one read.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from ..domain import reports
from ..domain.account import Allocation, Payment
from ..domain.audit import StoredResponse
from ..domain.clock import iso_z, local_date, parse_iso_z
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..domain.roles import SYSTEM, Caller
from . import audit, clinics, corrections, events

KEY_LIFETIME = timedelta(hours=48)  # the contract promises at least 24 h
FUTURE_SKEW = timedelta(minutes=5)
SCOPE = "payments"


def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def record(uow, caller: Caller, now: datetime, *, idempotency_key: str, body: dict) -> tuple[bool, Payment]:
    """Returns (created now, the payment). The same key and body give the first payment again."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationError("the Idempotency-Key header is required (1-255 characters)",
                              fields={"Idempotency-Key": "required, 1-255 characters"})
    digest = request_hash(body)

    def attempt() -> tuple[bool, Payment]:
        stored = uow.idempotency.get(caller.clinic_id, SCOPE, idempotency_key, now)
        if stored is not None:
            if stored.request_sha256 != digest:
                raise Conflict("this Idempotency-Key was used with another request body",
                               code="idempotency_key_reused")
            return False, _from_answer(stored.body["answer"])
        return True, _record_new(uow, caller, now, idempotency_key, digest, body)

    return uow.retrying(attempt)


def _answer(p: Payment) -> dict:
    """What POST answered, kept with the key: a replay needs no read of the payment."""
    return {"payment_id": p.payment_id, "patient_id": p.patient_id, "amount_cents": p.amount_cents,
            "method": p.method, "received_at": iso_z(p.received_at), "invoice_id": p.invoice_id,
            "allocations": [[a.invoice_id, a.amount_cents] for a in p.allocations],
            "balance_after_cents": p.balance_after_cents, "status_after": p.status_after,
            "created_at": iso_z(p.created_at), "created_by": p.created_by}


def _from_answer(a: dict) -> Payment:
    return Payment(payment_id=a["payment_id"], patient_id=a["patient_id"], amount_cents=a["amount_cents"],
                   method=a["method"], received_at=parse_iso_z(a["received_at"]), invoice_id=a["invoice_id"],
                   allocations=[Allocation(i, c) for i, c in a["allocations"]],
                   balance_after_cents=a["balance_after_cents"], status_after=a["status_after"],
                   created_at=parse_iso_z(a["created_at"]), created_by=a["created_by"])


def _record_new(uow, caller: Caller, now: datetime, key: str, digest: str, body: dict) -> Payment:
    clinic_id, patient_id = caller.clinic_id, body["patient_id"]
    unknown = ValidationError("patient_id is not a patient of this clinic",
                              fields={"patient_id": "no such patient in this clinic"})
    if not is_patient_id(patient_id):
        raise unknown
    clinic = clinics.get(uow, clinic_id)
    received_at = body.get("received_at") or now
    if received_at > now + FUTURE_SKEW:
        raise ValidationError("received_at is in the future", fields={"received_at": "must not be in the future"})
    invoice_id = body.get("invoice_id")
    if invoice_id is not None and patient_of(invoice_id, "inv") != patient_id:
        raise ValidationError("invoice_id is not an invoice of this patient",
                              fields={"invoice_id": "not an invoice of this patient"})
    loaded = uow.accounts.load(clinic_id, patient_id)
    if loaded is None:  # a reference in the body: 400, not 404 (API.md, Errors)
        raise unknown
    payment_id = new_child_id("pay", patient_id, now)
    account = loaded.account
    balance_before, status_before = account.balance_cents, account.status
    allocations = account.apply_payment(body["amount_cents"], payment_id, local_date(received_at, clinic.timezone),
                                        invoice_id=invoice_id, paid_at=received_at)
    payment = Payment(
        payment_id=payment_id, patient_id=patient_id, amount_cents=body["amount_cents"], method=body["method"],
        received_at=received_at, allocations=allocations, balance_after_cents=account.balance_cents,
        created_at=now, created_by=caller.actor, invoice_id=invoice_id, note=body.get("note"),
        status_after=account.status,
        recovered_by=recovered_by(uow, clinic_id, patient_id, loaded.patient.last_attempt, received_at))
    uow.accounts.stage(loaded, now)
    uow.accounts.add_payment(clinic_id, payment)
    uow.idempotency.add(clinic_id, SCOPE, key, StoredResponse(digest, 201, {"answer": _answer(payment)},
                                                              now, now + KEY_LIFETIME), now)
    entry = audit.record(uow, clinic_id, caller.actor, "payment.recorded", now, patient_id=patient_id,
                 details={"payment_id": payment_id, "amount_cents": body["amount_cents"], "method": body["method"],
                          "allocations": [{"invoice_id": a.invoice_id, "amount_cents": a.amount_cents}
                                          for a in allocations],
                          "follow_up_status": account.status})
    events.announce(uow, clinic_id, "payment.recorded", source_id=entry.audit_id, at=now,
                    data={"payment_id": payment_id, "patient_id": patient_id, "amount_cents": payment.amount_cents,
                          "balance_cents": account.balance_cents, "received_at": events.instant(received_at),
                          "method": payment.method, "follow_up_status": account.status,
                          "invoice_ids": [a.invoice_id for a in allocations if a.invoice_id],
                          "plan_id": next((a.plan_id for a in allocations if a.plan_id), None)})
    events.after_money_change(uow, clinic_id, entry.audit_id, account, now, balance_before=balance_before,
                              status_before=status_before)
    corrections.hold_ended(uow, caller, account, now, "payment.recorded")
    uow.commit()
    return payment


def recovered_by(uow, clinic_id: str, patient_id: str, last_attempt, received_at: datetime) -> str | None:
    """The staff member this payment is credited to (`reports.recovering_member`), decided once.

    Usually the patient record's `last_attempt` is the answer. When it is not usable, because
    the payment is dated before it (a payment recorded late) or it is the scheduled run's
    (`system`), the patient's attempts are read (one Query) to find the latest staff attempt
    before the payment. Either read happens after the account was loaded, and an attempt logged
    meanwhile changes the patient's version, so the payment's transaction then fails and this
    is decided again."""
    if last_attempt is None:
        return None
    if last_attempt.by != SYSTEM and last_attempt.at <= received_at:
        return reports.recovering_member([(last_attempt.at, last_attempt.by)], received_at)
    return reports.recovering_member(uow.contacts.attempt_authors(clinic_id, patient_id), received_at)


def get(uow, caller: Caller, payment_id: str) -> Payment:
    patient_id = patient_of(payment_id, "pay")
    payment = uow.accounts.payment(caller.clinic_id, patient_id, payment_id) if patient_id else None
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


