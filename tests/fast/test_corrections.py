"""Corrections through the API on the memory store: voiding and adjusting invoices, reversing
payments, cancelling and changing plans. The ledger stays the truth after each step."""

from __future__ import annotations

from tests.corrections_support import (
    adjust,
    balance_agrees_with_ledger,
    cancel_plan,
    change_plan,
    ledger,
    reverse,
    void,
)
from tests.fast.support import audit_entries
from tests.plans_support import convert, days


def error(r) -> str:
    return r.body["error"]["code"]


# ----- void -----------------------------------------------------------------------------------
def test_voiding_a_duplicate_invoice_takes_its_amount_off_the_balance_through_a_void_entry(clinic):
    pid = clinic.patient("Dee Duplicate")
    first = clinic.invoice(pid, 7_000, days(clinic, -20))
    twice = clinic.invoice(pid, 7_000, days(clinic, -5))
    r = void(clinic, twice["invoice_id"])
    assert r.status == 200, r
    assert (r.body["status"], r.body["balance_cents"], r.body["patient_balance_cents"]) == ("void", 0, 7_000)
    assert clinic.billing.get(f"/invoices/{twice['invoice_id']}").body["status"] == "void"
    assert ledger(clinic, pid)[-1] == ("void", -7_000)
    assert balance_agrees_with_ledger(clinic, pid) == 7_000
    row = clinic.billing.get(f"/follow-ups/{pid}").body
    assert (row["status"], row["oldest_invoice_date"]) == ("open", first["invoice_date"])
    [entry] = audit_entries(clinic.clinic_id, action="invoice.voided", patient_id=pid)
    assert entry.actor == clinic.sub("owner") and entry.details["amount_cents"] == 7_000


def test_voiding_the_only_invoice_closes_the_follow_up_and_takes_it_off_the_worklist(clinic):
    pid = clinic.patient("Only One")
    inv = clinic.invoice(pid, 2_000, days(clinic, -3))
    assert void(clinic, inv["invoice_id"], who="admin").status == 200
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "closed"
    assert pid not in [i["patient_id"] for i in clinic.billing.get("/follow-ups?limit=100").body["items"]]


def test_an_invoice_a_payment_went_to_is_not_voided_until_the_payment_is_reversed(clinic):
    pid = clinic.patient("Paid Some")
    inv = clinic.invoice(pid, 5_000, days(clinic, -10))
    payment = clinic.pay(pid, 1_000).body
    r = void(clinic, inv["invoice_id"])
    assert (r.status, error(r)) == (409, "invoice_has_payments")
    assert reverse(clinic, payment["payment_id"]).status == 201
    assert void(clinic, inv["invoice_id"]).status == 200
    assert balance_agrees_with_ledger(clinic, pid) == 0


def test_a_void_is_refused_for_an_invoice_in_a_plan_a_voided_one_and_for_billing_staff(clinic):
    pid = clinic.patient("Planned")
    inv = clinic.invoice(pid, 5_000, days(clinic, -10))
    assert void(clinic, inv["invoice_id"], who="billing").status == 403
    convert(clinic, pid, 1_000)
    r = void(clinic, inv["invoice_id"])
    assert (r.status, error(r)) == (409, "conflict")
    other = clinic.patient("Voided")
    gone = clinic.invoice(other, 1_000, days(clinic, 0))
    assert void(clinic, gone["invoice_id"]).status == 200
    assert (void(clinic, gone["invoice_id"]).status, error(void(clinic, gone["invoice_id"]))) == (409, "conflict")
    assert void(clinic, "inv_00000000_000000000000").status == 404
    assert void(clinic, gone["invoice_id"], reason="no").status == 400


def test_another_clinics_invoice_payment_and_plan_are_not_found(clinic, other_clinic):
    pid = clinic.patient("Theirs")
    inv = clinic.invoice(pid, 5_000, days(clinic, -10))
    payment = clinic.pay(pid, 100).body
    plan = convert(clinic, pid, 1_000).body
    assert void(other_clinic, inv["invoice_id"]).status == 404
    assert adjust(other_clinic, inv["invoice_id"], 100).status == 404
    assert reverse(other_clinic, payment["payment_id"]).status == 404
    assert cancel_plan(other_clinic, plan["plan_id"]).status == 404
    assert change_plan(other_clinic, plan["plan_id"], installment_cents=500).status == 404
    assert other_clinic.billing.post(f"/follow-ups/{pid}/hold", {"reason": "dispute",
                                                                 "until": days(clinic, 3)}).status == 404


