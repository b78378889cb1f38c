"""The local stack's outbox: what AWS would send by email or SMS (Cognito's invitations and
password-reset codes now; patient messages later), appended as one JSON object a line
(`{"at","channel","to","subject"?,"body","kind"}`, API.md "The local stack") to the file the stack
file names as `outbox_file`, so a person or a test can read it. Nothing on AWS writes here: the
deployed pool sends its own mail."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

CHANNELS = ("email", "sms")
_lock = threading.Lock()


def append(path: str | os.PathLike, *, channel: str, to: str, body: str, kind: str, subject: str | None = None,
           at: datetime | None = None) -> dict:
    """Append one message (whole lines only, so a reader never sees half a message)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}")
    message = {"at": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"), "channel": channel, "to": to}
    if subject is not None:
        message["subject"] = subject
    message.update(body=body, kind=kind)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(message, ensure_ascii=False) + "\n"
    with _lock, target.open("a", encoding="utf-8") as f:
        f.write(line)
    return message


def read(path: str | os.PathLike) -> list[dict]:
    """Every message in the outbox, oldest first (none when there is no file yet)."""
    target = Path(path)
    if not target.exists():
        return []
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line.strip()]
