"""The audit trail: append-only records in their own table, by clinic, by patient and by action.

Every sort key is `<at>#<audit_id>` on the table and on both indexes, so "newest first" is a
backwards Query and "the next page" is `sort key < the last one shown`. Records are only ever
created (with a condition) inside the transaction of the change they describe.
"""

from __future__ import annotations

from ..domain.audit import AuditEntry
from ..domain.clock import iso_z
from . import keys
from .mapping import t
from .models import AuditRecord
from .uow import Transaction

FILTERED_PAGE = 100  # items DynamoDB reads per page when the action is a filter on the patient's trail


def _entry(r: AuditRecord) -> AuditEntry:
    details = r.details.as_dict() if hasattr(r.details, "as_dict") else dict(r.details or {})
    return AuditEntry(r.audit_id, t(r.at), r.actor, r.action, r.patient_id, details)


class AuditRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def add(self, clinic_id: str, entry: AuditEntry) -> None:
        at = iso_z(entry.at)
        sort = keys.audit_sk(at, entry.audit_id)
        record = AuditRecord(
            keys.clinic_pk(clinic_id), sort, audit_id=entry.audit_id, at=at, actor=entry.actor, action=entry.action,
            patient_id=entry.patient_id, details=entry.details or {},
            aa_pk=keys.audit_action_pk(clinic_id, entry.action), aa_sk=sort,
            ap_pk=keys.audit_patient_pk(clinic_id, entry.patient_id) if entry.patient_id else None,
            ap_sk=sort if entry.patient_id else None)
        self._tx.create(record, label="audit")

    def search(self, clinic_id: str, *, patient_id: str | None, action: str | None, limit: int,
               before: AuditEntry | None) -> tuple[list[AuditEntry], bool]:
        """Newest first, strictly before `before`; (up to `limit` entries, whether there are more).
        Patient and action together: the patient's trail filtered on the action."""
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
        bound = keys.audit_sk(iso_z(before.at), before.audit_id) if before is not None else None
        results = source.query(
            hash_key, range_key_condition=(sort_attr < bound) if bound is not None else None,
            filter_condition=filter_condition, scan_index_forward=False,
            # One more than a page tells whether there is a next page without a second round trip.
            page_size=FILTERED_PAGE if filter_condition is not None else limit + 1)
        found: list[AuditEntry] = []
        for record in results:
            found.append(_entry(record))
            if len(found) > limit:
                break
        return found[:limit], len(found) > limit