# ----- adjustments ----------------------------------------------------------------------------
def test_a_discount_lowers_the_invoice_and_the_balance_through_an_adjustment_entry(clinic):
    pid = clinic.patient("Discounted")
    inv = clinic.invoice(pid, 10_000, days(clinic, -30))
    r = adjust(clinic, inv["invoice_id"], 1_500)
    assert r.status == 201, r
    body = r.body
    assert (body["invoice_id"], body["amount_cents"], body["balance_cents"], body["reason"], body["by"]) == (
        inv["invoice_id"], 1_500, 8_500, "Agreed discount", clinic.sub("owner"))
    assert body["adjustment_id"].startswith("adj_") and body["at"].endswith("Z")
    assert ledger(clinic, pid)[-1] == ("adjustment", -1_500)
    assert balance_agrees_with_ledger(clinic, pid) == 8_500
    assert clinic.billing.get(f"/invoices/{inv['invoice_id']}").body["balance_cents"] == 8_500
    # a void after an adjustment takes what is left: the ledger still sums to the balance
    assert void(clinic, inv["invoice_id"]).body["voided_cents"] == 8_500
    assert balance_agrees_with_ledger(clinic, pid) == 0


def test_an_adjustment_is_at_least_a_cent_and_at_most_the_invoices_balance(clinic):
    pid = clinic.patient("Bounds")
    inv = clinic.invoice(pid, 3_000, days(clinic, -3))
    assert adjust(clinic, inv["invoice_id"], 3_001).status == 400
    assert adjust(clinic, inv["invoice_id"], 0).status == 400
    assert adjust(clinic, inv["invoice_id"], 10.0).status == 400
    assert adjust(clinic, inv["invoice_id"], 500, who="billing").status == 403
    assert adjust(clinic, inv["invoice_id"], 3_000).status == 201  # the whole balance: settled
    assert clinic.billing.get(f"/invoices/{inv['invoice_id']}").body["status"] == "paid"
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "closed"
    r = adjust(clinic, inv["invoice_id"], 1)
    assert (r.status, error(r)) == (409, "conflict")
    assert balance_agrees_with_ledger(clinic, pid) == 0


# ----- reversal -------------------------------------------------------------------------------
def test_a_bounced_cheque_reopens_the_follow_up_with_the_invoices_original_age(clinic):
    pid = clinic.patient("Bounced Cheque")
    old = clinic.invoice(pid, 4_000, days(clinic, -75))
    clinic.invoice(pid, 1_000, days(clinic, -2))
    paid = clinic.pay(pid, 5_000, method="check").body
    assert paid["follow_up_status"] == "closed"
    r = reverse(clinic, paid["payment_id"], note="returned by the bank")
    assert r.status == 201, r
    assert (r.body["payment_id"], r.body["amount_cents"], r.body["balance_cents"], r.body["follow_up_status"]) == (
        paid["payment_id"], 5_000, 5_000, "open")
    row = clinic.billing.get(f"/follow-ups/{pid}").body
    assert (row["oldest_invoice_date"], row["days_overdue"], row["bucket"]) == (old["invoice_date"], 75, "61-90")
    assert ledger(clinic, pid)[-1] == ("payment_reversal", 5_000)
    assert balance_agrees_with_ledger(clinic, pid) == 5_000
    assert clinic.billing.get(f"/payments/{paid['payment_id']}").body["reversed"] is True
    again = reverse(clinic, paid["payment_id"])
    assert (again.status, error(again)) == (409, "already_reversed")
    assert reverse(clinic, paid["payment_id"], who="billing").status == 403
    assert reverse(clinic, paid["payment_id"], reason="bounced").status == 400
    [entry] = audit_entries(clinic.clinic_id, action="payment.reversed", patient_id=pid)
    assert entry.details["reason"] == "returned" and "note" not in entry.details


