"""Webhook delivery latency in the local stack's setup: change committed -> receiver has it.

Starts the embedded AWS exactly as `make run` does (moto server in a thread, tables, the table's
stream, the KMS key and the delivery queue), the local poller (devtools/webhook_poller.py) running
the delivery function's handler, and a receiver on 127.0.0.1 that verifies every signature. Then
writes events the way a service will (an audit record and the event in one transaction) and
measures, per event, the time from the commit returning to the receiver reading the request.

Usage: .venv/bin/python -m bench.webhook_latency [--events 100] [--burst 200] [--down-first 0]
Prints one JSON document: p50/p95/max in ms, the counts sent, received, lost and duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from datetime import UTC, datetime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rate(times: list[float]) -> float | None:
    """Deliveries per second over the burst: its events' first arrivals, first to last."""
    if len(times) < 2:
        return None
    return round((len(times) - 1) / (max(times) - min(times)), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100, help="events written one at a time, 0.1 s apart")
    parser.add_argument("--burst", type=int, default=200, help="events written back to back after those")
    parser.add_argument("--down-first", type=int, default=0, help="the receiver answers 503 to its first N requests")
    args = parser.parse_args()

    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "FOLLOWUPS_TABLE": "followups-bench-webhooks",
                       "FOLLOWUPS_AUDIT_TABLE": "followups-audit-bench-webhooks",
                       "POWERTOOLS_LOG_LEVEL": "ERROR", "FOLLOWUPS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_METRICS_NAMESPACE": "Followups"})
    from devtools import devstack

    server, endpoint = devstack.start_embedded_aws(_free_port())
    os.environ.update(devstack.aws_environment(endpoint))
    import warnings

    warnings.filterwarnings("ignore")
    from devtools import bootstrap

    bootstrap.create_tables()
    poller = devstack.start_webhook_delivery(endpoint)

    from chalicelib.adapters.kms import secret_box
    from chalicelib.domain.roles import OWNER, Caller
    from chalicelib.services import audit, events, webhooks
    from chalicelib.store.uow import UnitOfWork
    from tests.webhooks_support import Receiver

    owner = Caller(sub="11111111-2222-3333-4444-555555555555", clinic_id="cln_benchwebhooks01",
                   roles=frozenset({OWNER}))
    script = [503] * args.down_first + [200]
    committed: dict[str, float] = {}
    with Receiver(script) as receiver:
        created = webhooks.create(UnitOfWork(), owner, datetime.now(UTC), url=receiver.url, events_list=["*"],
                                  secret_box=secret_box())
        receiver.secret = created.secret

        def change(i: int) -> None:
            uow = UnitOfWork()
            now = datetime.now(UTC)
            entry = audit.record(uow, owner.clinic_id, owner.actor, "payment.recorded", now, details={})
            event = events.announce(uow, owner.clinic_id, "payment.recorded", source_id=entry.audit_id, at=now,
                                    data={"payment_id": f"pay_bench_{i:06d}", "amount_cents": 100 + i})
            uow.commit()
            committed[event.event_id] = time.monotonic()

        for i in range(args.events):
            change(i)
            time.sleep(0.1)
        for i in range(args.events, args.events + args.burst):
            change(i)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            delivered = {json.loads(r.body)["id"] for r in receiver.received} & set(committed)
            if len(delivered) == len(committed) and len(receiver.received) >= len(committed) + args.down_first:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        poller.stop()
    server.shutdown()

    first_seen: dict[str, float] = {}
    ok_seen: dict[str, float] = {}
    counts: dict[str, int] = {}
    for index, r in enumerate(receiver.received):
        event_id = json.loads(r.body)["id"]
        counts[event_id] = counts.get(event_id, 0) + 1
        first_seen.setdefault(event_id, r.at)
        if index >= args.down_first:
            ok_seen.setdefault(event_id, r.at)
    delays = sorted((first_seen[e] - committed[e]) * 1000 for e in committed if e in first_seen)
    quantiles = statistics.quantiles(delays, n=100) if len(delays) >= 2 else delays * 99
    ok_delays = sorted((ok_seen[e] - committed[e]) * 1000 for e in committed if e in ok_seen)
    ok_q = statistics.quantiles(ok_delays, n=100) if len(ok_delays) >= 2 else ok_delays * 99
    result = {
        "events": len(committed), "received_requests": len(receiver.received),
        "delivered_events": len(set(ok_seen) & set(committed)), "lost": len(set(committed) - set(ok_seen)),
        "events_sent_more_than_once": sum(1 for c in counts.values() if c > 1),
        "all_signatures_valid": all(receiver.verified),
        "first_request_ms": {"p50": round(quantiles[49], 1), "p95": round(quantiles[94], 1),
                             "max": round(delays[-1], 1) if delays else None},
        "delivered_ms": {"p50": round(ok_q[49], 1), "p95": round(ok_q[94], 1),
                         "max": round(ok_delays[-1], 1) if ok_delays else None},
        "poller_errors": poller.errors[:5],
        "burst_deliveries_per_s": _rate([first_seen[e] for e in list(committed)[args.events:] if e in first_seen]),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
