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


# -- issue 12, points 4 to 6: a record holds only numbers a backend can take -------------


@pytest.mark.parametrize(
    "cost", [Decimal("1E+400"), Decimal("1E+1000000000"), Decimal("0E-1000000000")],
    ids=["1e400", "1e1000000000", "0e-1000000000"],
)  # fmt: skip
def test_cost_must_be_within_float_range(cost: Decimal) -> None:
    with pytest.raises(
        ValueError, match="cost_usd must be a finite Decimal >= 0 within float range"
    ):
        CallRecord(cost_usd=cost)


def test_counts_and_times_must_be_within_range() -> None:
    with pytest.raises(
        ValueError, match="input must be an int from 0 to 2\\*\\*63 - 1, got an int of 1329 bits"
    ):
        TokenUsage(input=10**400)
    with pytest.raises(ValueError, match="ratelimit_remaining_tokens"):
        CallRecord(ratelimit_remaining_tokens=2**63)
    with pytest.raises(ValueError, match="started_at must be a float from -2\\*\\*38 to 2\\*\\*38"):
        CallRecord(started_at=1e300)
    with pytest.raises(ValueError, match="numbers: x must be finite"):
        CallRecord(numbers=(("x", float("inf")),))
    assert CallRecord(started_at=2.0**38, tokens=TokenUsage(input=2**63 - 1)).started_at == 2.0**38


def test_a_refused_key_is_the_one_api_key_that_is_no_fingerprint() -> None:
    assert Principal(api_key="_rejected").api_key == "_rejected"
    with pytest.raises(ValueError, match="'_rejected'"):
        Principal(api_key="rejected")
