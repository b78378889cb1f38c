"""Contact rules in the product (issue 19): each worklist row and the detail say whether the patient
may be called now, in the patient's own time; `contactable=true` keeps only those; callbacks due
when a rule blocks are refused unless overridden with a reason; attempts are logged anyway and
carry the rules they broke; the compliance report counts them (on the memory store; what the
worklist costs in DynamoDB is tests/api/test_contact_rules_access.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import clock
from chalicelib.domain.contact_rules import (
    DEFAULT_POLICY,
    ContactRuleBlocked,
)
from chalicelib.domain.errors import ValidationError
from chalicelib.services import holds, patients
from chalicelib.services.followups import Filters
from tests.fast.support import make_clinic
from tests.followups_support import (
    as_staff,
    at,
    audit_of,
    follow_up,
    log_attempt,
    new_clinic,
    owing,
    schedule_callback,
    staff_sub,
    update_callback,
    worklist,
)

STAFF = staff_sub("clerk-1")


def regulated_clinic(now: datetime, tz: str = "America/New_York") -> str:
    return new_clinic(now, tz, contact_policy=DEFAULT_POLICY)


def lives_in(clinic_id: str, pid: str, tz: str | None, do_not_contact=()) -> None:
    """The patient's own zone and refusals, as PATCH /patients sets them."""
    patients.update(routing.unit_of_work(), as_staff(clinic_id), datetime.now(UTC), pid,
                    {"timezone": tz, "do_not_contact": list(do_not_contact)})


def without_zone(contact: dict) -> dict:
    """The contract's three members of a `contact` (its `timezone` is tested apart)."""
    return {k: v for k, v in contact.items() if k != "timezone"}


def contact_of(clinic_id: str, pid: str, now: datetime) -> dict:
    [row] = [r for r in worklist(clinic_id, now)["items"] if r["patient_id"] == pid]
    return without_zone(row["contact"])


def call(clinic_id: str, pid: str, now: datetime, outcome: str = "no_answer", channel: str = "phone",
         by: str = STAFF) -> dict:
    return log_attempt(clinic_id, by, now, pid, channel=channel, outcome=outcome)


# ----- the worklist's contact, at the rules' boundaries ------------------------------------------
def test_a_patient_in_tokyo_may_be_called_at_2059_their_time_not_at_2100_whatever_new_yorks_clock_says():
    created = at("2026-06-01T12:00:00Z")
    clinic_id = regulated_clinic(created)
    pid = owing(clinic_id, created, created.date() - timedelta(days=10))
    lives_in(clinic_id, pid, "Asia/Tokyo")
    # 11:59Z is 20:59 in Tokyo and 07:59 in New York (the clinic's own hours would say no).
    assert contact_of(clinic_id, pid, at("2026-06-10T11:59:00Z")) == {
        "call_now": True, "blocked_by": [], "next_call_at": "2026-06-10T11:59:00Z"}
    assert contact_of(clinic_id, pid, at("2026-06-10T12:00:00Z")) == {
        "call_now": False, "blocked_by": ["outside_call_hours"], "next_call_at": "2026-06-10T23:00:00Z"}
    assert worklist(clinic_id, created)["items"][0]["contact"]["timezone"] == "Asia/Tokyo"


def test_without_a_zone_of_their_own_a_patient_is_judged_on_the_clinics_clock():
    created = at("2026-06-01T12:00:00Z")
    clinic_id = regulated_clinic(created)
    pid = owing(clinic_id, created, created.date() - timedelta(days=10))
    assert contact_of(clinic_id, pid, at("2026-06-10T11:59:00Z"))["blocked_by"] == ["outside_call_hours"]
    assert contact_of(clinic_id, pid, at("2026-06-10T12:00:00Z"))["call_now"] is True  # 08:00 EDT


