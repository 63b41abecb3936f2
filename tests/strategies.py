"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Principal,
    Status,
    TokenUsage,
    fingerprint,
)

#: Strings meant to break things: separators, control characters, unicode, long.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "None", 'a"b', "a\\b", "line\nbreak", "tab\there", "\x00nul", "\u2028sep",
         "\ud800", "émoji 🚀", ":|#,;=@ ", "x" * 10_000]
    ),
)  # fmt: skip


class Odd:
    """An object that is neither a mapping nor a primitive, with hostile attributes."""

    def __init__(self, payload: object) -> None:
        self.payload = payload

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError("hostile attribute")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("hostile eq")

    __hash__ = object.__hash__


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
odd_scalars = st.one_of(
    json_scalars,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(),
    st.builds(Odd, st.integers()),
    st.just(object()),
    st.just(ValueError("boom")),
    st.binary(max_size=8),
)
json_like = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=5),
    ),
    max_leaves=20,
)
odd_like = st.recursive(
    odd_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=15,
)

# Keys LiteLLM payloads really use, so random payloads reach the parser's deep paths.
PAYLOAD_KEYS = [
    "standard_logging_object", "litellm_params", "metadata", "model", "response_cost",
    "exception", "stream", "call_type", "status", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "completionStartTime", "hidden_params", "api_base",
    "additional_headers", "x_ratelimit_remaining_requests", "error_information",
    "user_api_key_hash", "user_api_key", "user_api_key_spend", "user_api_key_max_budget",
    "user_api_key_team_id", "user_api_key_team_spend", "user_api_key_team_max_budget",
    "user_api_key_budget_reset_at", "usage_object", "prompt_tokens_details",
    "cached_tokens", "custom_llm_provider", "model_group", "model_id", "cache_hit",
    "proxy_server_request", "body", "user", "usage", "response_cost_failure_debug_info",
]  # fmt: skip

payload_like = st.recursive(
    odd_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(PAYLOAD_KEYS), st.text(max_size=8)), children, max_size=6
        ),
    ),
    max_leaves=30,
)

finite_times = st.floats(min_value=1.6e9, max_value=1.9e9, allow_nan=False)
money = st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False)
optional_text = st.one_of(st.none(), st.text(min_size=1, max_size=20))


@st.composite
def token_usages(draw: st.DrawFn) -> TokenUsage:
    input_tokens = draw(st.integers(0, 10**6))
    output_tokens = draw(st.integers(0, 10**6))
    return TokenUsage(
        input=input_tokens,
        output=output_tokens,
        cached_input=draw(st.integers(0, input_tokens)),
        reasoning=draw(st.integers(0, output_tokens)),
    )


principals = st.builds(
    Principal,
    api_key=st.one_of(st.none(), st.text(min_size=1, max_size=10).map(fingerprint)),
    api_key_alias=optional_text,
    team_id=st.one_of(st.none(), st.sampled_from(["team-a", "team-b", "team-c"])),
    team_alias=optional_text,
    user_id=optional_text,
)


@st.composite
def call_records(draw: st.DrawFn) -> CallRecord:
    status = draw(st.sampled_from(Status))
    started = draw(st.one_of(st.none(), finite_times))
    ended = None if started is None else started + draw(st.floats(0, 400))
    return CallRecord(
        call_id=draw(optional_text),
        operation=draw(st.sampled_from(Operation)),
        status=status,
        provider=draw(st.sampled_from([None, "openai", "anthropic"])),
        requested_model=draw(st.sampled_from([None, "gpt-4o", "claude", "group-x"])),
        model=draw(st.sampled_from([None, "gpt-4o", "claude-3-5-sonnet"])),
        principal=draw(principals),
        tokens=draw(token_usages()),
        cost_usd=draw(st.one_of(st.none(), money)),
        started_at=started,
        ended_at=ended,
        first_token_at=None if ended is None or started is None else (started + ended) / 2,
        stream=draw(st.booleans()),
        cache_hit=draw(st.one_of(st.none(), st.booleans())),
        error=(
            ErrorInfo(category=draw(st.sampled_from(ErrorCategory)))
            if status is Status.FAILURE
            else None
        ),
    )


budget_snapshots = st.builds(
    BudgetSnapshot,
    scope=st.sampled_from(BudgetScope),
    subject=st.sampled_from(["s1", "s2", "s3"]),
    alias=optional_text,
    limit_usd=st.one_of(st.none(), money),
    spend_usd=money,
    reset_at=st.one_of(st.none(), st.sampled_from([1.7e9, 1.8e9])),
)

call_events = st.builds(
    CallEvent,
    call=call_records(),
    budgets=st.lists(budget_snapshots, max_size=3).map(tuple),
)


class RaisingZone(tzinfo):
    """A time zone whose offset raises: ``datetime.timestamp()`` raises."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no dst")


#: Numbers meant to break arithmetic and formatting: beyond float range, not finite,
#: a billion-digit exponent in 12 bytes, "²" (a digit int() refuses), datetimes at the
#: ends of their range or whose timestamp() raises.
hostile_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, 1.7976931348623157e308, 1e15, 1e300, -1e308, 2.0**63, 5e-324]),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([10**400, 10**5000, 2**63, 2**63 - 1, 2**64]),
    st.sampled_from(["1e1000000000", "1e400", "-1e400", "1e-1000000", "0e-999999", "NaN",
                     "Infinity", "²", "9" * 60, "1E+308", "1e15"]),
    st.sampled_from([Decimal("1e400"), Decimal("1E+1000000000"), Decimal("9.99e14"), Decimal("NaN"),
                     Decimal("-Infinity"), Decimal("0E-1000000000")]),
    st.sampled_from([datetime.max, datetime.min, datetime.max.replace(tzinfo=UTC)]),
    st.builds(lambda: datetime(2026, 1, 1, tzinfo=RaisingZone())),  # (unhashable)
)  # fmt: skip


__all__ = [
    "PAYLOAD_KEYS",
    "RaisingZone",
    "budget_snapshots",
    "call_events",
    "call_records",
    "hostile_numbers",
    "hostile_text",
    "json_like",
    "odd_like",
    "payload_like",
    "token_usages",
]
