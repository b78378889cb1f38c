"""One operation, one DynamoDB transaction: collect the writes, send them together or not at all."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from botocore.exceptions import BotoCoreError
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
TRANSIENT_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                   "InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}
SAME_TOKEN_ATTEMPTS = 4
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
        """Send the writes as one transaction.

        A transient failure (throttling, a timeout, a lost response) is retried with the SAME
        client request token: if the first attempt did commit, DynamoDB answers the retry with
        success instead of applying it twice (tokens are remembered for 10 minutes). A cancelled
        transaction (a condition failed, or a conflict with another transaction) raises
        `StaleWrite`, and the service reloads and decides again.
        """
        if len(self) > MAX_ITEMS:
            raise Conflict(f"this change touches {len(self)} items, more than one transaction holds "
                           f"({MAX_ITEMS})")
        token = str(uuid.uuid4())
        for attempt in range(SAME_TOKEN_ATTEMPTS):
            try:
                self._send(token)
                return
            except TransactWriteError as e:
                if not _is_transient(e) or attempt == SAME_TOKEN_ATTEMPTS - 1:
                    self._raise_stale_or(e)
                    raise
                time.sleep(random.uniform(0, 0.05 * 2 ** attempt))

    def _send(self, token: str) -> None:
        with TransactWrite(connection=connection(), client_request_token=token) as transaction:
            for _, record, condition in self._checks:
                transaction.condition_check(type(record), record.pk, record.sk, condition=condition)
            for _, record, condition in self._writes:
                transaction.save(record, condition=condition)

    def _raise_stale_or(self, e: TransactWriteError) -> None:
        labels = [label for label, _, _ in self._checks] + [label for label, _, _ in self._writes]
        reasons = e.cancellation_reasons or []
        cancelled = [labels[i] for i, r in enumerate(reasons)
                     if r is not None and r.code in ("ConditionalCheckFailed", "TransactionConflict")]
        if cancelled or e.cause_response_code == "TransactionConflictException":
            raise StaleWrite(cancelled) from e


def _is_transient(e: TransactWriteError) -> bool:
    if isinstance(e.cause, BotoCoreError):  # connection reset, read timeout: the outcome is unknown
        return True
    return e.cause_response_code in TRANSIENT_CODES


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
