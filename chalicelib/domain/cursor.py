"""Opaque tokens: list cursors and feed tokens, as unpadded URL-safe base64 of a JSON document.

A cursor names where a list continues (a position, never a partition key), plus the list it
belongs to, so one list's cursor is refused by another. Anything that does not decode to what
the list expects is a 400."""

from __future__ import annotations

import base64
import binascii
import json

from .errors import ValidationError

MAX_LENGTH = 400


def encode(kind: str, position: list) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, field: str = "cursor") -> list:
    """The position a cursor of list `kind` continues after; anything else is a ValidationError."""
    bad = ValidationError(f"{field} is not a cursor this list returned", fields={field: "use next_cursor as given"})
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= MAX_LENGTH:
        raise bad
    try:
        doc = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise bad from e
    if not isinstance(doc, dict) or doc.get("k") != kind or not isinstance(doc.get("p"), list):
        raise bad
    return doc["p"]