def test_the_seventh_call_in_seven_days_is_allowed_and_flagged_nothing_the_eighth_is_blocked_and_flagged():
    monday = at("2026-06-01T14:00:00Z")  # 10:00 in New York
    clinic_id = regulated_clinic(monday)
    pid = owing(clinic_id, monday, monday.date() - timedelta(days=10))
    for n in range(7):
        r = call(clinic_id, pid, monday + timedelta(hours=n))
        assert r["rule_flags"] == [], n + 1
    now = monday + timedelta(hours=7, minutes=5)  # 17:05 the same Monday
    assert contact_of(clinic_id, pid, now) == {
        "call_now": False, "blocked_by": ["call_cap"], "next_call_at": "2026-06-08T12:00:00Z"}  # next Monday 08:00
    eighth = call(clinic_id, pid, now)
    assert eighth["rule_flags"] == ["call_cap"]
    assert contact_of(clinic_id, pid, at("2026-06-08T12:00:00Z"))["call_now"] is True


def test_after_a_conversation_day_7_is_quiet_and_calls_resume_at_the_start_of_day_8_call_hours():
    monday = at("2026-06-01T19:00:00Z")  # 15:00 in New York: day 1
    clinic_id = regulated_clinic(monday)
    pid = owing(clinic_id, monday, monday.date() - timedelta(days=10))
    call(clinic_id, pid, monday, outcome="dispute")
    day_7 = at("2026-06-07T16:00:00Z")  # Sunday 12:00
    assert contact_of(clinic_id, pid, day_7) == {
        "call_now": False, "blocked_by": ["recent_conversation"], "next_call_at": "2026-06-08T12:00:00Z"}
    assert contact_of(clinic_id, pid, at("2026-06-08T11:59:00Z"))["blocked_by"] == ["outside_call_hours"]
    assert contact_of(clinic_id, pid, at("2026-06-08T12:00:00Z"))["call_now"] is True  # day 8, 08:00


def test_an_unanswered_call_is_no_conversation_and_starts_no_quiet_days():
    monday = at("2026-06-01T19:00:00Z")
    clinic_id = regulated_clinic(monday)
    pid = owing(clinic_id, monday, monday.date() - timedelta(days=10))
    call(clinic_id, pid, monday, outcome="no_answer")
    assert contact_of(clinic_id, pid, monday + timedelta(hours=1))["call_now"] is True


@pytest.mark.parametrize("now, next_call_at", [
    ("2026-03-07T12:30:00Z", "2026-03-07T13:00:00Z"),  # Saturday 07:30 EST: 08:00 is 13:00Z
    ("2026-03-08T11:30:00Z", "2026-03-08T12:00:00Z"),  # the spring-forward Sunday, 07:30 EDT: 08:00 is 12:00Z
    ("2026-03-08T06:59:00Z", "2026-03-08T12:00:00Z"),  # 01:59 EST, just before the jump: still 08:00 EDT
])
def test_call_hours_open_at_0800_on_the_wall_clock_on_the_daylight_saving_day(now, next_call_at):
    created = at("2026-03-01T15:00:00Z")
    clinic_id = regulated_clinic(created)
    pid = owing(clinic_id, created, created.date() - timedelta(days=5))
    assert contact_of(clinic_id, pid, at(now)) == {
        "call_now": False, "blocked_by": ["outside_call_hours"], "next_call_at": next_call_at}


def test_a_patient_who_refused_calls_is_blocked_with_no_next_call_but_may_still_be_texted():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    lives_in(clinic_id, pid, None, {"phone"})
    assert contact_of(clinic_id, pid, now) == {"call_now": False, "blocked_by": ["do_not_contact"],
                                               "next_call_at": None}
    assert call(clinic_id, pid, now, channel="sms")["rule_flags"] == []
    assert call(clinic_id, pid, now, channel="phone")["rule_flags"] == ["do_not_contact"]


def test_a_patient_on_hold_is_blocked_through_the_holds_last_day_then_callable_at_0800():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    holds.place(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid, reason="dispute",
                until=now.date() + timedelta(days=2))
    assert without_zone(follow_up(clinic_id, pid, now)["contact"]) == {
        "call_now": False, "blocked_by": ["on_hold"], "next_call_at": "2026-06-05T12:00:00Z"}
    holds.release(routing.unit_of_work(), as_staff(clinic_id), now, patient_id=pid)
    assert contact_of(clinic_id, pid, now)["call_now"] is True


