"""On DynamoDB (moto): a change's event item is one of the items of the change's own
TransactWriteItems, so it exists exactly when the change committed. A resend of the transaction
(throttling) carries the same event id; a transaction cancelled by a condition (another change
committed between the read and the write) writes neither the change nor its event, and the
retry that commits announces once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError
from pynamodb.connection.base import Connection
from pynamodb.exceptions import TransactWriteError

from chalicelib.api import routing
from chalicelib.services import attempts
from chalicelib.store import keys
from chalicelib.store.models import Record
from chalicelib.store.webhooks import EVENT_KIND, event_of
from tests.ledger_ops import caller

REAL = Connection.transact_write_items


def stored_events(clinic_id: str) -> list:
    return [event_of(r) for r in Record.query(keys.events_pk(clinic_id), consistent_read=True)]


def staged_events(put_items) -> list[dict]:
    """The event items among a TransactWriteItems call's puts (DynamoDB JSON)."""
    return [p["Item"] for p in put_items if p["Item"].get("kind", {}).get("S") == EVENT_KIND]


def test_a_payments_transaction_holds_its_event_item_and_the_item_is_what_was_announced(clinic, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    sent = []

    def spy(self, condition_check_items, delete_items, put_items, update_items, **kwargs):
        partitions = [p["Item"]["pk"]["S"] for p in put_items] + [u["Key"]["pk"]["S"] for u in update_items]
        sent.append((partitions, staged_events(put_items)))
        return REAL(self, condition_check_items, delete_items, put_items, update_items, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", spy)
    r = clinic.pay(pid, 1_000)
    assert r.status == 201, r
    [(partitions, events)] = sent  # one transaction: the payment, the patient record, the audit record, the event
    assert keys.events_pk(clinic.clinic_id) in partitions and len(partitions) > 1
    [item] = events
    assert item["type"]["S"] == "payment.recorded"
    [stored] = [e for e in stored_events(clinic.clinic_id) if e.type == "payment.recorded"]
    assert stored.event_id == item["event_id"]["S"]
    assert stored.data["payment_id"] == r.body["payment_id"] and stored.data["balance_cents"] == 4_000


def test_a_throttled_transaction_is_resent_with_the_same_event_id(clinic, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    ids = []

    def throttled_once(self, condition_check_items, delete_items, put_items, update_items, **kwargs):
        ids.append([i["event_id"]["S"] for i in staged_events(put_items)])
        if len(ids) == 1:
            raise TransactWriteError("throttled", ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems"))
        return REAL(self, condition_check_items, delete_items, put_items, update_items, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", throttled_once)
    assert clinic.pay(pid, 1_000).status == 201
    assert len(ids) == 2 and ids[0] == ids[1] != []
    assert [e.event_id for e in stored_events(clinic.clinic_id) if e.type == "payment.recorded"] == ids[1]


def test_a_transaction_cancelled_by_its_condition_writes_neither_the_payment_nor_its_event(clinic, monkeypatch):
    pid = clinic.patient()
    clinic.invoice(pid, 5_000, clinic.days_ago(3))
    tries, cancelled = [], []

    def raced(self, condition_check_items, delete_items, put_items, update_items, **kwargs):
        events = staged_events(put_items)
        if not tries and any(e["type"]["S"] == "payment.recorded" for e in events):
            tries.append(events)
            # Another clerk's attempt commits between the payment's read and its write.
            monkeypatch.setattr(Connection, "transact_write_items", REAL)
            attempts.log(routing.unit_of_work(), caller(clinic, "billing"), datetime.now(UTC), pid,
                         channel="phone", outcome="no_answer")
            monkeypatch.setattr(Connection, "transact_write_items", raced)
            try:
                return REAL(self, condition_check_items, delete_items, put_items, update_items, **kwargs)
            except TransactWriteError:
                cancelled.extend(e["event_id"]["S"] for e in events)
                raise
        return REAL(self, condition_check_items, delete_items, put_items, update_items, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", raced)
    r = clinic.pay(pid, 1_000)
    assert r.status == 201, r
    assert cancelled, "the first transaction should have failed its condition"
    stored = stored_events(clinic.clinic_id)
    assert not {e.event_id for e in stored} & set(cancelled)
    [recorded] = [e for e in stored if e.type == "payment.recorded"]
    assert recorded.data["payment_id"] == r.body["payment_id"]
    assert [e["type"] for e in clinic.billing.get(f"/patients/{pid}/ledger").body["items"]] == ["invoice", "payment"]
