"""One call's numbers as the metrics need them: what the fast reader reads from a
payload and what :func:`~gatewaymetrics.core.measure.call_updates` turns into series
updates, on both paths (from a record, :meth:`CallValues.of`)."""

from __future__ import annotations

from decimal import Decimal

from gatewaymetrics.core.catalog import CALL_SOURCES
from gatewaymetrics.core.records import CallRecord, Status

__all__ = ["BudgetValues", "CallValues"]


class BudgetValues:
    """One budget as one event reports it: spend (as read at auth time, before this
    call; its cost is added by the budget arithmetic, ``core/budget.py``), limit (None:
    unlimited) and reset time."""

    __slots__ = ("limit", "reset_at", "spend")

    def __init__(self, spend: float, limit: float | None, reset_at: float | None) -> None:
        self.spend = spend
        self.limit = limit
        self.reset_at = reset_at

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BudgetValues):
            return NotImplemented
        return (self.spend, self.limit, self.reset_at) == (other.spend, other.limit, other.reset_at)

    def __repr__(self) -> str:
        return (
            f"BudgetValues(spend={self.spend!r}, limit={self.limit!r}, reset_at={self.reset_at!r})"
        )


#: CallValues' attributes (its ``__slots__``; named here because a compiled class has
#: no ``__slots__`` attribute to read them from for ``==`` and ``repr``).
_FIELDS = (
    "budgets", "cache_hit", "cached_tokens", "cost", "duration", "extra", "input_tokens",
    "output_tokens", "ratelimit_requests", "ratelimit_tokens", "reasoning_tokens",
    "success", "time_per_output_token", "time_to_first_token", "upstream_duration",
)  # fmt: skip


class CallValues:
    """A call's numbers: tokens, cost (None: unknown), the derived durations, the
    provider's remaining rate limits, whether it succeeded and was a cache hit (None:
    the gateway's cache was not asked), and,
    per budget asked for, its :class:`BudgetValues` (None: no spend reported)."""

    __slots__ = _FIELDS

    def __init__(
        self,
        *,
        success: bool,
        cache_hit: bool | None,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int,
        reasoning_tokens: int,
        cost: float | Decimal | None,
        duration: float | None,
        upstream_duration: float | None,
        time_to_first_token: float | None,
        time_per_output_token: float | None,
        ratelimit_requests: int | None,
        ratelimit_tokens: int | None,
        budgets: list[BudgetValues | None],
        extra: tuple[int | float | Decimal | None, ...] = (),
    ) -> None:
        self.success = success
        self.cache_hit = cache_hit
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cached_tokens = cached_tokens
        self.reasoning_tokens = reasoning_tokens
        self.cost = cost
        self.duration = duration
        self.upstream_duration = upstream_duration
        self.time_to_first_token = time_to_first_token
        self.time_per_output_token = time_per_output_token
        self.ratelimit_requests = ratelimit_requests
        self.ratelimit_tokens = ratelimit_tokens
        self.budgets = budgets
        #: The numbers of ``catalog.CALL_SOURCES``, in that order (None: unknown).
        self.extra = extra

    @classmethod
    def of(cls, call: CallRecord) -> CallValues:
        """A record's numbers (budgets travel apart, as snapshots)."""
        tokens = call.tokens
        return cls(
            success=call.status is Status.SUCCESS,
            cache_hit=call.cache_hit,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cached_tokens=tokens.cached_input,
            reasoning_tokens=tokens.reasoning,
            cost=call.cost_usd,
            duration=call.duration_s,
            upstream_duration=call.upstream_duration_s,
            time_to_first_token=call.time_to_first_token_s,
            time_per_output_token=call.time_per_output_token_s,
            ratelimit_requests=call.ratelimit_remaining_requests,
            ratelimit_tokens=call.ratelimit_remaining_tokens,
            budgets=[],
            extra=tuple(dict(call.numbers).get(source) for _, source, _ in CALL_SOURCES),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CallValues):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    def __repr__(self) -> str:
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"CallValues({items})"
