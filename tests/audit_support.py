"""The audit tests' material for both tiers, through the routes (so on either tier's `make_clinic`
world): a clinic with a trail of invoices, payments and a write-off, and for each mutation route
the request that exercises it and the audit action it must write."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain import clock


def busy_trail(world):
    """`world` (a fresh ClinicWorld) with two patients, Ann and Bob (`world.ann`, `world.bob`), three
    invoices each, three payments of Ann's and a write-off of Bob's."""
    today = clock.local_date(datetime.now(UTC), world.timezone).isoformat()
    world.ann, world.bob = world.patient("Ann"), world.patient("Bob")
    for n in range(3):
        world.invoice(world.ann, 1_000 + n, today)
        world.invoice(world.bob, 2_000 + n, today)
        assert world.pay(world.ann, 100).status == 201
    assert world.owner.post(f"/follow-ups/{world.bob}/write-off", {"reason": "audit test"}).status == 200
    return world


# ----- every mutation route and the audit record it writes -----------------------------------------
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


def _invoice_of(w, pid: str) -> str:
    return w.owner.get(f"/follow-ups/{pid}").body["invoices"][0]["invoice_id"]


def _void(w):
    pid = _owed(w)
    return w.owner.post(f"/invoices/{_invoice_of(w, pid)}/void", {"reason": "Entered twice"}), pid


def _adjust(w):
    pid = _owed(w)
    return w.owner.post(f"/invoices/{_invoice_of(w, pid)}/adjustments",
                        {"amount_cents": 500, "reason": "Agreed discount"}), pid


def _reverse(w):
    pid = _record_payment(w)[1]
    payment = w.owner.get(f"/follow-ups/{pid}").body["payments"][0]["payment_id"]
    return w.owner.post(f"/payments/{payment}/reversal", {"reason": "returned", "note": SECRET_TEXT}), pid


def _plan_of(w) -> tuple[str, str]:
    pid = _owed(w)
    plan = w.owner.post(f"/follow-ups/{pid}/payment-plan", {"installment_cents": 1_000, "frequency": "weekly",
                                                            "start_date": _today(w)}).body
    return pid, plan["plan_id"]


def _cancel_plan(w):
    pid, plan = _plan_of(w)
    return w.owner.post(f"/payment-plans/{plan}/cancel", {"reason": "Patient cannot keep it"}), pid


def _change_plan(w):
    pid, plan = _plan_of(w)
    return w.owner.patch(f"/payment-plans/{plan}", {"installment_cents": 2_500}), pid


def _in_days(w, days: int) -> str:
    return (clock.local_date(datetime.now(UTC), w.timezone) + timedelta(days=days)).isoformat()


def _place_hold(w):
    pid = _owed(w)
    return w.owner.post(f"/follow-ups/{pid}/hold", {"reason": "dispute", "until": _in_days(w, 10),
                                                    "note": SECRET_TEXT}), pid


def _release_hold(w):
    pid = _owed(w)
    w.owner.post(f"/follow-ups/{pid}/hold", {"reason": "insurance_pending", "until": _in_days(w, 10)})
    return w.owner.delete(f"/follow-ups/{pid}/hold"), pid


def _patch_staff(w):
    return w.owner.patch(f"/staff/{w.sub('billing2')}", {"role": "Admin", "name": SECRET_TEXT}), None


def _deactivate_staff(w):
    return w.owner.post(f"/staff/{w.sub('billing2')}/deactivate", {}), None


def _reactivate_staff(w):
    w.owner.post(f"/staff/{w.sub('billing2')}/deactivate", {})
    return w.owner.post(f"/staff/{w.sub('billing2')}/reactivate"), None


def _create_integration(w):
    return w.owner.post("/integrations", {"name": SECRET_TEXT, "scopes": ["patients:read"]}), None


def _revoke_integration(w):
    made = w.owner.post("/integrations", {"name": "to revoke", "scopes": ["patients:read"]}).body
    return w.owner.delete(f"/integrations/{made['integration_id']}"), None


def _import(w):
    rows = [{"patient_external_id": f"mrn-{secrets.token_hex(4)}", "patient_name": SECRET_TEXT,
             "phone": "+1 555 0100", "invoice_external_id": f"inv-{secrets.token_hex(4)}",
             "invoice_date": _today(w), "amount_cents": 1_200, "description": SECRET_TEXT}]
    return w.owner.post("/imports", {"rows": rows}), None


def _patch_patient(w):
    pid = _owed(w)
    return w.owner.patch(f"/patients/{pid}", {"name": f"Renamed {SECRET_TEXT}", "phone": "+1 555 0100"}), pid


def _put_patient(w):
    r = w.billing.request("PUT", f"/patients/by-external-id/mrn-{secrets.token_hex(4)}",
                          {"name": SECRET_TEXT, "email": "x@mail.test"})
    return r, r.body["patient_id"]


def _put_invoice(w):
    pid = w.patient("Put Patient")
    return w.billing.request("PUT", f"/invoices/by-external-id/inv-{secrets.token_hex(4)}", {
        "patient_id": pid, "amount_cents": 900, "invoice_date": _today(w), "description": SECRET_TEXT}), pid


WEBHOOK_URL = "http://127.0.0.1:9/hooks"  # the local stage's policy takes a loopback receiver


def _create_webhook(w):
    return w.owner.post("/webhooks", {"url": WEBHOOK_URL, "events": ["*"], "description": SECRET_TEXT}), None


def _delete_webhook(w):
    made = w.owner.post("/webhooks", {"url": WEBHOOK_URL, "events": ["payment.recorded"]}).body
    return w.owner.delete(f"/webhooks/{made['webhook_id']}"), None


# Mutation routes that write no audit record, and why (each still has a test of what it writes).
NOT_AUDITED = {
    ("POST", "/webhooks/{webhook_id}/test"): (
        "a ping changes nothing in the clinic; its event and its row in the webhook's delivery log are its "
        "record (tests/fast/test_webhook_routes.py)"),
}

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
    Case("PATCH", "/staff/{sub}", "staff.updated", _patch_staff, 200),
    Case("POST", "/staff/{sub}/deactivate", "staff.deactivated", _deactivate_staff, 200),
    Case("POST", "/staff/{sub}/reactivate", "staff.reactivated", _reactivate_staff, 200),
    Case("POST", "/patients", "patient.created", _create_patient, 201),
    Case("POST", "/invoices", "invoice.created", _create_invoice, 201),
    Case("POST", "/payments", "payment.recorded", _record_payment, 201),
    Case("POST", "/follow-ups/{patient_id}/write-off", "writeoff.recorded", _write_off, 200),
    Case("POST", "/delegations", "delegation.granted", _grant, 201),
    Case("DELETE", "/delegations/{delegation_id}", "delegation.revoked", _revoke, 204),
    Case("POST", "/invoices/{invoice_id}/void", "invoice.voided", _void, 200),
    Case("POST", "/invoices/{invoice_id}/adjustments", "invoice.adjusted", _adjust, 201),
    Case("POST", "/payments/{payment_id}/reversal", "payment.reversed", _reverse, 201),
    Case("POST", "/payment-plans/{plan_id}/cancel", "plan.cancelled", _cancel_plan, 200),
    Case("PATCH", "/payment-plans/{plan_id}", "plan.changed", _change_plan, 200),
    Case("POST", "/follow-ups/{patient_id}/hold", "hold.placed", _place_hold, 201),
    Case("DELETE", "/follow-ups/{patient_id}/hold", "hold.released", _release_hold, 200),
    Case("POST", "/integrations", "integration.created", _create_integration, 201),
    Case("DELETE", "/integrations/{integration_id}", "integration.revoked", _revoke_integration, 204),
    Case("POST", "/imports", "import.completed", _import, 200),
    Case("PATCH", "/patients/{patient_id}", "patient.updated", _patch_patient, 200),
    Case("PUT", "/patients/by-external-id/{external_id}", "patient.created", _put_patient, 201),
    Case("PUT", "/invoices/by-external-id/{external_id}", "invoice.created", _put_invoice, 201),
    Case("POST", "/webhooks", "webhook.created", _create_webhook, 201),
    Case("DELETE", "/webhooks/{webhook_id}", "webhook.deleted", _delete_webhook, 204),
]
