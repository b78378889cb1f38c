"""The local stack's outbox: one JSON object a line, in the contract's shape (API.md "The local stack")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib import outbox


def test_each_message_is_one_line_in_the_contracts_shape(tmp_path):
    path = tmp_path / "nested" / "outbox.jsonl"
    outbox.append(path, channel="email", to="nora@example.test", subject="You are invited", body="Line one\nline two",
                  kind="invitation", at=datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
    outbox.append(path, channel="sms", to="+15550100", body="Your code is 123456", kind="password_reset")
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first == {"at": "2026-12-01T23:00:00Z", "channel": "email", "to": "nora@example.test",
                     "subject": "You are invited", "body": "Line one\nline two", "kind": "invitation"}
    assert "subject" not in second and second["channel"] == "sms"
    assert outbox.read(path) == [first, second]


def test_a_channel_the_contract_does_not_name_is_refused(tmp_path):
    with pytest.raises(ValueError):
        outbox.append(tmp_path / "o.jsonl", channel="fax", to="x", body="y", kind="z")
    assert outbox.read(tmp_path / "o.jsonl") == []
