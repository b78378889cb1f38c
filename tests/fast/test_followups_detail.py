"""A patient's follow-up: everything staff need on one screen (on the memory store; that it is one
Query is tests/api/test_followups_detail.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.followups_support import (
    add_invoice,
    at,
    convert_to_plan,
    days_before,
    follow_up,
    invoice_installments,
    log_attempt,
    new_clinic,
    owing,
    pay,
    real_today,
    schedule_callback,
    update_callback,
    worklist,
)

NOW = at("2026-03-15T15:00:00Z")
TODAY = NOW.date()


def test_the_detail_lists_invoices_payments_attempts_callbacks_and_the_trust_record(clinic):
    today = real_today(clinic.clinic_id)
    pid = clinic.patient("Dora", phone="+1-555-0100")
    old = clinic.invoice(pid, 5_000, (today - timedelta(days=40)).isoformat(),
                         service_date=(today - timedelta(days=45)).isoformat())
    new = clinic.invoice(pid, 3_000, (today - timedelta(days=2)).isoformat())
    first_pay = clinic.pay(pid, 1_000).body
    second_pay = clinic.pay(pid, 500).body
    a1 = clinic.billing.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer"}).body
    a2 = clinic.billing.post(f"/follow-ups/{pid}/attempts", {
        "channel": "email", "outcome": "promised_payment", "promised_amount_cents": 2_000,
        "promised_date": (today + timedelta(days=7)).isoformat(), "notes": "will pay on payday"}).body
    cb = clinic.billing.post(f"/follow-ups/{pid}/callbacks", {
        "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}).body

    r = clinic.admin.get(f"/follow-ups/{pid}")
    assert r.status == 200, r
    d = r.body
    assert d["patient"]["name"] == "Dora" and d["patient"]["phone"] == "+1-555-0100"
    assert (d["status"], d["balance_cents"], d["days_overdue"], d["bucket"]) == ("promised", 6_500, 40, "31-60")
    assert d["oldest_invoice_date"] == old["invoice_date"]
    assert [i["invoice_id"] for i in d["invoices"]] == [new["invoice_id"], old["invoice_id"]]
    assert d["invoices"][1]["balance_cents"] == 3_500 and d["invoices"][1]["service_date"] == old["service_date"]
    assert clinic.billing.get(f"/invoices/{new['invoice_id']}").body == d["invoices"][0]
    assert {p["payment_id"] for p in d["payments"]} == {first_pay["payment_id"], second_pay["payment_id"]}
    assert [a["attempt_id"] for a in d["attempts"]] == [a2["attempt_id"], a1["attempt_id"]]
    assert d["attempts"][0]["notes"] == "will pay on payday"
    assert [c["callback_id"] for c in d["callbacks"]] == [cb["callback_id"]]
    assert d["promises"] == {"made": 1, "kept": 0, "broken": 0}
    assert d["pending_promise"]["amount_cents"] == 2_000
    assert d["last_attempt"] == {"at": a2["at"], "channel": "email", "outcome": "promised_payment",
                                 "by": clinic.sub("billing")}
    assert d["next_action"] == {"type": "callback", "due": cb["due_at"]}
    assert d["plan"] is None


def test_payments_are_newest_first_and_at_most_twenty(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10), cents=100_000)
    made = [pay(clinic_id, NOW, pid, 100, received_at=NOW - timedelta(hours=30 - i))["payment_id"]
            for i in range(22)]
    d = follow_up(clinic_id, pid, NOW)
    assert [p["payment_id"] for p in d["payments"]] == list(reversed(made))[:20]
    assert d["balance_cents"] == 100_000 - 2_200


def test_a_patient_with_nothing_owed_answers_with_its_last_status_and_zero(clinic):
    never = clinic.patient("Never billed")
    d = clinic.billing.get(f"/follow-ups/{never}").body
    assert (d["status"], d["balance_cents"], d["oldest_invoice_date"], d["days_overdue"], d["bucket"]) == (
        "closed", 0, None, None, None)
    assert d["invoices"] == d["payments"] == d["attempts"] == d["callbacks"] == []
    assert d["promises"] == {"made": 0, "kept": 0, "broken": 0} and d["next_action"] is None


def test_a_plan_shows_with_its_installments_and_its_next_one_is_the_next_action(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 50), cents=30_000)
    plan = convert_to_plan(clinic_id, NOW, pid, 10_000, TODAY)
    # In a plan with nothing invoiced yet the patient is off the worklist (no open invoice).
    assert worklist(clinic_id, NOW)["items"] == []
    invoice_installments(clinic_id, NOW, pid, TODAY)
    [row] = worklist(clinic_id, NOW)["items"]
    assert (row["status"], row["days_overdue"], row["balance_cents"]) == ("payment_plan", 0, 30_000)
    assert row["next_action"] == {"type": "installment", "due": "2026-04-15"}
    d = follow_up(clinic_id, pid, NOW)
    # The detail shows the plan exactly as GET /payment-plans/{id} does (one renderer).
    assert {k: d["plan"][k] for k in ("plan_id", "patient_id", "status", "total_cents", "installment_cents",
                                      "frequency", "start_date", "installments")} == {
        "plan_id": plan.plan_id, "patient_id": pid, "status": "active", "total_cents": 30_000,
        "installment_cents": 10_000, "frequency": "monthly", "start_date": "2026-03-15",
        "installments": [
            {"number": 1, "due_date": "2026-03-15", "amount_cents": 10_000, "status": "invoiced",
             "invoice_id": f"inv_{pid[4:]}_{plan.plan_id.split('_', 2)[2]}-001", "prepaid_cents": 0},
            {"number": 2, "due_date": "2026-04-15", "amount_cents": 10_000, "status": "scheduled",
             "invoice_id": None, "prepaid_cents": 0},
            {"number": 3, "due_date": "2026-05-15", "amount_cents": 10_000, "status": "scheduled",
             "invoice_id": None, "prepaid_cents": 0}]}
    statuses = sorted((i["source"], i["status"]) for i in d["invoices"])
    assert statuses == [("manual", "in_plan"), ("plan", "open")]


def test_next_action_is_the_earliest_of_callback_promise_and_installment(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 5), cents=10_000)
    cb = schedule_callback(clinic_id, "x", NOW, pid, due_at=NOW + timedelta(days=3))
    assert follow_up(clinic_id, pid, NOW)["next_action"] == {"type": "callback", "due": cb["due_at"]}
    log_attempt(clinic_id, "x", NOW, pid, channel="phone", outcome="promised_payment",
                 promised_amount_cents=1_000, promised_date=TODAY + timedelta(days=1))
    assert follow_up(clinic_id, pid, NOW)["next_action"] == {"type": "promise", "due": "2026-03-16"}
    early = schedule_callback(clinic_id, "x", NOW, pid, due_at=NOW + timedelta(hours=1))
    [row] = worklist(clinic_id, NOW)["items"]
    assert row["next_action"] == {"type": "callback", "due": early["due_at"]}
    update_callback(clinic_id, "x", NOW, early["callback_id"], status="cancelled")
    [row] = worklist(clinic_id, NOW)["items"]
    assert row["next_action"] == {"type": "promise", "due": "2026-03-16"}


def test_invoices_are_newest_first_including_paid_ones(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 30), cents=1_000)
    newer = add_invoice(clinic_id, "x", NOW, patient_id=pid, amount_cents=2_000,
                            invoice_date=days_before(TODAY, 3))
    pay(clinic_id, NOW, pid, 1_000)
    d = follow_up(clinic_id, pid, NOW)
    assert [i["invoice_id"] for i in d["invoices"]][0] == newer["invoice_id"]
    assert [i["status"] for i in d["invoices"]] == ["open", "paid"]


def test_an_unknown_or_malformed_patient_is_a_404(clinic):
    for pid in ("pat_0000000000000000", "nope", "inv_abc"):
        r = clinic.billing.get(f"/follow-ups/{pid}")
        assert r.status == 404 and r.body["error"]["code"] == "not_found", (pid, r)
