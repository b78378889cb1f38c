"""The scheduled run as a service call on the memory store: when each clinic runs, what a run
invoices, catching up, repeated deliveries, promises, and a patient whose invoicing fails.

`tick(time)` is what the auto-invoicing handler does with an EventBridge event of that `time`:
`invoicing.run_scheduled(uow, now)` with the event's instant, answered with the run's summary.
tests/jobs/test_auto_invoicing.py invokes the function itself through chalice.test.Client's
`lambda_.invoke` (and keeps a run killed mid-transaction and the stored records of a broken promise).
"""

from datetime import date, datetime, time, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import clock
from chalicelib.domain.ids import installment_invoice_id
from chalicelib.jobs.auto_invoicing import event_time
from chalicelib.services import invoicing, payments
from tests.jobs.helpers import add_plan, clinic_with_plan, cw_event, instant, new_clinic, patient_owing, promise, staff


@pytest.fixture
def tick(store):
    def invoke(time_: str) -> dict:
        result = invoicing.run_scheduled(routing.unit_of_work(), event_time(cw_event(time_)))
        return {"clinics_run": result.clinics_run, "invoices_created": result.invoices_created,
                "promises_broken": result.promises_broken}
    return invoke


def created_day_before_at_noon(tz: str, day: date) -> datetime:
    return clock.local_wall_time_to_utc(datetime.combine(day - timedelta(days=1), time(12, 0)), tz)


# ----- time zones ---------------------------------------------------------------------------
# (zone, the local date that runs, ticks before its run (must not run it), the tick that runs it,
#  the local wall time of that tick)
ZONE_CASES = [
    pytest.param("America/New_York", date(2026, 3, 8), ["2026-03-08T06:45Z"], "2026-03-08T07:00Z", "03:00",
                 id="US spring forward"),
    pytest.param("America/New_York", date(2026, 11, 1), ["2026-11-01T07:00Z", "2026-11-01T07:45Z"],
                 "2026-11-01T08:00Z", "03:00", id="US fall back"),
    pytest.param("Europe/Athens", date(2026, 3, 29), ["2026-03-29T00:45Z"], "2026-03-29T01:00Z", "04:00",
                 id="Athens spring forward: 03:00 does not exist"),
    pytest.param("Asia/Kolkata", date(2026, 6, 15), ["2026-06-14T21:15Z"], "2026-06-14T21:30Z", "03:00",
                 id="Kolkata +05:30"),
    pytest.param("Asia/Kathmandu", date(2026, 6, 15), ["2026-06-14T21:00Z"], "2026-06-14T21:15Z", "03:00",
                 id="Kathmandu +05:45"),
    pytest.param("Pacific/Chatham", date(2026, 6, 15), ["2026-06-14T14:00Z"], "2026-06-14T14:15Z", "03:00",
                 id="Chatham +12:45"),
    pytest.param("Pacific/Chatham", date(2026, 9, 27), ["2026-09-26T13:45Z"], "2026-09-26T14:00Z", "03:45",
                 id="Chatham spring forward 02:45 to 03:45"),
    pytest.param("Pacific/Honolulu", date(2026, 6, 15), ["2026-06-15T05:00Z", "2026-06-15T12:45Z"],
                 "2026-06-15T13:00Z", "03:00", id="Honolulu: the UTC date is ahead at the tick"),
]


