"""The console's Webhooks section in a real browser, against the local stack and its delivery
poller: an Owner subscribes a receiver on 127.0.0.1 (the signing secret shown once), clicks "Send
test", the ping arrives signed within 10 s, and the delivery shows in the webhook's log."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OWNER
from tests.webhooks_support import Receiver

pytestmark = pytest.mark.browser


def test_an_owner_subscribes_a_local_receiver_and_its_test_ping_arrives_signed(console, stack):
    page = console.page
    with Receiver() as receiver:
        console.sign_in(OWNER, hash_="#/integrations")
        expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
        page.get_by_label("Receiver URL").fill(receiver.url)
        page.get_by_label("Description").fill("Browser test receiver")
        page.get_by_role("button", name="Create webhook").click()
        secret = page.get_by_test_id("new-webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        receiver.secret = secret  # the receiver checks every signature with it
        expect(page.get_by_role("button", name="Copy secret")).to_be_visible()

        panel = page.get_by_role("article", name=f"Webhook {receiver.url}")
        expect(panel).to_contain_text("All events")
        expect(panel).to_contain_text("No deliveries yet.")
        page.reload()  # the secret was shown once: after a reload it is nowhere on the page
        expect(panel).to_be_visible()
        assert secret not in page.content()

        panel.get_by_role("button", name=f"Send test to {receiver.url}").click()
        clicked = time.monotonic()
        while not receiver.received and time.monotonic() - clicked < 10:
            time.sleep(0.1)
        assert receiver.received, "no ping reached the receiver within 10 s"
        ping = receiver.received[0]
        assert receiver.verified == [True], "the ping's Followups-Signature does not verify with the secret"
        body = json.loads(ping.body)
        assert body["type"] == "ping" and ping.headers["Followups-Event-Id"] == body["id"]
        webhook_id = panel.get_attribute("data-webhook-id")
        assert body["data"] == {"webhook_id": webhook_id}

        row = panel.locator(f"tr[data-event-id='{body['id']}']")
        expect(row).to_contain_text("ping", timeout=15_000)
        expect(row).to_contain_text("200 (delivered)")
        expect(row.get_by_role("cell").nth(1)).to_have_text("1")

        page.once("dialog", lambda d: d.accept())
        panel.get_by_role("button", name=f"Delete webhook {receiver.url}").click()
        expect(panel).to_have_count(0)
