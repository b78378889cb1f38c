"""Small conversions between stored strings and domain values, shared by the repositories."""

from __future__ import annotations

from datetime import date, datetime

from ..domain.clock import iso_z, parse_iso_z


def d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def t(text: str | None) -> datetime | None:
    return parse_iso_z(text) if text else None


def d_out(value: date | None) -> str | None:
    return value.isoformat() if value else None


def t_out(value: datetime | None) -> str | None:
    return iso_z(value) if value else None


def n(value) -> int | None:
    return int(value) if value is not None else None