def test_reversing_a_payment_that_paid_installments_gives_the_plan_its_amounts_back(clinic):
    pid = clinic.patient("Plan Payer")
    clinic.invoice(pid, 9_000, days(clinic, -60))
    plan = convert(clinic, pid, 3_000, "monthly", days(clinic, 0)).body
    clinic.owner.post(f"/payment-plans/{plan['plan_id']}/run")  # installment 1 invoiced today
    paid = clinic.pay(pid, 4_000).body  # installment 1 (3,000) and 1,000 prepaid off the last one
    before = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert [(i["status"], i["prepaid_cents"]) for i in before["installments"]] == [
        ("paid", 0), ("scheduled", 0), ("scheduled", 1_000)]
    assert reverse(clinic, paid["payment_id"], reason="chargeback").status == 201
    after = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert [(i["status"], i["prepaid_cents"]) for i in after["installments"]] == [
        ("invoiced", 0), ("scheduled", 0), ("scheduled", 0)]
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "payment_plan"
    assert balance_agrees_with_ledger(clinic, pid) == 9_000


def test_reversing_the_payment_that_completed_a_plan_makes_the_plan_active_again(clinic):
    pid = clinic.patient("Completed")
    clinic.invoice(pid, 6_000, days(clinic, -20))
    plan = convert(clinic, pid, 3_000).body
    paid = clinic.pay(pid, 6_000).body
    assert clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body["status"] == "completed"
    assert reverse(clinic, paid["payment_id"]).status == 201
    again = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert again["status"] == "active" and sum(i["prepaid_cents"] for i in again["installments"]) == 0
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "payment_plan"
    assert balance_agrees_with_ledger(clinic, pid) == 6_000


def test_a_payment_whose_invoice_was_written_off_since_is_not_reversed(clinic):
    pid = clinic.patient("Written Off")
    clinic.invoice(pid, 6_000, days(clinic, -20))
    paid = clinic.pay(pid, 1_000).body
    assert clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "gave up"}).status == 200
    r = reverse(clinic, paid["payment_id"])
    assert (r.status, error(r)) == (409, "conflict")
    assert balance_agrees_with_ledger(clinic, pid) == 0


# ----- plan cancellation ----------------------------------------------------------------------
def test_a_cancelled_plans_remainder_ages_from_the_oldest_invoice_that_went_into_it(clinic):
    pid = clinic.patient("Cancelled Plan")
    oldest = clinic.invoice(pid, 4_000, days(clinic, -95))
    clinic.invoice(pid, 6_000, days(clinic, -10))
    plan = convert(clinic, pid, 2_500, "weekly", days(clinic, 0)).body
    clinic.owner.post(f"/payment-plans/{plan['plan_id']}/run")  # installment 1: 2,500 invoiced today
    clinic.pay(pid, 500)  # 500 off installment 1's invoice
    r = cancel_plan(clinic, plan["plan_id"], who="admin")
    assert r.status == 200, r
    assert r.body["status"] == "cancelled"
    remainder = clinic.billing.get(f"/invoices/{r.body['remainder_invoice_id']}").body
    assert (remainder["source"], remainder["plan_id"], remainder["status"]) == (
        "plan_remainder", plan["plan_id"], "open")
    assert (remainder["amount_cents"], remainder["invoice_date"]) == (7_500, oldest["invoice_date"])
    row = clinic.billing.get(f"/follow-ups/{pid}").body
    assert (row["status"], row["balance_cents"], row["days_overdue"], row["bucket"]) == ("open", 9_500, 95, "90+")
    [issued] = [i for i in row["invoices"] if i["source"] == "plan"]
    assert (issued["status"], issued["balance_cents"]) == ("open", 2_000)  # issued invoices stay as they are
    assert ledger(clinic, pid)[-1] == ("payment", -500)  # no ledger entry for a cancellation
    assert balance_agrees_with_ledger(clinic, pid) == 9_500
    again = cancel_plan(clinic, plan["plan_id"])
    assert (again.status, error(again)) == (409, "conflict")
    assert cancel_plan(clinic, plan["plan_id"], who="billing").status == 403
    [entry] = audit_entries(clinic.clinic_id, action="plan.cancelled", patient_id=pid)
    assert entry.details["remainder_cents"] == 7_500


def test_cancelling_after_prepayments_invoices_only_what_is_still_owed_on_the_plan(clinic):
    pid = clinic.patient("Prepaid")
    first = clinic.invoice(pid, 9_000, days(clinic, -40))
    plan = convert(clinic, pid, 3_000, "monthly", days(clinic, 5)).body
    clinic.pay(pid, 4_000)  # nothing invoiced yet: all of it prepays the plan from the last installment
    r = cancel_plan(clinic, plan["plan_id"])
    remainder = clinic.billing.get(f"/invoices/{r.body['remainder_invoice_id']}").body
    assert (remainder["amount_cents"], remainder["invoice_date"]) == (5_000, first["invoice_date"])
    assert balance_agrees_with_ledger(clinic, pid) == 5_000
    assert clinic.billing.get(f"/follow-ups/{pid}").body["plan"] is None


