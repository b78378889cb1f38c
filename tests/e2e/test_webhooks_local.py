"""The real local stack delivers webhooks: a loopback receiver subscribed, a change committed in the
stack's embedded AWS, the signed request at the receiver within 10 s, the ping too, both logged.

The first test makes the subscription and the change through the services, in a subprocess pointed
at the stack's AWS (its own PynamoDB connections: the payment's event write is issue 16's); the
second goes through the API alone, as an integration would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

SCRIPT = r'''
import json, time
from datetime import UTC, datetime
from chalicelib.adapters.kms import secret_box
from chalicelib.domain.roles import OWNER, Caller
from chalicelib.services import audit, events, webhooks
from chalicelib.store.uow import UnitOfWork
from tests.webhooks_support import Receiver

owner = Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id="cln_e2ewebhooks0001", roles=frozenset({OWNER}))
with Receiver([200]) as receiver:
    created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=f"http://localhost:{receiver.port}/hooks",
                              events_list=["*"], secret_box=secret_box())
    receiver.secret = created.secret
    uow, now = UnitOfWork(), datetime.now(UTC)
    entry = audit.record(uow, owner.clinic_id, owner.actor, "payment.recorded", now)
    event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id=entry.audit_id, at=now,
                            data={"payment_id": "pay_e2e_abcdef", "amount_cents": 100})
    uow.commit()
    committed = time.monotonic()
    webhooks.send_test(UnitOfWork(), owner, datetime.now(UTC), created.webhook.webhook_id)
    while len(receiver.received) < 2 and time.monotonic() - committed < 10:
        time.sleep(0.05)
    log = webhooks.deliveries(UnitOfWork(), owner, created.webhook.webhook_id).items
    types = sorted(json.loads(r.body)["type"] for r in receiver.received)
    print(json.dumps({"event_id": event.event_id, "types": types,
                      "ids": [r.headers["Followups-Event-Id"] for r in receiver.received],
                      "seconds": max((r.at - committed for r in receiver.received), default=None),
                      "verified": receiver.verified, "log": [(d.type, d.status, d.last_status) for d in log]}))
'''


def test_a_loopback_receiver_gets_a_signed_delivery_within_10_seconds(local_stack):
    stack, info = local_stack
    env = {**stack.env, "AWS_ENDPOINT_URL": info["aws_endpoint_url"], "AWS_ACCESS_KEY_ID": "local",
           "AWS_SECRET_ACCESS_KEY": "local", "FOLLOWUPS_WEBHOOK_URL_POLICY": "local", "PYTHONPATH": str(ROOT),
           "POWERTOOLS_LOG_LEVEL": "ERROR"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["types"] == ["payment.recorded", "ping"] and found["event_id"] in found["ids"]
    assert found["verified"] == [True, True] and found["seconds"] < 10
    assert sorted(found["log"]) == [["payment.recorded", "delivered", 200], ["ping", "delivered", 200]]


def test_an_integration_subscribes_over_http_and_its_ping_is_delivered_signed_and_logged(local_stack):
    """The whole path through the API: the Owner makes a key with webhooks:manage; the key
    subscribes a loopback receiver with POST /webhooks (the secret once), asks for a test ping
    (202), the signed ping arrives within 10 s, and GET .../deliveries shows it delivered."""
    import time

    import requests

    from chalicelib.domain import webhooks as rules
    from tests.e2e.test_local_stack import sign_in
    from tests.webhooks_support import Receiver

    _, info = local_stack
    base = info["api_url"]
    owner = {"Authorization": f"Bearer {sign_in(info, 'owner@demo.clinic')}"}
    made = requests.post(f"{base}/integrations", json={"name": "e2e webhooks", "scopes": ["webhooks:manage"]},
                         headers=owner, timeout=10)
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    with Receiver([200]) as receiver:
        r = requests.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["payment.recorded"]},
                          headers=key, timeout=10)
        assert r.status_code == 201, r.text
        hook = r.json()
        receiver.secret = hook["secret"]
        listed = requests.get(f"{base}/webhooks", headers=owner, timeout=10).json()["items"]
        assert hook["webhook_id"] in [w["webhook_id"] for w in listed] and hook["secret"] not in str(listed)
        ping = requests.post(f"{base}/webhooks/{hook['webhook_id']}/test", headers=key, timeout=10)
        assert ping.status_code == 202, ping.text
        sent = time.monotonic()
        while not receiver.received and time.monotonic() - sent < 10:
            time.sleep(0.05)
        assert receiver.received, "no ping within 10 s"
        assert receiver.verified == [True]
        assert receiver.received[0].headers["Followups-Event-Id"] == ping.json()["event_id"]
        log = []
        while time.monotonic() - sent < 15:
            log = requests.get(f"{base}/webhooks/{hook['webhook_id']}/deliveries", headers=key, timeout=10).json()
            if log["items"] and log["items"][0]["status"] == rules.DELIVERED:
                break
            time.sleep(0.2)
        assert [(d["event_id"], d["type"], d["attempts"], d["last_status"]) for d in log["items"]] == [
            (ping.json()["event_id"], "ping", 1, 200)]
        assert requests.delete(f"{base}/webhooks/{hook['webhook_id']}", headers=key, timeout=10).status_code == 204


def test_payments_invoices_installments_write_offs_and_holds_reach_a_receiver_signed_even_after_its_outage(
        local_stack):
    """The issue's "done when": an integration subscribes a loopback receiver; an invoice, a
    payment, a plan and its installment, a write-off and a hold each reach it signed, within
    seconds; the receiver is down for its first three requests, and those events come again
    (same ids) once it is back."""
    import secrets
    import time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import requests

    from tests.e2e.test_local_stack import sign_in
    from tests.webhooks_support import Receiver

    _, info = local_stack
    base = info["api_url"]
    owner = {"Authorization": f"Bearer {sign_in(info, 'owner@demo.clinic')}"}
    made = requests.post(f"{base}/integrations", headers=owner, timeout=10, json={
        "name": "e2e practice system", "scopes": ["patients:write", "invoices:write", "payments:write",
                                                 "webhooks:manage"]})
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    tag = secrets.token_hex(4)
    zone = requests.get(f"{base}/clinic", headers=owner, timeout=10).json()["timezone"]
    today = datetime.now(ZoneInfo(zone)).date()  # the clinic's day: the plan's first installment is due today

    def ok(r, status=(200, 201)):
        assert r.status_code in status, r.text
        return r.json()

    def owing(n: int) -> str:
        pid = ok(requests.put(f"{base}/patients/by-external-id/e2e-{tag}-{n}", headers=key, timeout=10,
                              json={"name": f"Webhook Patient {tag} {n}"}))["patient_id"]
        ok(requests.put(f"{base}/invoices/by-external-id/e2e-inv-{tag}-{n}", headers=key, timeout=10, json={
            "patient_id": pid, "amount_cents": 30_000, "invoice_date": (today - timedelta(days=40)).isoformat()}))
        return pid

    with Receiver([503, 503, 503, 200]) as receiver:  # down for its first three requests
        hook = ok(requests.post(f"{base}/webhooks", headers=key, timeout=10, json={"url": receiver.url,
                                                                                 "events": ["*"]}))
        receiver.secret = hook["secret"]
        started = time.monotonic()
        paying, leaving, disputing = owing(1), owing(2), owing(3)
        ok(requests.post(f"{base}/payments", timeout=10, json={"patient_id": paying, "amount_cents": 6_000,
                                                                "method": "card"},
                         headers={**key, "Idempotency-Key": f"e2e-{tag}"}))
        plan = ok(requests.post(f"{base}/follow-ups/{paying}/payment-plan", headers=owner, timeout=10, json={
            "installment_cents": 6_000, "frequency": "monthly", "start_date": today.isoformat()}))
        assert ok(requests.post(f"{base}/payment-plans/{plan['plan_id']}/run", headers=owner,
                                timeout=10))["invoices_created"]
        ok(requests.post(f"{base}/follow-ups/{leaving}/write-off", headers=owner, timeout=10,
                         json={"reason": "moved abroad, no address"}))
        ok(requests.post(f"{base}/follow-ups/{disputing}/hold", headers=owner, timeout=10, json={
            "reason": "dispute", "until": (today + timedelta(days=10)).isoformat()}))
        changed = time.monotonic() - started
        wanted = {"invoice.created", "payment.recorded", "plan.created", "plan.invoiced", "writeoff.recorded",
                  "hold.placed"}

        def seen():
            with receiver._lock:
                return list(receiver.received)

        def delivered(received):  # the requests the receiver answered 200 (the fourth on)
            return {r.headers["Followups-Event-Id"] for r in received[3:]}

        deadline = time.monotonic() + 90  # the first retry comes within 60 s
        while time.monotonic() < deadline:
            received = seen()
            ids = {r.headers["Followups-Event-Id"] for r in received}
            types = {json.loads(r.body)["type"] for r in received}
            if wanted <= types and ids <= delivered(received):
                break
            time.sleep(0.5)
        received = seen()
        first = {}
        for r in received:
            first.setdefault(r.headers["Followups-Event-Id"], r.at - started)
    types = {json.loads(r.body)["type"] for r in received}
    assert wanted <= types, sorted(types)
    assert {r.headers["Followups-Event-Id"] for r in received} <= delivered(received), "an event never got through"
    assert all(receiver.verified) and len(receiver.verified) == len(received)
    assert len(received) > len(first), "the three refused requests were not sent again"
    assert max(first.values()) < changed + 10, first  # each event left within seconds of its change
    bodies = [r.body.decode() for r in received]
    assert not any(f"Webhook Patient {tag}" in b for b in bodies)  # no names in the data
