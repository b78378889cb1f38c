"""The scheduled function itself, invoked as EventBridge does through chalice.test.Client's
`lambda_.invoke`: its schedule, a clinic's first run, a broken promise as the stored records show
it, and a run killed mid-transaction that the retry of the same event finishes.

In the moto tier because the function's wiring (its own `UnitOfWork()` on DynamoDB), the stored
items and index keys of a broken promise, and a fault injected into the DynamoDB transaction are
the point; what a run does, as a service call, is tests/fast/test_auto_invoicing.py.
"""

from datetime import date

import pytest

from app import app
from chalicelib.domain.ids import installment_invoice_id
from chalicelib.store.models import AttemptRecord, AuditRecord, PromiseRecord, Record
from chalicelib.store.uow import Transaction
from tests.jobs.helpers import add_plan, clinic_with_plan, cw_event, instant, new_clinic, patient_owing, promise


@pytest.fixture
def tick(chalice_client):
    def invoke(time_: str) -> dict:
        return chalice_client.lambda_.invoke("auto_invoicing", cw_event(time_, chalice_client.events)).payload
    return invoke


class LambdaKilled(BaseException):
    """The Lambda dying mid-run (a timeout): nothing after it runs, no handler catches it."""


def test_the_function_is_scheduled_every_15_minutes():
    [source] = [s for s in app.event_sources if s.name == "auto_invoicing"]
    assert source.schedule_expression.to_string() == "rate(15 minutes)"


def test_a_clinic_created_at_noon_runs_its_creation_date_at_the_next_tick(tick):
    created = instant("2026-05-04T16:05Z")  # 12:05 in New York
    world = clinic_with_plan("America/New_York", created, start=date(2026, 5, 4))
    result = tick("2026-05-04T16:15Z")
    assert world.clinic_id in result["clinics_run"]
    assert world.invoice(installment_invoice_id(world.plan_id, 1))["invoice_date"] == "2026-05-04"
    assert world.next_run_date() == date(2026, 5, 5)


def test_a_promise_whose_date_passed_unkept_is_broken_by_the_next_run_as_if_system_logged_it(tick):
    tz = "America/New_York"
    created = instant("2026-06-01T14:00Z")
    clinic_id = new_clinic(tz, created)
    pid = patient_owing(clinic_id, tz, created, 20_000)
    made = promise(clinic_id, tz, pid, 5_000, date(2026, 6, 3), created, channel="sms")
    on_the_day = tick("2026-06-03T07:00Z")  # the run of the promised date itself: not broken yet
    assert clinic_id in on_the_day["clinics_run"]
    profile = Record.get(f"C#{clinic_id}#P#{pid}", "0#PROFILE", consistent_read=True)
    assert profile.status == "promised" and profile.promises_broken == 0
    result = tick("2026-06-04T07:00Z")
    assert clinic_id in result["clinics_run"] and result["promises_broken"] >= 1
    profile = Record.get(f"C#{clinic_id}#P#{pid}", "0#PROFILE", consistent_read=True)
    assert (profile.status, profile.promises_broken, profile.pending_promise) == ("open", 1, None)
    assert profile.due_pk is None  # off the promise index
    assert (profile.last_attempt.outcome, profile.last_attempt.by) == ("no_payment_despite_promise", "system")
    stored = PromiseRecord.get(f"C#{clinic_id}#P#{pid}", f"3#PROM#{made.promise_id}")
    assert stored.promise.status == "broken"
    system_attempts = [a for a in Record.query(f"C#{clinic_id}#P#{pid}", Record.sk.startswith("5#ATT#"))
                       if isinstance(a, AttemptRecord) and a.by == "system"]
    [attempt] = system_attempts
    assert (attempt.outcome, attempt.channel, attempt.promise_id) == ("no_payment_despite_promise", "sms",
                                                                      made.promise_id)
    assert attempt.tl_pk == f"C#{clinic_id}#ATT"
    [audit] = list(AuditRecord.by_action.query(f"C#{clinic_id}#A#promise.broken"))
    assert audit.actor == "system" and audit.patient_id == pid and audit.details["promise_id"] == made.promise_id
    # the next day's run finds nothing more to break
    assert clinic_id in tick("2026-06-05T07:00Z")["clinics_run"]
    assert len(list(AuditRecord.by_action.query(f"C#{clinic_id}#A#promise.broken"))) == 1
    assert Record.get(f"C#{clinic_id}#P#{pid}", "0#PROFILE", consistent_read=True).promises_broken == 1


def test_a_run_killed_midway_is_finished_by_the_retry_of_the_same_event_without_double_billing(tick, monkeypatch):
    created = instant("2026-10-05T12:00Z")
    worlds = [clinic_with_plan("Europe/Lisbon", created, start=date(2026, 10, 6))]
    worlds += [add_plan(worlds[0].clinic_id, "Europe/Lisbon", created, start=date(2026, 10, 6)) for _ in range(3)]
    real_send, commits = Transaction.send, []

    def dying_send(self):
        mine = any(worlds[0].clinic_id in str(record.pk) for _, _, record, _ in self._items)
        if mine and len(commits) == 2:
            raise LambdaKilled()
        real_send(self)
        if mine:
            commits.append(self)

    monkeypatch.setattr(Transaction, "send", dying_send)
    with pytest.raises(LambdaKilled):
        tick("2026-10-06T02:00Z")  # 03:00 in Lisbon
    monkeypatch.setattr(Transaction, "send", real_send)
    assert sum(len(w.plan_invoices()) for w in worlds) == 2
    retry = tick("2026-10-06T02:00Z")
    assert worlds[0].clinic_id in retry["clinics_run"]
    for w in worlds:
        assert [r.installment_number for r in w.plan_invoices()] == [1]
        assert len(w.audits("plan.invoiced")) == 4  # one per plan, all in this clinic's audit trail
    assert worlds[0].next_run_date() == date(2026, 10, 7)
