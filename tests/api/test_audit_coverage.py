"""Every mutation route's audit record, read back from the audit table itself, carries the keys of
the by-action and by-patient indexes, and each index finds it.

In the moto tier because the stored item's index keys and the index Queries are the point; that
each mutation writes one record with its actor, patient and instant, and copies no free text, is
tests/fast/test_audit_coverage.py (tests/audit_support.py's CASES drive both).
"""

from __future__ import annotations

from chalicelib.store import keys
from chalicelib.store.models import AuditRecord
from tests.audit_support import CASES
from tests.support import make_clinic


def test_every_mutations_audit_record_is_on_the_action_and_patient_indexes(http):
    world = make_clinic(http)
    # One clinic for every case (a clinic per case is the fast tier's); changing the clinic's time
    # zone goes last, as the other cases date their requests in the clinic's first zone.
    for case in sorted(CASES, key=lambda c: c.action == "clinic.updated"):
        before = {r.audit_id for r in AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True)}
        response, patient_id = case.run(world)
        assert response.status == case.status, (case.action, response)
        [record] = [r for r in AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True)
                    if r.audit_id not in before and r.action == case.action]
        assert record.aa_pk == keys.audit_action_pk(world.clinic_id, case.action), case.action
        by_action = {r.audit_id for r in AuditRecord.by_action.query(record.aa_pk)}
        assert record.audit_id in by_action, case.action
        if patient_id:
            assert record.ap_pk == keys.audit_patient_pk(world.clinic_id, patient_id), case.action
            by_patient = {r.audit_id for r in AuditRecord.by_patient.query(record.ap_pk)}
            assert record.audit_id in by_patient, case.action
        else:
            assert record.ap_pk is None, case.action  # sparse: only patients' records are on it
