from datetime import UTC, date, datetime

from chalicelib.domain import clock


def test_today_is_the_clinic_local_date():
    now = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)
    assert clock.local_date(now, "America/Los_Angeles") == date(2026, 2, 28)
    assert clock.local_date(now, "Asia/Kolkata") == date(2026, 3, 1)


def test_three_am_is_four_am_summer_time_on_the_athens_spring_forward_day():
    assert clock.run_instant(date(2026, 3, 29), "Europe/Athens") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_three_am_on_an_autumn_day_is_its_first_occurrence():
    # Athens falls back at 04:00 EEST -> 03:00 EET: 03:00 happens twice; the first is 00:00 UTC.
    assert clock.run_instant(date(2026, 10, 25), "Europe/Athens") == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)


def test_odd_offsets_are_respected():
    assert clock.run_instant(date(2026, 7, 1), "Asia/Kathmandu") == datetime(2026, 6, 30, 21, 15, tzinfo=UTC)
    assert clock.run_instant(date(2026, 7, 1), "Asia/Kolkata") == datetime(2026, 6, 30, 21, 30, tzinfo=UTC)


def test_a_wall_time_in_the_spring_gap_moves_forward_by_the_gap():
    wall = datetime(2026, 3, 8, 2, 30)  # does not exist in New York
    assert clock.local_wall_time_to_utc(wall, "America/New_York") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_iso_z_round_trips_with_microseconds():
    instant = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert clock.parse_iso_z(clock.iso_z(instant)) == instant
    assert clock.short_z(instant) == "2026-01-02T03:04:05Z"


def test_time_zone_names_are_checked_against_the_iana_database():
    assert clock.is_valid_timezone("Pacific/Chatham")
    assert not clock.is_valid_timezone("Mars/Olympus")
    assert not clock.is_valid_timezone("../../etc/passwd")
    assert not clock.is_valid_timezone("")
