"""Announcing a change: the one call a service makes, inside its own transaction, for each event.

    events.announce(uow, clinic_id, "payment.recorded", source_id=payment.payment_id, at=now,
                    data={"payment_id": ..., "patient_id": ..., "amount_cents": ..., ...})

stages the event item beside the change's other writes (`uow.events.add`), so it commits with
the change or not at all. `source_id` must be something the change's transaction already holds
and a resend keeps (docs/webhooks.md lists it per event type); `data` is checked against the
allow-list (ids, amounts, dates, statuses) before anything is staged."""

from __future__ import annotations

from datetime import datetime

from ..domain.clock import iso_z
from ..domain.webhooks import Event, new_event


def announce(uow, clinic_id: str, event_type: str, *, source_id: str, at: datetime, data: dict,
             part: str = "", webhook_id: str | None = None) -> Event:
    event = new_event(event_type, source_id=source_id, clinic_id=clinic_id, at=at, data=data, part=part,
                      webhook_id=webhook_id)
    uow.events.add(event)
    return event


def day(value) -> str | None:
    return value.isoformat() if value is not None else None


def instant(value: datetime | None) -> str | None:
    return iso_z(value) if value is not None else None


def after_money_change(uow, clinic_id: str, source_id: str, account, at: datetime, *, balance_before: int,
                       status_before: str) -> None:
    """The events a money change adds beside its own, in its transaction: `follow_up.closed` when
    its posting takes the balance to 0, `plan.completed` when it pays the plan's last installment.
    (A hold it ended is announced by `corrections.hold_ended`, with that audit record.)"""
    if balance_before > 0 and account.balance_cents == 0:
        announce(uow, clinic_id, "follow_up.closed", source_id=source_id, at=at, part="closed",
                 data={"patient_id": account.patient_id, "balance_cents": 0, "status": account.status,
                       "previous_status": status_before})
    plan = account.changes.plan
    if plan is not None and plan.status == "completed":
        announce(uow, clinic_id, "plan.completed", source_id=source_id, at=at, part="completed",
                 data={"plan_id": plan.plan_id, "patient_id": account.patient_id, "status": plan.status})


def promise_broken(uow, clinic_id: str, source_id: str, patient_id: str, promise, at: datetime) -> Event:
    return announce(uow, clinic_id, "promise.broken", source_id=source_id, at=at,
                    data={"promise_id": promise.promise_id, "patient_id": patient_id,
                          "amount_cents": promise.amount_cents, "promised_date": day(promise.promised_date),
                          "status": promise.status})
