"""Holds on the memory store: placing and releasing, what the worklist, the detail and the aging
report show, payments while on hold, and the nightly run (no promise breaks while on hold; the
first run after `until` releases the hold as `system` and breaks an overdue promise)."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.api import routing
from chalicelib.jobs.auto_invoicing import event_time
from chalicelib.services import attempts, corrections, holds, invoicing, payments, plans, reports
from tests.corrections_support import hold, release
from tests.fast.support import audit_entries
from tests.followups_support import as_staff, at, new_clinic, owing
from tests.jobs.helpers import cw_event
from tests.ledger_ops import caller
from tests.plans_support import convert, days


def listed(clinic, query: str = "") -> list[str]:
    return [i["patient_id"] for i in clinic.billing.get(f"/follow-ups?limit=100{query}").body["items"]]


# ----- through the API ------------------------------------------------------------------------
def test_a_disputed_account_goes_on_hold_and_leaves_the_worklist_until_asked_for(clinic):
    pid = clinic.patient("Disputed")
    clinic.invoice(pid, 8_000, days(clinic, -45))
    other = clinic.patient("Not Disputed")
    clinic.invoice(other, 1_000, days(clinic, -45))
    r = hold(clinic, pid, 30, note="Says the x-ray was never done")
    assert r.status == 201, r
    assert (r.body["reason"], r.body["until"], r.body["note"], r.body["created_by"]) == (
        "dispute", days(clinic, 30), "Says the x-ray was never done", clinic.sub("billing"))
    assert r.body["hold_id"].startswith("hold_") and r.body["created_at"].endswith("Z")
    assert pid not in listed(clinic) and other in listed(clinic)
    held = clinic.billing.get("/follow-ups?status=on_hold&limit=100").body["items"]
    assert [i["patient_id"] for i in held] == [pid]
    assert (held[0]["status"], held[0]["hold"]["reason"], held[0]["days_overdue"]) == ("on_hold", "dispute", 45)
    # the status filter combines with the others
    assert listed(clinic, "&status=on_hold&bucket=31-60") == [pid]
    assert listed(clinic, "&status=on_hold&bucket=0-30") == []
    assert listed(clinic, "&status=on_hold&min_balance_cents=9000") == []
    detail = clinic.billing.get(f"/follow-ups/{pid}").body
    assert (detail["status"], detail["hold"]["hold_id"]) == ("on_hold", r.body["hold_id"])
    assert clinic.billing.get(f"/patients/{pid}").body["hold"]["until"] == days(clinic, 30)
    aging = clinic.billing.get("/reports/aging").body
    assert (aging["on_hold_cents"], aging["total_cents"]) == (8_000, 9_000)


def test_releasing_a_hold_answers_the_follow_up_back_in_its_status(clinic):
    pid = clinic.patient("Released")
    clinic.invoice(pid, 3_000, days(clinic, -5))
    convert(clinic, pid, 1_000)
    assert hold(clinic, pid, 10, reason="insurance_pending").status == 201
    assert clinic.billing.get(f"/follow-ups/{pid}").body["status"] == "on_hold"  # before payment_plan
    r = release(clinic, pid)
    assert r.status == 200, r
    assert (r.body["status"], r.body["hold"]) == ("payment_plan", None)
    again = release(clinic, pid)
    assert (again.status, again.body["error"]["code"]) == (409, "conflict")
    [entry] = audit_entries(clinic.clinic_id, action="hold.released", patient_id=pid)
    assert entry.actor == clinic.sub("billing")


def test_a_hold_ends_after_today_and_at_most_180_days_ahead_one_at_a_time_and_only_when_owed(clinic):
    pid = clinic.patient("Bounds")
    assert hold(clinic, pid, 5).status == 409  # nothing owed
    clinic.invoice(pid, 3_000, days(clinic, -5))
    assert hold(clinic, pid, 0).status == 400
    assert hold(clinic, pid, 181).status == 400
    assert hold(clinic, pid, 10, reason="vacation").status == 400
    assert clinic.billing.post(f"/follow-ups/{pid}/hold", {"reason": "dispute"}).status == 400
    assert hold(clinic, pid, 180, who="owner").status == 201
    second = hold(clinic, pid, 5)
    assert (second.status, second.body["error"]["code"]) == (409, "conflict")


def test_a_payment_that_clears_the_balance_closes_the_follow_up_and_ends_the_hold(clinic):
    pid = clinic.patient("Paid While Held")
    clinic.invoice(pid, 3_000, days(clinic, -5))
    hold(clinic, pid, 10)
    part = clinic.pay(pid, 1_000).body
    assert part["follow_up_status"] == "on_hold"
    rest = clinic.pay(pid, 2_000).body
    assert rest["follow_up_status"] == "closed"
    assert clinic.billing.get(f"/follow-ups/{pid}").body["hold"] is None
    [ended] = audit_entries(clinic.clinic_id, action="hold.released", patient_id=pid)
    assert ended.details["ended_by"] == "payment.recorded"


# ----- the nightly run ------------------------------------------------------------------------
def run(when: str):
    return invoicing.run_scheduled(routing.unit_of_work(), event_time(cw_event(when)))


def _promise(clinic_id: str, pid: str, now, cents: int, day: date) -> None:
    attempts.log(routing.unit_of_work(), as_staff(clinic_id), now, pid, channel="phone", outcome="promised_payment",
                 promised_amount_cents=cents, promised_date=day)


def test_no_promise_breaks_while_on_hold_and_the_run_that_releases_the_hold_breaks_it(store):
    start = at("2026-06-01T14:00:00Z")  # 10:00 in New York
    clinic_id = new_clinic(start)
    pid = owing(clinic_id, start, date(2026, 5, 1), cents=9_000)
    _promise(clinic_id, pid, start, 4_000, date(2026, 6, 3))
    holds.place(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=pid, reason="hardship",
                until=date(2026, 6, 10))
    for day in range(2, 11):  # every night up to and including the hold's last day
        run(f"2026-06-{day:02d}T07:00Z")
    uow = routing.unit_of_work()
    patient = uow.accounts.get_patient(clinic_id, pid)
    assert (patient.status, patient.promises_broken, patient.hold is not None) == ("on_hold", 0, True)
    result = run("2026-06-11T07:00Z")
    patient = uow.accounts.get_patient(clinic_id, pid)
    assert (patient.status, patient.promises_broken, patient.hold) == ("open", 1, None)
    assert result.promises_broken == 1
    [expired] = audit_entries(clinic_id, action="hold.expired", patient_id=pid)
    assert expired.actor == "system" and expired.details["until"] == "2026-06-10"
    [broken] = audit_entries(clinic_id, action="promise.broken", patient_id=pid)
    assert broken.actor == "system"
    run("2026-06-12T07:00Z")  # nothing more to do
    assert len(audit_entries(clinic_id, action="hold.expired", patient_id=pid)) == 1


def test_installments_are_still_invoiced_while_on_hold(store):
    start = at("2026-06-01T14:00:00Z")
    clinic_id = new_clinic(start)
    pid = owing(clinic_id, start, date(2026, 5, 1), cents=9_000)
    plans.create(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=pid, installment_cents=3_000,
                 frequency="weekly", start_date=date(2026, 6, 2))
    holds.place(routing.unit_of_work(), as_staff(clinic_id), start, patient_id=pid, reason="dispute",
                until=date(2026, 6, 30))
    result = run("2026-06-09T07:00Z")
    assert result.invoices_created == 2
    patient = routing.unit_of_work().accounts.get_patient(clinic_id, pid)
    assert (patient.status, patient.balance_cents, patient.oldest_open_invoice_date) == (
        "on_hold", 9_000, date(2026, 6, 2))


# ----- reports --------------------------------------------------------------------------------
def test_a_reversal_counts_against_the_credited_member_on_its_own_date_and_corrections_never_count(clinic):
    start = at("2026-03-02T15:00:00Z")
    c, ann, owner = clinic.clinic_id, caller(clinic, "billing"), caller(clinic, "owner")
    pid = owing(c, start, date(2026, 2, 20), cents=10_000)
    attempts.log(routing.unit_of_work(), ann, start, pid, channel="phone", outcome="no_answer")
    paid = payments.record(routing.unit_of_work(), ann, start + timedelta(hours=1), idempotency_key="k-rev",
                           body={"patient_id": pid, "amount_cents": 6_000, "method": "check"})[1]
    later = start + timedelta(days=3)
    corrections.reverse_payment(routing.unit_of_work(), owner, later, payment_id=paid.payment_id, reason="returned")
    [inv] = routing.unit_of_work().accounts.load(c, pid).account.invoices
    corrections.adjust_invoice(routing.unit_of_work(), owner, later, invoice_id=inv, amount_cents=1_000,
                               reason="discount")

    def recovered(day_from: str, day_to: str) -> int:
        report = reports.staff_performance(routing.unit_of_work(), owner, later, date.fromisoformat(day_from),
                                           date.fromisoformat(day_to))
        return next(i["recovered_cents"] for i in report["items"] if i["sub"] == ann.sub)

    assert recovered("2026-03-02", "2026-03-02") == 6_000
    assert recovered("2026-03-05", "2026-03-05") == -6_000  # the reversal's own date
    assert recovered("2026-03-01", "2026-03-31") == 0  # the adjustment is no recovery
