from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import BudgetScope, BudgetSnapshot
from gatewaymetrics.core.budget import remaining, spend_after_call, supersedes
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
