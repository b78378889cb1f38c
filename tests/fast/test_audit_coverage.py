"""Every mutation route writes its audit record, read back through the audit repository (on the
memory store): one record, its actor, patient and instant, listed by patient and action, and no
free text copied in; a refused mutation writes none.

tests/audit_support.py's CASES name, for each mutation route of the contract, the request that
exercises it and the action it must write; `test_every_mutation_route_is_in_the_table` fails until
a new route has its row. That the stored records carry the audit indexes' keys is
tests/api/test_audit_coverage.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.wiring import api_routes
from chalicelib.domain import clock
from tests.audit_support import CASES, NOT_AUDITED, SECRET_TEXT
from tests.fast.support import audit_entries, make_clinic


def test_every_mutation_route_is_in_the_table():
    mutations = {(s.method, s.path) for s in api_routes() if s.method != "GET"}
    covered = {(c.method, c.path) for c in CASES} | set(NOT_AUDITED)
    assert mutations <= covered, f"mutation routes without an audit check: {sorted(mutations - covered)}"


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_each_mutation_writes_one_audit_record_in_the_audit_table(http, case):
    world = make_clinic(http)
    before = {r.audit_id for r in audit_entries(world.clinic_id)}
    started = datetime.now(UTC) - timedelta(seconds=1)
    response, patient_id = case.run(world)
    assert response.status == case.status, response
    after = audit_entries(world.clinic_id)
    new = [r for r in after if r.audit_id not in before and r.action == case.action]
    assert len(new) == 1, [r.action for r in after if r.audit_id not in before]
    record = new[0]
    actor_role = {"staff.created": "admin", "patient.created": "billing", "invoice.created": "billing",
                  "payment.recorded": "billing", "attempt.logged": "billing", "callback.scheduled": "billing",
                  "callback.updated": "billing", "calendar.feed_issued": "billing",
                  "calendar.feed_revoked": "billing", "plan.created": "billing",
                  "plan.invoiced": "billing"}.get(case.action, "owner")
    assert record.actor == world.sub(actor_role)
    assert record.patient_id == patient_id
    assert started <= record.at <= datetime.now(UTC)
    # The audit list finds it by patient and action (the keys of the indexes it reads in DynamoDB
    # are tests/api/test_audit_coverage.py).
    if patient_id:
        listed = world.owner.get(f"/audit?patient_id={patient_id}&action={case.action}").body["items"]
        assert [i["audit_id"] for i in listed] == [record.audit_id]
    # Ids and amounts only: no names, phones, emails, descriptions or notes copied in.
    details = str(record.details)
    for text in (SECRET_TEXT, SECRET_TEXT.lower(), "555 0100", "@mail.test"):
        assert text not in details, (case.action, details)


def test_a_refused_mutation_writes_no_audit_record(http):
    world = make_clinic(http)
    pid = world.patient()
    before = len(audit_entries(world.clinic_id))
    refused = [
        world.billing.post(f"/follow-ups/{pid}/write-off", {"reason": "no permission"}),  # 403
        world.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "nothing owed"}),  # 409
        world.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "x"}),  # 400
        world.owner.post("/delegations", {"grantee_sub": "nobody", "permission": "write_off",
                                          "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=1))}),
        world.owner.delete("/delegations/dlg_0000000000000000"),  # 404
        world.billing.post("/invoices", {"patient_id": pid, "amount_cents": 0, "invoice_date": "2020-01-01"}),
    ]
    assert [r.status for r in refused] == [403, 409, 400, 400, 404, 400]
    assert len(audit_entries(world.clinic_id)) == before
