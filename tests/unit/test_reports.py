"""Report rules without AWS: aging buckets, the reporting range, who recovered a payment, the
staff-performance tally and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.reports import (
    AttemptEvent,
    CallbackEvent,
    Member,
    OpenInvoice,
    PaymentEvent,
    PromiseEvent,
    Window,
    aging_report,
    check_range,
    csv_columns,
    recovering_member,
    staff_performance,
    to_csv,
)

CHANNELS = ("phone", "email", "sms", "in_person")
OUTCOMES = ("no_answer", "promised_payment", "dispute", "hung_up", "refused", "no_payment_despite_promise")
TODAY = date(2026, 3, 10)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# ----- aging -----------------------------------------------------------------------------------
def test_each_open_invoice_counts_in_the_bucket_of_its_own_age_not_its_patients_oldest():
    report = aging_report([OpenInvoice("p1", ago(100), 5_000), OpenInvoice("p1", ago(3), 200)], [], TODAY)
    assert [(b["bucket"], b["invoices"], b["patients"], b["balance_cents"]) for b in report["buckets"]] == [
        ("0-30", 1, 1, 200), ("31-60", 0, 0, 0), ("61-90", 0, 0, 0), ("90+", 1, 1, 5_000)]


@pytest.mark.parametrize(("days", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                              (61, "61-90"), (90, "61-90"), (91, "90+"), (4_000, "90+")])
def test_bucket_edges_are_whole_clinic_local_days(days, bucket):
    report = aging_report([OpenInvoice("p", ago(days), 100)], [], TODAY)
    assert {b["bucket"]: b["invoices"] for b in report["buckets"]}[bucket] == 1


def test_a_patient_counts_once_per_bucket_and_the_total_is_the_sum_of_the_buckets():
    report = aging_report([OpenInvoice("p1", ago(1), 100), OpenInvoice("p1", ago(2), 200),
                           OpenInvoice("p2", ago(3), 300), OpenInvoice("p2", ago(45), 400)], [700, 0], TODAY)
    first, second = report["buckets"][:2]
    assert (first["invoices"], first["patients"], first["balance_cents"]) == (3, 2, 600)
    assert (second["invoices"], second["patients"], second["balance_cents"]) == (1, 1, 400)
    assert report["total_cents"] == 1_000 and report["plan_remainder_cents"] == 700
    assert report["as_of"] == "2026-03-10"


def test_nothing_owed_still_gives_the_four_buckets_in_order():
    report = aging_report([], [], TODAY)
    assert [b["bucket"] for b in report["buckets"]] == ["0-30", "31-60", "61-90", "90+"]
    assert report["total_cents"] == 0 and report["plan_remainder_cents"] == 0


# ----- range -----------------------------------------------------------------------------------
def test_a_range_of_one_day_or_of_366_days_is_fine():
    check_range(date(2026, 1, 1), date(2026, 1, 1))
    check_range(date(2024, 1, 1), date(2025, 1, 1))  # 366 days apart (leap year)


@pytest.mark.parametrize(("start", "end"), [(date(2026, 1, 2), date(2026, 1, 1)),
                                            (date(2025, 1, 1), date(2026, 1, 3))])
def test_from_after_to_or_more_than_366_days_apart_is_refused(start, end):
    with pytest.raises(ValidationError) as e:
        check_range(start, end)
    assert "to" in e.value.fields


@pytest.mark.parametrize(("start", "end", "field"), [(date(1, 1, 1), date(1, 1, 2), "from"),
                                                     (date(9999, 12, 30), date(9999, 12, 31), "from"),
                                                     (date(9998, 12, 31), date(9999, 12, 31), "to")])
def test_dates_whose_days_cannot_be_instants_are_refused_not_crashed_on(start, end, field):
    with pytest.raises(ValidationError) as e:
        check_range(start, end)
    assert field in e.value.fields
    clock.end_of_local_day(date(9998, 12, 31), "Pacific/Kiritimati")  # the latest day allowed is fine
    clock.start_of_local_day(date(1900, 1, 1), "Asia/Kathmandu")


# ----- who recovered a payment ---------------------------------------------------------------------
PAID = utc("2026-03-31T12:00:00")


def test_the_latest_attempt_before_the_payment_recovers_it():
    attempts = [(PAID - timedelta(days=9), "ann"), (PAID - timedelta(days=2), "bob"), (PAID + timedelta(hours=1), "cy")]
    assert recovering_member(attempts, PAID) == "bob"


def test_an_attempt_exactly_30_days_older_still_counts_a_moment_more_does_not():
    assert recovering_member([(PAID - timedelta(days=30), "ann")], PAID) == "ann"
    assert recovering_member([(PAID - timedelta(days=30, microseconds=1), "ann")], PAID) is None


def test_when_the_latest_attempt_is_too_old_an_even_older_one_does_not_count_instead():
    assert recovering_member([(PAID - timedelta(days=40), "ann"), (PAID - timedelta(days=31), "bob")], PAID) is None


def test_the_scheduled_runs_attempts_are_nobodys_and_do_not_hide_the_staff_attempt_before_them():
    attempts = [(PAID - timedelta(days=5), "ann"), (PAID - timedelta(days=1), "system")]
    assert recovering_member(attempts, PAID) == "ann"
    assert recovering_member([(PAID - timedelta(days=1), "system")], PAID) is None


def test_no_attempt_before_the_payment_recovers_nothing():
    assert recovering_member([], PAID) is None
    assert recovering_member([(PAID + timedelta(seconds=1), "ann")], PAID) is None


# ----- staff performance ---------------------------------------------------------------------------
# The clinic-local February 2026 in New York: 05:00 UTC on Feb 1 up to 05:00 UTC on Mar 1.
FEB = Window(clock.start_of_local_day(date(2026, 2, 1), "America/New_York"),
             clock.end_of_local_day(date(2026, 2, 28), "America/New_York"))
NOW = utc("2026-02-20T12:00:00")
ANN, BOB = Member("s-ann", "Ann"), Member("s-bob", "bob")


def tally(**events):
    return {row["sub"]: row for row in staff_performance(
        [BOB, ANN], FEB, NOW, channels=CHANNELS, outcomes=OUTCOMES, promised_outcome="promised_payment", **events)}


def test_the_window_is_the_clinic_local_days_start_inclusive_end_exclusive():
    assert FEB.start == utc("2026-02-01T05:00:00") and FEB.end == utc("2026-03-01T05:00:00")
    rows = tally(attempts=[AttemptEvent("s-ann", utc("2026-02-01T04:59:59.999999"), "phone", "no_answer"),
                           AttemptEvent("s-ann", utc("2026-02-01T05:00:00"), "phone", "no_answer"),
                           AttemptEvent("s-ann", utc("2026-03-01T04:59:59.999999"), "sms", "refused"),
                           AttemptEvent("s-ann", utc("2026-03-01T05:00:00"), "phone", "no_answer")])
    assert rows["s-ann"]["attempts"] == 2
    assert rows["s-ann"]["by_channel"] == {"phone": 1, "email": 0, "sms": 1, "in_person": 0}


def test_every_staff_member_has_a_row_with_every_channel_and_outcome_even_with_no_activity():
    rows = staff_performance([ANN, BOB], FEB, NOW, channels=CHANNELS, outcomes=OUTCOMES,
                             promised_outcome="promised_payment")
    assert [r["name"] for r in rows] == ["Ann", "bob"]  # by name, case-insensitively
    assert rows[0] == {"sub": "s-ann", "name": "Ann", "attempts": 0,
                       "by_channel": dict.fromkeys(CHANNELS, 0), "by_outcome": dict.fromkeys(OUTCOMES, 0),
                       "promises_made": 0, "promises_kept": 0, "promises_broken": 0, "callbacks_done": 0,
                       "callbacks_overdue": 0, "recovered_cents": 0}


def test_the_scheduled_run_and_unknown_people_count_for_nobody():
    rows = tally(attempts=[AttemptEvent("system", utc("2026-02-10T00:00:00"), "phone", "no_payment_despite_promise"),
                           AttemptEvent("s-gone", utc("2026-02-10T00:00:00"), "phone", "no_answer")],
                 payments=[PaymentEvent(None, 500, utc("2026-02-10T00:00:00"))])
    assert sum(r["attempts"] + r["recovered_cents"] for r in rows.values()) == 0


def test_promises_count_when_resolved_and_go_to_the_member_who_made_them():
    rows = tally(attempts=[AttemptEvent("s-ann", utc("2026-02-02T12:00:00"), "email", "promised_payment")],
                 promises=[PromiseEvent("s-ann", "kept", utc("2026-02-05T12:00:00")),
                           PromiseEvent("s-bob", "broken", utc("2026-02-27T12:00:00")),
                           PromiseEvent("s-bob", "broken", utc("2026-03-02T12:00:00")),  # after the range
                           PromiseEvent("s-ann", "pending", None),
                           PromiseEvent("s-ann", "cancelled", None)])
    assert (rows["s-ann"]["promises_made"], rows["s-ann"]["promises_kept"], rows["s-ann"]["promises_broken"]) == (
        1, 1, 0)
    assert (rows["s-bob"]["promises_made"], rows["s-bob"]["promises_kept"], rows["s-bob"]["promises_broken"]) == (
        0, 0, 1)


def test_callbacks_are_done_when_done_and_overdue_while_scheduled_past_their_time():
    rows = tally(callbacks=[
        CallbackEvent("s-ann", "done", utc("2026-01-30T12:00:00"), utc("2026-02-03T12:00:00")),  # done in range
        CallbackEvent("s-ann", "done", utc("2026-02-27T12:00:00"), utc("2026-03-02T12:00:00")),  # done after it
        CallbackEvent("s-bob", "scheduled", utc("2026-02-19T12:00:00"), None),  # overdue
        CallbackEvent("s-bob", "scheduled", utc("2026-02-21T12:00:00"), None),  # due after now: not yet
        CallbackEvent("s-bob", "scheduled", utc("2026-01-31T12:00:00"), None),  # due before the range
        CallbackEvent("s-bob", "cancelled", utc("2026-02-10T12:00:00"), None)])
    assert (rows["s-ann"]["callbacks_done"], rows["s-ann"]["callbacks_overdue"]) == (1, 0)
    assert (rows["s-bob"]["callbacks_done"], rows["s-bob"]["callbacks_overdue"]) == (0, 1)


def test_recovered_cents_are_the_ranges_payments_credited_to_the_member():
    rows = tally(payments=[PaymentEvent("s-ann", 1_000, utc("2026-02-03T00:00:00")),
                           PaymentEvent("s-ann", 250, utc("2026-02-28T23:00:00")),
                           PaymentEvent("s-ann", 9_999, utc("2026-03-01T06:00:00")),
                           PaymentEvent("s-bob", 40, utc("2026-02-10T00:00:00"))])
    assert (rows["s-ann"]["recovered_cents"], rows["s-bob"]["recovered_cents"]) == (1_250, 40)


# ----- CSV -------------------------------------------------------------------------------------------
def test_the_csv_has_a_header_and_one_row_per_member_with_the_breakdowns_flattened():
    items = list(tally(attempts=[AttemptEvent("s-bob", utc("2026-02-02T12:00:00"), "sms", "dispute")]).values())
    rows = list(csv.reader(io.StringIO(to_csv(items, CHANNELS, OUTCOMES))))
    assert rows[0] == csv_columns(CHANNELS, OUTCOMES)
    assert rows[0][:4] == ["sub", "name", "attempts", "by_channel.phone"] and rows[0][-1] == "recovered_cents"
    by_sub = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert len(rows) == 3 and by_sub["s-bob"]["by_channel.sms"] == "1" and by_sub["s-bob"]["by_outcome.dispute"] == "1"
    assert by_sub["s-ann"]["attempts"] == "0"


def test_names_are_quoted_and_spreadsheet_formulas_defused():
    members = [Member("s1", '=HYPERLINK("http://x","y")'), Member("s2", "Smith, Jo \"JJ\"\nNight shift")]
    items = staff_performance(members, FEB, NOW, channels=CHANNELS, outcomes=OUTCOMES,
                              promised_outcome="promised_payment")
    rows = list(csv.reader(io.StringIO(to_csv(items, CHANNELS, OUTCOMES))))
    names = {r[0]: r[1] for r in rows[1:]}
    assert names == {"s1": "'=HYPERLINK(\"http://x\",\"y\")", "s2": "Smith, Jo \"JJ\"\nNight shift"}