@pytest.mark.parametrize(("tz", "day", "not_yet", "run_at", "wall"), ZONE_CASES)
def test_an_installment_is_invoiced_at_the_first_tick_at_or_after_3am_clinic_time(tick, tz, day, not_yet,
                                                                                   run_at, wall):
    world = clinic_with_plan(tz, created_day_before_at_noon(tz, day), start=day)
    first = installment_invoice_id(world.plan_id, 1)
    for early in not_yet:
        result = tick(early)
        assert clock.local_date(instant(early), tz) <= day
        # the day before runs (the clinic's first run date is the day it was created), not `day`
        assert world.next_run_date() == day, early
        assert world.plan()["installments"][0]["status"] == "scheduled", early
        assert first not in str(result)
    assert instant(run_at).astimezone(clock.zone(tz)).strftime("%H:%M") == wall
    result = tick(run_at)
    assert world.clinic_id in result["clinics_run"] and result["invoices_created"] >= 1
    invoice = world.invoice(first)
    assert (invoice["invoice_date"], invoice["amount_cents"], invoice["source"]) == (day.isoformat(), 10_000, "plan")
    assert world.plan()["installments"][1]["status"] == "scheduled"
    assert world.next_run_date() == day + timedelta(days=1)
    # later ticks the same local day do not run the clinic again
    later = tick((instant(run_at) + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%MZ"))
    assert world.clinic_id not in later["clinics_run"]


# ----- what a run does ----------------------------------------------------------------------
def test_a_missed_week_is_caught_up_at_the_next_tick_each_invoice_dated_its_due_date(tick):
    world = clinic_with_plan("Europe/Athens", instant("2026-04-01T09:00Z"), cents=50_000, installment=10_000,
                             frequency="weekly", start=date(2026, 4, 1))
    assert world.clinic_id in tick("2026-04-01T09:15Z")["clinics_run"]  # installment 1, due today
    # nothing runs for almost three weeks, then one tick
    result = tick("2026-04-20T10:00Z")
    assert world.clinic_id in result["clinics_run"]
    assert [(i["status"], i["invoice_id"]) for i in world.plan()["installments"]] == [
        ("invoiced", installment_invoice_id(world.plan_id, n)) for n in (1, 2, 3)] + [("scheduled", None)] * 2
    assert [r.invoice_date.isoformat() for r in sorted(world.plan_invoices(), key=lambda r: r.installment_number)
            ] == ["2026-04-01", "2026-04-08", "2026-04-15"]
    assert world.next_run_date() == date(2026, 4, 21)
    [first_run, catch_up] = sorted(world.audits("plan.invoiced"), key=lambda a: a.at)
    assert catch_up.actor == "system" and catch_up.details["run_date"] == "2026-04-20"
    assert [i["installment_number"] for i in catch_up.details["invoices"]] == [2, 3]
    assert first_run.details["run_date"] == "2026-04-01"


def test_a_repeated_delivery_of_the_same_event_invoices_nothing_more(tick):
    world = clinic_with_plan("Asia/Kolkata", instant("2026-07-01T06:00Z"), start=date(2026, 7, 2))
    first = tick("2026-07-01T21:30Z")
    assert world.clinic_id in first["clinics_run"]
    again = tick("2026-07-01T21:30Z")
    assert world.clinic_id not in again["clinics_run"]
    assert len(world.plan_invoices()) == 1 and len(world.audits("plan.invoiced")) == 1


def test_a_run_invoices_only_due_plans_across_a_clinics_patients(tick):
    created = instant("2026-08-03T15:00Z")
    world = clinic_with_plan("America/Chicago", created, start=date(2026, 8, 5))
    later = add_plan(world.clinic_id, "America/Chicago", created, start=date(2026, 8, 20))
    tick("2026-08-05T08:00Z")  # 03:00 CDT on the 5th
    assert len(world.plan_invoices()) == 1 and later.plan_invoices() == []
    assert later.plan()["next_due_date"] == "2026-08-20"


def test_a_prepaid_installment_is_invoiced_for_what_is_left_and_a_fully_prepaid_one_not_at_all(tick):
    created = instant("2026-09-01T15:00Z")
    world = clinic_with_plan("America/Denver", created, cents=25_000, installment=10_000, frequency="weekly",
                             start=date(2026, 9, 2))
    # 25,000 = 10,000 + 10,000 + 5,000; paying 12,000 before any invoice prepays the last two backwards
    payments.record(routing.unit_of_work(), staff(world.clinic_id, "staff"), created, idempotency_key="prepay",
                    body={"patient_id": world.patient_id, "amount_cents": 12_000, "method": "cash"})
    tick("2026-09-20T09:00Z")
    by_number = {r.installment_number: r for r in world.plan_invoices()}
    assert set(by_number) == {1, 2}
    assert (by_number[1].balance_cents, by_number[2].balance_cents) == (10_000, 3_000)
    assert [i["status"] for i in world.plan()["installments"]] == ["invoiced", "invoiced", "paid"]
    assert world.profile().balance_cents == 13_000


# ----- promises -----------------------------------------------------------------------------
def test_a_kept_promise_is_not_broken(tick):
    tz = "America/New_York"
    created = instant("2026-06-10T14:00Z")
    clinic_id = new_clinic(tz, created)
    pid = patient_owing(clinic_id, tz, created, 20_000)
    promise(clinic_id, tz, pid, 5_000, date(2026, 6, 11), created)
    payments.record(routing.unit_of_work(), staff(clinic_id, "staff"), created + timedelta(hours=2),
                    idempotency_key="keep", body={"patient_id": pid, "amount_cents": 5_000, "method": "card"})
    tick("2026-06-13T07:00Z")
    profile = routing.unit_of_work().accounts.get_patient(clinic_id, pid, consistent=True)
    assert (profile.status, profile.promises_kept, profile.promises_broken) == ("open", 1, 0)


# ----- failures -----------------------------------------------------------------------------
def test_a_patient_whose_invoicing_fails_holds_up_no_one_else_and_the_next_tick_retries_it(tick, monkeypatch):
    created = instant("2026-10-12T12:00:00Z")
    world = clinic_with_plan("Asia/Tokyo", created, start=date(2026, 10, 13))
    other = add_plan(world.clinic_id, "Asia/Tokyo", created, start=date(2026, 10, 13))
    from chalicelib.services import invoicing

    real = invoicing.invoice_plan

    def throttled_for_one(uow, caller, patient_id, *args, **kwargs):
        if patient_id == world.patient_id:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return real(uow, caller, patient_id, *args, **kwargs)

    monkeypatch.setattr(invoicing, "invoice_plan", throttled_for_one)
    failed = tick("2026-10-12T18:00Z")  # 03:00 on the 13th in Tokyo
    assert world.clinic_id not in failed["clinics_run"]
    assert world.plan_invoices() == [] and [r.installment_number for r in other.plan_invoices()] == [1]
    assert world.next_run_date() == date(2026, 10, 12)  # not moved on: the next tick runs again
    monkeypatch.setattr(invoicing, "invoice_plan", real)
    result = tick("2026-10-12T18:15Z")
    assert world.clinic_id in result["clinics_run"]
    assert [r.invoice_date.isoformat() for r in world.plan_invoices()] == ["2026-10-13"]
    assert len(other.plan_invoices()) == 1 and world.next_run_date() == date(2026, 10, 14)


def test_a_run_out_of_time_stops_between_patients_and_leaves_the_clinic_due(store):
    from chalicelib.services import invoicing

    created = instant("2026-10-19T12:00:00Z")
    world = clinic_with_plan("Europe/Berlin", created, start=date(2026, 10, 20))
    add_plan(world.clinic_id, "Europe/Berlin", created, start=date(2026, 10, 20))
    uow = routing.unit_of_work()
    clinic = next(c for c in uow.clinics.due_for_run(instant("2026-10-20T01:00:00Z"))
                  if c.clinic_id == world.clinic_id)
    checks = iter([False, True])
    result = invoicing.RunResult()
    invoicing.run_clinic(uow, clinic, instant("2026-10-20T01:00:00Z"), result, lambda: next(checks))
    assert result.stopped_early and world.clinic_id not in result.clinics_run
    assert result.invoices_created == 1 and world.next_run_date() == date(2026, 10, 19)  # still due
