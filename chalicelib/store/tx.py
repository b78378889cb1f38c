"""One operation, one DynamoDB transaction: collect the writes, send them together or not at all."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .. import config
from ..domain.clock import iso_z
from ..domain.errors import ConcurrentUpdate, Conflict
from ..domain.ids import new_id
from . import keys
from .models import AuditRecord

MAX_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
T = TypeVar("T")


@lru_cache(maxsize=1)
def connection() -> Connection:
    return Connection(region=config.region())


class StaleWrite(Exception):
    """A condition failed or another transaction got there first: reload and try again."""

    def __init__(self, failed: list[str]):
        super().__init__(f"transaction cancelled on {failed}")
        self.failed = failed  # the `label` of each write whose condition failed


class Unit:
    """The writes of one operation. `commit()` sends them as one TransactWrite."""

    def __init__(self, now: datetime):
        self.now = now
        self._writes: list[tuple[str, Model, object]] = []
        self._checks: list[tuple[str, Model, object]] = []

    def create(self, record: Model, label: str = "") -> None:
        """Put an item that must not exist yet (deterministic ids make this exactly-once)."""
        self._writes.append((label or record.sk, record, type(record).pk.does_not_exist()))

    def save(self, record: Model, condition=None, label: str = "") -> None:
        """Put an item; a VersionAttribute adds its own condition."""
        self._writes.append((label or getattr(record, "sk", ""), record, condition))

    def check(self, record: Model, condition, label: str = "") -> None:
        self._checks.append((label or record.sk, record, condition))

    def audit(self, clinic_id: str, actor: str, action: str, *, patient_id: str | None = None,
              details: dict | None = None) -> AuditRecord:
        at = iso_z(self.now)
        audit_id = new_id("aud")
        sort = f"{at}#{audit_id}"
        record = AuditRecord(
            keys.clinic_pk(clinic_id), sort, audit_id=audit_id, at=at, actor=actor, action=action,
            patient_id=patient_id, details=details or {},
            aa_pk=keys.audit_action_pk(clinic_id, action), aa_sk=sort,
            ap_pk=keys.audit_patient_pk(clinic_id, patient_id) if patient_id else None,
            ap_sk=sort if patient_id else None,
        )
        self.create(record, label="audit")
        return record

    def __len__(self) -> int:
        return len(self._writes) + len(self._checks)

    def commit(self) -> None:
        if len(self) > MAX_ITEMS:
            raise Conflict(f"this change touches {len(self)} items, more than one transaction holds "
                           f"({MAX_ITEMS})", code="too_large")
        labels = [label for label, _, _ in self._checks] + [label for label, _, _ in self._writes]
        # One token per logical attempt: botocore's own retries of this call are then idempotent.
        token = str(uuid.uuid4())
        try:
            with TransactWrite(connection=connection(), client_request_token=token) as transaction:
                for _, record, condition in self._checks:
                    transaction.condition_check(type(record), record.pk, record.sk, condition=condition)
                for _, record, condition in self._writes:
                    transaction.save(record, condition=condition)
        except TransactWriteError as e:
            reasons = e.cancellation_reasons or []
            codes = {r.code for r in reasons if r is not None}
            if codes & {"ConditionalCheckFailed", "TransactionConflict"} or (
                    e.cause_response_code in ("TransactionConflictException", "TransactionInProgressException")):
                failed = [labels[i] for i, r in enumerate(reasons) if r is not None
                          and r.code in ("ConditionalCheckFailed", "TransactionConflict")]
                raise StaleWrite(failed) from e
            raise


def retrying(operation: Callable[[], T], attempts: int = 10) -> T:
    """Run load -> decide -> commit again while another writer keeps winning the race."""
    for attempt in range(attempts):
        try:
            return operation()
        except StaleWrite:
            if attempt == attempts - 1:
                break
            time.sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 5)))
    raise ConcurrentUpdate("the patient changed while this request ran; try again")
