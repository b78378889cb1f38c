"""The 03:00 clinic-local run rule: which instant a clinic-local date runs at, in every kind of zone."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.clock import latest_run_date, local_date, run_instant, zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("tz", "day", "expected_utc", "local_wall"), [
    # US spring forward (02:00 -> 03:00): 03:00 exists, in daylight time
    ("America/New_York", date(2026, 3, 8), "2026-03-08T07:00:00", "03:00"),
    # US fall back (02:00 -> 01:00): 03:00 happens once, in standard time
    ("America/New_York", date(2026, 11, 1), "2026-11-01T08:00:00", "03:00"),
    # EET spring forward: 03:00 jumps to 04:00, so the day runs at 04:00 local
    ("Europe/Athens", date(2026, 3, 29), "2026-03-29T01:00:00", "04:00"),
    # EET fall back (04:00 -> 03:00): 03:00 happens twice, the first one counts
    ("Europe/Athens", date(2026, 10, 25), "2026-10-25T00:00:00", "03:00"),
    ("Asia/Kolkata", date(2026, 6, 15), "2026-06-14T21:30:00", "03:00"),
    ("Asia/Kathmandu", date(2026, 6, 15), "2026-06-14T21:15:00", "03:00"),
    ("Pacific/Chatham", date(2026, 6, 15), "2026-06-14T14:15:00", "03:00"),
    # Chatham spring forward 02:45 -> 03:45: the first local time at or after 03:00 is 03:45
    ("Pacific/Chatham", date(2026, 9, 27), "2026-09-26T14:00:00", "03:45"),
    ("Pacific/Honolulu", date(2026, 6, 15), "2026-06-15T13:00:00", "03:00"),
    ("UTC", date(2026, 6, 15), "2026-06-15T03:00:00", "03:00"),
])
def test_a_clinic_date_runs_at_the_first_instant_at_or_after_3am_local(tz, day, expected_utc, local_wall):
    instant = run_instant(day, tz)
    assert instant == utc(expected_utc)
    assert instant.astimezone(zone(tz)).strftime("%H:%M") == local_wall
    assert local_date(instant, tz) == day


@pytest.mark.parametrize(("tz", "tick", "expected"), [
    ("America/New_York", "2026-03-08T06:45:00", date(2026, 3, 7)),  # 01:45 EST: not yet
    ("America/New_York", "2026-03-08T07:00:00", date(2026, 3, 8)),
    ("America/New_York", "2026-11-01T07:00:00", date(2026, 10, 31)),  # 02:00 EST (was 03:00 EDT yesterday)
    ("America/New_York", "2026-11-01T07:45:00", date(2026, 10, 31)),
    ("America/New_York", "2026-11-01T08:00:00", date(2026, 11, 1)),
    ("Europe/Athens", "2026-03-29T00:45:00", date(2026, 3, 28)),  # 02:45 EET
    ("Europe/Athens", "2026-03-29T01:00:00", date(2026, 3, 29)),  # 04:00 EEST
    ("Asia/Kolkata", "2026-06-14T21:15:00", date(2026, 6, 14)),  # 02:45 IST on the 15th
    ("Asia/Kolkata", "2026-06-14T21:30:00", date(2026, 6, 15)),  # the UTC date is still the 14th
    ("Asia/Kathmandu", "2026-06-14T21:00:00", date(2026, 6, 14)),
    ("Asia/Kathmandu", "2026-06-14T21:15:00", date(2026, 6, 15)),
    ("Pacific/Chatham", "2026-06-14T14:00:00", date(2026, 6, 14)),
    ("Pacific/Chatham", "2026-06-14T14:15:00", date(2026, 6, 15)),
    ("Pacific/Chatham", "2026-09-26T13:45:00", date(2026, 9, 26)),  # 02:30 local, before the jump
    ("Pacific/Chatham", "2026-09-26T14:00:00", date(2026, 9, 27)),  # 03:45 local, just after it
    # West of UTC: at 05:00Z the UTC date is the 15th but it is 19:00 on the 14th in Honolulu
    ("Pacific/Honolulu", "2026-06-15T05:00:00", date(2026, 6, 14)),
    ("Pacific/Honolulu", "2026-06-15T12:45:00", date(2026, 6, 14)),
    ("Pacific/Honolulu", "2026-06-15T13:00:00", date(2026, 6, 15)),
])
def test_a_tick_runs_the_latest_local_date_whose_3am_has_come(tz, tick, expected):
    assert latest_run_date(utc(tick), tz) == expected


ZONES = ["America/New_York", "Europe/Athens", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham",
         "Pacific/Honolulu", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Kiritimati", "UTC"]


@given(tz=st.sampled_from(ZONES), day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_exactly_one_tick_a_day_starts_each_local_date(tz, day):
    """Every 15-minute UTC tick maps to a run date; the first tick at or after the run instant is
    the first whose run date is `day`, and the tick before it still runs the day before."""
    instant = run_instant(day, tz)
    local = instant.astimezone(zone(tz))
    assert local.date() == day and (local.hour, local.minute) >= (3, 0)
    assert instant.minute % 15 == 0 and instant.second == 0  # every real offset is a multiple of 15 minutes
    assert latest_run_date(instant, tz) == day
    before = instant - timedelta(minutes=15)
    assert latest_run_date(before, tz) == day - timedelta(days=1)
    # no earlier instant of that local date is at or after 03:00 local
    assert (before.astimezone(zone(tz)).date() < day
            or (before.astimezone(zone(tz)).hour, before.astimezone(zone(tz)).minute) < (3, 0))