def test_the_detail_says_the_same_contact_as_the_worklist_row():
    now = at("2026-06-10T12:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    lives_in(clinic_id, pid, "Asia/Tokyo")
    detail = follow_up(clinic_id, pid, now)["contact"]
    assert {k: v for k, v in detail.items() if k != "timezone"} == contact_of(clinic_id, pid, now)
    assert detail["timezone"] == "Asia/Tokyo"


# ----- contactable=true --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crowd(store):
    """Twelve patients owing 1,000-12,000: every third refused calls, every fourth lives in Tokyo
    (asleep at 15:00Z); the rest are callable at 15:00Z (11:00 in New York)."""
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    callable_ = set()
    pids = []
    for n in range(12):
        pid = owing(clinic_id, now, now.date() - timedelta(days=30 + n), cents=1_000 * (n + 1))
        pids.append(pid)
        if n % 3 == 0:
            lives_in(clinic_id, pid, None, {"phone"})
        elif n % 4 == 0:
            lives_in(clinic_id, pid, "Asia/Tokyo")  # 00:00 in Tokyo
        else:
            callable_.add(pid)
    return clinic_id, now, pids, callable_


def every_page(clinic_id, now, filters, limit):
    rows, cursor = [], None
    while True:
        page = worklist(clinic_id, now, filters, limit=limit, cursor=cursor)
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_callable_now_keeps_only_patients_no_rule_blocks_page_after_page_in_worklist_order(crowd):
    clinic_id, now, pids, callable_ = crowd
    rows = every_page(clinic_id, now, Filters(contactable=True), limit=2)
    assert [r["patient_id"] for r in rows] == [p for p in pids if p in callable_][::-1]  # most overdue first
    assert {r["patient_id"] for r in rows} == callable_ and len(rows) == len(callable_)
    assert all(r["contact"]["call_now"] for r in rows)


def test_callable_now_combines_with_the_balance_filter(crowd):
    clinic_id, now, pids, callable_ = crowd
    rich = {p for n, p in enumerate(pids) if 1_000 * (n + 1) >= 6_000}
    rows = every_page(clinic_id, now, Filters(contactable=True, min_balance_cents=6_000), limit=3)
    assert {r["patient_id"] for r in rows} == callable_ & rich


def test_without_the_filter_every_patient_is_listed_with_their_contact(crowd):
    clinic_id, now, pids, callable_ = crowd
    rows = every_page(clinic_id, now, None, limit=5)
    assert {r["patient_id"] for r in rows} == set(pids)
    assert {r["patient_id"] for r in rows if r["contact"]["call_now"]} == callable_


def test_contactable_is_true_or_false_nothing_else(http):
    world = make_clinic(http)
    assert world.billing.get("/follow-ups?contactable=true").status == 200
    assert world.billing.get("/follow-ups?contactable=false").status == 200
    r = world.billing.get("/follow-ups?contactable=yes")
    assert r.status == 400 and "contactable" in r.body["error"]["fields"], r


# ----- callbacks ---------------------------------------------------------------------------------
def test_a_callback_at_2200_patient_time_is_refused_naming_the_rule_and_the_next_callable_instant():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    with pytest.raises(ContactRuleBlocked) as refused:
        schedule_callback(clinic_id, STAFF, now, pid, due_at=at("2026-06-03T02:00:00Z"))  # 22:00 EDT
    assert refused.value.code == "contact_rule"
    assert set(refused.value.fields) == {"outside_call_hours"}
    assert refused.value.extra()["next_call_at"] == "2026-06-03T12:00:00Z"


def test_an_override_reason_lets_the_callback_through_stored_returned_and_audited():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    cb = schedule_callback(clinic_id, STAFF, now, pid, due_at=at("2026-06-03T02:00:00Z"),
                           override_reason="Patient works nights and asked for 10 pm")
    assert (cb["override_reason"], cb["override_by"]) == ("Patient works nights and asked for 10 pm", STAFF)
    [entry] = [e for e in audit_of(clinic_id, pid) if e.action == "callback.scheduled"]
    assert entry.details["override_reason"] == "Patient works nights and asked for 10 pm"
    assert entry.details["overridden_rules"] == ["outside_call_hours"]
    assert follow_up(clinic_id, pid, now)["callbacks"][0]["override_reason"] == cb["override_reason"]


def test_a_callback_where_no_rule_blocks_needs_no_reason_and_keeps_none():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    cb = schedule_callback(clinic_id, STAFF, now, pid, due_at=at("2026-06-03T14:00:00Z"),
                           override_reason="not needed")
    assert (cb["override_reason"], cb["override_by"]) == (None, None)
    [entry] = [e for e in audit_of(clinic_id, pid) if e.action == "callback.scheduled"]
    assert "override_reason" not in entry.details


def test_rescheduling_into_blocked_hours_is_refused_unless_overridden():
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    cb = schedule_callback(clinic_id, STAFF, now, pid, due_at=at("2026-06-03T14:00:00Z"))
    with pytest.raises(ContactRuleBlocked):
        update_callback(clinic_id, STAFF, now, cb["callback_id"], due_at=at("2026-06-04T03:00:00Z"))
    moved = update_callback(clinic_id, STAFF, now, cb["callback_id"], due_at=at("2026-06-04T03:00:00Z"),
                            override_reason="only reachable at 11 pm")
    assert moved["override_reason"] == "only reachable at 11 pm"
    entry = [e for e in audit_of(clinic_id, pid) if e.action == "callback.updated"][-1]
    assert entry.details["overridden_rules"] == ["outside_call_hours"]


@pytest.mark.parametrize("reason", ["no", "  ab  ", "x" * 201])
def test_an_override_reason_says_why_in_3_to_200_characters(reason):
    now = at("2026-06-02T15:00:00Z")
    clinic_id = regulated_clinic(now)
    pid = owing(clinic_id, now, now.date() - timedelta(days=10))
    with pytest.raises(ValidationError) as bad:
        schedule_callback(clinic_id, STAFF, now, pid, due_at=at("2026-06-03T02:00:00Z"), override_reason=reason)
    assert "override_reason" in bad.value.fields


def test_the_409_body_carries_the_rules_and_next_call_at_and_a_short_reason_is_a_400(http):
    world = make_clinic(http, timezone="America/New_York", contact_policy=DEFAULT_POLICY)
    pid = world.patient("Night Owl")
    local_tomorrow = clock.local_date(datetime.now(UTC), "America/New_York") + timedelta(days=2)
    due = clock.local_wall_time_to_utc(datetime.combine(local_tomorrow, datetime.min.time()).replace(hour=22),
                                       "America/New_York")
    opens = clock.local_wall_time_to_utc(
        datetime.combine(local_tomorrow + timedelta(days=1), datetime.min.time()).replace(hour=8), "America/New_York")
    r = world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": clock.short_z(due)})
    assert r.status == 409, r
    assert r.body["error"]["code"] == "contact_rule"
    assert set(r.body["error"]["fields"]) == {"outside_call_hours"}
    assert r.body["error"]["next_call_at"] == clock.short_z(opens)
    short = world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": clock.short_z(due), "override_reason": "x"})
    assert short.status == 400 and "override_reason" in short.body["error"]["fields"], short
    ok = world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": clock.short_z(due),
                                                             "override_reason": "asked for a late call"})
    assert ok.status == 201 and ok.body["override_reason"] == "asked for a late call", ok


