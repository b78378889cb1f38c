"""One retry policy for DynamoDB writes, with a bounded total time (config.STORE_POLICY).

A transaction is sent again only after a transient failure, with the same client request token
(so a first send that did commit is not applied twice), at most `commit_sends` times and never
after `commit_deadline_seconds`; the SDK retries nothing underneath; a stale write reloads at most
`stale_reloads` times and never after `request_deadline_seconds`. No AWS: sends are injected."""

from __future__ import annotations

import pytest
from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib import config
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.store import uow as store_uow
from chalicelib.store.uow import StaleWrite, Transaction, retrying

POLICY = config.STORE_POLICY


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def aws_error(code: str, reasons: list | None = None) -> TransactWriteError:
    """What PynamoDB raises when DynamoDB answers `code` (with cancellation reasons, if any)."""
    response = {"Error": {"Code": code, "Message": code}}
    cause = VerboseClientError(response, "TransactWriteItems",
                               cancellation_reasons=[CancellationReason(code=r) for r in reasons or ()])
    return TransactWriteError("failed", cause=cause)


def throttled() -> TransactWriteError:
    return aws_error("ThrottlingException")


def timed_out() -> TransactWriteError:
    return TransactWriteError("read timeout", cause=ReadTimeoutError(endpoint_url="https://dynamodb"))


def a_transaction(failures: list, clock: FakeClock | None = None, seconds_per_send: float = 0.0):
    """A transaction with one staged item whose sends fail as `failures` say, then succeed."""
    sends: list[str] = []
    clock = clock or FakeClock()
    tx = Transaction(sleep=lambda s: None, clock=clock)

    def send_once(token: str) -> None:
        sends.append(token)
        clock.now += seconds_per_send
        if failures:
            raise failures.pop(0)

    tx._send_once = send_once
    tx._items.append(("audit", "put", object(), None))
    return tx, sends


def test_a_throttled_commit_is_sent_again_with_the_same_token_and_succeeds():
    tx, sends = a_transaction([throttled(), throttled()])
    tx.send()
    assert len(sends) == 3 and len(set(sends)) == 1
    assert len(tx) == 0


def test_a_read_timeout_is_sent_again_because_the_first_send_may_have_committed():
    tx, sends = a_transaction([timed_out()])
    tx.send()
    assert len(sends) == 2 and sends[0] == sends[1]


def test_a_commit_gives_up_after_its_sends_and_leaves_nothing_staged():
    tx, sends = a_transaction([throttled()] * 10)
    with pytest.raises(TransactWriteError):
        tx.send()
    assert len(sends) == POLICY.commit_sends
    assert len(tx) == 0


def test_no_new_send_starts_after_the_commit_deadline():
    clock = FakeClock()
    tx, sends = a_transaction([timed_out()] * 10, clock, seconds_per_send=POLICY.commit_deadline_seconds)
    with pytest.raises(TransactWriteError):
        tx.send()
    assert len(sends) == 1


def test_a_refused_condition_is_not_sent_again_but_reloads():
    tx, sends = a_transaction([aws_error("TransactionCanceledException", ["ConditionalCheckFailed"])])
    with pytest.raises(StaleWrite) as stale:
        tx.send()
    assert len(sends) == 1 and stale.value.failed == ["audit"]


def test_the_worst_case_of_one_commit_ends_inside_the_functions_timeout():
    worst_send = POLICY.connect_timeout_seconds + POLICY.read_timeout_seconds
    # the last send may start just before the deadline and then take its whole time
    assert POLICY.commit_deadline_seconds + worst_send < 25


def test_transactions_go_through_a_connection_with_the_policys_timeouts_and_no_sdk_retries():
    store_uow.connection.cache_clear()
    connection = store_uow.connection()
    client = connection.client
    assert client.meta.config.connect_timeout == POLICY.connect_timeout_seconds
    assert client.meta.config.read_timeout == POLICY.read_timeout_seconds
    assert client.meta.config.retries["total_max_attempts"] == 1
    store_uow.connection.cache_clear()


class Discarding:
    def __init__(self):
        self.discarded = 0

    def discard(self) -> None:
        self.discarded += 1


def test_a_change_that_keeps_losing_its_race_reloads_a_bounded_number_of_times():
    uow, tries = Discarding(), []

    def operation():
        tries.append(1)
        raise StaleWrite(["patient"])

    with pytest.raises(ConcurrentUpdate):
        retrying(uow, operation, sleep=lambda s: None)
    assert len(tries) == POLICY.stale_reloads == uow.discarded


def test_no_new_reload_round_starts_after_the_request_deadline():
    uow, clock, tries = Discarding(), FakeClock(), []

    def operation():
        tries.append(1)
        clock.now += POLICY.request_deadline_seconds
        raise StaleWrite(["patient"])

    with pytest.raises(ConcurrentUpdate):
        retrying(uow, operation, sleep=lambda s: None, clock=clock)
    assert len(tries) == 1
