"""Strict field types shared by every request schema: cents, local dates, instants, ids."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BaseModel as _BaseModel
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from ..domain.bounds import RANGE_MESSAGE, in_calendar_range
from ..domain.money import MAX_CENTS, MIN_CENTS

# `defer_build`: a schema's validator is built the first time it is used, not when its module is
# imported, so a cold start builds only the schemas of the route it serves (BENCHMARKS.md).

# ASCII digits only and nothing after (`\d` would take "２０２６", `$` a trailing newline).
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_WALL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.ASCII)
_DIGITS = re.compile(r"[0-9]+")


class Body(_BaseModel):
    """A request body: unknown fields are refused, types are strict (no 100.0 for 100)."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, defer_build=True)


class Query(_BaseModel):
    """Query parameters arrive as strings; still no unknown names."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Out(_BaseModel):
    """A response schema (documentation and tests; services return plain dicts)."""

    model_config = ConfigDict(extra="allow", defer_build=True)


def _in_range(day: date) -> None:
    if not in_calendar_range(day):
        raise ValueError(RANGE_MESSAGE)


def _to_date(value) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        _in_range(value)
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError as e:
        raise ValueError("is not a real date") from e
    _in_range(day)
    return day


def _to_instant(value) -> datetime:
    """An aware instant in UTC. The range is checked on the date as written, before the
    conversion, which is what overflows for 9999-12-31T23:59-05:00 or 0001-01-01T00:00+05:00;
    inside the range no offset (at most a day) can take it out of what `datetime` holds."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        _in_range(value.date())
        return value.astimezone(UTC)
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise ValueError("must be an ISO 8601 instant with an offset, e.g. 2026-05-01T14:30:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError("is not a real instant") from e
    _in_range(parsed.date())
    return parsed.astimezone(UTC)


def _to_instant_or_wall(value) -> datetime:
    """An instant with offset (aware, UTC), or a `YYYY-MM-DDTHH:MM` wall time (naive: the
    service reads it in the clinic's time zone, which the range keeps from overflowing)."""
    if isinstance(value, str) and _WALL.fullmatch(value):
        try:
            wall = datetime.fromisoformat(value)
        except ValueError as e:
            raise ValueError("is not a real date and time") from e
        _in_range(wall.date())
        return wall
    return _to_instant(value)


Cents = Annotated[int, Field(strict=True, ge=MIN_CENTS, le=MAX_CENTS)]
LocalDate = Annotated[date, BeforeValidator(_to_date), Field(json_schema_extra={"format": "date"})]
Instant = Annotated[datetime, BeforeValidator(_to_instant), Field(json_schema_extra={"format": "date-time"})]
InstantOrWall = Annotated[datetime, BeforeValidator(_to_instant_or_wall), Field(
    description="an instant with offset, or YYYY-MM-DDTHH:MM in the clinic's time zone")]


def text(min_length: int = 1, max_length: int = 200):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length)]


def query_int(value):
    """Query values are strings; only plain digits are a number (no `1.0`, `1e3`, `+1`, ` 5`, `1_000`)."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written with digits only")
    if len(value) > 18:
        raise ValueError("is too large")
    return int(value)


QueryLimit = Annotated[int, BeforeValidator(query_int), Field(ge=1, le=100)]  # every list's `limit`
LedgerLimit = Annotated[int, BeforeValidator(query_int), Field(ge=1, le=1000)]  # the ledger's is larger


class PageQuery(Query):
    """`limit` and `cursor` of a list that has no other parameters."""

    limit: QueryLimit = 25
    cursor: text(1, 400) | None = None
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", min_length=3, max_length=254)]
