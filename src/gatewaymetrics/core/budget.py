"""Budget arithmetic: exact ``Decimal`` money and the rule that keeps gauges monotonic.

Gateways report a budget's spend as it was when the request was authorised, and their
callbacks can arrive out of order. These rules let a sink keep the newest truth.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["remaining", "spend_after_call", "supersedes"]


def remaining(limit: Decimal | None, spend: Decimal) -> Decimal | None:
    """``limit - spend`` (negative when over budget), or None for an unlimited budget."""
    if limit is None:
        return None
    return limit - spend


def spend_after_call(spend_before: Decimal, call_cost: Decimal | None) -> Decimal:
    """Spend including this call: gateways read spend at auth time, before the call."""
    if call_cost is None:
        return spend_before
    return spend_before + call_cost


def supersedes(
    new_spend: Decimal | float,
    new_reset_at: float | None,
    old_spend: Decimal | float,
    old_reset_at: float | None,
) -> bool:
    """Whether a new snapshot should replace an old one for the same subject. Spends
    are compared as given: exact Decimals, or floats where the sink keeps float64.

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
