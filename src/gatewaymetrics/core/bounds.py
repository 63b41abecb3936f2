"""The ranges a number read from a payload must lie in to reach a backend.

Every number that reaches a backend is finite and within float range. The bounds
below are tighter than float range on purpose: a sink adds them up (a counter, a
budget's spend plus a call's cost, a duration times 1000 for a StatsD timer), and each
bound leaves room for more additions than any gateway will ever make, so no sum
overflows to ``+Inf`` either. A value outside its range is a problem on its field (the
field is unknown), never clamped: a count of 10**400 tokens or a cost of 10**15 USD is
hostile or broken input, not a measurement.

Checks are cheap first: an int's ``bit_length()`` before any conversion, a Decimal's
``adjusted()`` (its exponent) before any arithmetic or formatting.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MAX_SECONDS",
    "amount_in_range",
    "float_amount",
]

#: Counts (tokens, remaining rate limits) fit a signed 64-bit int: 2**63 - 1. A counter
#: fed the largest count on every call overflows a float after 10**289 calls.
MAX_COUNT = 2**63 - 1

#: Epoch seconds: anything a ``datetime`` can hold (year 9999, in any time zone) is
#: below 2**38 (year 10680); a duration between two such times, in ms, stays finite.
MAX_SECONDS = float(2**38)

#: Money (USD) read from a payload is below 10**15: a spend plus a call's cost stays
#: below 2 * 10**15, and a counter fed the largest amount on every call overflows a
#: float after 10**293 calls.
MAX_AMOUNT = 1e15

#: A Decimal amount's ``adjusted()`` exponent lies in [_MIN_EXPONENT, _MAX_EXPONENT]:
#: below 10**15, and no smaller than the smallest float (5e-324), so every finite
#: float in [0, MAX_AMOUNT) is in range, and formatting an amount in fixed point
#: (StatsD) writes at most a few hundred digits.
_MAX_EXPONENT = 14
_MIN_EXPONENT = -350


def amount_in_range(amount: Decimal) -> bool:
    """Whether a finite Decimal is an amount of money a backend can take: below
    :data:`MAX_AMOUNT` and not below the smallest float, by its exponent alone (no
    arithmetic on it; a zero's exponent counts too: ``0E-1000000000`` is refused)."""
    return _MIN_EXPONENT <= amount.adjusted() <= _MAX_EXPONENT


def float_amount(amount: Decimal) -> bool:
    """Whether a finite Decimal is within float range (what a record may hold: sums of
    amounts read from payloads, or what a gateway builds itself), by its exponent."""
    return _MIN_EXPONENT <= amount.adjusted() < 308
