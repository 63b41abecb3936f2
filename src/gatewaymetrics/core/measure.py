"""From records to samples: which metrics one call, budget or problem updates.

Pure: the same record and plan always give the same samples. Zero increments are
left out (they change nothing and would only create series).
"""

from __future__ import annotations

from collections.abc import Iterable

from gatewaymetrics.core.call_values import CallValues
from gatewaymetrics.core.catalog import CALL_SOURCES, MetricKind
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot, CallRecord, Problem
from gatewaymetrics.core.samples import Number, Sample

__all__ = [
    "CALL_SLOTS",
    "NO_COST_REPORTED",
    "RATELIMIT_SLOTS",
    "budget_labels",
    "call_updates",
    "measure_budget",
    "measure_call",
    "measure_fallback",
    "measure_problems",
    "measure_snapshot",
    "self_sample",
    "slot_labels",
]


#: The reason of an unpriced call whose gateway gave none.
NO_COST_REPORTED = "no_cost_reported"

#: The series one call can update, by slot: its metric's catalog key and own label
#: values. The request count's own labels are the outcome (None here); the
#: rate-limit gauges carry provider and models instead of the call's identity (None).
#: The metrics fed by a per-call number alone (``catalog.CALL_SOURCES``) follow.
_RULED_SLOTS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("requests", None), ("tokens", ("input",)), ("tokens", ("output",)),
    ("cached_input_tokens", ()), ("reasoning_tokens", ()), ("spend", ()),
    ("unpriced_requests", (NO_COST_REPORTED,)), ("cache_hits", ()), ("request_duration", ()),
    ("upstream_duration", ()), ("time_to_first_token", ()), ("time_per_output_token", ()),
    ("ratelimit_remaining_requests", None), ("ratelimit_remaining_tokens", None),
    ("cache_misses", ()), ("cache_hit_tokens", ()),
)  # fmt: skip
CALL_SLOTS = _RULED_SLOTS + tuple((key, ()) for key, _, _ in CALL_SOURCES)
#: The first slot of the source-fed metrics, and whether each one is a counter.
SOURCE_SLOTS = len(_RULED_SLOTS)
_COUNTERS = tuple(kind is MetricKind.COUNTER for _, _, kind in CALL_SOURCES)
(REQUESTS, INPUT_TOKENS, OUTPUT_TOKENS, CACHED_TOKENS, REASONING_TOKENS, SPEND, UNPRICED,
 CACHE_HITS, REQUEST_DURATION, UPSTREAM_DURATION, TIME_TO_FIRST_TOKEN, TIME_PER_OUTPUT_TOKEN,
 RATELIMIT_REQUESTS, RATELIMIT_TOKENS, CACHE_MISSES,
 CACHE_HIT_TOKENS) = range(SOURCE_SLOTS)  # fmt: skip
#: The slots without the call's identity labels.
RATELIMIT_SLOTS = (RATELIMIT_REQUESTS, RATELIMIT_TOKENS)