# ----- attempts ----------------------------------------------------------------------------------
def test_a_call_at_2130_is_logged_anyway_and_says_which_rule_it_broke_in_the_answer_and_the_audit():
    now = at("2026-06-03T01:30:00Z")  # 21:30 EDT
    clinic_id = regulated_clinic(now - timedelta(days=1))
    pid = owing(clinic_id, now - timedelta(days=1), now.date() - timedelta(days=10))
    r = call(clinic_id, pid, now, outcome="hung_up")
    assert r["rule_flags"] == ["outside_call_hours"]
    [entry] = [e for e in audit_of(clinic_id, pid) if e.action == "attempt.logged"]
    assert entry.details["rule_flags"] == ["outside_call_hours"]
    assert follow_up(clinic_id, pid, now)["attempts"][0]["rule_flags"] == ["outside_call_hours"]
    # ...and the conversation it was starts the quiet days all the same
    assert contact_of(clinic_id, pid, at("2026-06-03T14:00:00Z"))["blocked_by"] == ["recent_conversation"]


def test_an_email_is_held_to_no_call_rule():
    now = at("2026-06-03T01:30:00Z")
    clinic_id = regulated_clinic(now - timedelta(days=1))
    pid = owing(clinic_id, now - timedelta(days=1), now.date() - timedelta(days=10))
    assert call(clinic_id, pid, now, channel="email")["rule_flags"] == []
    assert contact_of(clinic_id, pid, now)["blocked_by"] == ["outside_call_hours"]  # no call remembered


