"""Clinic-local time: today, wall times across DST, and the 03:00 run rule."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

RUN_AT = time(3, 0)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", re.ASCII)


def is_valid_timezone(name: str) -> bool:
    # Only the characters IANA names are made of reach ZoneInfo, which looks the name up as a file:
    # 64 emoji were a path too long to open (OSError, a 500), and `..` a path elsewhere.
    if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name):
        return False
    if name in _valid_zones():
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
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

    Business rule: where 03:00 falls in a spring-forward gap it does not exist, and the first
    instant whose local time is at or after 03:00 is the end of the gap, the transition itself:
    04:00 in Europe/Athens (03:00 jumps to 04:00), 03:45 in Pacific/Chatham (02:45 jumps to
    03:45). Where 03:00 happens twice (autumn) it is the first occurrence.
    """
    wall = datetime.combine(run_date, RUN_AT)
    z = zone(tz)
    candidate = wall.replace(tzinfo=z, fold=0).astimezone(UTC)  # a gap time reads with the offset before it
    if candidate.astimezone(z).replace(tzinfo=None) == wall:
        return candidate
    # 03:00 is in a gap: the transition lies between reading it with the offset after the gap
    # (earlier) and with the offset before it. Find the first second whose wall time is >= 03:00.
    low = wall.replace(tzinfo=z, fold=1).astimezone(UTC)
    lo, hi = 0, int((candidate - low).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(z).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return low + timedelta(seconds=lo)


def latest_run_date(now: datetime, tz: str) -> date:
    """Business rule: the latest clinic-local date whose 03:00 run instant is at or before `now`.

    A run for that date also does the work of any missed earlier dates (it invoices everything
    due on or before it), which is how auto-invoicing catches up.
    """
    day = local_date(now, tz)
    while run_instant(day, tz) > now:
        day -= timedelta(days=1)
    return day


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
