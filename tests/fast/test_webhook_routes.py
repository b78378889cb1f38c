"""The webhook routes over HTTP (services/webhooks.py is tests/fast/test_webhooks.py): the secret
shown once, the list without it, delete, the test ping, the delivery log's pages, the URL rules of
a deployed stage and of the local one, roles, keys, other clinics, and the audit trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import config
from chalicelib.adapters import sender
from chalicelib.domain import webhooks as rules
from tests.fast.support import audit_entries
from tests.integrations_support import issue_key
from tests.webhooks_support import Resolver

LOCAL_URL = "http://127.0.0.1:9/hooks"
PUBLIC = Resolver({"hooks.example.com": ["93.184.216.34"], "inside.example.com": ["10.0.0.7"],
                   "rebind.example.com": ["93.184.216.34", "127.0.0.1"]})


def subscribe(world, url=LOCAL_URL, events=("*",), **extra):
    return world.owner.post("/webhooks", {"url": url, "events": list(events), **extra})


def made(world, **kw) -> dict:
    r = subscribe(world, **kw)
    assert r.status == 201, r
    return r.body


@pytest.fixture
def deployed(monkeypatch):
    """A deployed stage's rules (https only, public addresses), with a DNS in a dict."""
    settings = replace(config.webhook_settings(), url_policy=rules.DEPLOYED)
    monkeypatch.setattr(config, "webhook_settings", lambda: settings)
    monkeypatch.setattr(sender, "system_resolver", PUBLIC)


def test_a_new_webhook_shows_its_secret_once_and_the_list_never(http, clinic, secret_box, store):
    body = made(clinic, events=["payment.recorded", "invoice.created"], description="Practice system")
    assert set(body) == {"webhook_id", "url", "events", "secret", "created_at", "description"}
    assert body["secret"].startswith("whsec_") and body["url"] == LOCAL_URL
    assert body["events"] == ["invoice.created", "payment.recorded"] and body["created_at"].endswith("Z")
    listed = clinic.admin.get("/webhooks")
    assert listed.status == 200
    assert [w["webhook_id"] for w in listed.body["items"]] == [body["webhook_id"]]
    assert "secret" not in listed.body["items"][0] and body["secret"] not in listed.text
    stored = store.webhooks[(clinic.clinic_id, body["webhook_id"])]
    assert body["secret"].encode() not in stored.secret_ciphertext
    assert secret_box.open(stored.secret_ciphertext, clinic.clinic_id, body["webhook_id"]) == body["secret"]


def test_creating_and_deleting_are_audited_without_the_secret(http, clinic):
    body = made(clinic)
    created = audit_entries(clinic.clinic_id, action="webhook.created")
    assert [e.details["webhook_id"] for e in created] == [body["webhook_id"]]
    assert created[0].actor == clinic.sub("owner") and body["secret"] not in str(created[0].details)
    r = clinic.owner.delete(f"/webhooks/{body['webhook_id']}")
    assert r.status == 204 and r.text == ""
    deleted = audit_entries(clinic.clinic_id, action="webhook.deleted")
    assert [e.details["webhook_id"] for e in deleted] == [body["webhook_id"]]
    assert clinic.owner.get("/webhooks").body["items"] == []
    again = clinic.owner.delete(f"/webhooks/{body['webhook_id']}")
    assert again.status == 404 and again.body["error"]["code"] == "not_found"
    assert clinic.owner.post(f"/webhooks/{body['webhook_id']}/test").status == 404


def test_the_test_ping_is_accepted_and_becomes_an_event_for_that_webhook_alone(http, clinic, store):
    hook = made(clinic, events=["payment.recorded"])
    before = len(audit_entries(clinic.clinic_id))
    r = clinic.owner.post(f"/webhooks/{hook['webhook_id']}/test")
    assert r.status == 202 and r.body["event_id"].startswith("evt_"), r
    event = next(e for (c, _), e in store.events.items() if c == clinic.clinic_id and e.event_id == r.body["event_id"])
    assert event.type == "ping" and event.webhook_id == hook["webhook_id"]
    assert event.data == {"webhook_id": hook["webhook_id"]}
    assert len(audit_entries(clinic.clinic_id)) == before  # a ping changes nothing (tests/audit_support.py)


