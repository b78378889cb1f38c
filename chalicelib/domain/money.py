"""Money is integer cents inside; largest-remainder splits whose parts sum to the whole."""

from __future__ import annotations

MIN_CENTS = 1
MAX_CENTS = 100_000_000


def allocate_oldest_first(amount: int, balances: list[int]) -> list[int]:
    """Business rule: a payment settles balances in the given order, each fully before the next.

    Returns the part of `amount` applied to each balance; the rest (if any) is amount - sum.
    """
    if amount < 0 or any(b < 0 for b in balances):
        raise ValueError("amounts are never negative")
    parts = []
    rest = amount
    for balance in balances:
        take = min(rest, balance)
        parts.append(take)
        rest -= take
    assert sum(parts) + rest == amount
    return parts


def split_by_ratio(total: int, weights: list[int]) -> list[int]:
    """Business rule: split `total` cents by weights with the largest-remainder method."""
    if not weights or sum(weights) <= 0:
        raise ValueError("weights must sum to a positive number")
    denominator = sum(weights)
    floors = [total * w // denominator for w in weights]
    remainders = sorted(
        range(len(weights)), key=lambda i: (-(total * weights[i] % denominator), i)
    )
    for i in remainders[: total - sum(floors)]:
        floors[i] += 1
    assert sum(floors) == total
    return floors


def format_cents(cents: int, currency: str = "USD") -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d} {currency}"
