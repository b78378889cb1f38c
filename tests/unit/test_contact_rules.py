"""Contact rules: who may be called now, in the patient's own time, and from when.

Dates are chosen so the week is plain: 2026-06-01 is a Monday; New York is UTC-4 in June.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import contact_rules as cr
from chalicelib.domain.contact_rules import ContactFacts, ContactPolicy, contact_state, rule_flags
from chalicelib.domain.errors import ValidationError

NY = "America/New_York"
POLICY = ContactPolicy()


def local(tz: str, *args) -> datetime:
    """A wall time in `tz` as a UTC instant (first occurrence when repeated)."""
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def calls(tz: str, *walls, outcome="no_answer") -> tuple:
    return tuple((local(tz, *w), outcome) for w in walls)


def state(now: datetime, facts: ContactFacts = ContactFacts(), clinic_tz: str = NY, policy: ContactPolicy = POLICY):
    return contact_state(policy, clinic_tz, facts, now)


def assert_callable(s):
    assert s.call_now and s.blocked_by == (), s


# ----- call hours --------------------------------------------------------------------------
def test_07_59_in_the_morning_is_too_early_and_08_00_is_callable():
    assert state(local(NY, 2026, 6, 1, 7, 59)).blocked_by == ("outside_call_hours",)
    assert_callable(state(local(NY, 2026, 6, 1, 8, 0)))


def test_20_59_is_still_callable_and_21_00_is_not():
    assert_callable(state(local(NY, 2026, 6, 1, 20, 59, 59)))
    late = state(local(NY, 2026, 6, 1, 21, 0))
    assert late.blocked_by == ("outside_call_hours",)
    assert late.next_call_at == local(NY, 2026, 6, 2, 8, 0)


def test_a_callable_patient_can_be_called_from_now():
    now = local(NY, 2026, 6, 1, 10, 0)
    assert state(now).next_call_at == now


def test_a_patient_in_honolulu_is_judged_on_honolulu_time_not_the_new_york_clinics():
    honolulu = ContactFacts(timezone="Pacific/Honolulu")
    now = local(NY, 2026, 6, 1, 10, 0)  # 04:00 in Honolulu
    s = state(now, honolulu)
    assert s.blocked_by == ("outside_call_hours",)
    assert s.next_call_at == local("Pacific/Honolulu", 2026, 6, 1, 8, 0)  # 14:00 in New York
    evening = local(NY, 2026, 6, 1, 23, 30)  # 17:30 in Honolulu: callable while New York sleeps
    assert_callable(state(evening, honolulu))


def test_a_patient_in_tokyo_of_a_los_angeles_clinic_is_called_in_tokyos_morning():
    tokyo = ContactFacts(timezone="Asia/Tokyo")
    now = local("America/Los_Angeles", 2026, 6, 1, 9, 0)  # 01:00 the next day in Tokyo
    s = state(now, tokyo, clinic_tz="America/Los_Angeles")
    assert s.next_call_at == local("Asia/Tokyo", 2026, 6, 2, 8, 0)  # 16:00 in Los Angeles
    assert s.next_call_at == datetime(2026, 6, 1, 23, 0, tzinfo=UTC)


def test_a_patient_a_day_ahead_of_the_clinic_is_called_on_their_own_date():
    # Kiritimati (+14) is 25 hours ahead of Pago Pago (-11): Monday 19:00 in Pago Pago is
    # Tuesday 20:00 there; an hour later it is 21:00 on Tuesday for the patient.
    kiritimati = ContactFacts(timezone="Pacific/Kiritimati")
    assert_callable(state(local("Pacific/Pago_Pago", 2026, 6, 1, 19, 0), kiritimati, clinic_tz="Pacific/Pago_Pago"))
    s = state(local("Pacific/Pago_Pago", 2026, 6, 1, 20, 0), kiritimati, clinic_tz="Pacific/Pago_Pago")
    assert s.blocked_by == ("outside_call_hours",)
    assert s.next_call_at == local("Pacific/Kiritimati", 2026, 6, 3, 8, 0)


def test_a_patient_without_a_time_zone_is_judged_on_the_clinics():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York, 17:30 in Kolkata
    assert_callable(state(now, clinic_tz=NY))
    assert state(now, clinic_tz="Australia/Sydney").blocked_by == ("outside_call_hours",)  # 22:00


@pytest.mark.parametrize("tz, before, at_eight", [
    ("Asia/Kolkata", datetime(2026, 7, 1, 2, 29), datetime(2026, 7, 1, 2, 30)),        # +05:30
    ("Asia/Kathmandu", datetime(2026, 7, 1, 2, 14), datetime(2026, 7, 1, 2, 15)),      # +05:45
    ("Australia/Eucla", datetime(2026, 6, 30, 23, 14), datetime(2026, 6, 30, 23, 15)),  # +08:45
    ("America/St_Johns", datetime(2026, 7, 1, 10, 29), datetime(2026, 7, 1, 10, 30)),  # -02:30 (summer)
    ("America/St_Johns", datetime(2026, 1, 5, 11, 29), datetime(2026, 1, 5, 11, 30)),  # -03:30 (winter)
])
def test_eight_in_the_morning_is_found_in_zones_with_half_and_quarter_hour_offsets(tz, before, at_eight):
    facts = ContactFacts(timezone=tz)
    early = state(before.replace(tzinfo=UTC), facts)
    assert early.blocked_by == ("outside_call_hours",)
    assert early.next_call_at == at_eight.replace(tzinfo=UTC)
    assert_callable(state(at_eight.replace(tzinfo=UTC), facts))


def test_eight_in_the_morning_in_chatham_summer_is_a_quarter_past_six_the_evening_before_utc():
    chatham = ContactFacts(timezone="Pacific/Chatham")  # +13:45 in January
    s = state(datetime(2026, 1, 14, 18, 0, tzinfo=UTC), chatham)
    assert s.next_call_at == datetime(2026, 1, 14, 18, 15, tzinfo=UTC)


def test_nine_in_the_evening_in_eucla_is_a_quarter_past_noon_utc():
    eucla = ContactFacts(timezone="Australia/Eucla")
    assert_callable(state(datetime(2026, 6, 1, 12, 14, tzinfo=UTC), eucla))
    s = state(datetime(2026, 6, 1, 12, 15, tzinfo=UTC), eucla)
    assert s.blocked_by == ("outside_call_hours",)
    assert s.next_call_at == datetime(2026, 6, 1, 23, 15, tzinfo=UTC)


# ----- call hours on DST days ------------------------------------------------------------------
def test_the_morning_after_new_yorks_spring_forward_starts_at_eight_summer_time():
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; 08:00 that day is 12:00 UTC (13:00 the day before).
    s = state(local(NY, 2026, 3, 7, 21, 30))
    assert s.next_call_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_the_morning_after_new_yorks_fall_back_starts_at_eight_standard_time():
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST; 08:00 that day is 13:00 UTC.
    s = state(local(NY, 2026, 10, 31, 21, 30))
    assert s.next_call_at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_london_mornings_follow_british_summer_time_on_both_change_days():
    london = "Europe/London"
    assert state(local(london, 2026, 3, 28, 22, 0), clinic_tz=london).next_call_at == \
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 08:00 BST (01:00 GMT jumped to 02:00 BST)
    assert state(local(london, 2026, 10, 24, 22, 0), clinic_tz=london).next_call_at == \
        datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 08:00 GMT (02:00 BST fell back to 01:00 GMT)


def test_hours_that_do_not_exist_on_the_spring_forward_day_move_to_the_next_day():
    gap_hours = ContactPolicy(call_start=time(2, 15), call_end=time(2, 45))
    s = state(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), policy=gap_hours)  # 00:00 EST
    assert s.next_call_at == local(NY, 2026, 3, 9, 2, 15)


def test_hours_starting_inside_the_spring_gap_open_at_the_jump_itself():
    policy = ContactPolicy(call_start=time(2, 30), call_end=time(9, 0))
    s = state(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), policy=policy)
    assert s.next_call_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the first instant after 02:30
    assert_callable(state(s.next_call_at, policy=policy))
    assert not state(s.next_call_at - timedelta(seconds=1), policy=policy).call_now  # 01:59:59 EST


def test_a_local_time_repeated_by_the_fall_back_is_callable_both_times():
    policy = ContactPolicy(call_start=time(1, 0), call_end=time(1, 30))
    first_pass_over = datetime(2026, 11, 1, 5, 45, tzinfo=UTC)  # 01:45 EDT
    s = state(first_pass_over, policy=policy)
    assert s.next_call_at == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST, the second 01:00


def test_the_hours_rule_reports_its_own_clearing_instant():
    check = cr.outside_call_hours(POLICY, NY, ContactFacts(), local(NY, 2026, 6, 1, 6, 0))
    assert check.blocks and check.clears_at == local(NY, 2026, 6, 1, 8, 0)
    inside = local(NY, 2026, 6, 1, 9, 0)
    assert cr.outside_call_hours(POLICY, NY, ContactFacts(), inside) == cr.Check("outside_call_hours", False, inside)


# ----- the 7-in-7 cap ------------------------------------------------------------------------
SIX_CALLS = calls(NY, *[(2026, 6, d, 10, 0) for d in range(2, 8)])  # Tue..Sun


def test_after_six_calls_in_seven_days_the_seventh_is_allowed():
    assert_callable(state(local(NY, 2026, 6, 7, 12, 0), ContactFacts(phone_attempts=SIX_CALLS)))


def test_after_seven_calls_in_seven_days_the_eighth_is_blocked_until_the_oldest_drops_out():
    seven = calls(NY, (2026, 6, 1, 10, 0)) + SIX_CALLS  # Mon..Sun
    s = state(local(NY, 2026, 6, 7, 12, 0), ContactFacts(phone_attempts=seven))
    assert s.blocked_by == ("call_cap",)
    # Monday's call is out of the window Tue..Mon from Monday 00:00; the hours open at 08:00.
    assert s.next_call_at == local(NY, 2026, 6, 8, 8, 0)
    check = cr.call_cap(POLICY, NY, ContactFacts(phone_attempts=seven), local(NY, 2026, 6, 7, 12, 0))
    assert check.clears_at == local(NY, 2026, 6, 8, 0, 0)


def test_seven_calls_on_one_day_block_that_day_and_the_six_after_it():
    monday = calls(NY, *[(2026, 6, 1, 9, m) for m in range(7)])
    facts = ContactFacts(phone_attempts=monday)
    assert state(local(NY, 2026, 6, 7, 20, 59), facts).blocked_by == ("call_cap",)  # day 7
    assert_callable(state(local(NY, 2026, 6, 8, 8, 0), facts))  # day 8


def test_the_calls_are_counted_on_the_patients_calendar_not_the_clinics():
    # 23:30 in New York on Monday is 12:30 on Tuesday in Tokyo: the calls are Tuesday's there.
    late = calls(NY, *[(2026, 6, 1, 23, m) for m in range(30, 37)])
    tokyo = ContactFacts(timezone="Asia/Tokyo", phone_attempts=late)
    s = state(local("Asia/Tokyo", 2026, 6, 8, 12, 0), tokyo)
    assert s.blocked_by == ("call_cap",)
    assert s.next_call_at == local("Asia/Tokyo", 2026, 6, 9, 8, 0)


def test_a_clinic_may_allow_fewer_calls():
    strict = ContactPolicy(max_calls_per_7_days=2)
    two = calls(NY, (2026, 6, 1, 10, 0), (2026, 6, 3, 10, 0))
    assert state(local(NY, 2026, 6, 4, 10, 0), ContactFacts(phone_attempts=two), policy=strict).blocked_by == \
        ("call_cap",)
    assert_callable(state(local(NY, 2026, 6, 8, 8, 0), ContactFacts(phone_attempts=two), policy=strict))


# ----- the quiet days after a conversation -------------------------------------------------------
MONDAY_TALK = calls(NY, (2026, 6, 1, 15, 0), outcome="dispute")


def test_on_day_seven_after_a_conversation_no_call_and_on_day_eight_calls_resume():
    facts = ContactFacts(phone_attempts=MONDAY_TALK)
    sunday = state(local(NY, 2026, 6, 7, 20, 0), facts)  # the conversation's Monday is day 1
    assert sunday.blocked_by == ("recent_conversation",)
    assert sunday.next_call_at == local(NY, 2026, 6, 8, 8, 0)
    assert_callable(state(local(NY, 2026, 6, 8, 8, 0), facts))


def test_the_morning_the_quiet_period_ends_only_the_hours_still_block():
    facts = ContactFacts(phone_attempts=MONDAY_TALK)
    assert state(local(NY, 2026, 6, 8, 7, 59), facts).blocked_by == ("outside_call_hours",)


def test_no_answer_is_not_a_conversation_but_a_hang_up_is():
    assert_callable(state(local(NY, 2026, 6, 2, 10, 0), ContactFacts(phone_attempts=calls(NY, (2026, 6, 1, 15, 0)))))
    hung_up = ContactFacts(phone_attempts=calls(NY, (2026, 6, 1, 15, 0), outcome="hung_up"))
    assert state(local(NY, 2026, 6, 2, 10, 0), hung_up).blocked_by == ("recent_conversation",)


def test_a_conversation_older_than_every_kept_call_still_counts():
    facts = ContactFacts(last_conversation_at=local(NY, 2026, 6, 1, 15, 0))
    assert state(local(NY, 2026, 6, 5, 10, 0), facts).blocked_by == ("recent_conversation",)


def test_a_clinic_with_no_quiet_days_may_call_again_the_same_day():
    none = ContactPolicy(quiet_days_after_conversation=0)
    assert_callable(state(local(NY, 2026, 6, 1, 16, 0), ContactFacts(phone_attempts=MONDAY_TALK), policy=none))


def test_the_quiet_days_are_the_patients_calendar_days():
    # 20:00 Monday in New York is 09:00 Tuesday in Tokyo: the Tokyo patient's day 1 is Tuesday.
    talk = ContactFacts(timezone="Asia/Tokyo", phone_attempts=calls(NY, (2026, 6, 1, 20, 0), outcome="refused"))
    s = state(local("Asia/Tokyo", 2026, 6, 8, 12, 0), talk)
    assert s.blocked_by == ("recent_conversation",)
    assert s.next_call_at == local("Asia/Tokyo", 2026, 6, 9, 8, 0)


def test_quiet_days_across_the_spring_forward_end_at_eight_summer_time_on_day_eight():
    saturday = ContactFacts(phone_attempts=calls(NY, (2026, 3, 7, 11, 0), outcome="promised_payment"))
    s = state(local(NY, 2026, 3, 13, 12, 0), saturday)  # Friday, day 7
    assert s.blocked_by == ("recent_conversation",)
    assert s.next_call_at == datetime(2026, 3, 14, 12, 0, tzinfo=UTC)  # Saturday 08:00 EDT


def test_the_cap_across_londons_autumn_change_frees_at_eight_gmt():
    london = "Europe/London"
    tuesday = ContactFacts(phone_attempts=calls(london, *[(2026, 10, 20, 9, m) for m in range(7)]))
    s = state(local(london, 2026, 10, 26, 12, 0), tuesday, clinic_tz=london)  # Monday, day 7
    assert s.blocked_by == ("call_cap",)
    assert s.next_call_at == datetime(2026, 10, 27, 8, 0, tzinfo=UTC)  # Tuesday 08:00 GMT


# ----- do not contact; holds ---------------------------------------------------------------------
def test_a_patient_who_asked_not_to_be_called_is_never_callable():
    s = state(local(NY, 2026, 6, 1, 10, 0), ContactFacts(do_not_contact=frozenset({"phone"})))
    assert s == cr.ContactState(False, ("do_not_contact",), None)


def test_a_patient_who_only_refused_texts_may_still_be_called():
    assert_callable(state(local(NY, 2026, 6, 1, 10, 0), ContactFacts(do_not_contact=frozenset({"sms"}))))


def test_a_hold_blocks_through_its_until_date_in_the_clinics_calendar():
    held = ContactFacts(hold_until=date(2026, 6, 10))
    s = state(local(NY, 2026, 6, 10, 20, 0), held)
    assert s.blocked_by == ("on_hold",)
    assert s.next_call_at == local(NY, 2026, 6, 11, 8, 0)
    assert cr.on_hold(POLICY, NY, held, s.next_call_at).blocks is False
    assert cr.on_hold(POLICY, NY, held, local(NY, 2026, 6, 10, 23, 59)).clears_at == local(NY, 2026, 6, 11, 0, 0)


# ----- several rules at once --------------------------------------------------------------------
def test_every_blocking_rule_is_named_in_the_contracts_order():
    facts = ContactFacts(do_not_contact=frozenset({"phone"}), hold_until=date(2026, 6, 10),
                         phone_attempts=calls(NY, *[(2026, 6, 1, 9, m) for m in range(7)], outcome="dispute"))
    s = state(local(NY, 2026, 6, 1, 22, 0), facts)
    assert s.blocked_by == ("do_not_contact", "outside_call_hours", "call_cap", "recent_conversation", "on_hold")
    assert s.next_call_at is None


def test_the_next_call_is_the_first_instant_no_rule_blocks_after_each_pushes_the_next():
    # The cap frees on Monday the 8th, the quiet days end on the 9th (talk on the 2nd),
    # the hold ends with the 9th: the first callable instant is 08:00 on the 10th.
    facts = ContactFacts(hold_until=date(2026, 6, 9),
                         phone_attempts=calls(NY, *[(2026, 6, 1, 9, m) for m in range(7)])
                         + calls(NY, (2026, 6, 2, 9, 0), outcome="promised_payment"))
    s = state(local(NY, 2026, 6, 2, 22, 0), facts)
    assert s.blocked_by == ("outside_call_hours", "call_cap", "recent_conversation", "on_hold")
    assert s.next_call_at == local(NY, 2026, 6, 10, 8, 0)


def test_a_quiet_period_ending_at_midnight_still_waits_for_the_hours():
    facts = ContactFacts(phone_attempts=MONDAY_TALK)
    assert cr.next_call_at(POLICY, NY, facts, local(NY, 2026, 6, 7, 23, 0)) == local(NY, 2026, 6, 8, 8, 0)


# ----- the flags of an attempt being logged ---------------------------------------------------------
def flags(at: datetime, channel: str = "phone", facts: ContactFacts = ContactFacts()) -> tuple:
    return rule_flags(POLICY, NY, facts, at, channel)


def test_a_call_at_half_past_nine_in_the_evening_is_flagged_outside_call_hours():
    assert flags(local(NY, 2026, 6, 1, 21, 30)) == ("outside_call_hours",)
    assert flags(local(NY, 2026, 6, 1, 20, 59)) == ()


def test_a_text_at_half_past_nine_is_not_held_to_call_hours():
    assert flags(local(NY, 2026, 6, 1, 21, 30), "sms") == ()


def test_the_eighth_call_in_seven_days_is_flagged_and_the_seventh_is_not():
    assert flags(local(NY, 2026, 6, 7, 12, 0), facts=ContactFacts(phone_attempts=SIX_CALLS)) == ()
    seven = calls(NY, (2026, 6, 1, 10, 0)) + SIX_CALLS
    assert flags(local(NY, 2026, 6, 7, 12, 0), facts=ContactFacts(phone_attempts=seven)) == ("call_cap",)
    assert flags(local(NY, 2026, 6, 7, 12, 0), "email", ContactFacts(phone_attempts=seven)) == ()


def test_a_call_in_the_quiet_days_is_flagged_but_a_letter_by_email_is_not():
    facts = ContactFacts(phone_attempts=MONDAY_TALK)
    assert flags(local(NY, 2026, 6, 3, 10, 0), facts=facts) == ("recent_conversation",)
    assert flags(local(NY, 2026, 6, 3, 10, 0), "email", facts) == ()


def test_a_text_to_a_patient_who_refused_calls_is_fine_and_a_call_is_flagged():
    no_calls = ContactFacts(do_not_contact=frozenset({"phone"}))
    assert flags(local(NY, 2026, 6, 1, 10, 0), "sms", no_calls) == ()
    assert flags(local(NY, 2026, 6, 1, 10, 0), "phone", no_calls) == ("do_not_contact",)
    assert flags(local(NY, 2026, 6, 1, 10, 0), "sms", ContactFacts(do_not_contact=frozenset({"sms"}))) == \
        ("do_not_contact",)


def test_chasing_a_held_patient_is_flagged_unless_they_came_to_the_desk():
    held = ContactFacts(hold_until=date(2026, 6, 10))
    assert flags(local(NY, 2026, 6, 5, 10, 0), "email", held) == ("on_hold",)
    assert flags(local(NY, 2026, 6, 5, 10, 0), "in_person", held) == ()


def test_the_scheduled_runs_broken_promise_at_three_in_the_morning_broke_no_rule():
    at = local(NY, 2026, 6, 2, 3, 0)
    assert flags(at) == ("outside_call_hours",)
    assert rule_flags(POLICY, NY, ContactFacts(), at, "phone", by="system") == ()


# ----- callbacks ----------------------------------------------------------------------------
def test_a_callback_at_ten_in_the_evening_patient_time_is_refused_with_the_next_morning():
    s = cr.callback_blocked(POLICY, NY, ContactFacts(), local(NY, 2026, 6, 1, 22, 0))
    assert not s.call_now
    error = cr.ContactRuleBlocked(s)
    assert error.code == "contact_rule" and set(error.fields) == {"outside_call_hours"}
    assert error.next_call_at == local(NY, 2026, 6, 2, 8, 0)
    assert cr.callback_blocked(POLICY, NY, ContactFacts(), local(NY, 2026, 6, 2, 10, 0)).call_now


# ----- what the follow-up row keeps ------------------------------------------------------------------
def remember(facts, at, channel="phone", outcome="no_answer", by="sub-1"):
    return cr.remember_attempt(facts, at=at, channel=channel, outcome=outcome, by=by)


def test_the_row_keeps_every_call_that_any_policy_could_still_count():
    facts = ContactFacts()
    start = local(NY, 2026, 6, 1, 9, 0)
    for i in range(60):
        facts = remember(facts, start + timedelta(minutes=10 * i))
    assert len(facts.phone_attempts) == cr.KEEP_CALLS
    assert facts.phone_attempts[-1][0] == start + timedelta(minutes=590)


def test_the_row_forgets_calls_older_than_the_window_can_reach():
    old = remember(ContactFacts(), local(NY, 2026, 6, 1, 9, 0))
    newer = remember(old, local(NY, 2026, 6, 9, 10, 0))
    assert [at for at, _ in newer.phone_attempts] == [local(NY, 2026, 6, 9, 10, 0)]


def test_the_row_keeps_the_last_conversation_however_old():
    talked = remember(ContactFacts(), local(NY, 2026, 5, 1, 9, 0), outcome="dispute")
    later = remember(talked, local(NY, 2026, 6, 1, 9, 0))
    assert later.last_conversation_at == local(NY, 2026, 5, 1, 9, 0)
    assert remember(later, local(NY, 2026, 6, 2, 9, 0), outcome="refused").last_conversation_at == \
        local(NY, 2026, 6, 2, 9, 0)


def test_texts_emails_and_the_scheduled_runs_broken_promises_are_not_calls():
    facts = ContactFacts()
    at = local(NY, 2026, 6, 1, 9, 0)
    assert remember(facts, at, channel="sms", outcome="dispute") == facts
    assert remember(facts, at, outcome="no_payment_despite_promise", by="system") == facts


def test_the_kept_facts_survive_the_trip_to_the_row():
    facts = ContactFacts(timezone="Asia/Kathmandu", do_not_contact=frozenset({"sms", "email"}),
                         phone_attempts=calls(NY, (2026, 6, 1, 9, 0), (2026, 6, 2, 9, 0, 0, 123456)),
                         last_conversation_at=local(NY, 2026, 5, 1, 9, 0), hold_until=date(2026, 7, 1))
    assert ContactFacts.from_stored(facts.as_stored()) == facts
    assert ContactFacts.from_stored(None) == ContactFacts()


# ----- the policy ---------------------------------------------------------------------------
def test_the_default_policy_is_regulation_fs():
    assert POLICY.as_dict() == {"call_hours": {"start": "08:00", "end": "21:00"}, "max_calls_per_7_days": 7,
                                "quiet_days_after_conversation": 7}
    assert ContactPolicy.from_dict(None) == POLICY
    assert ContactPolicy.from_dict(POLICY.as_dict()) == POLICY


def test_a_partial_change_keeps_what_it_does_not_name():
    changed = POLICY.changed(max_calls_per_7_days=3)
    assert changed == ContactPolicy(max_calls_per_7_days=3)
    assert changed.changed(call_start=time(9, 0), call_end=time(17, 30)).as_dict()["call_hours"] == \
        {"start": "09:00", "end": "17:30"}


@pytest.mark.parametrize("kwargs, field_name", [
    ({"call_start": time(21, 0), "call_end": time(8, 0)}, "contact_policy.call_hours.end"),
    ({"call_start": time(9, 0), "call_end": time(9, 0)}, "contact_policy.call_hours.end"),
    ({"call_start": time(9, 0, 30)}, "contact_policy.call_hours.start"),
    ({"max_calls_per_7_days": 0}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": 51}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": True}, "contact_policy.max_calls_per_7_days"),
    ({"quiet_days_after_conversation": -1}, "contact_policy.quiet_days_after_conversation"),
    ({"quiet_days_after_conversation": 31}, "contact_policy.quiet_days_after_conversation"),
    ({"quiet_days_after_conversation": 7.0}, "contact_policy.quiet_days_after_conversation"),
])
def test_a_policy_out_of_range_explains_which_field(kwargs, field_name):
    with pytest.raises(ValidationError) as e:
        ContactPolicy(**kwargs)
    assert field_name in e.value.fields


@pytest.mark.parametrize("text", ["8:00", "24:00", "08:60", "08:00:00", "0800", "０８:００", "08:00\n", 800, None])
def test_call_hours_are_written_hh_mm(text):
    with pytest.raises(ValueError):
        cr.parse_hhmm(text)


# ----- properties ----------------------------------------------------------------------------------
ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla",
         "America/St_Johns", "Pacific/Chatham", "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "America/Santiago", "Asia/Tokyo", "UTC"]
OUTCOMES = ["no_answer", "no_answer", "dispute", "hung_up", "promised_payment"]


@st.composite
def policies(draw):
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    return ContactPolicy(time(start // 60, start % 60), time(end // 60, end % 60),
                         draw(st.integers(1, 8)), draw(st.integers(0, 9)))


@st.composite
def situations(draw):
    # Around DST changes in both hemispheres: March-April and September-November, 2026.
    now = draw(st.datetimes(datetime(2026, 3, 1), datetime(2026, 11, 15))).replace(tzinfo=UTC)
    clinic_tz = draw(st.sampled_from(ZONES))
    minutes_back = draw(st.lists(st.integers(1, 10 * 24 * 60), max_size=12))
    attempts = tuple(sorted((now - timedelta(minutes=m), draw(st.sampled_from(OUTCOMES))) for m in minutes_back))
    hold = draw(st.none() | st.integers(-2, 8))
    facts = ContactFacts(timezone=draw(st.none() | st.sampled_from(ZONES)), phone_attempts=attempts,
                         hold_until=(now.date() + timedelta(days=hold)) if hold is not None else None)
    return draw(policies()), clinic_tz, facts, now


def earlier_instants(now: datetime, until: datetime):
    """Every minute from `now` up to `until` (exclusive) when that is at most 2 days, else the
    first and last day of it minute by minute and every 7th minute between; and `until` - 1 s."""
    span = int((until - now).total_seconds() // 60)
    if span <= 2 * 24 * 60:
        steps = range(span + 1)
    else:
        steps = [*range(24 * 60), *range(24 * 60, span - 24 * 60, 7), *range(span - 24 * 60, span + 1)]
    for k in steps:
        t = now + timedelta(minutes=k)
        if t < until:
            yield t
    if until - timedelta(seconds=1) >= now:
        yield until - timedelta(seconds=1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations())
def test_the_next_call_is_callable_and_no_earlier_minute_is(situation):
    policy, clinic_tz, facts, now = situation
    s = contact_state(policy, clinic_tz, facts, now)
    assert s.next_call_at is not None and s.next_call_at >= now
    if s.call_now:
        assert s.blocked_by == () and s.next_call_at == now
        return
    assert s.blocked_by and set(s.blocked_by) <= set(cr.RULES)
    assert list(s.blocked_by) == [r for r in cr.RULES if r in s.blocked_by]
    assert contact_state(policy, clinic_tz, facts, s.next_call_at).call_now
    for t in earlier_instants(now, s.next_call_at):
        assert not cr.callable_at(policy, clinic_tz, facts, t), (t, s)


@settings(max_examples=40, deadline=None)
@given(situations(), st.sampled_from(["phone", "sms", "email"]))
def test_calls_are_never_callable_while_the_patient_refuses_them(situation, refused):
    policy, clinic_tz, facts, now = situation
    s = contact_state(policy, clinic_tz, ContactFacts(**{**facts.__dict__, "do_not_contact": frozenset({refused})}),
                      now)
    if refused == "phone":
        assert not s.call_now and s.blocked_by[0] == "do_not_contact" and s.next_call_at is None
    else:
        assert s == contact_state(policy, clinic_tz, facts, now)


@settings(max_examples=40, deadline=None)
@given(situations())
def test_remembering_each_call_judges_as_the_whole_history_does(situation):
    policy, clinic_tz, facts, now = situation
    kept = ContactFacts(timezone=facts.timezone, hold_until=facts.hold_until)
    for at, outcome in facts.phone_attempts:
        kept = cr.remember_attempt(kept, at=at, channel="phone", outcome=outcome, by="sub-1")
    assert contact_state(policy, clinic_tz, kept, now) == contact_state(policy, clinic_tz, facts, now)


def test_an_end_of_24_00_leaves_no_minute_of_the_day_outside_call_hours():
    all_day = ContactPolicy(time(0, 0), cr.END_OF_DAY)
    for wall in (time(0, 0), time(12, 0), time(23, 59), time(23, 59, 59, 999_998)):
        assert all_day.in_call_hours(wall), wall
    assert not ContactPolicy(time(0, 0), time(23, 59)).in_call_hours(time(23, 59, 30))
    assert all_day.as_dict()["call_hours"] == {"start": "00:00", "end": "24:00"}
    assert ContactPolicy.from_dict(all_day.as_dict()) == all_day
    assert cr.parse_hhmm("24:00", end=True) == cr.END_OF_DAY
    with pytest.raises(ValueError):
        cr.parse_hhmm("24:00")  # never a start
    with pytest.raises(ValidationError):
        ContactPolicy(cr.END_OF_DAY, cr.END_OF_DAY)


def test_at_23_59_local_a_patient_of_a_clinic_open_all_day_may_be_called():
    all_day = ContactPolicy(time(0, 0), cr.END_OF_DAY)
    state = cr.contact_state(all_day, NY, ContactFacts(), local(NY, 2026, 12, 1, 23, 59, 54))
    assert state.call_now and state.blocked_by == ()