# ----- the compliance report ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def june(http):
    world = make_clinic(http, timezone="America/New_York", name="Compliance Clinic", now=at("2026-05-01T12:00:00Z"),
                        contact_policy=DEFAULT_POLICY)
    ann, bob = world.sub("billing"), world.sub("billing2")
    clinic_id = world.clinic_id
    day = at("2026-06-02T15:00:00Z")
    pid = owing(clinic_id, day, day.date() - timedelta(days=10))
    call(clinic_id, pid, day, by=ann)  # fine
    call(clinic_id, pid, at("2026-06-03T02:00:00Z"), by=bob)  # 22:00: outside hours
    other = owing(clinic_id, day, day.date() - timedelta(days=10))
    lives_in(clinic_id, other, None, {"phone"})
    call(clinic_id, other, at("2026-06-04T03:30:00Z"), by=bob)  # 23:30 and refused: two rules
    call(clinic_id, other, day, by=ann, channel="sms")  # allowed
    schedule_callback(clinic_id, ann, day, pid, due_at=at("2026-06-05T02:00:00Z"), override_reason="works nights")
    call(clinic_id, pid, at("2026-07-02T02:00:00Z"), by=bob)  # 1 July 22:00 local: outside the range
    return world, ann, bob


def test_the_compliance_report_counts_each_members_attempts_flags_per_rule_and_overrides(june):
    world, ann, bob = june
    r = world.owner.get("/reports/contact-compliance?from=2026-06-01&to=2026-06-30")
    assert r.status == 200, r
    items = {i["sub"]: i for i in r.body["items"]}
    assert (r.body["from"], r.body["to"]) == ("2026-06-01", "2026-06-30")
    zero = {"do_not_contact": 0, "outside_call_hours": 0, "call_cap": 0, "recent_conversation": 0, "on_hold": 0}
    assert items[ann] == {"sub": ann, "name": "Billing", "attempts": 2, "flagged": zero, "overrides": 1}
    assert items[bob] == {"sub": bob, "name": "Billing2", "attempts": 2,
                          "flagged": {**zero, "outside_call_hours": 2, "do_not_contact": 1}, "overrides": 0}
    assert items[world.sub("owner")]["attempts"] == 0


def test_the_compliance_csv_has_a_column_per_rule_and_the_same_figures(june):
    world, ann, bob = june
    r = world.admin.get("/reports/contact-compliance?from=2026-06-01&to=2026-06-30&format=csv")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="contact-compliance-2026-06-01-to-2026-06-30.csv"' in r.headers["Content-Disposition"]
    rows = {row["sub"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows[bob]["flagged.outside_call_hours"] == "2" and rows[bob]["flagged.do_not_contact"] == "1"
    assert rows[ann]["overrides"] == "1" and rows[ann]["attempts"] == "2"


def test_billing_staff_may_not_read_the_compliance_report_and_a_bad_range_is_a_400(june):
    world, _, _ = june
    assert world.billing.get("/reports/contact-compliance?from=2026-06-01&to=2026-06-30").status == 403
    assert world.owner.get("/reports/contact-compliance?from=2026-06-30&to=2026-06-01").status == 400
    assert world.owner.get("/reports/contact-compliance?from=2026-06-01").status == 400
