"""What the benchmarks share: settings that keep them on in-process moto, never a real AWS
account, and a spy on the DynamoDB calls PynamoDB makes."""

from __future__ import annotations

import os
import time

SETTINGS = {
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "FOLLOWUPS_TABLE": "followups-bench", "FOLLOWUPS_AUDIT_TABLE": "followups-audit-bench",
    "FOLLOWUPS_GATEWAY_AUTHORIZER": "off", "POWERTOOLS_LOG_LEVEL": "WARNING", "FOLLOWUPS_LOG_LEVEL": "WARNING",
}
# Any of these would send the AWS calls somewhere else than moto.
REAL_AWS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_COGNITO_IDP", "AWS_PROFILE")


def isolate(**overrides: str) -> None:
    """The benchmark's settings, before anything reads them (PynamoDB reads table names at import)."""
    os.environ.update({**SETTINGS, **overrides})
    for name in REAL_AWS:
        os.environ.pop(name, None)


class Spy:
    """Every DynamoDB call PynamoDB makes: operation, seconds inside botocore, items read."""

    def __init__(self):
        from pynamodb.connection.base import Connection  # noqa: PLC0415 - after isolate()

        self.calls: list[tuple[str, float, int]] = []
        self._connection = Connection
        self._original = Connection._make_api_call

    def __enter__(self):
        original = self._original

        def spy(conn, operation_name, operation_kwargs):
            start = time.perf_counter()
            data = original(conn, operation_name, operation_kwargs)
            elapsed = time.perf_counter() - start
            read = data.get("ScannedCount", 0) if "ScannedCount" in data else (1 if data.get("Item") else 0)
            self.calls.append((operation_name, elapsed, read))
            return data

        self._connection._make_api_call = spy
        return self

    def __exit__(self, *exc):
        self._connection._make_api_call = self._original


def timed_gets(http, path: str, headers: dict, reps: int) -> list[tuple[float, list, object]]:
    """`reps` GETs through the app: (seconds, the DynamoDB calls it made, the response) each."""
    samples = []
    for _ in range(reps):
        with Spy() as spy:
            start = time.perf_counter()
            response = http.get(path, headers=headers)
            total = time.perf_counter() - start
        assert response.status_code == 200, response.body
        samples.append((total, spy.calls, response))
    return samples
