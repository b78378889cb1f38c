"""Announcing a change: the one call a service makes, inside its own transaction, for each event.

    events.announce(uow, clinic_id, "payment.recorded", source_id=payment.payment_id, at=now,
                    data={"payment_id": ..., "patient_id": ..., "amount_cents": ..., ...})

stages the event item beside the change's other writes (`uow.events.add`), so it commits with
the change or not at all. `source_id` must be something the change's transaction already holds
and a resend keeps (docs/webhooks.md lists it per event type); `data` is checked against the
allow-list (ids, amounts, dates, statuses) before anything is staged."""

from __future__ import annotations

from datetime import datetime

from ..domain.webhooks import Event, new_event


def announce(uow, clinic_id: str, event_type: str, *, source_id: str, at: datetime, data: dict,
             part: str = "", webhook_id: str | None = None) -> Event:
    event = new_event(event_type, source_id=source_id, clinic_id=clinic_id, at=at, data=data, part=part,
                      webhook_id=webhook_id)
    uow.events.add(event)
    return event
