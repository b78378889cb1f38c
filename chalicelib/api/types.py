"""Strict field types shared by every request schema: cents, local dates, instants, ids."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import BaseModel as _BaseModel

from ..domain.money import MAX_CENTS, MIN_CENTS

# `defer_build`: a schema's validator is built the first time it is used, not when its module is
# imported, so a cold start builds only the schemas of the route it serves (BENCHMARKS.md).

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_WALL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


class Body(_BaseModel):
    """A request body: unknown fields are refused, types are strict (no 100.0 for 100)."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, defer_build=True)


class Query(_BaseModel):
    """Query parameters arrive as strings; still no unknown names."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Out(_BaseModel):
    """A response schema (documentation and tests; services return plain dicts)."""

    model_config = ConfigDict(extra="allow", defer_build=True)


def _reject_non_str(value):
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _to_date(value: str) -> date:
    if not _DATE.match(value):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise ValueError("is not a real date") from e


def _to_instant(value: str) -> datetime:
    if not _INSTANT.match(value):
        raise ValueError("must be an ISO 8601 instant with an offset, e.g. 2026-05-01T14:30:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError("is not a real instant") from e
    return parsed.astimezone(UTC)


def _to_instant_or_wall(value: str) -> datetime:
    """An instant with offset, or a naive `YYYY-MM-DDTHH:MM` wall time (read in the clinic's zone)."""
    if _WALL.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError as e:
            raise ValueError("is not a real date and time") from e
    return _to_instant(value)


Cents = Annotated[int, Field(strict=True, ge=MIN_CENTS, le=MAX_CENTS)]
LocalDate = Annotated[str, BeforeValidator(_reject_non_str), AfterValidator(_to_date),
                      Field(json_schema_extra={"format": "date"})]
Instant = Annotated[str, BeforeValidator(_reject_non_str), AfterValidator(_to_instant),
                    Field(json_schema_extra={"format": "date-time"})]
InstantOrWall = Annotated[str, BeforeValidator(_reject_non_str), AfterValidator(_to_instant_or_wall),
                          Field(description="an instant with offset, or YYYY-MM-DDTHH:MM in the clinic's time zone")]


def text(min_length: int = 1, max_length: int = 200):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length)]


Limit = Annotated[int, Field(ge=1, le=100)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", min_length=3, max_length=254)]
