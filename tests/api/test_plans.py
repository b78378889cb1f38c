"""A payment plan moves the patient's worklist index key: off the sparse index while every open
invoice is in the plan, back on it dated by the oldest open invoice (an installment's or an older
bill's).

In the moto tier because the stored index sort key (`wl_sk`, read with a Query on the worklist
index) is the point; every other plan behaviour is tests/fast/test_plans.py.
"""


from chalicelib.store import keys
from chalicelib.store.models import Record
from tests.plans_support import convert, days, owing, today


def worklist_keys(clinic) -> dict[str, str]:
    """patient_id -> worklist sort key (oldest open invoice date first)."""
    return {item.patient_id: item.wl_sk for item in Record.worklist.query(keys.clinic_pk(clinic.clinic_id))}


def test_a_patient_on_a_plan_is_on_the_worklist_only_while_an_installment_invoice_is_open(clinic):
    pid = owing(clinic, 5_000, age_days=70)
    assert pid in worklist_keys(clinic)
    plan = convert(clinic, pid, 2_000, "weekly", today(clinic).isoformat()).body
    assert pid not in worklist_keys(clinic)  # the invoices moved into the plan
    [first] = clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run").body["invoices_created"]
    # back on the worklist, aged from the installment invoice's date, not the old invoices'
    assert worklist_keys(clinic)[pid] == keys.worklist_sk(today(clinic).isoformat(), pid)
    assert clinic.pay(pid, 2_000, invoice_id=first).status == 201
    assert pid not in worklist_keys(clinic)
    assert clinic.billing.get(f"/patients/{pid}").body["follow_up_status"] == "payment_plan"


def test_a_bill_added_while_on_a_plan_stays_open_and_is_paid_first_when_older(clinic):
    pid = owing(clinic, 4_000)
    plan = convert(clinic, pid, 2_000, "weekly", today(clinic).isoformat()).body
    extra = clinic.invoice(pid, 1_000, days(clinic, -5))
    [first] = clinic.billing.post(f"/payment-plans/{plan['plan_id']}/run").body["invoices_created"]
    assert worklist_keys(clinic)[pid] == keys.worklist_sk(days(clinic, -5), pid)
    r = clinic.pay(pid, 2_500)
    assert r.body["allocations"] == [{"invoice_id": extra["invoice_id"], "amount_cents": 1_000},
                                     {"invoice_id": first, "amount_cents": 1_500}]
    assert r.body["balance_cents"] == 2_500