def test_the_delivery_log_pages_newest_first_with_a_cursor(http, clinic, uow):
    hook = made(clinic)
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n in range(3):
        d = rules.Delivery(hook["webhook_id"], rules.event_id("payment.recorded", f"aud_{n}"), "payment.recorded",
                           t0 + timedelta(minutes=n))
        d = rules.after_try(d, t0 + timedelta(minutes=n, seconds=1), 503 if n == 2 else 200, None)
        uow.deliveries.record(clinic.clinic_id, d)
    first = clinic.admin.get(f"/webhooks/{hook['webhook_id']}/deliveries?limit=2")
    assert first.status == 200, first
    newest = first.body["items"][0]
    assert set(newest) >= {"event_id", "type", "attempts", "last_status", "delivered_at", "next_attempt_at"}
    assert (newest["attempts"], newest["last_status"], newest["status"]) == (1, 503, "retrying")
    assert newest["delivered_at"] is None and newest["next_attempt_at"] == "2026-12-01T09:02:31Z"
    assert first.body["items"][1]["delivered_at"] == "2026-12-01T09:01:01Z"
    assert first.body["next_cursor"]
    second = clinic.admin.get(f"/webhooks/{hook['webhook_id']}/deliveries?limit=2&cursor={first.body['next_cursor']}")
    assert second.status == 200, second
    assert len(second.body["items"]) == 1 and second.body["next_cursor"] is None
    ids = [i["event_id"] for i in first.body["items"] + second.body["items"]]
    assert len(set(ids)) == 3
    bad = clinic.admin.get(f"/webhooks/{hook['webhook_id']}/deliveries?cursor=not-a-cursor")
    assert bad.status == 400 and "cursor" in bad.body["error"]["fields"]
    assert clinic.admin.get(f"/webhooks/{hook['webhook_id']}/deliveries?limit=0").status == 400


def test_the_admin_reads_and_only_the_owner_changes_billing_staff_see_nothing(http, clinic):
    hook = made(clinic)
    assert clinic.admin.post("/webhooks", {"url": LOCAL_URL, "events": ["*"]}).status == 403
    assert clinic.admin.delete(f"/webhooks/{hook['webhook_id']}").status == 403
    assert clinic.admin.post(f"/webhooks/{hook['webhook_id']}/test").status == 403
    assert clinic.admin.get(f"/webhooks/{hook['webhook_id']}/deliveries").status == 200
    for path in ("/webhooks", f"/webhooks/{hook['webhook_id']}/deliveries"):
        assert clinic.billing.get(path).status == 403


def test_another_clinics_webhook_does_not_exist(http, clinic, other_clinic):
    theirs = made(other_clinic)["webhook_id"]
    for r in (clinic.owner.delete(f"/webhooks/{theirs}"), clinic.owner.post(f"/webhooks/{theirs}/test"),
              clinic.owner.get(f"/webhooks/{theirs}/deliveries"), clinic.owner.get("/webhooks/wh_nothing/deliveries")):
        assert r.status == 404 and r.body["error"]["code"] == "not_found", r
    assert clinic.owner.get("/webhooks").body["items"] == []
    assert [w["webhook_id"] for w in other_clinic.owner.get("/webhooks").body["items"]] == [theirs]