# ----- plan change ----------------------------------------------------------------------------
def test_changing_a_plan_reschedules_only_what_is_not_invoiced_and_can_be_done_twice(clinic):
    pid = clinic.patient("Rescheduled")
    clinic.invoice(pid, 10_000, days(clinic, -30))
    plan = convert(clinic, pid, 2_000, "weekly", days(clinic, 0)).body
    clinic.owner.post(f"/payment-plans/{plan['plan_id']}/run")  # installment 1 invoiced
    r = change_plan(clinic, plan["plan_id"], installment_cents=3_000, frequency="monthly",
                    next_due_date=days(clinic, 10))
    assert r.status == 200, r
    changed = r.body
    assert changed["installments"][0] == {**plan["installments"][0], "status": "invoiced",
                                          "invoice_id": changed["installments"][0]["invoice_id"]}
    rest = [i for i in changed["installments"] if i["status"] == "scheduled"]
    assert [i["amount_cents"] for i in rest] == [3_000, 3_000, 2_000]
    assert rest[0]["due_date"] == days(clinic, 10) and rest[0]["number"] == 6  # numbers are never reused
    assert (changed["installment_cents"], changed["frequency"]) == (3_000, "monthly")
    twice = change_plan(clinic, plan["plan_id"], installment_cents=4_000).body
    assert [i["amount_cents"] for i in twice["installments"] if i["status"] == "scheduled"] == [4_000, 4_000]
    assert [i["due_date"] for i in twice["installments"] if i["status"] == "scheduled"][0] == days(clinic, 10)
    assert balance_agrees_with_ledger(clinic, pid) == 10_000
    assert ledger(clinic, pid) == [("invoice", 10_000)]  # rescheduling moves nothing owed
    [first, second] = audit_entries(clinic.clinic_id, action="plan.changed", patient_id=pid)
    assert {first.actor, second.actor} == {clinic.sub("billing")}


def test_a_plan_change_keeps_the_conversions_limits(clinic):
    pid = clinic.patient("Limits")
    clinic.invoice(pid, 100_000, days(clinic, -30))
    plan = convert(clinic, pid, 10_000).body
    assert change_plan(clinic, plan["plan_id"], installment_cents=100).status == 400  # 1,000 installments
    assert change_plan(clinic, plan["plan_id"], next_due_date=days(clinic, -1)).status == 400
    assert change_plan(clinic, plan["plan_id"], next_due_date=days(clinic, 367)).status == 400
    assert change_plan(clinic, plan["plan_id"], frequency="daily").status == 400
    assert change_plan(clinic, plan["plan_id"], installment_cents=0).status == 400
    assert change_plan(clinic, plan["plan_id"], start_date=days(clinic, 1)).status == 400
    assert change_plan(clinic, plan["plan_id"], next_due_date=days(clinic, 366)).status == 200
    cancel_plan(clinic, plan["plan_id"])
    r = change_plan(clinic, plan["plan_id"], installment_cents=5_000)
    assert (r.status, error(r)) == (409, "conflict")


def test_a_prepaid_part_stays_paid_when_the_plan_is_rescheduled(clinic):
    pid = clinic.patient("Prepaid Change")
    clinic.invoice(pid, 9_000, days(clinic, -30))
    plan = convert(clinic, pid, 3_000, "monthly", days(clinic, 3)).body
    paid = clinic.pay(pid, 1_000).body  # prepays installment 3
    changed = change_plan(clinic, plan["plan_id"], installment_cents=4_000).body
    assert [(i["number"], i["amount_cents"], i["status"]) for i in changed["installments"]] == [
        (3, 1_000, "paid"), (4, 4_000, "scheduled"), (5, 4_000, "scheduled")]
    assert reverse(clinic, paid["payment_id"]).status == 201  # the prepaid part comes back as installment 3
    back = clinic.billing.get(f"/payment-plans/{plan['plan_id']}").body
    assert [(i["number"], i["status"], i["prepaid_cents"]) for i in back["installments"]] == [
        (3, "scheduled", 0), (4, "scheduled", 0), (5, "scheduled", 0)]
    assert balance_agrees_with_ledger(clinic, pid) == 9_000
