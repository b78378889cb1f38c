"""Clinic-local time: today, wall times across DST, and the 03:00 run rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

RUN_AT = time(3, 0)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_valid_timezone(name: str) -> bool:
    if not isinstance(name, str) or not name or name != name.strip():
        return False
    if name in _valid_zones():
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


@lru_cache(maxsize=1)
def _valid_zones() -> frozenset[str]:
    """Read on first use, not at import: walking the zone database takes 5-60 ms of a cold start."""
    return frozenset(available_timezones())


def local_date(now: datetime, tz: str) -> date:
    """Business rule: "today" is the clinic-local date at the instant `now`."""
    return as_utc(now).astimezone(zone(tz)).date()


def as_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are not instants")
    return instant.astimezone(UTC)


def local_wall_time_to_utc(wall: datetime, tz: str) -> datetime:
    """A clinic-local wall time (naive) as an instant.

    Business rule: an ambiguous time (autumn) means its first occurrence; a time that does
    not exist (spring gap) is read with the offset from before the gap, so it moves forward by
    the gap, as RFC 5545 says (03:30 on a 03:00->04:00 jump is 04:30; 03:00 is the jump itself).
    """
    return wall.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)


def run_instant(run_date: date, tz: str) -> datetime:
    """The first instant at or after 03:00 clinic-local time on `run_date`, in UTC.

    Where 03:00 does not exist (Europe/Athens in spring: 03:00 jumps to 04:00) that is the
    end of the gap, so a 15-minute tick at that instant runs the day.
    """
    return local_wall_time_to_utc(datetime.combine(run_date, RUN_AT), tz)


def end_of_local_day(day: date, tz: str) -> datetime:
    """The last instant of the clinic-local `day` (exclusive upper bound of its next day)."""
    return local_wall_time_to_utc(datetime.combine(day + timedelta(days=1), time(0, 0)), tz)


def start_of_local_day(day: date, tz: str) -> datetime:
    return local_wall_time_to_utc(datetime.combine(day, time(0, 0)), tz)


def iso_z(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z, microseconds kept so that sort keys order exactly."""
    return as_utc(instant).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_z(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def short_z(instant: datetime) -> str:
    """What responses show: UTC with a Z, seconds precision."""
    return as_utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")
