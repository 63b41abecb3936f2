"""From records to samples: which metrics one call, budget or problem updates.

Pure: the same record and plan always give the same samples. Zero increments are
left out (they change nothing and would only create series).
"""

from __future__ import annotations

from collections.abc import Iterable

from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot, CallRecord, Problem, Status
from gatewaymetrics.core.samples import Number, Sample

__all__ = [
    "budget_labels",
    "measure_budget",
    "measure_call",
    "measure_fallback",
    "measure_problems",
    "measure_snapshot",
    "self_sample",
]


def measure_call(call: CallRecord, plan: Plan) -> list[Sample]:
    """The samples of one call: requests, tokens, spend, durations, cache, rate limits."""
    values = plan.call_values(call)
    metrics = plan.metrics
    labels = plan.labels
    error_type = call.error.category.value if call.error is not None else ""
    out = [
        Sample(metrics["requests"], labels("requests", values, (call.status.value, error_type)), 1)
    ]

    def add(key: str, value: Number | None, own: tuple[str, ...] = ()) -> None:
        if value:  # None or zero: nothing to record
            out.append(Sample(metrics[key], labels(key, values, own), value))

    tokens = call.tokens
    add("tokens", tokens.input, ("input",))
    add("tokens", tokens.output, ("output",))
    add("cached_input_tokens", tokens.cached_input)
    add("reasoning_tokens", tokens.reasoning)
    add("spend", call.cost_usd)
    if call.status is Status.SUCCESS and call.cost_usd is None:
        add("unpriced_requests", 1)
    if call.cache_hit:
        add("cache_hits", 1)

    for key, observed in (
        ("request_duration", call.duration_s),
        ("upstream_duration", call.upstream_duration_s),
        ("time_to_first_token", call.time_to_first_token_s),
        ("time_per_output_token", call.time_per_output_token_s),
    ):
        if observed is not None:  # zero is a real observation
            out.append(Sample(metrics[key], labels(key, values), observed))

    for key, remaining in (
        ("ratelimit_remaining_requests", call.ratelimit_remaining_requests),
        ("ratelimit_remaining_tokens", call.ratelimit_remaining_tokens),
    ):
        if remaining is not None:
            own = plan.render((call.provider, call.requested_model, call.model))
            out.append(Sample(metrics[key], labels(key, (), own), remaining))
    return out


def budget_labels(
    scope: BudgetScope, subject: str, alias: str | None, plan: Plan
) -> tuple[str, ...]:
    """The rendered (scope, subject, alias) labels of a budget's gauges."""
    return plan.render((scope.value, subject, alias))


def measure_budget(
    plan: Plan,
    own: tuple[str, ...],
    limit: Number | None,
    spend: Number,
    remaining: Number | None,
) -> list[Sample]:
    """Limit, spend and remaining gauges of the budget labelled ``own`` (from
    :func:`budget_labels`); limit and remaining are removed (value None) for an
    unlimited budget, never set to infinity."""
    metrics = plan.metrics
    return [
        Sample(metrics["budget_limit"], plan.labels("budget_limit", (), own), limit),
        Sample(metrics["budget_spend"], plan.labels("budget_spend", (), own), spend),
        Sample(metrics["budget_remaining"], plan.labels("budget_remaining", (), own), remaining),
    ]


def measure_snapshot(snapshot: BudgetSnapshot, plan: Plan) -> list[Sample]:
    """The gauges of one budget snapshot (see :func:`measure_budget`)."""
    own = budget_labels(snapshot.scope, snapshot.subject, snapshot.alias, plan)
    return measure_budget(plan, own, snapshot.limit_usd, snapshot.spend_usd, snapshot.remaining_usd)


def measure_fallback(
    plan: Plan, requested_model: str | None, fallback_model: str | None, outcome: str
) -> list[Sample]:
    """One router fallback: from ``requested_model`` to ``fallback_model``, and whether
    the fallback call succeeded (``outcome``: success or failure)."""
    own = plan.render((requested_model, fallback_model, outcome))
    return [Sample(plan.metrics["fallbacks"], plan.labels("fallbacks", (), own), 1)]


def measure_problems(problems: Iterable[Problem], plan: Plan) -> list[Sample]:
    """One ``input_problems`` increment per problem, labelled by the field."""
    return [self_sample(plan, "input_problems", problem.field) for problem in problems]


def self_sample(plan: Plan, key: str, label: str, value: int = 1) -> Sample:
    """A self-observation counter increment (one own label)."""
    return Sample(plan.metrics[key], plan.labels(key, (), plan.render((label,))), value)