def call_updates(values: CallValues) -> list[tuple[int, Number]]:
    """What one call adds, sets or observes, by slot: one request; tokens, spend, cache
    hits and the tokens they served, cache misses (zero increments left out); an
    unpriced success when its cost is unknown; every known duration (zero is an
    observation); the remaining rate limits."""
    out: list[tuple[int, Number]] = [(REQUESTS, 1)]
    add = out.append
    if values.input_tokens:
        add((INPUT_TOKENS, values.input_tokens))
    if values.output_tokens:
        add((OUTPUT_TOKENS, values.output_tokens))
    if values.cached_tokens:
        add((CACHED_TOKENS, values.cached_tokens))
    if values.reasoning_tokens:
        add((REASONING_TOKENS, values.reasoning_tokens))
    cost = values.cost
    if cost:
        add((SPEND, cost))
    elif cost is None and values.success:
        add((UNPRICED, 1))
    cache_hit = values.cache_hit
    if cache_hit:
        add((CACHE_HITS, 1))
        served = values.input_tokens + values.output_tokens
        if served:
            add((CACHE_HIT_TOKENS, served))
    elif cache_hit is not None and values.success:  # looked up, and missed
        add((CACHE_MISSES, 1))
    if values.duration is not None:
        add((REQUEST_DURATION, values.duration))
    if values.upstream_duration is not None:
        add((UPSTREAM_DURATION, values.upstream_duration))
    if values.time_to_first_token is not None:
        add((TIME_TO_FIRST_TOKEN, values.time_to_first_token))
    if values.time_per_output_token is not None:
        add((TIME_PER_OUTPUT_TOKEN, values.time_per_output_token))
    if values.ratelimit_requests is not None:
        add((RATELIMIT_REQUESTS, values.ratelimit_requests))
    if values.ratelimit_tokens is not None:
        add((RATELIMIT_TOKENS, values.ratelimit_tokens))
    slot = SOURCE_SLOTS
    for value, counter in zip(values.extra, _COUNTERS, strict=True):
        if value if counter else value is not None:
            add((slot, value))  # type: ignore[arg-type]  # not None: checked
        slot += 1
    return out


def slot_labels(
    plan: Plan, slot: int, call_values: tuple[str, ...], outcome: tuple[str, str] = ("success", "")
) -> tuple[str, ...]:
    """The label values of ``slot``'s series for a call whose rendered call labels are
    ``call_values`` (:meth:`Plan.call_values`; for the rate-limit slots, the rendered
    provider, requested model and model instead) and whose outcome is (status,
    error type)."""
    key, own = CALL_SLOTS[slot]
    if slot in RATELIMIT_SLOTS:
        return plan.labels(key, (), call_values)
    return plan.labels(key, call_values, outcome if own is None else own)


def measure_call(call: CallRecord, plan: Plan) -> list[Sample]:
    """The samples of one call: requests, tokens, spend, durations, cache, rate limits."""
    values = plan.call_values(call)
    metrics = plan.metrics
    error_type = call.error.category.value if call.error is not None else ""
    outcome = (call.status.value, error_type)
    rate_values: tuple[str, ...] | None = None
    out = []
    for slot, value in call_updates(CallValues.of(call)):
        if slot in RATELIMIT_SLOTS:
            if rate_values is None:
                rate_values = plan.render((call.provider, call.requested_model, call.model))
            labels = slot_labels(plan, slot, rate_values)
        elif slot == UNPRICED and call.unpriced_reason is not None:
            own = plan.render((call.unpriced_reason,))
            labels = plan.labels("unpriced_requests", values, own)
        else:
            labels = slot_labels(plan, slot, values, outcome)
        out.append(Sample(metrics[CALL_SLOTS[slot][0]], labels, value))
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
    reset_at: float | None = None,
) -> list[Sample]:
    """Limit, spend and remaining gauges of the budget labelled ``own`` (from
    :func:`budget_labels`), and the time its period resets; limit and remaining are
    removed (value None) for an unlimited budget, never set to infinity; the reset time
    is left out when unknown (a reading without one never replaces one that had it:
    ``core/budget.py``'s ``supersedes``)."""
    metrics = plan.metrics
    out = [
        Sample(metrics["budget_limit"], plan.labels("budget_limit", (), own), limit),
        Sample(metrics["budget_spend"], plan.labels("budget_spend", (), own), spend),
        Sample(metrics["budget_remaining"], plan.labels("budget_remaining", (), own), remaining),
    ]
    if reset_at is not None:
        out.append(Sample(metrics["budget_reset"], plan.labels("budget_reset", (), own), reset_at))
    return out


def measure_snapshot(snapshot: BudgetSnapshot, plan: Plan) -> list[Sample]:
    """The gauges of one budget snapshot (see :func:`measure_budget`)."""
    own = budget_labels(snapshot.scope, snapshot.subject, snapshot.alias, plan)
    return measure_budget(
        plan, own, snapshot.limit_usd, snapshot.spend_usd, snapshot.remaining_usd, snapshot.reset_at
    )


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
