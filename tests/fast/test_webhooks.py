"""Webhook subscriptions and deliveries, service by service, on the in-memory store (the routes of
issue 18 are thin wrappers of these, tested over HTTP in test_webhook_routes.py; docs/webhooks.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.sender import TryResult
from chalicelib.domain import webhooks as rules
from chalicelib.domain.errors import Conflict, NotFound, ValidationError
from chalicelib.domain.ids import new_clinic_id
from chalicelib.domain.roles import OWNER, Caller
from chalicelib.services import deliveries, events, webhooks
from tests.webhooks_support import FakeSecretBox, MemoryQueue, Resolver, personal_strings_in_events

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PUBLIC = Resolver({"hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["93.184.216.34"]})


@pytest.fixture
def owner() -> Caller:
    return Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id=new_clinic_id(), roles=frozenset({OWNER}))


@pytest.fixture
def box() -> FakeSecretBox:
    return FakeSecretBox()


def subscribe(uow, owner, box, url="https://hooks.example.com/in", events_list=("*",), **kw):
    return webhooks.create(uow, owner, NOW, url=url, events_list=list(events_list), secret_box=box, resolve=PUBLIC,
                           url_policy=kw.pop("url_policy", rules.DEPLOYED), **kw)


# ----- subscriptions --------------------------------------------------------------------------------
def test_a_new_webhook_shows_its_secret_once_and_stores_it_sealed(uow, owner, box):
    created = subscribe(uow, owner, box, events_list=["payment.recorded"], description="PMS")
    assert created.secret.startswith("whsec_") and len(created.secret) >= 6 + 43
    stored = uow.webhooks.get(owner.clinic_id, created.webhook.webhook_id)
    assert created.secret.encode() not in stored.secret_ciphertext
    assert box.open(stored.secret_ciphertext, owner.clinic_id, stored.webhook_id) == created.secret
    listed = webhooks.list_webhooks(uow, owner)
    assert [w.webhook_id for w in listed] == [created.webhook.webhook_id]
    assert "secret" not in webhooks.webhook_view(listed[0])
    assert webhooks.webhook_view(created.webhook, created.secret)["secret"] == created.secret


def test_creating_a_webhook_is_audited_without_its_secret(uow, owner, box):
    created = subscribe(uow, owner, box)
    entries, _ = uow.audit.search(owner.clinic_id, patient_id=None, action="webhook.created", limit=5, before=None)
    assert [e.details["webhook_id"] for e in entries] == [created.webhook.webhook_id]
    assert created.secret not in str(entries[0].details)


def test_a_sealed_secret_does_not_open_for_another_webhook(uow, owner, box):
    a, b = subscribe(uow, owner, box), subscribe(uow, owner, box)
    with pytest.raises(PermissionError):
        box.open(uow.webhooks.get(owner.clinic_id, a.webhook.webhook_id).secret_ciphertext, owner.clinic_id,
                 b.webhook.webhook_id)


@pytest.mark.parametrize("url", ["http://hooks.example.com/", "https://10.0.0.1/", "https://localhost/",
                                 "https://unknown.example.com/", "http://127.0.0.1:9000/"])
def test_a_deployed_stage_refuses_urls_that_are_not_public_https(uow, owner, box, url):
    with pytest.raises(ValidationError):
        subscribe(uow, owner, box, url=url)
    assert webhooks.list_webhooks(uow, owner) == []


def test_a_name_resolving_to_a_private_address_is_refused_at_create(uow, owner, box):
    resolver = Resolver({"inside.example.com": ["10.0.0.7"]})
    with pytest.raises(ValidationError):
        webhooks.create(uow, owner, NOW, url="https://inside.example.com/", events_list=["*"], secret_box=box,
                        resolve=resolver, url_policy=rules.DEPLOYED)


def test_the_local_stack_takes_a_loopback_receiver(uow, owner, box):
    created = webhooks.create(uow, owner, NOW, url="http://127.0.0.1:9999/hook", events_list=["*"], secret_box=box,
                              resolve=Resolver(), url_policy=rules.LOCAL)
    assert created.webhook.url == "http://127.0.0.1:9999/hook"


def test_events_must_be_known_types_or_a_star(uow, owner, box):
    for bad in ([], ["payment.deleted"], ["ping"]):
        with pytest.raises(ValidationError):
            subscribe(uow, owner, box, events_list=bad)


def test_a_clinic_has_at_most_16_webhooks(uow, owner, box):
    for _ in range(rules.MAX_WEBHOOKS_PER_CLINIC):
        subscribe(uow, owner, box)
    with pytest.raises(Conflict):
        subscribe(uow, owner, box)


def test_a_deleted_webhook_is_gone_from_the_list_loses_its_secret_and_cannot_be_deleted_twice(uow, owner, box):
    created = subscribe(uow, owner, box)
    webhooks.delete(uow, owner, NOW, created.webhook.webhook_id)
    assert webhooks.list_webhooks(uow, owner) == []
    stored = uow.webhooks.get(owner.clinic_id, created.webhook.webhook_id)
    assert stored.secret_ciphertext is None and stored.deleted_by == owner.actor
    with pytest.raises(NotFound):
        webhooks.delete(uow, owner, NOW, created.webhook.webhook_id)
    entries, _ = uow.audit.search(owner.clinic_id, patient_id=None, action="webhook.deleted", limit=5, before=None)
    assert len(entries) == 1


def test_another_clinics_webhook_is_not_found(uow, owner, box):
    created = subscribe(uow, owner, box)
    stranger = Caller(sub=owner.sub, clinic_id=new_clinic_id(), roles=owner.roles)
    for call in (lambda: webhooks.delete(uow, stranger, NOW, created.webhook.webhook_id),
                 lambda: webhooks.send_test(uow, stranger, NOW, created.webhook.webhook_id),
                 lambda: webhooks.deliveries(uow, stranger, created.webhook.webhook_id)):
        with pytest.raises(NotFound):
            call()


def test_a_test_ping_is_an_event_for_that_webhook_alone(uow, owner, box, store):
    a, b = subscribe(uow, owner, box), subscribe(uow, owner, box)
    ping = webhooks.send_test(uow, owner, NOW, a.webhook.webhook_id)
    assert store.events[(owner.clinic_id, f"{ping.created_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{ping.event_id}")]
    queue = MemoryQueue()
    assert deliveries.fan_out(uow, [ping], queue, NOW) == 1
    assert queue.sent[0][0]["webhook_id"] == a.webhook.webhook_id != b.webhook.webhook_id


# ----- events from a transaction ---------------------------------------------------------------------
def test_an_event_exists_only_when_its_transaction_commits(uow, owner, store):
    before = len(store.events)
    events.announce(uow, owner.clinic_id, "invoice.created", source_id="aud_rolledback1", at=NOW,
                    data={"invoice_id": "inv_abcd_efgh"})
    uow.discard()  # the change rolled back (a lost race): nothing of it is written
    uow.commit()
    assert len(store.events) == before
    events.announce(uow, owner.clinic_id, "invoice.created", source_id="aud_committed1", at=NOW,
                    data={"invoice_id": "inv_abcd_efgh"})
    uow.commit()
    assert len(store.events) == before + 1


def test_the_same_change_sent_twice_makes_one_event(uow, owner):
    from tests.memory import StaleWrite

    for _ in range(2):
        events.announce(uow, owner.clinic_id, "payment.recorded", source_id="aud_same1", at=NOW,
                        data={"payment_id": "pay_abcd_efgh"})
    with pytest.raises(Exception):  # noqa: B017 - two actions on one item, as DynamoDB refuses
        uow.commit()
    uow.discard()
    events.announce(uow, owner.clinic_id, "payment.recorded", source_id="aud_same2", at=NOW, data={})
    uow.commit()
    events.announce(uow, owner.clinic_id, "payment.recorded", source_id="aud_same2", at=NOW, data={})
    with pytest.raises(StaleWrite):
        uow.commit()


def test_the_events_of_a_scenario_name_nobody(uow, owner, store):
    """The scan issue 16 runs over every event its services write; here over the planned shapes."""
    from tests.unit.test_webhook_rules import EXAMPLES

    for event_type, data in EXAMPLES.items():
        events.announce(uow, owner.clinic_id, event_type, source_id=f"aud_scan_{event_type}", at=NOW, data=data)
    uow.commit()
    written = [e for (c, _), e in store.events.items() if c == owner.clinic_id]
    assert len(written) == len(EXAMPLES)
    assert personal_strings_in_events(written, ["Maria Papadopoulou", "+302105550101", "maria@example.test",
                                                "promised to pay"]) == []


# ----- tries ----------------------------------------------------------------------------------------
def answers(*outcomes):
    results = list(outcomes)
    sent = []

    def send(target, headers, raw):
        sent.append((target, headers, raw))
        outcome = results.pop(0) if len(results) > 1 else results[0]
        return TryResult(outcome, "ok" if isinstance(outcome, int) else None, "93.184.216.34", 0.01)

    send.sent = sent
    return send


def one_event(uow, owner):
    event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id=f"aud_{new_clinic_id()[4:]}",
                            at=NOW, data={"payment_id": "pay_abcd_efgh", "amount_cents": 500})
    uow.commit()
    return event


def test_a_try_is_signed_with_the_webhooks_secret_and_logged_delivered(uow, owner, box):
    created = subscribe(uow, owner, box)
    event = one_event(uow, owner)
    queue, send = MemoryQueue(), answers(204)
    deliveries.fan_out(uow, [event], queue, NOW)
    [(body, delay)] = queue.take()
    assert delay == 0
    outcome = deliveries.attempt(uow, body, now=NOW, secrets=deliveries.SecretCache(box), queue=queue, send=send,
                                 url_policy=rules.DEPLOYED)
    assert outcome.delivery.status == rules.DELIVERED and queue.sent == []
    target, headers, raw = send.sent[0]
    assert headers["Followups-Event-Id"] == event.event_id
    assert rules.verify(created.secret, headers["Followups-Signature"], raw, now=int(NOW.timestamp()))
    page = webhooks.deliveries(uow, owner, created.webhook.webhook_id)
    assert [webhooks.delivery_view(d) for d in page.items] == [{
        "event_id": event.event_id, "type": "payment.recorded", "attempts": 1, "status": "delivered",
        "last_status": 204, "delivered_at": "2026-12-01T12:00:00.000000Z", "next_attempt_at": None}]


def test_a_failed_try_is_queued_again_with_its_delay_until_it_is_due(uow, owner, box):
    subscribe(uow, owner, box)
    event = one_event(uow, owner)
    queue, send, cache = MemoryQueue(), answers(500, 500, 200), deliveries.SecretCache(box)
    deliveries.fan_out(uow, [event], queue, NOW)
    now, seen_delays = NOW, []
    for _ in range(3):
        [(body, delay)] = queue.take()
        seen_delays.append(delay)
        now = max(now, datetime.fromisoformat(body["due_at"].replace("Z", "+00:00")))
        outcome = deliveries.attempt(uow, body, now=now, secrets=cache, queue=queue, send=send,
                                     url_policy=rules.DEPLOYED)
    assert seen_delays == [0, 30, 120]
    assert (outcome.delivery.status, outcome.delivery.attempts) == (rules.DELIVERED, 3)
    assert box.opened == 1, "the secret was decrypted once and reused"
    ids = {headers["Followups-Event-Id"] for _, headers, _ in send.sent}
    assert ids == {event.event_id}, "every try carries the same event id"


def test_a_try_due_later_than_sqs_can_wait_is_sent_again_until_due(uow, owner, box):
    subscribe(uow, owner, box)
    event = one_event(uow, owner)
    body = deliveries.message(event, uow.webhooks.list(owner.clinic_id)[0].webhook_id, attempts=8,
                              first_attempt_at=NOW, due_at=NOW + timedelta(hours=2))
    queue, send = MemoryQueue(), answers(200)
    outcome = deliveries.attempt(uow, body, now=NOW, secrets=deliveries.SecretCache(box), queue=queue, send=send,
                                 url_policy=rules.DEPLOYED)
    assert outcome.requeued and send.sent == []
    [(again, delay)] = queue.sent
    assert again == body and delay == 7200  # the adapter caps it at 900 s; it comes back and waits again


def test_after_24_hours_of_failures_the_delivery_is_failed_and_no_try_is_queued(uow, owner, box):
    created = subscribe(uow, owner, box)
    event = one_event(uow, owner)
    last = deliveries.message(event, created.webhook.webhook_id, attempts=rules.MAX_TRIES - 1, first_attempt_at=NOW,
                              due_at=NOW + timedelta(hours=24))
    queue = MemoryQueue()
    outcome = deliveries.attempt(uow, last, now=NOW + timedelta(hours=24), secrets=deliveries.SecretCache(box),
                                 queue=queue, send=answers("timeout"), url_policy=rules.DEPLOYED)
    assert outcome.delivery.status == rules.FAILED and queue.sent == []
    [row] = webhooks.deliveries(uow, owner, created.webhook.webhook_id).items
    assert (row.status, row.last_status, row.next_attempt_at) == ("failed", "timeout", None)


def test_a_deleted_webhook_gets_no_more_tries(uow, owner, box):
    created = subscribe(uow, owner, box)
    event = one_event(uow, owner)
    queue = MemoryQueue()
    deliveries.fan_out(uow, [event], queue, NOW)
    webhooks.delete(uow, owner, NOW, created.webhook.webhook_id)
    [(body, _)] = queue.take()
    send = answers(200)
    outcome = deliveries.attempt(uow, body, now=NOW, secrets=deliveries.SecretCache(box), queue=queue, send=send,
                                 url_policy=rules.DEPLOYED)
    assert outcome.delivery is None and send.sent == [] and queue.sent == []


def test_only_subscribed_webhooks_get_an_event(uow, owner, box):
    subscribe(uow, owner, box, events_list=["invoice.created"])
    wanted = subscribe(uow, owner, box, events_list=["payment.recorded"])
    everything = subscribe(uow, owner, box)
    queue = MemoryQueue()
    assert deliveries.fan_out(uow, [one_event(uow, owner)], queue, NOW) == 2
    assert {b["webhook_id"] for b, _ in queue.sent} == {wanted.webhook.webhook_id, everything.webhook.webhook_id}


def test_a_duplicate_message_of_an_earlier_try_does_not_overwrite_the_log(uow, owner, box):
    created = subscribe(uow, owner, box)
    event = one_event(uow, owner)
    queue, cache = MemoryQueue(), deliveries.SecretCache(box)
    deliveries.fan_out(uow, [event], queue, NOW)
    [(first, _)] = queue.take()
    deliveries.attempt(uow, first, now=NOW, secrets=cache, queue=queue, send=answers(500), url_policy=rules.DEPLOYED)
    [(second, _)] = queue.take()
    deliveries.attempt(uow, second, now=NOW + timedelta(seconds=30), secrets=cache, queue=queue, send=answers(200),
                       url_policy=rules.DEPLOYED)
    deliveries.attempt(uow, first, now=NOW + timedelta(seconds=31), secrets=cache, queue=MemoryQueue(),
                       send=answers(500), url_policy=rules.DEPLOYED)  # SQS delivered the first message twice
    [row] = webhooks.deliveries(uow, owner, created.webhook.webhook_id).items
    assert (row.status, row.attempts) == ("delivered", 2)


def test_the_delivery_log_pages_newest_first(uow, owner, box):
    created = subscribe(uow, owner, box)
    cache = deliveries.SecretCache(box)
    made = []
    for minute in range(5):
        event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id=f"aud_page{minute}",
                                at=NOW + timedelta(minutes=minute), data={})
        uow.commit()
        made.append(event.event_id)
        body = deliveries.message(event, created.webhook.webhook_id, due_at=NOW)
        deliveries.attempt(uow, body, now=NOW + timedelta(minutes=minute), secrets=cache, queue=MemoryQueue(),
                           send=answers(200), url_policy=rules.DEPLOYED)
    first = webhooks.deliveries(uow, owner, created.webhook.webhook_id, limit=2)
    second = webhooks.deliveries(uow, owner, created.webhook.webhook_id, limit=2, cursor=first.next_cursor)
    third = webhooks.deliveries(uow, owner, created.webhook.webhook_id, limit=2, cursor=second.next_cursor)
    assert [d.event_id for d in first.items + second.items + third.items] == made[::-1]
    assert third.next_cursor is None
    with pytest.raises(ValidationError):
        webhooks.deliveries(uow, owner, created.webhook.webhook_id, cursor="garbage")


def test_a_webhook_whose_name_rebinds_to_loopback_is_refused_at_the_try_without_a_connection(uow, owner, box):
    """Created while its name answered a public address; at the try it answers 127.0.0.1. The fast
    tier fails any socket connect, so passing here also proves no connection was attempted."""
    from chalicelib.adapters import sender

    resolver = Resolver({"rebind.example.com": ["93.184.216.34"]})
    created = webhooks.create(uow, owner, NOW, url="https://rebind.example.com/in", events_list=["*"],
                              secret_box=box, resolve=resolver, url_policy=rules.DEPLOYED)
    resolver.answers["rebind.example.com"] = ["127.0.0.1"]
    event = one_event(uow, owner)
    body = deliveries.message(event, created.webhook.webhook_id, due_at=NOW)
    queue = MemoryQueue()
    outcome = deliveries.attempt(uow, body, now=NOW, secrets=deliveries.SecretCache(box), queue=queue,
                                 send=lambda t, h, raw: sender.post(t, h, raw, resolve=resolver),
                                 url_policy=rules.DEPLOYED)
    assert (outcome.delivery.last_status, outcome.delivery.status) == ("refused_address", rules.RETRYING)
    assert len(queue.sent) == 1, "checked again at the next try (the name may answer a public address again)"
