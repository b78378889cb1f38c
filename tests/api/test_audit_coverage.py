"""Every mutation route writes its audit record: read back from the audit table itself.

The table below names, for each mutation route of the contract present on this branch, the
request that exercises it and the action it must write. Routes added by other issues add their
row; `test_every_mutation_route_is_in_the_table` fails until they do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.wiring import api_routes
from chalicelib.domain import clock
from chalicelib.store import keys
from chalicelib.store.models import AuditRecord
from tests.support import make_clinic

SECRET_TEXT = "Zanzibar-Marmalade-7731"  # put in every free-text field; must never reach the audit


@dataclass
class Case:
    method: str
    path: str  # the route's template
    action: str
    run: object  # fn(world) -> (response, patient_id or None)
    status: int


def _today(world) -> str:
    return clock.local_date(datetime.now(UTC), world.timezone).isoformat()


def _owed(world) -> str:
    pid = world.patient(f"Patient {SECRET_TEXT}", phone="+1 555 0100", email=f"{SECRET_TEXT.lower()}@mail.test")
    world.invoice(pid, 5_000, _today(world), description=f"Service {SECRET_TEXT}")
    return pid


def _patch_clinic(w):
    return w.owner.patch("/clinic", {"name": f"Clinic {SECRET_TEXT}", "timezone": "Europe/Paris"}), None


def _create_staff(w):
    return w.admin.post("/staff", {"email": f"new-{secrets.token_hex(3)}@example.test", "name": SECRET_TEXT,
                                   "role": "BillingStaff"}), None


def _create_patient(w):
    r = w.billing.post("/patients", {"name": SECRET_TEXT, "phone": "+1 555 0100", "email": "x@mail.test"})
    return r, r.body["patient_id"]


def _create_invoice(w):
    pid = w.patient()
    r = w.billing.post("/invoices", {"patient_id": pid, "amount_cents": 1_234, "invoice_date": _today(w),
                                     "description": SECRET_TEXT, "external_id": "ext-1"})
    return r, pid


def _record_payment(w):
    pid = _owed(w)
    r = w.billing.post("/payments", {"patient_id": pid, "amount_cents": 1_000, "method": "cash", "note": SECRET_TEXT},
                       headers={"Idempotency-Key": secrets.token_hex(8)})
    return r, pid


def _write_off(w):
    pid = _owed(w)
    return w.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "Business reason for the write-off"}), pid


def _grant(w):
    return w.owner.post("/delegations", {"grantee_sub": w.sub("billing"), "permission": "write_off",
                                         "expires_at": clock.short_z(datetime.now(UTC) + timedelta(days=1))}), None


def _revoke(w):
    d = _grant(w)[0].body["delegation_id"]
    return w.owner.delete(f"/delegations/{d}"), None


def _log_attempt(w):
    pid = _owed(w)
    return w.billing.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer",
                                                           "notes": SECRET_TEXT}), pid


def _in_two_days(w) -> str:
    return clock.short_z(datetime.now(UTC) + timedelta(days=2))


def _schedule_callback(w):
    pid = _owed(w)
    return w.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": _in_two_days(w), "notes": SECRET_TEXT}), pid


def _update_callback(w):
    pid = _owed(w)
    cb = w.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": _in_two_days(w)}).body["callback_id"]
    return w.billing.patch(f"/callbacks/{cb}", {"status": "done"}), pid


HOST = {"Host": "api.followups.test"}


def _issue_feed(w):
    return w.billing.post("/calendar/feed", headers=HOST), None


def _revoke_feed(w):
    w.billing.post("/calendar/feed", headers=HOST)
    return w.billing.delete("/calendar/feed"), None


def _convert_to_plan(w):
    pid = _owed(w)
    return w.billing.post(f"/follow-ups/{pid}/payment-plan", {"installment_cents": 2_000, "frequency": "weekly",
                                                              "start_date": _today(w)}), pid


def _run_plan(w):
    pid = _owed(w)
    plan = w.billing.post(f"/follow-ups/{pid}/payment-plan", {"installment_cents": 2_000, "frequency": "weekly",
                                                              "start_date": _today(w)}).body
    return w.billing.post(f"/payment-plans/{plan['plan_id']}/run"), pid  # today's installment is invoiced


CASES = [
    Case("POST", "/follow-ups/{patient_id}/payment-plan", "plan.created", _convert_to_plan, 201),
    Case("POST", "/payment-plans/{plan_id}/run", "plan.invoiced", _run_plan, 200),
    Case("POST", "/follow-ups/{patient_id}/attempts", "attempt.logged", _log_attempt, 201),
    Case("POST", "/follow-ups/{patient_id}/callbacks", "callback.scheduled", _schedule_callback, 201),
    Case("PATCH", "/callbacks/{callback_id}", "callback.updated", _update_callback, 200),
    Case("POST", "/calendar/feed", "calendar.feed_issued", _issue_feed, 201),
    Case("DELETE", "/calendar/feed", "calendar.feed_revoked", _revoke_feed, 204),
    Case("PATCH", "/clinic", "clinic.updated", _patch_clinic, 200),
    Case("POST", "/staff", "staff.created", _create_staff, 201),
    Case("POST", "/patients", "patient.created", _create_patient, 201),
    Case("POST", "/invoices", "invoice.created", _create_invoice, 201),
    Case("POST", "/payments", "payment.recorded", _record_payment, 201),
    Case("POST", "/follow-ups/{patient_id}/write-off", "writeoff.recorded", _write_off, 200),
    Case("POST", "/delegations", "delegation.granted", _grant, 201),
    Case("DELETE", "/delegations/{delegation_id}", "delegation.revoked", _revoke, 204),
]


def test_every_mutation_route_is_in_the_table():
    mutations = {(s.method, s.path) for s in api_routes() if s.method != "GET"}
    covered = {(c.method, c.path) for c in CASES}
    assert mutations <= covered, f"mutation routes without an audit check: {sorted(mutations - covered)}"


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_each_mutation_writes_one_audit_record_in_the_audit_table(http, case):
    world = make_clinic(http)
    before = {r.audit_id for r in AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True)}
    started = datetime.now(UTC) - timedelta(seconds=1)
    response, patient_id = case.run(world)
    assert response.status == case.status, response
    after = list(AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True))
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
    assert started <= clock.parse_iso_z(record.at) <= datetime.now(UTC)
    # The indexes the audit list reads hold it too.
    assert record.aa_pk == keys.audit_action_pk(world.clinic_id, case.action)
    if patient_id:
        assert record.ap_pk == keys.audit_patient_pk(world.clinic_id, patient_id)
        listed = world.owner.get(f"/audit?patient_id={patient_id}&action={case.action}").body["items"]
        assert [i["audit_id"] for i in listed] == [record.audit_id]
    # Ids and amounts only: no names, phones, emails, descriptions or notes copied in.
    details = str(record.details.as_dict())
    for text in (SECRET_TEXT, SECRET_TEXT.lower(), "555 0100", "@mail.test"):
        assert text not in details, (case.action, details)


def test_a_refused_mutation_writes_no_audit_record(http):
    world = make_clinic(http)
    pid = world.patient()
    before = len(list(AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True)))
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
    assert len(list(AuditRecord.query(keys.clinic_pk(world.clinic_id), consistent_read=True))) == before
