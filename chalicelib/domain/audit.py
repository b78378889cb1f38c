"""The audit trail's records, and the stored answer of an idempotent request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class AuditEntry:
    audit_id: str
    at: datetime
    actor: str
    action: str
    patient_id: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an Idempotency-Key, written in the transaction of the change itself."""

    request_sha256: str
    status_code: int
    body: dict
    created_at: datetime
    expires_at: datetime
