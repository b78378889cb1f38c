"""Contact attempts and promises to pay: the contact history and the patient's trust record (on the
memory store; where an attempt is stored for the reports is tests/api/test_followups_attempts.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.followups_support import (
    at,
    audit_of,
    days_before,
    follow_up,
    log_attempt,
    new_clinic,
    owing,
    pay,
    real_today,
)

NOW = at("2026-03-15T15:00:00Z")
TODAY = NOW.date()


@pytest.fixture
def debtor(clinic):
    pid = clinic.patient("Debtor")
    clinic.invoice(pid, 10_000, (real_today(clinic.clinic_id) - timedelta(days=20)).isoformat())
    return pid


def log(clinic, pid, who="billing", **body):
    return clinic.as_(who).post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer", **body})


@pytest.mark.parametrize("channel", ["phone", "email", "sms", "in_person"])
def test_every_channel_of_the_contract_is_accepted(clinic, debtor, channel):
    r = log(clinic, debtor, channel=channel)
    assert r.status == 201 and r.body["channel"] == channel, r


@pytest.mark.parametrize("outcome", ["no_answer", "dispute", "hung_up", "refused", "no_payment_despite_promise"])
def test_every_outcome_without_a_promise_is_logged_as_is(clinic, debtor, outcome):
    r = log(clinic, debtor, outcome=outcome, notes="called at lunch")
    assert r.status == 201, r
    assert {k: r.body[k] for k in ("patient_id", "channel", "outcome", "notes", "by", "promised_amount_cents")} == {
        "patient_id": debtor, "channel": "phone", "outcome": outcome, "notes": "called at lunch",
        "by": clinic.sub("billing"), "promised_amount_cents": None}
    assert r.body["attempt_id"].startswith("att_") and r.body["at"].endswith("Z")
    assert r.body["follow_up_status"] == "open"


def test_an_attempt_becomes_the_rows_last_attempt_in_the_same_write(clinic, debtor):
    first = log(clinic, debtor, who="admin", channel="sms", outcome="hung_up").body
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["last_attempt"] == {"at": first["at"], "channel": "sms", "outcome": "hung_up",
                                   "by": clinic.sub("admin")}
    second = log(clinic, debtor, who="owner", channel="in_person", outcome="dispute").body
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["last_attempt"]["by"] == clinic.sub("owner") and row["last_attempt"]["at"] == second["at"]


def test_attempts_are_append_only_history_newest_first(clinic, debtor):
    made = [log(clinic, debtor, outcome=o).body["attempt_id"] for o in ("no_answer", "hung_up", "refused")]
    d = clinic.billing.get(f"/follow-ups/{debtor}").body
    assert [a["attempt_id"] for a in d["attempts"]] == list(reversed(made))
    r = clinic.billing.patch(f"/follow-ups/{debtor}/attempts", {"outcome": "dispute"})
    assert r.status in (403, 404, 405)  # there is no route that changes an attempt


def test_a_promised_payment_records_a_promise_and_the_status_becomes_promised(clinic, debtor):
    today = real_today(clinic.clinic_id)
    r = log(clinic, debtor, outcome="promised_payment", promised_amount_cents=4_000,
            promised_date=today.isoformat())
    assert r.status == 201, r
    assert (r.body["promised_amount_cents"], r.body["promised_date"]) == (4_000, today.isoformat())
    assert r.body["promise_id"].startswith("prom_") and r.body["follow_up_status"] == "promised"
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert row["status"] == "promised"
    assert row["next_action"] == {"type": "promise", "due": today.isoformat()}
    d = clinic.billing.get(f"/follow-ups/{debtor}").body
    assert d["promises"] == {"made": 1, "kept": 0, "broken": 0}
    assert d["pending_promise"]["promise_id"] == r.body["promise_id"]


def test_a_promise_is_kept_the_moment_payments_since_it_reach_its_amount(clinic, debtor):
    today = real_today(clinic.clinic_id)
    log(clinic, debtor, outcome="promised_payment", promised_amount_cents=4_000,
        promised_date=(today + timedelta(days=3)).isoformat())
    assert clinic.pay(debtor, 1_500).body["follow_up_status"] == "promised"
    kept = clinic.pay(debtor, 2_500)
    assert kept.body["follow_up_status"] == "open"
    d = clinic.billing.get(f"/follow-ups/{debtor}").body
    assert d["promises"] == {"made": 1, "kept": 1, "broken": 0} and d["pending_promise"] is None
    assert d["status"] == "open" and d["next_action"] is None


def test_paying_everything_keeps_the_promise_and_closes_the_follow_up(clinic, debtor):
    today = real_today(clinic.clinic_id)
    log(clinic, debtor, outcome="promised_payment", promised_amount_cents=10_000, promised_date=today.isoformat())
    assert clinic.pay(debtor, 10_000).body["follow_up_status"] == "closed"
    d = clinic.billing.get(f"/follow-ups/{debtor}").body
    assert d["promises"] == {"made": 1, "kept": 1, "broken": 0}
    assert debtor not in [r["patient_id"] for r in clinic.billing.get("/follow-ups").body["items"]]


@pytest.mark.parametrize("body, field", [
    ({"outcome": "promised_payment", "promised_date": "2099-01-01"}, "promised_amount_cents"),
    ({"outcome": "promised_payment", "promised_amount_cents": 100}, "promised_date"),
    ({"outcome": "promised_payment", "promised_amount_cents": 10_001, "promised_date": "2099-01-01"},
     "promised_amount_cents"),
    ({"outcome": "promised_payment", "promised_amount_cents": 100, "promised_date": "2020-01-01"},
     "promised_date"),
    ({"outcome": "promised_payment", "promised_amount_cents": 0, "promised_date": "2099-01-01"},
     "promised_amount_cents"),
    ({"outcome": "promised_payment", "promised_amount_cents": 100.0, "promised_date": "2099-01-01"},
     "promised_amount_cents"),
    ({"outcome": "promised_payment", "promised_amount_cents": "100", "promised_date": "2099-01-01"},
     "promised_amount_cents"),
    ({"outcome": "promised_payment", "promised_amount_cents": 100, "promised_date": "2099-02-30"},
     "promised_date"),
    ({"outcome": "no_answer", "promised_amount_cents": 100}, "promised_amount_cents"),
    ({"outcome": "refused", "promised_date": "2099-01-01"}, "promised_date"),
    ({"notes": "x" * 2001}, "notes"),
    ({"channel": "fax"}, "channel"),
    ({"outcome": "maybe"}, "outcome"),
    ({"channel": None}, "channel"),
    ({"by": "someone-else"}, "by"),
])
def test_a_bad_attempt_is_a_400_and_changes_nothing(clinic, debtor, body, field):
    r = log(clinic, debtor, **body)
    assert r.status == 400, r
    assert field in r.body["error"].get("fields", {}), r
    d = clinic.billing.get(f"/follow-ups/{debtor}").body
    assert d["attempts"] == [] and d["last_attempt"] is None and d["promises"]["made"] == 0
    assert d["status"] == "open"


def test_notes_of_2000_characters_are_kept_and_never_copied_into_the_audit(clinic, debtor):
    notes = "Patient said: " + "n" * 1986
    r = log(clinic, debtor, notes=notes)
    assert r.status == 201 and r.body["notes"] == notes
    logged = [a for a in audit_of(clinic.clinic_id, debtor) if a.action == "attempt.logged"]
    assert len(logged) == 1
    assert logged[0].actor == clinic.sub("billing")
    assert logged[0].details == {"attempt_id": r.body["attempt_id"], "channel": "phone",
                                           "outcome": "no_answer", "rule_flags": []}


def test_a_new_promise_replaces_a_pending_one_which_counts_as_broken(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10))
    first = log_attempt(clinic_id, "x", NOW, pid, channel="phone", outcome="promised_payment",
                         promised_amount_cents=5_000, promised_date=TODAY + timedelta(days=2))
    second = log_attempt(clinic_id, "x", NOW, pid, channel="phone", outcome="promised_payment",
                          promised_amount_cents=3_000, promised_date=TODAY + timedelta(days=9))
    d = follow_up(clinic_id, pid, NOW)
    assert d["promises"] == {"made": 2, "kept": 0, "broken": 1}
    assert d["pending_promise"]["promise_id"] == second["promise_id"]
    broken = [a for a in audit_of(clinic_id, pid) if a.action == "promise.broken"]
    assert [b.details["promise_id"] for b in broken] == [first["promise_id"]]


def test_no_payment_despite_a_promise_whose_date_has_passed_breaks_it_at_once(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10))
    log_attempt(clinic_id, "x", NOW, pid, channel="phone", outcome="promised_payment",
                 promised_amount_cents=5_000, promised_date=TODAY + timedelta(days=1))
    # On the promised day it still stands.
    on_the_day = NOW + timedelta(days=1)
    r = log_attempt(clinic_id, "x", on_the_day, pid, channel="phone", outcome="no_payment_despite_promise")
    assert r["follow_up_status"] == "promised"
    later = NOW + timedelta(days=2)
    r = log_attempt(clinic_id, "x", later, pid, channel="phone", outcome="no_payment_despite_promise")
    assert r["follow_up_status"] == "open"
    d = follow_up(clinic_id, pid, later)
    assert d["promises"] == {"made": 1, "kept": 0, "broken": 1} and d["pending_promise"] is None
    assert [a.action for a in audit_of(clinic_id, pid)].count("promise.broken") == 1


def test_a_payment_after_the_promised_date_does_not_keep_the_promise(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 10))
    log_attempt(clinic_id, "x", NOW, pid, channel="phone", outcome="promised_payment",
                 promised_amount_cents=5_000, promised_date=TODAY)
    pay(clinic_id, NOW + timedelta(days=1), pid, 5_000)
    assert follow_up(clinic_id, pid, NOW)["promises"] == {"made": 1, "kept": 0, "broken": 0}


def test_the_promise_date_is_today_or_later_in_the_clinics_calendar(store):
    instant = at("2026-03-15T20:00:00Z")  # already 2026-03-16 in Kiritimati
    clinic_id = new_clinic(instant, "Pacific/Kiritimati")
    pid = owing(clinic_id, instant, days_before(TODAY, 10))
    from chalicelib.domain.errors import ValidationError
    with pytest.raises(ValidationError):
        log_attempt(clinic_id, "x", instant, pid, channel="phone", outcome="promised_payment",
                     promised_amount_cents=100, promised_date=TODAY)
    r = log_attempt(clinic_id, "x", instant, pid, channel="phone", outcome="promised_payment",
                     promised_amount_cents=100, promised_date=TODAY + timedelta(days=1))
    assert r["follow_up_status"] == "promised"
