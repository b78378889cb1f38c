"""One try of one webhook delivery over HTTP(S), safe against the receiver and its DNS.

- The host is resolved once; every address is vetted (`domain.webhooks.vet_addresses`: public
  unicast only in deployed stages) and the connection goes to a vetted address itself, so a DNS
  answer that changes between the check and the connect (rebinding) cannot swap it. The Host
  header and TLS (SNI and the certificate check) use the URL's name.
- No redirect is followed (a 3xx is a failed try). The whole try, connect to last byte read, has
  one deadline (10 s): a watchdog shuts the socket when it passes, however slowly the receiver
  trickles bytes.
- At most `excerpt_bytes` of the answer are read; the connection is then closed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.errors import ValidationError
from ..domain.webhooks import Target, excerpt, vet_addresses

Resolver = Callable[[str, int], list[str]]
USER_AGENT = "Followups-Webhooks/1"


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses (an IP literal is its own), in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    seen: list[str] = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]
        if address not in seen:
            seen.append(address)
    return seen


@dataclass(frozen=True)
class TryResult:
    outcome: int | str  # the HTTP status, or `refused_address`, `timeout`, `connect_error`, `tls_error`, ...
    excerpt: str | None
    address: str | None  # the address connected to
    seconds: float


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket was connected (and, for https, wrapped) by us."""

    def __init__(self, host: str, port: int, sock: socket.socket, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self):  # never: the socket is given
        raise RuntimeError("a pinned connection does not connect by itself")


def _connect(addresses: list[str], port: int, deadline: float) -> tuple[socket.socket, str]:
    last: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed while connecting")
        try:
            return socket.create_connection((address, port), timeout=remaining), address
        except OSError as e:
            last = e
    raise last or OSError("no address to connect to")


def post(target: Target, headers: dict[str, str], body: bytes, *, resolve: Resolver = system_resolver,
         timeout: float = 10.0, excerpt_bytes: int = 256, ssl_context: ssl.SSLContext | None = None) -> TryResult:
    started = time.monotonic()
    deadline = started + timeout

    def done(outcome, text=None, address=None) -> TryResult:
        return TryResult(outcome, text, address, time.monotonic() - started)

    try:
        addresses = vet_addresses(resolve(target.host, target.port), target)
    except ValidationError as e:
        return done("unresolvable" if (e.fields or {}).get("url") == "unresolvable" else "refused_address")
    try:
        sock, address = _connect(addresses, target.port, deadline)
    except TimeoutError:
        return done("timeout")
    except OSError:
        return done("connect_error")
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        if target.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock = context.wrap_socket(sock, server_hostname=target.host)  # SNI + certificate for the name
        connection = _PinnedConnection(target.host, target.port, sock, timeout)
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        connection.request("POST", target.path, body=body, headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close"})
        response = connection.getresponse()
        try:  # the status is the answer; the excerpt is only what arrives before the deadline
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            raw = response.read(excerpt_bytes) if excerpt_bytes > 0 else b""
        except (OSError, http.client.HTTPException):
            raw = b""
        return done(response.status, excerpt(raw, excerpt_bytes), address)
    except ssl.SSLError:
        return done("tls_error", address=address)
    except TimeoutError:
        return done("timeout", address=address)
    except (OSError, http.client.HTTPException):
        return done("timeout" if time.monotonic() >= deadline else "connection_error", address=address)
    finally:
        watchdog.cancel()
        try:
            sock.close()
        except OSError:
            pass


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
