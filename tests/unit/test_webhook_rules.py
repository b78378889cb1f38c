"""Webhooks' pure rules: event ids, what data may carry, signatures, the retry schedule, URLs and addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import webhooks as w
from chalicelib.domain.errors import ValidationError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLINIC = "cln_0123456789abcdef"


# ----- events --------------------------------------------------------------------------------------
def test_the_event_types_are_exactly_the_contracts():
    assert w.EVENT_TYPES == (
        "invoice.created", "invoice.voided", "invoice.adjusted", "payment.recorded", "payment.reversed",
        "follow_up.closed", "plan.created", "plan.invoiced", "plan.completed", "plan.cancelled", "promise.broken",
        "writeoff.recorded", "hold.placed", "hold.released", "attempt.logged", "callback.scheduled", "ping")


def test_an_event_id_is_the_same_for_the_same_change_and_differs_between_changes_and_types():
    a = w.event_id("payment.recorded", "aud_abc123def456")
    assert a == w.event_id("payment.recorded", "aud_abc123def456")
    assert a.startswith("evt_") and len(a) == 30
    assert a != w.event_id("payment.recorded", "aud_abc123def457")
    assert a != w.event_id("follow_up.closed", "aud_abc123def456")
    assert w.event_id("plan.invoiced", "aud_x", "inv_1") != w.event_id("plan.invoiced", "aud_x", "inv_2")


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError):
        w.event_id("payment.deleted", "aud_1")


def test_the_envelope_is_the_contracts_and_its_body_is_compact_json():
    event = w.new_event("payment.recorded", source_id="aud_1", clinic_id=CLINIC, at=NOW,
                        data={"payment_id": "pay_abc_def123", "amount_cents": 500})
    body = json.loads(w.body(event))
    assert set(body) == {"id", "type", "created_at", "clinic_id", "data"}
    assert body["created_at"] == "2026-12-01T12:00:00.000000Z" and body["clinic_id"] == CLINIC
    assert b" " not in w.body(event)


# ----- what data may carry ---------------------------------------------------------------------------
EXAMPLES = {  # one realistic `data` per type, as docs/webhooks.md plans them
    "invoice.created": {"invoice_id": "inv_p1234_abcd", "patient_id": "pat_p1234abcd", "amount_cents": 12000,
                        "balance_cents": 12000, "invoice_date": "2026-11-30", "source": "manual", "status": "open"},
    "payment.recorded": {"payment_id": "pay_p1234_abcd", "patient_id": "pat_p1234abcd", "amount_cents": 500,
                         "balance_cents": 11500, "received_at": "2026-12-01T10:00:00.000000Z",
                         "follow_up_status": "open", "method": "card", "invoice_ids": ["inv_p1234_abcd"]},
    "hold.placed": {"hold_id": "hold_abcd1234", "patient_id": "pat_p1234abcd", "reason": "insurance_pending",
                    "until": "2027-01-15"},
    "attempt.logged": {"attempt_id": "att_p1234_abcd", "patient_id": "pat_p1234abcd", "channel": "phone",
                       "outcome": "no_answer", "at": "2026-12-01T10:00:00.000000Z",
                       "by": "8d3b3c1e-8f0a-4c77-9a51-0f0c3e1b2a44"},
    "ping": {"webhook_id": "wh_abcd1234abcd"},
}


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_ids_amounts_dates_and_statuses_pass(event_type):
    w.check_data(EXAMPLES[event_type])


SCENARIO_STRINGS = ["Maria Papadopoulou", "+30 210 555 0101", "maria@example.test", "said she'd pay Friday",
                    "Ms. O'Brien", "555-0101"]


@pytest.mark.parametrize("leak", SCENARIO_STRINGS)
@pytest.mark.parametrize("key", sorted(w.ALLOWED_KEYS))
def test_no_name_phone_email_or_note_passes_under_any_allowed_key(key, leak):
    with pytest.raises(ValueError):
        w.check_data({key: leak})


@pytest.mark.parametrize("key", ["name", "patient_name", "phone", "email", "notes", "note", "description",
                                 "reason_text", "override_reason"])
def test_keys_that_carry_people_or_words_are_not_on_the_list(key):
    with pytest.raises(ValueError):
        w.check_data({key: "x"})


def test_an_event_with_bad_data_cannot_be_made():
    with pytest.raises(ValueError):
        w.new_event("attempt.logged", source_id="aud_1", clinic_id=CLINIC, at=NOW, data={"notes": "call back"})


# ----- signatures ------------------------------------------------------------------------------------
def test_the_signature_is_hmac_sha256_of_t_dot_body_keyed_with_the_secret():
    import hashlib
    import hmac

    header = w.sign("whsec_test", 1764590400, b'{"a":1}')
    expected = hmac.new(b"whsec_test", b'1764590400.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1764590400,v1={expected}"


def test_a_receiver_accepts_a_fresh_signature_and_refuses_a_stale_a_forged_or_a_changed_one():
    raw = b'{"id":"evt_1"}'
    header = w.sign("whsec_s", 1000, raw)
    assert w.verify("whsec_s", header, raw, now=1000 + 299)
    assert not w.verify("whsec_s", header, raw, now=1000 + 301)
    assert not w.verify("whsec_other", header, raw, now=1000)
    assert not w.verify("whsec_s", header, raw + b" ", now=1000)
    assert not w.verify("whsec_s", "v1=abc", raw, now=1000)
    assert not w.verify("whsec_s", "", raw, now=1000)


# ----- the retry schedule ----------------------------------------------------------------------------
def test_the_first_retry_comes_within_60_seconds_and_the_delays_grow():
    first = NOW
    due = [w.next_attempt_at(first, n) for n in range(1, w.MAX_TRIES)]
    assert due[0] - first <= timedelta(seconds=60)
    gaps = [b - a for a, b in zip([first, *due], due, strict=False)]
    assert all(later >= earlier for earlier, later in zip(gaps, gaps[1:-1], strict=False))


def test_tries_cover_24_hours_and_none_comes_after():
    assert w.next_attempt_at(NOW, w.MAX_TRIES - 1) == NOW + timedelta(hours=24)
    assert w.next_attempt_at(NOW, w.MAX_TRIES) is None
    assert all(w.next_attempt_at(NOW, n) <= NOW + timedelta(hours=24) for n in range(1, w.MAX_TRIES))


def _delivery():
    return w.Delivery("wh_abcd1234", "evt_x", "payment.recorded", NOW)


def test_a_2xx_delivers_and_anything_else_schedules_the_next_try():
    done = w.after_try(_delivery(), NOW, 204, "")
    assert (done.status, done.attempts, done.delivered_at, done.next_attempt_at) == (w.DELIVERED, 1, NOW, None)
    for outcome in (500, 302, 404, "timeout", "refused_address"):
        again = w.after_try(_delivery(), NOW, outcome, None)
        assert (again.status, again.next_attempt_at) == (w.RETRYING, NOW + timedelta(seconds=30))


def test_the_delivery_fails_after_the_last_try():
    d = _delivery()
    for n in range(w.MAX_TRIES):
        d = w.after_try(d, w.next_attempt_at(NOW, n) if n else NOW, 500, None)
    assert (d.status, d.attempts, d.next_attempt_at) == (w.FAILED, w.MAX_TRIES, None)


# ----- URLs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["https://hooks.example.com/in", "https://93.184.216.34/x?y=1",
                                 "https://hooks.example.com:8443/"])
def test_deployed_stages_take_public_https_urls(url):
    assert w.parse_url(url, w.DEPLOYED).scheme == "https"


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/in", "http://127.0.0.1:9000/", "http://localhost:9000/", "https://127.0.0.1/",
    "https://localhost/", "https://10.0.0.5/", "https://169.254.169.254/latest/meta-data/", "https://[::1]/",
    "https://[::ffff:127.0.0.1]/", "https://[fd00:ec2::254]/", "https://0.0.0.0/", "ftp://hooks.example.com/",
    "https://user:pw@hooks.example.com/", "https://hooks.example.com/#frag", "hooks.example.com", "",
    "https://a.localhost/", "https://192.168.1.1/", "https://100.64.0.1/", "https://224.0.0.1/"])
def test_deployed_stages_refuse_http_loopback_private_link_local_and_odd_urls(url):
    with pytest.raises(ValidationError):
        w.parse_url(url, w.DEPLOYED)


def test_the_local_stack_also_takes_loopback_http_with_a_port():
    for url in ("http://127.0.0.1:9000/hook", "http://localhost:9000/"):
        target = w.parse_url(url, w.LOCAL)
        assert target.loopback_ok and target.scheme == "http"
    for url in ("http://127.0.0.1/", "http://10.0.0.5:80/", "http://hooks.example.com:80/", "https://10.0.0.5/"):
        with pytest.raises(ValidationError):
            w.parse_url(url, w.LOCAL)


# ----- addresses ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700::1111", True),
    ("127.0.0.1", False), ("127.255.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.0.1", False), ("169.254.169.254", False), ("169.254.169.253", False), ("0.0.0.0", False),
    ("100.64.0.1", False), ("224.0.0.251", False), ("255.255.255.255", False), ("192.0.2.10", False),
    ("240.0.0.1", False), ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False),
    ("fd00:ec2::254", False), ("ff02::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:169.254.169.254", False), ("::ffff:93.184.216.34", True), ("2002:7f00:1::", False),
    ("2002:a9fe:a9fe::", False), ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False),
    ("::127.0.0.1", False), ("2001::1", False), ("2001:db8::1", False)])
def test_only_public_unicast_addresses_are_allowed(address, public):
    assert w.public_address(address) is public


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public():
    target = w.parse_url("https://hooks.example.com/", w.DEPLOYED)
    assert w.vet_addresses(["93.184.216.34"], target) == ["93.184.216.34"]
    with pytest.raises(ValidationError):
        w.vet_addresses(["93.184.216.34", "127.0.0.1"], target)
    with pytest.raises(ValidationError):
        w.vet_addresses([], target)


def test_local_loopback_urls_may_connect_to_loopback_only():
    target = w.parse_url("http://localhost:9000/", w.LOCAL)
    assert w.vet_addresses(["127.0.0.1", "::1"], target)
    with pytest.raises(ValidationError):
        w.vet_addresses(["93.184.216.34"], target)


def test_a_subscription_gets_its_types_everything_with_a_star_and_a_ping_only_if_it_is_its_own():
    event = w.new_event("payment.recorded", source_id="aud_1", clinic_id=CLINIC, at=NOW, data={})
    ping = w.new_event("ping", source_id="png_1", clinic_id=CLINIC, at=NOW, data={}, webhook_id="wh_a")
    assert w.subscribed(["payment.recorded"], event, "wh_a") and w.subscribed(["*"], event, "wh_a")
    assert not w.subscribed(["invoice.created"], event, "wh_a")
    assert w.subscribed(["invoice.created"], ping, "wh_a") and not w.subscribed(["*"], ping, "wh_b")


def test_the_events_list_takes_known_types_or_a_star():
    assert w.check_events_list(["*"]) == ["*"]
    assert w.check_events_list(["payment.recorded", "invoice.created", "payment.recorded"]) == [
        "invoice.created", "payment.recorded"]
    for bad in ([], ["payment.deleted"], ["ping"], "payment.recorded", None):
        with pytest.raises(ValidationError):
            w.check_events_list(bad)


def test_an_excerpt_keeps_at_most_256_bytes():
    assert len(w.excerpt(b"x" * 10_000).encode()) == 256
