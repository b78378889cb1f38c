"""Payment plans through the API: conversion, reading, running by hand, and the plan's life (on the
memory store; how a plan moves the patient's worklist index key is tests/api/test_plans.py)."""


import pytest

from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.ids import installment_invoice_id
from tests.fast.support import audit_entries
from tests.plans_support import convert, days, owing, today
from tests.support import Api


def audits(clinic, action: str) -> list[AuditEntry]:
    return audit_entries(clinic.clinic_id, action=action)


# ----- conversion ---------------------------------------------------------------------------
def test_converting_a_balance_makes_an_active_plan_and_moves_the_open_invoices_into_it(clinic):
    pid = clinic.patient("Ana")
    first = clinic.invoice(pid, 6_000, days(clinic, -40))
    second = clinic.invoice(pid, 4_000, days(clinic, -10))
    start = days(clinic, 3)
    r = convert(clinic, pid, 3_000, "monthly", start)
    assert r.status == 201, r
    plan = r.body
    assert plan["status"] == "active" and plan["patient_id"] == pid
    assert (plan["total_cents"], plan["installment_cents"], plan["frequency"], plan["start_date"]) == (
        10_000, 3_000, "monthly", start)
    assert [(i["number"], i["amount_cents"], i["status"], i["invoice_id"]) for i in plan["installments"]] == [
        (1, 3_000, "scheduled", None), (2, 3_000, "scheduled", None), (3, 3_000, "scheduled", None),
        (4, 1_000, "scheduled", None)]
    assert plan["installments"][0]["due_date"] == start
    for invoice in (first, second):
        moved = clinic.billing.get(f"/invoices/{invoice['invoice_id']}").body
        assert moved["status"] == "in_plan" and moved["balance_cents"] == invoice["amount_cents"]
    patient = clinic.billing.get(f"/patients/{pid}").body
    assert (patient["follow_up_status"], patient["balance_cents"]) == ("payment_plan", 10_000)
    # what is owed did not change: no ledger entry, but an audit record
    ledger = clinic.billing.get(f"/patients/{pid}/ledger").body["items"]
    assert [e["type"] for e in ledger] == ["invoice", "invoice"] and ledger[-1]["balance_after_cents"] == 10_000
    [created] = audits(clinic, "plan.created")
    assert created.actor == clinic.sub("billing") and created.patient_id == pid
    assert created.details["plan_id"] == plan["plan_id"] and created.details["total_cents"] == 10_000
    assert sorted(created.details["invoices_in_plan"]) == sorted([first["invoice_id"], second["invoice_id"]])
    assert clinic.owner.get(f"/payment-plans/{plan['plan_id']}").body == plan


def test_a_weekly_plan_adds_seven_days_and_the_last_installment_takes_the_remainder(clinic):
    pid = owing(clinic, 10_001)
    plan = convert(clinic, pid, 2_500, "weekly", days(clinic, 1)).body
    assert [i["amount_cents"] for i in plan["installments"]] == [2_500, 2_500, 2_500, 2_500, 1]
    assert [i["due_date"] for i in plan["installments"]] == [days(clinic, 1 + 7 * n) for n in range(5)]


@pytest.mark.parametrize(("body", "field"), [
    ({"installment_cents": 0, "frequency": "monthly"}, "installment_cents"),
    ({"installment_cents": 100.0, "frequency": "monthly"}, "installment_cents"),
    ({"installment_cents": "100", "frequency": "monthly"}, "installment_cents"),
    ({"installment_cents": True, "frequency": "monthly"}, "installment_cents"),
    ({"installment_cents": 1_000, "frequency": "daily"}, "frequency"),
    ({"installment_cents": 1_000, "frequency": "monthly", "start_date": "2026-02-30"}, "start_date"),
    ({"installment_cents": 1_000, "frequency": "monthly", "start_date": "20260301"}, "start_date"),
    ({"installment_cents": 1_000, "frequency": "monthly", "surprise": 1}, "surprise"),
    ({"frequency": "monthly"}, "installment_cents"),
])
def test_a_malformed_plan_request_is_a_400_that_changes_nothing(clinic, body, field):
    pid = owing(clinic, 5_000)
    body = {"start_date": today(clinic).isoformat(), **body}
    r = clinic.billing.post(f"/follow-ups/{pid}/payment-plan", body)
    assert r.status == 400, r
    assert r.body["error"]["code"] == "validation_error" and field in r.body["error"]["fields"]
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "open"


def test_a_start_date_before_today_is_refused(clinic):
    pid = owing(clinic, 5_000)
    r = convert(clinic, pid, start_date=days(clinic, -1))
    assert r.status == 400 and r.body["error"]["fields"] == {"start_date": "must be today or later"}


def test_more_than_120_installments_is_refused_and_120_is_accepted(clinic):
    pid = owing(clinic, 12_000)
    r = convert(clinic, pid, installment_cents=99)  # 122 installments
    assert r.status == 400 and "installment_cents" in r.body["error"]["fields"]
    assert convert(clinic, pid, installment_cents=100).status == 201  # exactly 120


def test_nothing_owed_or_a_plan_already_active_is_a_conflict(clinic):
    settled = clinic.patient("Settled")
    r = convert(clinic, settled)
    assert r.status == 409 and r.body["error"]["code"] == "conflict"  # API.md names no other code
    pid = owing(clinic, 5_000)
    assert convert(clinic, pid).status == 201
    clinic.invoice(pid, 1_000, days(clinic, 0))  # a new bill while on the plan
    again = convert(clinic, pid)
    assert again.status == 409 and again.body["error"]["code"] == "conflict"


