"""Money is integer minor units (cents) inside; a payment settles balances in order."""

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
    return parts
