"""Opaque ids. A patient's child ids carry the patient's id, so one GetItem finds them.

`inv_<patient>_<rand>` belongs to patient `pat_<patient>`; plan invoices are deterministic,
`inv_<patient>_<plan>-<n>`, which is what makes auto-invoicing exactly-once.
"""

from __future__ import annotations

import re
import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_RAND = re.compile(r"^[0-9a-hjkmnp-tv-z]{6,40}$")
CHILD_PREFIXES = ("inv", "pay", "att", "cb", "plan", "prom", "ent")


def _rand(n: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def new_clinic_id() -> str:
    return "cln_" + _rand()


def new_patient_id() -> str:
    return "pat_" + _rand()


def new_id(prefix: str) -> str:
    return f"{prefix}_{_rand()}"


def new_child_id(prefix: str, patient_id: str) -> str:
    if prefix not in CHILD_PREFIXES:
        raise ValueError(f"{prefix!r} is not a patient's child id prefix")
    return f"{prefix}_{patient_id[4:]}_{_rand(12)}"


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