def test_another_clinics_patient_and_plan_are_not_found(clinic, other_clinic):
    pid = owing(clinic, 5_000)
    plan_id = convert(clinic, pid).body["plan_id"]
    assert convert(other_clinic, pid).status == 404
    assert other_clinic.owner.get(f"/payment-plans/{plan_id}").status == 404
    assert other_clinic.owner.post(f"/payment-plans/{plan_id}/run").status == 404
    assert clinic.owner.get("/payment-plans/plan_nothing_here").status == 404
    assert clinic.owner.get(f"/payment-plans/{plan_id[:-2]}zz").status == 404
    assert convert(clinic, "pat_doesnotexist00").status == 404


def test_plan_routes_need_a_token(clinic):
    anonymous = Api(clinic.http, None)
    pid = owing(clinic, 5_000)
    assert anonymous.post(f"/follow-ups/{pid}/payment-plan", {"installment_cents": 1, "frequency": "weekly",
                                                              "start_date": today(clinic).isoformat()}).status == 401
    assert anonymous.get("/payment-plans/plan_x_y").status == 401
    assert anonymous.post("/payment-plans/plan_x_y/run").status == 401


# ----- running by hand ----------------------------------------------------------------------
def test_running_a_plan_by_hand_invoices_what_is_due_today_and_a_second_run_creates_nothing(clinic):
    pid = owing(clinic, 7_000)
    plan = convert(clinic, pid, 3_000, "weekly", today(clinic).isoformat()).body
    r = clinic.as_("billing2").post(f"/payment-plans/{plan['plan_id']}/run")
    assert r.status == 200, r
    expected = installment_invoice_id(plan["plan_id"], 1)
    assert r.body == {"invoices_created": [expected]}
    invoice = clinic.billing.get(f"/invoices/{expected}").body
    assert (invoice["source"], invoice["plan_id"], invoice["installment_number"]) == ("plan", plan["plan_id"], 1)
    assert (invoice["status"], invoice["amount_cents"], invoice["balance_cents"], invoice["invoice_date"]) == (
        "open", 3_000, 3_000, today(clinic).isoformat())
    again = clinic.owner.post(f"/payment-plans/{plan['plan_id']}/run")
    assert again.status == 200 and again.body == {"invoices_created": []}
    after = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert [(i["status"], i["invoice_id"]) for i in after["installments"]] == [
        ("invoiced", expected), ("scheduled", None), ("scheduled", None)]
    assert after["next_due_date"] == days(clinic, 7)
    [invoiced] = audits(clinic, "plan.invoiced")
    assert invoiced.actor == clinic.sub("billing2") and invoiced.details["invoices"][0]["invoice_id"] == expected
    # moving debt from the plan to an invoice writes no ledger entry; the balance is unchanged
    assert [e["type"] for e in clinic.billing.get(f"/patients/{pid}/ledger").body["items"]] == ["invoice"]
    assert clinic.billing.get(f"/patients/{pid}").body["balance_cents"] == 7_000


def test_a_plan_starting_later_has_nothing_to_invoice_yet(clinic):
    pid = owing(clinic, 7_000)
    plan = convert(clinic, pid, 3_000, "weekly", days(clinic, 2)).body
    assert clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run").body == {"invoices_created": []}


# ----- the plan's life ----------------------------------------------------------------------
def test_payments_settle_installment_invoices_then_prepay_the_plan_from_its_last_installment(clinic):
    pid = owing(clinic, 10_000)
    plan = convert(clinic, pid, 3_000, "weekly", today(clinic).isoformat()).body
    [first] = clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run").body["invoices_created"]
    r = clinic.pay(pid, 4_500)
    assert r.status == 201, r
    assert r.body["allocations"] == [{"invoice_id": first, "amount_cents": 3_000},
                                     {"invoice_id": None, "amount_cents": 1_500}]
    assert (r.body["balance_cents"], r.body["follow_up_status"]) == (5_500, "payment_plan")
    after = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    # 10,000 = 3,000 + 3,000 + 3,000 + 1,000: the 1,500 prepaid the last installment, then the third
    assert [(i["status"], i["prepaid_cents"]) for i in after["installments"]] == [
        ("paid", 0), ("scheduled", 0), ("scheduled", 500), ("paid", 1_000)]
    assert clinic.billing.get(f"/invoices/{first}").body["status"] == "paid"


def test_paying_everything_completes_the_plan_and_closes_the_follow_up(clinic):
    pid = owing(clinic, 6_000)
    plan = convert(clinic, pid, 2_000, "monthly", today(clinic).isoformat()).body
    clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run")
    r = clinic.pay(pid, 6_000)
    assert r.status == 201 and (r.body["balance_cents"], r.body["follow_up_status"]) == (0, "closed")
    done = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert done["status"] == "completed" and {i["status"] for i in done["installments"]} == {"paid"}
    assert done["next_due_date"] is None
    patient = clinic.billing.get(f"/patients/{pid}").body
    assert (patient["follow_up_status"], patient["balance_cents"]) == ("closed", 0)
    # a completed plan invoices nothing more, and a new plan can be made once something is owed
    assert clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run").body == {"invoices_created": []}
    clinic.invoice(pid, 1_000, today(clinic).isoformat())
    assert convert(clinic, pid, 500).status == 201


