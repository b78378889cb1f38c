"""Opaque ids. A patient's child ids carry the patient's id, so one GetItem finds them.

`inv_<patient>_<rand>` belongs to patient `pat_<patient>`; plan invoices are deterministic,
`inv_<patient>_<plan>-<n>`, which is what makes auto-invoicing exactly-once.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_RAND = re.compile(r"^[0-9a-hjkmnp-tv-z]{6,40}$")
CHILD_PREFIXES = ("inv", "pay", "att", "cb", "plan", "prom", "ent", "rev", "adj", "hold")


def _rand(n: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def new_clinic_id() -> str:
    return "cln_" + _rand()


def new_patient_id() -> str:
    return "pat_" + _rand()


def new_id(prefix: str) -> str:
    return f"{prefix}_{_rand()}"


def new_child_id(prefix: str, patient_id: str, at: datetime | None = None) -> str:
    """A new id inside the patient's id space. With `at`, the id starts with the instant (in
    milliseconds, base32), so ids sort as they were made: a patient's attempts, callbacks and
    payments are then read newest first as a key range, a page at a time."""
    if prefix not in CHILD_PREFIXES:
        raise ValueError(f"{prefix!r} is not a patient's child id prefix")
    tail = _rand(12) if at is None else _time_ordered(at)
    return f"{prefix}_{patient_id[4:]}_{tail}"


def _base32(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, rest = divmod(n, 32)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


_last = {"time": "", "counter": 0}
_last_lock = threading.Lock()


def _time_ordered(at: datetime) -> str:
    """Ten base32 digits of the Unix time in ms (so a later id sorts after, until 2527), then
    eight of a counter that starts at random each millisecond and counts up within it (as ULID's
    monotonic mode does), so ids made in one millisecond by one process sort in the order made."""
    time_part = _base32(max(0, int(at.timestamp() * 1000)), 10)
    with _last_lock:
        if time_part == _last["time"] and _last["counter"] < 32**8 - 1:
            _last["counter"] += 1
        else:
            _last["time"], _last["counter"] = time_part, secrets.randbelow(32**8 // 2)
        return time_part + _base32(_last["counter"], 8)


def installment_invoice_id(plan_id: str, number: int) -> str:
    """Business rule: one installment has one invoice id, forever."""
    _, patient_part, plan_part = plan_id.split("_", 2)
    return f"inv_{patient_part}_{plan_part}-{number:03d}"


def is_patient_id(value: str) -> bool:
    return isinstance(value, str) and value.startswith("pat_") and bool(_RAND.match(value[4:]))


def is_clinic_id(value: str) -> bool:
    return isinstance(value, str) and value.startswith("cln_") and bool(_RAND.match(value[4:]))


def patient_of(child_id: str, prefix: str) -> str | None:
    """The patient id inside a child id, or None when the id is not of that shape."""
    if not isinstance(child_id, str) or not child_id.startswith(prefix + "_"):
        return None
    parts = child_id.split("_")
    if len(parts) != 3 or not _RAND.match(parts[1]):
        return None
    tail = parts[2]
    if not _RAND.match(tail.split("-", 1)[0]) or len(tail) > 60:
        return None
    return "pat_" + parts[1]
