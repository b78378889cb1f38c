"""One try over real sockets to a receiver on 127.0.0.1: status handling, the one deadline, the
capped excerpt, no redirects, DNS rebinding refused, the connection pinned to the vetted address
with the Host header and TLS name kept. (No AWS: this is about the socket, not DynamoDB.)"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time

import pytest

from chalicelib.adapters import sender
from chalicelib.domain import webhooks as rules
from tests.webhooks_support import Receiver, Resolver

BODY = b'{"id":"evt_test"}'


def local(receiver: Receiver, host: str = "127.0.0.1") -> rules.Target:
    return rules.parse_url(f"http://{host}:{receiver.port}/hooks", rules.LOCAL)


def test_a_2xx_is_a_delivery_with_the_name_in_the_host_header():
    with Receiver([204]) as receiver:
        result = sender.post(local(receiver, "localhost"), {"Followups-Event-Id": "evt_test"}, BODY,
                             resolve=Resolver({"localhost": ["127.0.0.1"]}))
    assert result.outcome == 204 and result.address == "127.0.0.1"
    [got] = receiver.received
    assert got.headers["Host"] == f"localhost:{receiver.port}" and got.body == BODY
    assert got.headers["Followups-Event-Id"] == "evt_test" and got.headers["Content-Type"] == "application/json"


def test_a_slow_receiver_times_out_at_the_deadline():
    with Receiver([("slow", 3)]) as receiver:
        result = sender.post(local(receiver), {}, BODY, resolve=Resolver(), timeout=0.5)
    assert result.outcome == "timeout" and result.seconds < 1.5


def test_a_receiver_that_trickles_its_answer_is_cut_at_the_deadline_and_its_status_kept():
    with Receiver([("trickle", 4)]) as receiver:
        result = sender.post(local(receiver), {}, BODY, resolve=Resolver(), timeout=1.0)
    assert result.outcome == 200 and result.seconds < 2.0


def test_a_redirect_is_a_failed_try_and_is_not_followed():
    with Receiver([200]) as elsewhere, Receiver([("redirect", "placeholder")]) as receiver:
        receiver.script = [("redirect", elsewhere.url)]
        result = sender.post(local(receiver), {}, BODY, resolve=Resolver())
    assert result.outcome == 302 and elsewhere.received == []
    assert rules.after_try(rules.Delivery("wh_a", "evt_a", "ping", dt.datetime.now(dt.UTC)),
                           dt.datetime.now(dt.UTC), result.outcome, None).status == rules.RETRYING


def test_a_huge_answer_is_read_no_further_than_the_excerpt():
    with Receiver([("huge", 200_000_000)]) as receiver:
        started = time.monotonic()
        result = sender.post(local(receiver), {}, BODY, resolve=Resolver(), excerpt_bytes=256)
    assert result.outcome == 200 and len(result.excerpt.encode()) == 256
    assert time.monotonic() - started < 2.0, "200 MB were not read"


def test_a_name_that_rebinds_to_loopback_in_a_deployed_stage_is_refused_at_delivery():
    """Vetted at create (public address), then the name answers 127.0.0.1: the try connects nowhere."""
    resolver = Resolver({"rebind.example.com": ["93.184.216.34"]})
    with Receiver([200]) as receiver:
        target = rules.parse_url(f"https://rebind.example.com:{receiver.port}/hooks", rules.DEPLOYED)
        rules.vet_addresses(resolver(target.host, target.port), target)  # what create checked
        resolver.answers["rebind.example.com"] = ["127.0.0.1"]
        result = sender.post(target, {}, BODY, resolve=resolver)
    assert result.outcome == "refused_address" and result.address is None
    assert receiver.received == []


@pytest.mark.parametrize("answers", [["169.254.169.254"], ["::ffff:127.0.0.1"], ["10.0.0.8"], ["93.184.216.34", "::1"],
                                     ["0.0.0.0"], ["fd00:ec2::254"]])
def test_deployed_deliveries_never_connect_to_internal_addresses(answers):
    target = rules.parse_url("https://hooks.example.com/in", rules.DEPLOYED)
    result = sender.post(target, {}, BODY, resolve=Resolver({"hooks.example.com": answers}))
    assert result.outcome == "refused_address"


def test_the_name_is_resolved_once_per_try_and_the_vetted_address_is_the_one_connected():
    class Flipping(Resolver):
        def __call__(self, host, port):
            answer = super().__call__(host, port)
            self.answers[host] = ["10.9.9.9"]  # any later lookup would get an internal address
            return answer

    resolver = Flipping({"localhost": ["127.0.0.1"]})
    with Receiver([200]) as receiver:
        result = sender.post(local(receiver, "localhost"), {}, BODY, resolve=resolver)
    assert result.outcome == 200 and resolver.calls == ["localhost"] and result.address == "127.0.0.1"


def test_a_dead_receiver_is_a_connect_error_at_once():
    with Receiver([200]) as receiver:
        port = receiver.port
    target = rules.parse_url(f"http://127.0.0.1:{port}/", rules.LOCAL)
    result = sender.post(target, {}, BODY, resolve=Resolver(), timeout=2)
    assert result.outcome == "connect_error" and result.seconds < 1.5


# ----- TLS on a pinned address ---------------------------------------------------------------------------
def _certificate(tmp_path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize(("served_name", "expected"),
                         [("hooks.example.test", 200), ("other.example.test", "tls_error")])
def test_tls_checks_the_certificate_against_the_urls_name_not_the_pinned_address(tmp_path, served_name, expected):
    cert, key = _certificate(tmp_path, served_name)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    seen_sni = []
    server_context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    with Receiver([200]) as receiver:
        receiver.server.socket = server_context.wrap_socket(receiver.server.socket, server_side=True)
        client_context = ssl.create_default_context(cafile=str(cert))
        # What a public receiver looks like, pinned at an address we may reach in a test.
        target = rules.Target("https", "hooks.example.test", receiver.port, "/hooks", loopback_ok=True)
        result = sender.post(target, {}, BODY, resolve=Resolver({"hooks.example.test": ["127.0.0.1"]}),
                             ssl_context=client_context, timeout=3)
    assert result.outcome == expected
    assert seen_sni == ["hooks.example.test"]
    if expected == 200:
        assert receiver.received[0].headers["Host"] == f"hooks.example.test:{receiver.port}"


def test_two_tries_run_side_by_side_a_slow_receiver_does_not_hold_the_other():
    from concurrent.futures import ThreadPoolExecutor

    with Receiver([("slow", 2)]) as slow, Receiver([200]) as quick:
        done_at = {}

        def go(name, receiver):
            result = sender.post(local(receiver), {}, BODY, resolve=Resolver(), timeout=1)
            done_at[name] = time.monotonic()
            return result

        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.submit(go, "slow", slow), pool.submit(go, "quick", quick)
            assert (a.result().outcome, b.result().outcome) == ("timeout", 200)
    assert done_at["quick"] - started < 0.5 and threading.active_count() < 50
