"""The unit of work: repositories that read at once and stage writes, sent as one transaction.

A service asks the unit of work for what it needs (`uow.accounts.load(...)`), decides with the
domain, stages the changes through the repositories (each write with its condition) and calls
`uow.commit()`: the writes reach DynamoDB together, as one TransactWriteItems, or not at all.
Timeouts and retries live here and in `config.STORE_POLICY`, nowhere else:

- a transient failure (throttling, a timeout, a lost response) is sent again with the SAME
  client request token, so a first send that did commit is answered as a success instead of
  being applied twice (DynamoDB remembers tokens for 10 minutes); at most `commit_sends` sends
  and never a new one after `commit_deadline_seconds`;
- a cancelled transaction (a condition failed, another transaction won) raises `StaleWrite`;
  `retrying` runs the service's load -> decide -> commit again, at most `stale_reloads` times.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from ..config import STORE_POLICY, StorePolicy
from ..domain.errors import ConcurrentUpdate, Conflict

MAX_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
TRANSIENT_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                   "InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}
T = TypeVar("T")


class StaleWrite(Exception):
    """A condition failed or another transaction got there first: reload and try again."""

    def __init__(self, failed: list[str]):
        super().__init__(f"transaction cancelled on {failed}")
        self.failed = failed  # the `label` of each write whose condition failed


@lru_cache(maxsize=1)
def connection():
    """The connection transactions go through, with the policy's timeouts. The SDK retries
    nothing here: `Transaction.send` retries with the same token, and only it."""
    from pynamodb.connection import Connection

    from .. import config

    return Connection(region=config.region(), connect_timeout_seconds=STORE_POLICY.connect_timeout_seconds,
                      read_timeout_seconds=STORE_POLICY.read_timeout_seconds, max_retry_attempts=0)


class Transaction:
    """The staged writes of one unit of work: (label, action, record, condition)."""

    def __init__(self, policy: StorePolicy = STORE_POLICY, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.policy, self._sleep, self._clock = policy, sleep, clock
        self._items: list[tuple[str, str, object, object]] = []

    def create(self, record, label: str) -> None:
        """Put an item that must not exist yet (deterministic ids make this exactly-once)."""
        self._items.append((label, "put", record, type(record).pk.does_not_exist()))

    def save(self, record, label: str, condition=None) -> None:
        """Put an item; a VersionAttribute adds its own condition."""
        self._items.append((label, "put", record, condition))

    def check(self, record, condition, label: str) -> None:
        self._items.append((label, "check", record, condition))

    def delete(self, record, label: str, condition=None) -> None:
        """Delete an item (a search item or an external id that moved)."""
        self._items.append((label, "delete", record, condition))

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items = []

    def send(self) -> None:
        if not self._items:
            return
        from pynamodb.exceptions import TransactWriteError

        token = str(uuid.uuid4())
        started = self._clock()
        try:
            if len(self._items) > MAX_ITEMS:
                raise Conflict(f"this change touches {len(self._items)} items, more than one transaction holds "
                               f"({MAX_ITEMS})")
            for attempt in range(self.policy.commit_sends):
                try:
                    self._send_once(token)
                    return
                except TransactWriteError as e:
                    out_of_time = self._clock() - started >= self.policy.commit_deadline_seconds
                    if not _is_transient(e) or attempt == self.policy.commit_sends - 1 or out_of_time:
                        self._raise_stale_or(e)
                        raise
                    self._sleep(random.uniform(0, self.policy.backoff_seconds * 2 ** attempt))
        finally:
            self.clear()  # sent or failed, what was staged is gone: nothing is ever sent twice

    def _send_once(self, token: str) -> None:
        from pynamodb.transactions import TransactWrite

        with TransactWrite(connection=connection(), client_request_token=token) as transaction:
            for _, action, record, condition in self._items:
                if action == "check":
                    transaction.condition_check(type(record), record.pk, record.sk, condition=condition)
                elif action == "delete":
                    transaction.delete(record, condition=condition)
                else:
                    transaction.save(record, condition=condition)

    def _raise_stale_or(self, e) -> None:
        reasons = e.cancellation_reasons or []
        cancelled = [self._items[i][0] for i, r in enumerate(reasons)
                     if r is not None and r.code in ("ConditionalCheckFailed", "TransactionConflict")]
        if cancelled or _response_code(e) == "TransactionConflictException":
            raise StaleWrite(cancelled) from e


def _response_code(e) -> str | None:
    """DynamoDB's error code, or None when there was no answer (a timeout, a reset connection)."""
    from botocore.exceptions import ClientError

    return e.cause_response_code if isinstance(e.cause, ClientError) else None


def _is_transient(e) -> bool:
    from botocore.exceptions import BotoCoreError

    if isinstance(e.cause, BotoCoreError):  # connection reset, read timeout: the outcome is unknown
        return True
    return _response_code(e) in TRANSIENT_CODES


def retrying(uow, operation: Callable[[], T], attempts: int | None = None,
             sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> T:
    """Run load -> decide -> commit again while another writer keeps winning the race: at most
    `stale_reloads` times, and no new round after `request_deadline_seconds`, so a request always
    answers (409 `conflict`) inside the function's timeout.

    Works with any unit of work (`discard()` drops what a lost attempt staged)."""
    attempts = attempts or STORE_POLICY.stale_reloads
    started = clock()
    for attempt in range(attempts):
        try:
            return operation()
        except StaleWrite:
            uow.discard()
            if attempt == attempts - 1 or clock() - started >= STORE_POLICY.request_deadline_seconds:
                break
            sleep(random.uniform(0, STORE_POLICY.backoff_seconds / 5 * 2 ** min(attempt, 5)))
    raise ConcurrentUpdate("the patient changed while this request ran; try again")


class UnitOfWorkBase:
    """What every unit of work does with its `transaction` and `accounts` (DynamoDB's below, the
    fast tier's in tests/memory.py)."""

    transaction: Transaction

    @property
    def staged(self) -> int:
        return len(self.transaction)

    def commit(self) -> None:
        self.transaction.send()
        self.accounts.settle_deferred()  # follow-on batches for a change larger than one transaction

    def discard(self) -> None:
        self.transaction.clear()

    def retrying(self, operation: Callable[[], T], attempts: int | None = None) -> T:
        return retrying(self, operation, attempts)


class UnitOfWork(UnitOfWorkBase):
    """DynamoDB behind every repository; one instance per request or job step."""

    def __init__(self, transaction: Transaction | None = None):
        from .accounts import AccountRepository
        from .audit import AuditRepository
        from .clinics import ClinicRepository
        from .contacts import ContactRepository
        from .delegations import DelegationRepository
        from .directory import DirectoryRepository
        from .feeds import CalendarFeedRepository
        from .idempotency import IdempotencyRepository
        from .integrations import IntegrationRepository
        from .staff import StaffRepository
        from .webhooks import DeliveryRepository, EventRepository, WebhookRepository

        self.transaction = transaction or Transaction()
        tx = self.transaction
        self.clinics = ClinicRepository(tx)
        self.staff = StaffRepository(tx)
        self.delegations = DelegationRepository(tx)
        self.accounts = AccountRepository(tx)
        self.contacts = ContactRepository(tx)
        self.feeds = CalendarFeedRepository(tx)
        self.audit = AuditRepository(tx)
        self.idempotency = IdempotencyRepository(tx)
        self.events = EventRepository(tx)
        self.webhooks = WebhookRepository(tx)
        self.deliveries = DeliveryRepository(tx)
        self.integrations = IntegrationRepository(tx)
        self.directory = DirectoryRepository(tx)
