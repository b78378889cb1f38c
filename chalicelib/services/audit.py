"""Reading the audit trail: newest first, by clinic, patient or action, one Query per page.

Records are written only by `Unit.audit`, inside the transaction of the change they describe;
nothing here (or anywhere) updates or deletes them. Every sort key is `<at>#<audit_id>` on the
table and on both indexes, so "the next page" is `sort key < the last one shown`: the cursor
carries that one key (plus a fingerprint of the filters), never a partition key, so a cursor
cannot lead into another clinic's trail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from ..domain.clock import parse_iso_z, short_z
from ..domain.errors import ValidationError
from ..domain.ids import is_patient_id
from ..store import keys
from ..store.models import AuditRecord

ACTION = re.compile(r"^[a-z][a-z_]{0,40}\.[a-z][a-z_]{0,40}$")
SORT_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#aud_[0-9a-z]{6,40}$")
FILTERED_PAGE = 100  # items DynamoDB reads per page when the action is a filter on the patient's trail


def view(r: AuditRecord) -> dict:
    details = r.details.as_dict() if hasattr(r.details, "as_dict") else dict(r.details or {})
    return {"audit_id": r.audit_id, "at": short_z(parse_iso_z(r.at)), "actor": r.actor, "action": r.action,
            "patient_id": r.patient_id, "details": details}


def _fingerprint(patient_id: str | None, action: str | None) -> str:
    return hashlib.sha256(json.dumps([patient_id, action]).encode()).hexdigest()[:16]


def encode_cursor(sort_key: str, patient_id: str | None, action: str | None) -> str:
    raw = json.dumps({"v": 1, "before": sort_key, "f": _fingerprint(patient_id, action)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, patient_id: str | None, action: str | None) -> str:
    """The sort key to continue before; a cursor that is not ours, or is of another filter, is 400."""
    bad = ValidationError("cursor is not a cursor of this list", fields={"cursor": "use next_cursor as given"})
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 400:
        raise bad
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise bad from e
    if not isinstance(doc, dict) or doc.get("v") != 1 or not isinstance(doc.get("before"), str):
        raise bad
    if doc.get("f") != _fingerprint(patient_id, action):
        raise ValidationError("cursor belongs to a list with other filters",
                              fields={"cursor": "was made for other patient_id/action filters"})
    if not SORT_KEY.match(doc["before"]):
        raise bad
    return doc["before"]


def search(clinic_id: str, *, patient_id: str | None = None, action: str | None = None, limit: int = 25,
           cursor: str | None = None) -> dict:
    """Newest first. Patient and action together: the patient's trail, filtered on the action,
    read page after page until `limit` items are found or the trail ends."""
    if patient_id is not None and not is_patient_id(patient_id):
        raise ValidationError("patient_id is not a patient id", fields={"patient_id": "not a patient id"})
    if action is not None and not ACTION.match(action):
        raise ValidationError("action is not an action name", fields={"action": "like writeoff.recorded"})
    before = decode_cursor(cursor, patient_id, action) if cursor is not None else None
    filter_condition = None
    if patient_id is not None:
        source, sort_attr = AuditRecord.by_patient, AuditRecord.ap_sk
        hash_key = keys.audit_patient_pk(clinic_id, patient_id)
        if action is not None:
            filter_condition = AuditRecord.action == action
    elif action is not None:
        source, sort_attr = AuditRecord.by_action, AuditRecord.aa_sk
        hash_key = keys.audit_action_pk(clinic_id, action)
    else:
        source, sort_attr = AuditRecord, AuditRecord.sk
        hash_key = keys.clinic_pk(clinic_id)
    results = source.query(
        hash_key, range_key_condition=(sort_attr < before) if before is not None else None,
        filter_condition=filter_condition, scan_index_forward=False,
        # One more than a page tells whether there is a next page without a second round trip.
        page_size=FILTERED_PAGE if filter_condition is not None else limit + 1)
    found: list[AuditRecord] = []
    for record in results:
        found.append(record)
        if len(found) > limit:
            break
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].sk, patient_id, action) if len(found) > limit else None
    return {"items": [view(r) for r in page], "next_cursor": next_cursor}
