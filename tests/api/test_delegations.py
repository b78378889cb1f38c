"""Where a write_off grant is stored: under the clinic's partition, with its audit record on the
by-action index.

In the moto tier because the stored item and its keys are the point; granting, using, expiring
and revoking a grant is tests/fast/test_delegations.py.
"""

from __future__ import annotations

import pytest

from chalicelib.store import keys
from chalicelib.store.models import AuditRecord, DelegationRecord
from tests.delegations_support import grant
from tests.support import make_clinic


@pytest.fixture
def world(http):
    return make_clinic(http, extra_staff=(("delegate", "BillingStaff"),))




def latest_audit(world, action: str) -> AuditRecord:
    return next(iter(AuditRecord.by_action.query(keys.audit_action_pk(world.clinic_id, action),
                                                 scan_index_forward=False, limit=1)))


def test_the_grant_is_stored_under_the_clinic_and_audited(world):
    r = grant(world)
    record = DelegationRecord.get(keys.clinic_pk(world.clinic_id), keys.delegation_sk(r.body["delegation_id"]))
    assert (record.grantee_sub, record.permission, record.revoked_at) == (world.sub("delegate"), "write_off", None)
    audit = latest_audit(world, "delegation.granted")
    assert (audit.actor, audit.patient_id) == (world.sub("owner"), None)
    assert audit.details.as_dict() == {"delegation_id": r.body["delegation_id"], "grantee_sub": world.sub("delegate"),
                                       "permission": "write_off", "expires_at": record.expires_at_iso}
