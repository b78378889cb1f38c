"""Stored answers of idempotent requests (`C#<clinic>#IDEM#<scope>#<sha256 of the key>` / `IDEM`).

DynamoDB's TTL deletes a record some time after `expires_at`; until then an expired one counts
as absent, and a new request may take its key over (the put's condition allows it)."""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ..domain.audit import StoredResponse
from ..domain.clock import iso_z
from . import keys
from .mapping import t
from .models import IdempotencyRecord
from .uow import Transaction


class IdempotencyRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def get(self, clinic_id: str, scope: str, key: str, now: datetime) -> StoredResponse | None:
        try:
            r = IdempotencyRecord.get(keys.idempotency_pk(clinic_id, scope, key), keys.IDEMPOTENCY,
                                      consistent_read=True)
        except DoesNotExist:
            return None
        if r.expires_at is not None and r.expires_at <= now:
            return None
        return StoredResponse(r.request_sha256, int(r.status_code), json.loads(r.response_json), t(r.created_at),
                              r.expires_at)

    def add(self, clinic_id: str, scope: str, key: str, stored: StoredResponse, now: datetime) -> None:
        """Stage the answer; two requests racing with one key: the second's transaction fails."""
        record = IdempotencyRecord(
            keys.idempotency_pk(clinic_id, scope, key), keys.IDEMPOTENCY, request_sha256=stored.request_sha256,
            status_code=stored.status_code, response_json=json.dumps(stored.body), created_at=iso_z(stored.created_at),
            expires_at=stored.expires_at)
        self._tx.save(record, label="idempotency",
                      condition=IdempotencyRecord.pk.does_not_exist() | (IdempotencyRecord.expires_at <= now))
