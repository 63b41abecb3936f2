from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import BudgetScope, BudgetSnapshot
from gatewaymetrics.core.budget import gauge, remaining, spend_after_call, supersedes
from gatewaymetrics.core.budget import money as amount
from tests.strategies import money


def snap(spend: str, reset_at: float | None = None, limit: str | None = "10") -> BudgetSnapshot:
    return BudgetSnapshot(
        scope=BudgetScope.API_KEY,
        subject="k",
        limit_usd=None if limit is None else Decimal(limit),
        spend_usd=Decimal(spend),
        reset_at=reset_at,
    )


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        (snap("2"), snap("1"), True),  # spend went up
        (snap("1"), snap("1"), True),  # same spend: take it (a new limit or alias)
        (snap("1"), snap("2"), False),  # late event within the period
        (snap("1", limit="20"), snap("2"), False),  # a limit is no evidence of recency
        (snap("0", reset_at=200.0), snap("9", reset_at=100.0), True),  # a new period
        (snap("9", reset_at=100.0), snap("0", reset_at=200.0), False),  # an old period
        (snap("0", reset_at=100.0), snap("5"), True),  # a period appeared
        (snap("9"), snap("0", reset_at=100.0), False),  # the period vanished: late event
    ],
)
def test_supersedes(new: BudgetSnapshot, old: BudgetSnapshot, expected: bool) -> None:
    assert new.supersedes(old) is expected


def test_spend_after_call_adds_known_cost_only() -> None:
    assert spend_after_call(Decimal("1.10"), Decimal("0.20")) == Decimal("1.30")
    assert spend_after_call(Decimal("1.10"), None) == Decimal("1.10")


@given(limit=st.one_of(st.none(), money), spend=money)
def test_remaining_is_exact(limit: Decimal | None, spend: Decimal) -> None:
    result = remaining(limit, spend)
    if limit is None:
        assert result is None
    else:
        assert result == limit - spend
        assert result + spend == limit


@given(
    new_spend=money,
    old_spend=money,
    reset=st.one_of(st.none(), st.floats(1e9, 2e9)),
)
def test_supersedes_never_lowers_spend_within_a_period(
    new_spend: Decimal, old_spend: Decimal, reset: float | None
) -> None:
    if supersedes(new_spend=new_spend, new_reset_at=reset, old_spend=old_spend, old_reset_at=reset):
        assert new_spend >= old_spend


@given(st.lists(money, min_size=1, max_size=20), st.randoms())
def test_any_arrival_order_keeps_the_highest_spend(spends: list[Decimal], rnd: object) -> None:
    snapshots = [snap(str(s)) for s in spends]
    rnd.shuffle(snapshots)  # type: ignore[attr-defined]
    kept = snapshots[0]
    for snapshot in snapshots[1:]:
        if snapshot.supersedes(kept):
            kept = snapshot
    assert kept.spend_usd == max(spends)


def test_money_is_the_decimal_text_of_a_float() -> None:
    assert amount(0.1) == Decimal("0.1")
    assert amount(0.30000000000000004) == Decimal("0.30000000000000004")
    assert amount(1e-7) == Decimal("1E-7")
    assert amount(Decimal("1.10")) == Decimal("1.10")  # a Decimal is itself


def test_the_issue_example_is_exact() -> None:
    """Limit 0.2, spend 1.8 + cost 0.1: -1.7 (float arithmetic: -1.7000000000000002)."""
    spend = spend_after_call(amount(1.8), amount(0.1))
    assert 0.2 - (1.8 + 0.1) == -1.7000000000000002
    assert gauge(remaining(amount(0.2), spend)) == -1.7  # type: ignore[arg-type]
    assert gauge(spend_after_call(amount(0.1), amount(0.2))) == 0.3  # not 0.30000000000000004


@given(
    spend=st.floats(min_value=0, max_value=1e15, exclude_max=True),
    cost=st.floats(min_value=0, max_value=1e15, exclude_max=True),
    limit=st.floats(min_value=0, max_value=1e15, exclude_max=True),
    precision=st.integers(min_value=1, max_value=28),
)
def test_budget_arithmetic_is_exact_whatever_the_hosts_decimal_context(
    spend: float, cost: float, limit: float, precision: int
) -> None:
    """Every amount a payload can carry (core/bounds.py) sums exactly, even where the
    default context would round (0.1 + 5e-324) or the host set a small precision."""
    with localcontext(prec=2000):
        total = amount(spend) + amount(cost)
        left = amount(limit) - total
    with localcontext(prec=precision):
        assert spend_after_call(amount(spend), amount(cost)) == total
        assert remaining(amount(limit), total) == left
