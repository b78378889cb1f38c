"""What the webhook tests share: a sealed-box stand-in for KMS, a resolver table, a queue in memory,
a receiver on 127.0.0.1 that checks signatures, and a scan of events for personal data."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.domain import webhooks as rules


class FakeSecretBox:
    """KMS's contract: what was sealed for (clinic, webhook) opens only for that pair."""

    def __init__(self):
        self.opened = 0

    def seal(self, secret: str, clinic_id: str, webhook_id: str) -> bytes:
        tag = hashlib.sha256(f"{clinic_id}|{webhook_id}".encode()).hexdigest()[:16]
        return f"sealed:{tag}:".encode() + secret.encode()[::-1]

    def open(self, ciphertext: bytes, clinic_id: str, webhook_id: str) -> str:
        tag = hashlib.sha256(f"{clinic_id}|{webhook_id}".encode()).hexdigest()[:16]
        prefix = f"sealed:{tag}:".encode()
        if not ciphertext.startswith(prefix):
            raise PermissionError("InvalidCiphertextException: wrong encryption context")
        self.opened += 1
        return ciphertext[len(prefix):][::-1].decode()


class Resolver:
    """A DNS in a dict; `answers[name]` may be changed between calls (rebinding)."""

    def __init__(self, answers: dict[str, list[str]] | None = None):
        self.answers = dict(answers or {})
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.answers:
            return list(self.answers[host])
        try:
            import ipaddress

            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            return []


@dataclass
class MemoryQueue:
    """The delivery queue: (body, delay) pairs as they were sent."""

    sent: list[tuple[dict, int]] = field(default_factory=list)

    def send(self, messages):
        self.sent.extend((json.loads(json.dumps(body)), delay) for body, delay in messages)

    def take(self) -> list[tuple[dict, int]]:
        taken, self.sent = self.sent, []
        return taken


def sqs_records(bodies: list[dict]) -> list[dict]:
    return [{"eventSource": "aws:sqs", "messageId": f"m{i}", "body": json.dumps(b)} for i, b in enumerate(bodies)]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """An HTTP receiver on 127.0.0.1 in a thread. `script` is a list of behaviours used one per
    request (then the last one forever): an int status, ("slow", seconds), ("redirect", url),
    ("huge", n bytes), ("trickle", seconds)."""

    def __init__(self, script=None, secret: str | None = None):
        self.script = list(script or [200])
        self.secret = secret
        self.received: list[Received] = []
        self.verified: list[bool] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), raw, time.monotonic()))
                    if receiver.secret is not None:
                        header = self.headers.get("Followups-Signature", "")
                        receiver.verified.append(rules.verify(receiver.secret, header, raw, now=int(time.time())))
                    step = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                receiver._behave(self, step)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _behave(handler, step):
        try:
            if isinstance(step, int):
                handler.send_response(step)
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"ok")
            elif step[0] == "slow":
                time.sleep(step[1])
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
            elif step[0] == "redirect":
                handler.send_response(302)
                handler.send_header("Location", step[1])
                handler.send_header("Content-Length", "0")
                handler.end_headers()
            elif step[0] == "huge":
                handler.send_response(200)
                handler.send_header("Content-Length", str(step[1]))
                handler.end_headers()
                chunk = b"y" * 65536
                left = step[1]
                while left > 0:
                    handler.wfile.write(chunk[:left])
                    left -= len(chunk)
            elif step[0] == "trickle":
                handler.send_response(200)
                handler.send_header("Content-Length", "1000")
                handler.end_headers()
                end = time.monotonic() + step[1]
                while time.monotonic() < end:
                    handler.wfile.write(b"z")
                    handler.wfile.flush()
                    time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def personal_strings_in_events(events, strings: list[str]) -> list[tuple[str, str]]:
    """(event id, string) for every scenario string (a name, phone, email, note) found in an
    event's stored JSON: the scan issue 16's tests run over every event type they make."""
    found = []
    for event in events:
        text = json.dumps(rules.envelope(event)).lower()
        found += [(event.event_id, s) for s in strings if s.lower() in text]
    return found
