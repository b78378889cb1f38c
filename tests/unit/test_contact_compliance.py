"""The contact-compliance report's figures: per staff member, attempts, the attempts that broke
each contact rule, and the callbacks they scheduled past a rule, counted in the clinic-local range."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain import clock
from chalicelib.domain.contact_rules import RULES
from chalicelib.domain.reports import (
    AttemptEvent,
    CallbackEvent,
    Member,
    Window,
    compliance_csv_columns,
    compliance_to_csv,
    contact_compliance,
)

NY = "America/New_York"
# February 2026 in New York: [2026-02-01T05:00Z, 2026-03-01T05:00Z)
FEBRUARY = Window(clock.start_of_local_day(date(2026, 2, 1), NY), clock.end_of_local_day(date(2026, 2, 28), NY))
ANN, BOB = Member("s-ann", "Ann"), Member("s-bob", "bob")
NO_FLAGS = dict.fromkeys(RULES, 0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def report(attempts=(), callbacks=(), members=(ANN, BOB)):
    return {row["sub"]: row for row in contact_compliance(members, FEBRUARY, rules=RULES, attempts=attempts,
                                                          callbacks=callbacks)}


def attempt(by, at, *flags, channel="phone"):
    return AttemptEvent(by, utc(at), channel, "no_answer", tuple(flags))


def test_every_member_has_a_row_with_every_rule_even_without_activity():
    rows = contact_compliance([BOB, ANN], FEBRUARY, rules=RULES)
    assert rows == [{"sub": "s-ann", "name": "Ann", "attempts": 0, "flagged": NO_FLAGS, "overrides": 0},
                    {"sub": "s-bob", "name": "bob", "attempts": 0, "flagged": NO_FLAGS, "overrides": 0}]


def test_flagged_attempts_count_under_each_rule_they_broke():
    rows = report(attempts=[
        attempt("s-ann", "2026-02-02T02:30:00", "outside_call_hours"),  # 21:30 on Feb 1 in New York
        attempt("s-ann", "2026-02-03T15:00:00", "call_cap", "recent_conversation"),
        attempt("s-ann", "2026-02-04T15:00:00"),
        attempt("s-bob", "2026-02-04T15:00:00", "do_not_contact", channel="sms"),
    ])
    assert rows["s-ann"]["attempts"] == 3
    assert rows["s-ann"]["flagged"] == {**NO_FLAGS, "outside_call_hours": 1, "call_cap": 1, "recent_conversation": 1}
    assert rows["s-bob"]["attempts"] == 1 and rows["s-bob"]["flagged"]["do_not_contact"] == 1


def test_attempts_count_by_the_clinic_local_range_inclusive_of_its_first_instant_only():
    rows = report(attempts=[
        attempt("s-ann", "2026-02-01T04:59:59.999999", "on_hold"),  # Jan 31 in New York
        attempt("s-ann", "2026-02-01T05:00:00", "on_hold"),
        attempt("s-ann", "2026-03-01T04:59:59.999999", "on_hold"),
        attempt("s-ann", "2026-03-01T05:00:00", "on_hold"),  # Mar 1 in New York
    ])
    assert rows["s-ann"]["attempts"] == 2 and rows["s-ann"]["flagged"]["on_hold"] == 2


def test_the_scheduled_runs_attempts_count_for_nobody():
    rows = report(attempts=[attempt("system", "2026-02-10T15:00:00", "call_cap")])
    assert all(row["attempts"] == 0 and row["flagged"] == NO_FLAGS for row in rows.values())


def test_an_override_counts_for_whoever_gave_it_at_the_call_it_is_about():
    due = utc("2026-02-10T03:00:00")  # 22:00 on Feb 9 in New York
    rows = report(callbacks=[
        CallbackEvent("s-bob", "scheduled", due, None, override_by="s-ann"),  # Ann overrode for Bob
        CallbackEvent("s-ann", "scheduled", due, None),  # no override
        CallbackEvent("s-bob", "done", utc("2026-01-20T15:00:00"), utc("2026-02-02T15:00:00"), override_by="s-bob"),
        CallbackEvent("s-bob", "scheduled", utc("2026-03-02T15:00:00"), None, override_by="s-bob"),  # March
        CallbackEvent("s-bob", "cancelled", due + timedelta(days=1), None, override_by="system"),
    ])
    assert rows["s-ann"]["overrides"] == 1
    assert rows["s-bob"]["overrides"] == 1  # the done one, when done; not the March one


def test_the_csv_has_a_column_per_rule_whatever_the_data():
    rows = contact_compliance([ANN], FEBRUARY, rules=RULES,
                              attempts=[attempt("s-ann", "2026-02-10T15:00:00", "call_cap")])
    text = compliance_to_csv(rows, RULES)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == compliance_csv_columns(RULES) == [
        "sub", "name", "attempts", "flagged.do_not_contact", "flagged.outside_call_hours", "flagged.call_cap",
        "flagged.recent_conversation", "flagged.on_hold", "overrides"]
    assert table[1] == ["s-ann", "Ann", "1", "0", "0", "1", "0", "0", "0"]


def test_a_name_that_looks_like_a_formula_is_quoted_in_the_csv():
    rows = contact_compliance([Member("s-x", "=HYPERLINK(1)")], FEBRUARY, rules=RULES)
    assert "'=HYPERLINK(1)" in compliance_to_csv(rows, RULES)
