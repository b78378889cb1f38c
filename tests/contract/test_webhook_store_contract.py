"""The webhook repositories' scenarios on DynamoDB (moto) and on tests/memory.py: what the fast
tier's webhook tests trust (event creates, one deletion, the log's guard and its newest-first pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import webhooks as rules
from chalicelib.domain.ids import new_clinic_id, new_id
from chalicelib.store.uow import StaleWrite

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def a_webhook(clinic_id: str, minute: int = 0) -> rules.Webhook:
    return rules.Webhook(new_id("wh"), clinic_id, "https://hooks.example.com/in", ["*"], None,
                         NOW + timedelta(minutes=minute), "tester", b"sealed-bytes")


def test_an_event_is_created_once(new_uow, clinic_id):
    event = rules.new_event("ping", source_id="png_1", clinic_id=clinic_id, at=NOW, data={"webhook_id": "wh_abcd"})
    uow = new_uow()
    uow.events.add(event)
    uow.commit()
    uow.events.add(event)
    with pytest.raises(StaleWrite) as caught:
        uow.commit()
    assert caught.value.failed == ["event"]


def test_webhooks_are_listed_oldest_first_without_the_deleted_and_deleted_once(new_uow, clinic_id):
    uow = new_uow()
    first, second = a_webhook(clinic_id, 0), a_webhook(clinic_id, 1)
    uow.webhooks.add(second)
    uow.webhooks.add(first)
    uow.commit()
    assert [w.webhook_id for w in uow.webhooks.list(clinic_id)] == [first.webhook_id, second.webhook_id]
    stored = uow.webhooks.get(clinic_id, first.webhook_id)
    assert stored.secret_ciphertext == b"sealed-bytes" and stored.events == ["*"]
    gone = rules.Webhook(first.webhook_id, clinic_id, first.url, first.events, None, first.created_at, "tester",
                         None, NOW, "tester")
    uow.webhooks.save_deleted(gone)
    uow.commit()
    assert [w.webhook_id for w in uow.webhooks.list(clinic_id)] == [second.webhook_id]
    assert uow.webhooks.get(clinic_id, first.webhook_id).secret_ciphertext is None
    uow.webhooks.save_deleted(gone)
    with pytest.raises(StaleWrite):
        uow.commit()
    assert uow.webhooks.list(new_clinic_id()) == []


def _row(webhook_id: str, minute: int, attempts: int, status: str = rules.RETRYING) -> rules.Delivery:
    return rules.Delivery(webhook_id, f"evt_{minute:026d}", "ping", NOW + timedelta(minutes=minute), attempts, status,
                          500, None, NOW + timedelta(minutes=minute + 1), NOW, "oops")


def test_a_log_row_is_not_overwritten_by_an_earlier_try(new_uow, clinic_id):
    uow = new_uow()
    assert uow.deliveries.record(clinic_id, _row("wh_a", 0, 2))
    assert not uow.deliveries.record(clinic_id, _row("wh_a", 0, 1))
    assert not uow.deliveries.record(clinic_id, _row("wh_a", 0, 2))
    assert uow.deliveries.record(clinic_id, _row("wh_a", 0, 3, rules.DELIVERED))
    got = uow.deliveries.get(clinic_id, "wh_a", NOW, f"evt_{0:026d}")
    assert (got.attempts, got.status, got.last_status, got.response_excerpt) == (3, "delivered", 500, "oops")


def test_the_log_pages_newest_first_per_webhook(new_uow, clinic_id):
    uow = new_uow()
    for minute in range(5):
        uow.deliveries.record(clinic_id, _row("wh_a", minute, 1))
    uow.deliveries.record(clinic_id, _row("wh_b", 9, 1))
    page, more = uow.deliveries.page(clinic_id, "wh_a", 2, None)
    assert [d.event_id for d in page] == [f"evt_{4:026d}", f"evt_{3:026d}"] and more
    page, more = uow.deliveries.page(clinic_id, "wh_a", 2, (page[-1].event_created_at, page[-1].event_id))
    assert [d.event_id for d in page] == [f"evt_{2:026d}", f"evt_{1:026d}"] and more
    page, more = uow.deliveries.page(clinic_id, "wh_a", 2, (page[-1].event_created_at, page[-1].event_id))
    assert [d.event_id for d in page] == [f"evt_{0:026d}"] and not more
