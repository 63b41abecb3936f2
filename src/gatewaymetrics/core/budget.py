"""Budget arithmetic: exact ``Decimal`` money and the rule that keeps gauges monotonic.

Gateways report a budget's spend as it was when the request was authorised, and their
callbacks can arrive out of order. These rules let a sink keep the newest truth.

One arithmetic for every path: a payload's float stands for its shortest decimal text
(:func:`money`), spend and remaining are exact sums of those decimals
(:func:`spend_after_call`, :func:`remaining`), and a sink that keeps floats rounds the
exact result once (:func:`gauge`). The general path (records) and the fast path (raw
floats) both call these, so a budget gauge never depends on which path recorded it.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal

__all__ = ["gauge", "money", "remaining", "spend_after_call", "supersedes"]

#: Exact for any two amounts in float range (their sum or difference has at most
#: 17 + 308 + 324 digits), whatever decimal context the host has set; beyond that,
#: rounded to this many digits, never trapped.
_MONEY = Context(prec=1000, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


def money(value: float | Decimal) -> Decimal:
    """The amount a float stands for: its shortest decimal text (``0.1`` is
    ``Decimal("0.1")``, not the binary fraction nearest to it). A Decimal is itself."""
    if type(value) is Decimal:
        return value
    return Decimal(repr(value))


def remaining(limit: Decimal | None, spend: Decimal) -> Decimal | None:
    """``limit - spend`` exactly (negative when over budget), or None for an unlimited
    budget."""
    if limit is None:
        return None
    return _MONEY.subtract(limit, spend)


def spend_after_call(spend_before: Decimal, call_cost: Decimal | None) -> Decimal:
    """Spend including this call, exactly: gateways read spend at auth time, before
    the call."""
    if call_cost is None:
        return spend_before
    return _MONEY.add(spend_before, call_cost)


def gauge(amount: Decimal) -> float:
    """An exact amount as a float gauge keeps it: rounded once, to the nearest."""
    return float(amount)


def supersedes(
    new_spend: Decimal,
    new_reset_at: float | None,
    old_spend: Decimal,
    old_reset_at: float | None,
) -> bool:
    """Whether a new snapshot should replace an old one for the same subject. Spends
    are exact Decimals on every path (a float gauge, rounded from them, then never
    goes down either: rounding is monotonic).

    - Same budget period (equal ``reset_at``): only if spend did not go down, so a late,
      out-of-order event never moves a budget backwards. An equal spend replaces, so a
      changed limit or alias on an otherwise unchanged budget is taken.
    - A later period (``reset_at`` moved forward, or appeared): always; spend restarts.
    - An earlier period, or ``reset_at`` vanished: never; that is a late event.

    A limit change alone does not let spend go down: an out-of-order event carries its
    old limit too, so a limit is no evidence of recency.
    """
    if new_reset_at == old_reset_at:
        return new_spend >= old_spend
    if new_reset_at is None:
        return False
    return old_reset_at is None or new_reset_at > old_reset_at
