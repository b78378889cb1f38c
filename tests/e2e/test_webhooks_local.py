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
