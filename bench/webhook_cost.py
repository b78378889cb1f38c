"""The webhook pipeline's cost per million, from its calls (docs/webhooks.md) and list prices.

Usage: .venv/bin/python -m bench.webhook_cost
Prints the markdown table of BENCHMARKS.md ("Webhooks: cost per million"). The calls per event
are the code's (counted by tests/deploy/test_webhooks_template.py's recorder: fan-out = 1 Query +
1 SendMessageBatch; a try = 1 GetItem + 1 PutItem (+ 1 SendMessageBatch when it fails), KMS
Decrypt only on a cache miss); item sizes from store/webhooks.py's records (event 520 B,
delivery row ~450 B, message ~600 B). Durations are estimates (AWS call latencies as in
bench/cost_model.py, plus the receiver's own answer time), not measured on Lambda.
"""

from __future__ import annotations

# us-east-1 list prices (re-check on the AWS pricing pages, as for bench/cost_model.py)
LAMBDA_REQUEST = 0.20 / 1e6
LAMBDA_GB_SECOND = 0.0000166667
WRU, RRU = 0.625 / 1e6, 0.125 / 1e6
SQS_REQUEST = 0.40 / 1e6
KMS_REQUEST = 0.03 / 1e4
LOG_GB = 0.50
MEMORY_GB = 0.25  # the delivery function's 256 MB


def lambda_cost(invocations: float, seconds: float) -> float:
    return invocations * (LAMBDA_REQUEST + MEMORY_GB * seconds * LAMBDA_GB_SECOND)


def rows() -> list[tuple[str, dict[str, float], str]]:
    m = 1e6
    found = []
    # The change itself: one more item (520 B -> 1 KB) in its transaction: 2 WRU, no index entry.
    found.append(("a change writes its event (in its own transaction)", {"DynamoDB": 2 * WRU * m},
                  "+1 item in the TransactWriteItems it already sends: 2 WRU, 0 calls"))
    for label, per_stream_batch, per_queue_batch, receiver_s in (
            ("delivery, quiet traffic (1 event per batch), receiver answers in 100 ms", 1, 1, 0.1),
            ("delivery, busy traffic (full batches: 100 stream records, 10 tries)", 100, 10, 0.1)):
        fan_out = lambda_cost(m / per_stream_batch, 0.02)
        query = 0.5 * RRU * m * min(1.0, 5 / per_stream_batch) if per_stream_batch > 1 else 0.5 * RRU * m
        send = SQS_REQUEST * m / min(10, per_stream_batch)
        receive_delete = 2 * SQS_REQUEST * m / per_queue_batch
        tries = lambda_cost(m / per_queue_batch, receiver_s + 0.015)
        get_put = (1 * RRU + 1 * WRU) * m
        kms = 8640 * KMS_REQUEST  # one Decrypt per webhook and warm container every 5 minutes, a month
        logs = m * 1.4e3 / 1e9 * LOG_GB / (1 if per_queue_batch == 1 else 2)
        found.append((label, {"Lambda": fan_out + tries, "SQS": send + receive_delete, "DynamoDB": query + get_put,
                              "KMS": kms, "Logs": logs},
                      f"stream invocations {m / per_stream_batch:,.0f}, try invocations {m / per_queue_batch:,.0f}, "
                      f"SQS requests {(send + receive_delete) / SQS_REQUEST:,.0f}, 1 GetItem + 1 PutItem per try"))
    fail_fast = {"Lambda": lambda_cost(m, 0.03), "SQS": 3 * SQS_REQUEST * m, "DynamoDB": (RRU + WRU) * m}
    found.append(("a failed try, receiver answers 5xx at once", fail_fast, "try + the next try's message"))
    fail_slow = {"Lambda": lambda_cost(m, 10.02), "SQS": 3 * SQS_REQUEST * m, "DynamoDB": (RRU + WRU) * m}
    found.append(("a failed try, receiver never answers (10 s timeout)", fail_slow, "the 10 s are the cost"))
    hop = {"Lambda": lambda_cost(m, 0.01), "SQS": 3 * SQS_REQUEST * m}
    found.append(("a re-queue hop (a delay longer than SQS's 900 s)", hop,
                  "89 hops for a delivery that fails all 11 tries"))
    found.append(("KMS Decrypt without the cache (worst case, per try)", {"KMS": KMS_REQUEST * m}, "$0.03 / 10,000"))
    return found


def markdown() -> str:
    lines = ["| Per million | Lambda | SQS | DynamoDB | KMS | Logs | $ total | Arithmetic |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, parts, note in rows():
        cells = [f"{parts.get(k, 0):.2f}" for k in ("Lambda", "SQS", "DynamoDB", "KMS", "Logs")]
        lines.append(f"| {label} | {' | '.join(cells)} | {sum(parts.values()):.2f} | {note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
