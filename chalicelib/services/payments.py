"""Payments: allocation, overpayment, and Idempotency-Key semantics.

The stored response of a key is written in the same transaction as the payment itself, so a
key can never stand for a payment that did not happen, nor a payment lack its key. Two
requests racing with one key both try to create the key's record; the loser's transaction is
cancelled, it reloads, finds the winner's response and returns it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from ..domain import reports
from ..domain.clock import iso_z, local_date, parse_iso_z, short_z
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import is_patient_id, new_child_id, patient_of
from ..store import accounts, keys
from ..store.models import AllocationMap, AttemptRecord, IdempotencyRecord, PaymentRecord, Record
from ..store.tx import Unit, retrying
from . import clinics

METHODS = ("cash", "card", "check", "bank_transfer", "other")
KEY_LIFETIME = timedelta(hours=48)  # the contract promises at least 24 h
FUTURE_SKEW = timedelta(minutes=5)


def view(r: PaymentRecord) -> dict:
    return {"payment_id": r.payment_id, "patient_id": r.patient_id, "amount_cents": int(r.amount_cents),
            "method": r.method, "received_at": short_z(parse_iso_z(r.received_at)),
            "invoice_id": r.invoice_id,
            "allocations": [{"invoice_id": a.invoice_id, "amount_cents": int(a.amount_cents)}
                            for a in r.allocations],
            "balance_cents": int(r.balance_after_cents), "follow_up_status": r.status_after,
            "created_by": r.created_by}


def _request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _stored(clinic_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
    try:
        record = IdempotencyRecord.get(keys.idempotency_pk(clinic_id, "payments", key), "IDEM",
                                       consistent_read=True)
    except DoesNotExist:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None  # expired; DynamoDB's TTL deletes it some time later
    return record


def record(clinic_id: str, actor: str, now: datetime, *, idempotency_key: str, body: dict) -> tuple[int, dict]:
    """Returns (status, response). The same key and body give the first response again."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationError("the Idempotency-Key header is required (1-255 characters)",
                              fields={"Idempotency-Key": "required, 1-255 characters"})
    request_hash = _request_hash(body)

    def attempt() -> tuple[int, dict]:
        stored = _stored(clinic_id, idempotency_key, now)
        if stored is not None:
            if stored.request_sha256 != request_hash:
                raise Conflict("this Idempotency-Key was used with another request body",
                               code="idempotency_key_reused")
            return int(stored.status_code), json.loads(stored.response_json)
        return _record_new(clinic_id, actor, now, idempotency_key, request_hash, body)

    return retrying(attempt)


def _record_new(clinic_id: str, actor: str, now: datetime, key: str, request_hash: str,
                body: dict) -> tuple[int, dict]:
    patient_id = body["patient_id"]
    unknown = ValidationError("patient_id is not a patient of this clinic",
                              fields={"patient_id": "no such patient in this clinic"})
    if not is_patient_id(patient_id):
        raise unknown
    clinic = clinics.get(clinic_id)
    received_at = body.get("received_at") or now
    if received_at > now + FUTURE_SKEW:
        raise ValidationError("received_at is in the future", fields={"received_at": "must not be in the future"})
    invoice_id = body.get("invoice_id")
    if invoice_id is not None and patient_of(invoice_id, "inv") != patient_id:
        raise ValidationError("invoice_id is not an invoice of this patient",
                              fields={"invoice_id": "not an invoice of this patient"})
    try:
        loaded = accounts.load(clinic_id, patient_id)
    except NotFound as e:  # a reference in the body: 400, not 404 (API.md, Errors)
        raise unknown from e
    payment_id = new_child_id("pay", patient_id)
    allocations = loaded.account.apply_payment(
        body["amount_cents"], payment_id, local_date(received_at, clinic.timezone),
        invoice_id=invoice_id, paid_at=received_at)
    account = loaded.account
    payment = PaymentRecord(
        keys.patient_pk(clinic_id, patient_id), keys.PAYMENT + payment_id, payment_id=payment_id,
        patient_id=patient_id, amount_cents=body["amount_cents"], method=body["method"],
        received_at=iso_z(received_at), invoice_id=invoice_id, note=body.get("note"),
        allocations=[AllocationMap(invoice_id=a.invoice_id, amount_cents=a.amount_cents) for a in allocations],
        balance_after_cents=account.balance_cents, status_after=account.status, created_at=iso_z(now), created_by=actor,
        recovered_by=recovered_by(clinic_id, patient_id, loaded.profile.last_attempt, received_at),
        tl_pk=keys.timeline_pk(clinic_id, "PAY"), tl_sk=keys.timeline_sk(iso_z(received_at), payment_id))
    response = view(payment)
    unit = Unit(now)
    accounts.stage_account(unit, loaded)
    unit.create(payment, label="payment")
    unit.save(IdempotencyRecord(
        keys.idempotency_pk(clinic_id, "payments", key), "IDEM", request_sha256=request_hash, status_code=201,
        response_json=json.dumps(response), created_at=iso_z(now), expires_at=now + KEY_LIFETIME),
        condition=IdempotencyRecord.pk.does_not_exist() | (IdempotencyRecord.expires_at <= now),
        label="idempotency")
    unit.audit(clinic_id, actor, "payment.recorded", patient_id=patient_id,
               details={"payment_id": payment_id, "amount_cents": body["amount_cents"], "method": body["method"],
                        "allocations": [{"invoice_id": a.invoice_id, "amount_cents": a.amount_cents}
                                        for a in allocations],
                        "follow_up_status": account.status})
    unit.commit()
    return 201, response


def recovered_by(clinic_id: str, patient_id: str, last_attempt, received_at: datetime) -> str | None:
    """The staff member this payment is credited to (`reports.recovering_member`), decided once.

    Usually the patient record's `last_attempt` is the answer. When it is not usable, because
    the payment is dated before it (a payment recorded late) or it is the scheduled run's
    (`system`), the patient's attempts are read (one Query of the partition's `5#ATT#` items)
    to find the latest staff attempt before the payment. Either read happens after the account
    was loaded, and an attempt logged meanwhile changes the patient's version, so the payment's
    transaction then fails and this is decided again."""
    if last_attempt is None:
        return None
    at = parse_iso_z(last_attempt.at)
    if last_attempt.by != reports.SYSTEM and at <= received_at:
        return reports.recovering_member([(at, last_attempt.by)], received_at)
    history = Record.query(keys.patient_pk(clinic_id, patient_id), Record.sk.startswith(keys.ATTEMPT),
                           consistent_read=True, attributes_to_get=["pk", "sk", "kind", "at", "by"])
    return reports.recovering_member(
        ((parse_iso_z(r.at), r.by) for r in history if isinstance(r, AttemptRecord)), received_at)


def get(clinic_id: str, payment_id: str) -> dict:
    patient_id = patient_of(payment_id, "pay")
    if patient_id is None:
        raise NotFound(f"no payment {payment_id}")
    try:
        record_ = PaymentRecord.get(keys.patient_pk(clinic_id, patient_id), keys.PAYMENT + payment_id)
    except DoesNotExist as e:
        raise NotFound(f"no payment {payment_id}") from e
    return view(record_)