def test_a_key_with_webhooks_manage_subscribes_and_acts_as_its_integration(http, clinic):
    api, key = issue_key(clinic, ["webhooks:manage"])
    r = api.post("/webhooks", {"url": LOCAL_URL, "events": ["payment.recorded"]})
    assert r.status == 201, r
    assert api.get("/webhooks").status == 200
    assert api.post(f"/webhooks/{r.body['webhook_id']}/test").status == 202
    entry = audit_entries(clinic.clinic_id, action="webhook.created")[0]
    assert entry.actor == f"integration:{key['integration_id']}"
    other, _ = issue_key(clinic, ["patients:read", "payments:write"])
    assert other.get("/webhooks").status == 403
    assert other.post("/webhooks", {"url": LOCAL_URL, "events": ["*"]}).status == 403


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/in", "https://10.0.0.1/in", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/in", "https://localhost/in", "https://localhost:8443/in", LOCAL_URL, "http://localhost:9000/in",
    "https://[::ffff:10.0.0.1]/in", "https://inside.example.com/in", "https://rebind.example.com/in",
    "https://unknown.example.com/in", "https://user:pw@hooks.example.com/in", "ftp://hooks.example.com/in",
    "hooks.example.com/in", "https://hooks.example.com/in#frag", "https://hooks.example.com:99999/in",
    "https://" + "a" * 2040 + ".com/"])
def test_a_deployed_stage_refuses_what_is_not_public_https(http, clinic, deployed, url):
    r = subscribe(clinic, url=url)
    assert r.status == 400, (url, r)
    assert r.body["error"]["code"] == "validation_error" and "url" in r.body["error"]["fields"], r
    assert clinic.owner.get("/webhooks").body["items"] == []


def test_a_deployed_stage_takes_a_public_https_receiver(http, clinic, deployed):
    body = made(clinic, url="https://hooks.example.com/in?source=followups")
    assert body["url"] == "https://hooks.example.com/in?source=followups"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/hook", "http://localhost:8123/hook"])
def test_the_local_stack_takes_a_loopback_receiver(http, clinic, url):
    assert made(clinic, url=url)["url"] == url


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://10.0.0.1:80/", "https://127.0.0.2/hook",
                                 "http://example.com:80/", "javascript:alert(1)", ""])
def test_the_local_stack_refuses_other_plain_http_and_private_addresses(http, clinic, url):
    r = subscribe(clinic, url=url)
    assert r.status == 400 and "url" in r.body["error"]["fields"], (url, r)


@pytest.mark.parametrize("body, field", [
    ({"url": LOCAL_URL, "events": []}, "events"), ({"url": LOCAL_URL, "events": ["payment.made"]}, "events.0"),
    ({"url": LOCAL_URL, "events": ["ping"]}, "events.0"), ({"url": LOCAL_URL, "events": ["*", "payment.recorded"]},
                                                           "events"),
    ({"url": LOCAL_URL, "events": "*"}, "events"), ({"url": LOCAL_URL}, "events"), ({"events": ["*"]}, "url"),
    ({"url": LOCAL_URL, "events": ["*"], "description": "d" * 201}, "description"),
    ({"url": LOCAL_URL, "events": ["*"], "secret": "mine"}, "secret"), ({"url": 42, "events": ["*"]}, "url"),
    ({"url": "http://127.0.0.1:9/" + "p" * 2040, "events": ["*"]}, "url")])
def test_a_bad_body_is_a_400_naming_its_field(http, clinic, body, field):
    r = clinic.owner.post("/webhooks", body)
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
    assert field in r.body["error"]["fields"], r


def test_a_clinic_has_at_most_16_webhooks(http, clinic):
    for _ in range(rules.MAX_WEBHOOKS_PER_CLINIC):
        made(clinic, events=["payment.recorded"])
    r = subscribe(clinic)
    assert r.status == 409 and r.body["error"]["code"] == "conflict", r


def test_the_consoles_event_choices_are_the_contracts_subscribable_types():
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "console" / "webhooks.js").read_text()
    listed = re.findall(r"'([a-z_]+\.[a-z_]+)'", source.split("const EVENTS = [", 1)[1].split("];", 1)[0])
    assert listed == [t for t in rules.EVENT_TYPES if t != "ping"]
