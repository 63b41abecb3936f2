from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Principal,
    Problem,
    Status,
    TokenUsage,
    fingerprint,
)


def test_token_total_is_input_plus_output() -> None:
    assert TokenUsage(input=7, output=5, cached_input=3, reasoning=2).total == 12


@pytest.mark.parametrize(
    "fields",
    [
        {"input": -1},
        {"output": True},
        {"input": 1.0},
        {"input": 2, "cached_input": 3},
        {"output": 1, "reasoning": 2},
    ],
)
def test_token_usage_rejects_broken_counts(fields: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        TokenUsage(**fields)  # type: ignore[arg-type]


def test_principal_refuses_a_raw_key() -> None:
    with pytest.raises(ValueError, match="fingerprint") as info:
        Principal(api_key="sk-live-123")
    assert "sk-live-123" not in str(info.value)
    key = fingerprint("sk-live-123")
    assert Principal(api_key=key).api_key == key


def test_records_are_frozen() -> None:
    call = CallRecord()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        call.model = "x"  # type: ignore[misc]


def test_durations_are_exact_differences() -> None:
    call = CallRecord(
        started_at=100.0, ended_at=102.5, first_token_at=100.5, upstream_started_at=100.25,
        stream=True, tokens=TokenUsage(output=5),
    )  # fmt: skip
    assert call.duration_s == 2.5
    assert call.upstream_duration_s == 2.25
    assert call.time_to_first_token_s == 0.5
    assert call.time_per_output_token_s == 0.5  # (102.5 - 100.5) / (5 - 1)


def test_derived_values_that_would_be_negative_are_none() -> None:
    call = CallRecord(started_at=10.0, ended_at=9.0, first_token_at=11.0, stream=True,
                      tokens=TokenUsage(output=3))  # fmt: skip
    assert call.duration_s is None
    assert call.time_per_output_token_s is None


def test_time_to_first_token_only_for_streams() -> None:
    call = CallRecord(started_at=1.0, ended_at=2.0, first_token_at=2.0, stream=False)
    assert call.time_to_first_token_s is None
    assert call.time_per_output_token_s is None


def test_time_per_output_token_needs_two_tokens() -> None:
    call = CallRecord(started_at=1.0, ended_at=2.0, first_token_at=1.5, stream=True,
                      tokens=TokenUsage(output=1))  # fmt: skip
    assert call.time_per_output_token_s is None


@pytest.mark.parametrize("cost", [Decimal("NaN"), Decimal("-0.01"), Decimal("Infinity"), 0.5])
def test_cost_must_be_a_finite_non_negative_decimal(cost: object) -> None:
    with pytest.raises(ValueError, match="cost_usd"):
        CallRecord(cost_usd=cost)  # type: ignore[arg-type]


@pytest.mark.parametrize("when", [float("nan"), float("inf"), 5])
def test_timestamps_must_be_finite_floats(when: object) -> None:
    with pytest.raises(ValueError, match="started_at"):
        CallRecord(started_at=when)  # type: ignore[arg-type]


def test_error_info_keeps_the_class_name_only() -> None:
    info = ErrorInfo(category=ErrorCategory.RATE_LIMITED, status_code=429,
                     exception_type="RateLimitError")  # fmt: skip
    assert (info.category, info.status_code, info.exception_type) == (
        ErrorCategory.RATE_LIMITED, 429, "RateLimitError",
    )  # fmt: skip
    assert CallRecord(status=Status.FAILURE, error=info).error == info


def test_budget_remaining_is_limit_minus_spend() -> None:
    snapshot = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t", limit_usd=Decimal("10"),
                              spend_usd=Decimal("12.5"))  # fmt: skip
    assert snapshot.remaining_usd == Decimal("-2.5")


def test_unlimited_budget_has_no_remaining() -> None:
    snapshot = BudgetSnapshot(scope=BudgetScope.USER, subject="u", spend_usd=Decimal("3"))
    assert snapshot.remaining_usd is None


def test_problem_reads_field_then_message() -> None:
    assert str(Problem(field="cost_usd", message="not finite; unknown")) == (
        "cost_usd: not finite; unknown"
    )
