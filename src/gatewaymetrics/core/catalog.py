"""The metric catalog: every metric this library exports, as pure data.

Backends render metrics from the catalog and the docs are generated from it. Each
metric has a stable ``key`` that code refers to; its exported ``name`` comes from a
naming table, so a naming preset (say, LiteLLM's own names) is another table, not a
fork of the code.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping

import attrs

from gatewaymetrics.core.litellm_names import LITELLM
from gatewaymetrics.core.naming import (
    DURATION_BUCKETS,
    NATIVE,
    NATIVE_NAMES,
    TIME_PER_TOKEN_BUCKETS,
    Naming,
)
from gatewaymetrics.core.otel_names import otel_naming
from gatewaymetrics.errors import GatewayMetricsError

__all__ = [
    "CALL_SOURCES",
    "DURATION_BUCKETS",
    "NAMINGS",
    "NATIVE_NAMES",
    "TIME_PER_TOKEN_BUCKETS",
    "Catalog",
    "MetricKind",
    "MetricSpec",
    "build_catalog",
]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PREFIX = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?")
SELF_PREFIX = "gatewaymetrics_"


class MetricKind(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@attrs.frozen(kw_only=True)
class MetricSpec:
    """One metric. ``labels`` are its own labels; ``identity`` says whether the
    configured call-identity labels (model, team, key, ...) come first."""

    key: str
    name: str
    kind: MetricKind
    help: str
    unit: str = ""
    labels: tuple[str, ...] = ()
    identity: bool = False
    buckets: tuple[float, ...] = ()
    fed_by: str = ""
    #: The name from the naming table, without the prefix (e.g. ``requests_total``):
    #: what backends with other naming rules (StatsD) build their names from.
    base: str = ""
    #: About gatewaymetrics itself: fixed ``gatewaymetrics_`` prefix, bounded labels.
    self_metric: bool = False


@attrs.frozen(kw_only=True)
class _Entry:
    kind: MetricKind
    help: str
    unit: str
    labels: tuple[str, ...]
    identity: bool
    fed_by: str
    buckets: str = ""  # "duration", "per_token" or "" (not a histogram)
    self_metric: bool = False
    #: A per-call number, by the name a gateway's field table gives it
    #: (``core/litellm_fields.py``): a counter adds it (zero and unknown are left out),
    #: a histogram observes it and a gauge is set to it when it is known. "": fed by
    #: the rules of ``core/measure.py``.
    source: str = ""


_C, _G, _H = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM
_BUDGET_LABELS = ("scope", "subject", "alias")
_RATELIMIT_LABELS = ("provider", "requested_model", "model")

# key -> what the metric is; the exported name comes from a naming table.
_ENTRIES: Mapping[str, _Entry] = {
    "requests": _Entry(
        kind=_C, help="LLM calls, by outcome.", unit="", labels=("status", "error_type"),
        identity=True, fed_by="every call",
    ),
    "tokens": _Entry(
        kind=_C, help="Tokens processed; token_type input + output sums to the total.",
        unit="tokens", labels=("token_type",), identity=True,
        fed_by="tokens.input, tokens.output",
    ),
    "cached_input_tokens": _Entry(
        kind=_C, help="Input tokens served from the provider's prompt cache (part of input).",
        unit="tokens", labels=(), identity=True, fed_by="tokens.cached_input",
    ),
    "reasoning_tokens": _Entry(
        kind=_C, help="Output tokens spent on reasoning (part of output).",
        unit="tokens", labels=(), identity=True, fed_by="tokens.reasoning",
    ),
    "spend": _Entry(
        kind=_C, help="Spend in US dollars, known costs only.", unit="usd", labels=(),
        identity=True, fed_by="cost_usd",
    ),
    "unpriced_requests": _Entry(
        kind=_C, help="Successful calls whose cost was unknown (not counted in spend), by the "
        "reason the gateway gave (no_cost_reported: none).",
        unit="", labels=("reason",), identity=True,
        fed_by="status=success and cost_usd=None; unpriced_reason",
    ),
    "request_duration": _Entry(
        kind=_H, help="Wall time of the whole call as the gateway saw it.", unit="seconds",
        labels=(), identity=True, fed_by="duration_s", buckets="duration",
    ),
    "upstream_duration": _Entry(
        kind=_H, help="Time spent waiting on the provider's API.", unit="seconds",
        labels=(), identity=True, fed_by="upstream_duration_s", buckets="duration",
    ),
    "time_to_first_token": _Entry(
        kind=_H, help="Streams: time from the start of the call to the first token.",
        unit="seconds", labels=(), identity=True, fed_by="time_to_first_token_s",
        buckets="duration",
    ),
    "time_per_output_token": _Entry(
        kind=_H, help="Streams: time per output token after the first.", unit="seconds",
        labels=(), identity=True, fed_by="time_per_output_token_s", buckets="per_token",
    ),
    "cache_write_tokens": _Entry(
        kind=_C, help="Input tokens written to the provider's prompt cache.", unit="tokens",
        labels=(), identity=True, fed_by="tokens.cache_creation", source="tokens.cache_creation",
    ),
    "input_audio_tokens": _Entry(
        kind=_C, help="Audio input tokens (part of input).", unit="tokens", labels=(),
        identity=True, fed_by="tokens.input_audio", source="tokens.input_audio",
    ),
    "output_audio_tokens": _Entry(
        kind=_C, help="Audio output tokens (part of output).", unit="tokens", labels=(),
        identity=True, fed_by="tokens.output_audio", source="tokens.output_audio",
    ),
    "queue_duration": _Entry(
        kind=_H, help="Time from the request's arrival at the gateway to the start of its "
        "processing (authentication, queueing).", unit="seconds", labels=(), identity=True,
        fed_by="queue_s", buckets="duration", source="queue_s",
    ),
    "overhead_duration": _Entry(
        kind=_H, help="Time the gateway itself added to the call (its own processing).",
        unit="seconds", labels=(), identity=True, fed_by="overhead_s", buckets="duration",
        source="overhead_s",
    ),
    "budget_limit": _Entry(
        kind=_G, help="Budget limit in US dollars; no series for an unlimited budget.",
        unit="usd", labels=_BUDGET_LABELS, identity=False, fed_by="BudgetSnapshot.limit_usd",
    ),
    "budget_spend": _Entry(
        kind=_G, help="Budget spend in US dollars in the current period.", unit="usd",
        labels=_BUDGET_LABELS, identity=False, fed_by="BudgetSnapshot.spend_usd",
    ),
    "budget_remaining": _Entry(
        kind=_G, help="Budget left in US dollars (negative when over budget).", unit="usd",
        labels=_BUDGET_LABELS, identity=False, fed_by="BudgetSnapshot.remaining_usd",
    ),
    "budget_reset": _Entry(
        kind=_G, help="Unix time at which the budget's current period resets; no series when "
        "the gateway gives no reset time.", unit="seconds", labels=_BUDGET_LABELS,
        identity=False, fed_by="BudgetSnapshot.reset_at",
    ),
    "ratelimit_remaining_requests": _Entry(
        kind=_G, help="Requests left in the provider's rate-limit window.", unit="",
        labels=_RATELIMIT_LABELS, identity=False, fed_by="ratelimit_remaining_requests",
    ),
    "ratelimit_remaining_tokens": _Entry(
        kind=_G, help="Tokens left in the provider's rate-limit window.", unit="tokens",
        labels=_RATELIMIT_LABELS, identity=False, fed_by="ratelimit_remaining_tokens",
    ),
    "cache_hits": _Entry(
        kind=_C, help="Calls answered from the gateway's response cache.", unit="",
        labels=(), identity=True, fed_by="cache_hit",
    ),
    "cache_misses": _Entry(
        kind=_C, help="Calls the gateway's response cache was asked for and could not answer.",
        unit="", labels=(), identity=True, fed_by="cache_hit = false",
    ),
    "cache_hit_tokens": _Entry(
        kind=_C, help="Tokens (input + output) of calls answered from the gateway's response "
        "cache.", unit="tokens", labels=(), identity=True, fed_by="cache_hit, tokens",
    ),
    "fallbacks": _Entry(
        kind=_C, help="Router fallbacks from a model group to another.", unit="",
        labels=("requested_model", "fallback_model", "outcome"), identity=False,
        fed_by="router fallback hooks",
    ),
    "events_dropped": _Entry(
        kind=_C, help="Events gatewaymetrics could not record.", unit="",
        labels=("reason",), identity=False, fed_by="pipeline", self_metric=True,
    ),
    "input_problems": _Entry(
        kind=_C, help="Odd input fields that were repaired or ignored while parsing.",
        unit="", labels=("field",), identity=False, fed_by="CallEvent.problems",
        self_metric=True,
    ),
    "backend_errors": _Entry(
        kind=_C, help="Errors raised by a backend while recording (isolated, counted).",
        unit="", labels=("backend",), identity=False, fed_by="pipeline", self_metric=True,
    ),
    "series_overflow": _Entry(
        kind=_C, help="Samples folded into the _other series (or dropped, for gauges) "
        "because a metric reached its series cap.",
        unit="", labels=("metric",), identity=False, fed_by="pipeline", self_metric=True,
    ),
}  # fmt: skip

#: The metrics fed by a per-call number alone: (key, the number's name, kind), in
#: catalog order.
CALL_SOURCES: tuple[tuple[str, str, MetricKind], ...] = tuple(
    (key, entry.source, entry.kind) for key, entry in _ENTRIES.items() if entry.source
)

#: Every naming, by its name: those ``Settings.naming`` takes, and the OpenTelemetry
#: backend's own.
NAMINGS: Mapping[str, Naming] = {
    "native": NATIVE,
    "litellm": LITELLM,
    "otel": otel_naming({key: (entry.unit, entry.help) for key, entry in _ENTRIES.items()}),
}


@attrs.frozen
class Catalog:
    """An ordered, immutable set of metrics, looked up by key, and the naming that
    exports them."""

    metrics: tuple[MetricSpec, ...]
    naming: Naming = NATIVE
    _by_key: Mapping[str, MetricSpec] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {m.key: m for m in self.metrics})

    def __getitem__(self, key: str) -> MetricSpec:
        return self._by_key[key]

    def __iter__(self) -> Iterator[MetricSpec]:
        return iter(self.metrics)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return len(self.metrics)

    def keys(self) -> tuple[str, ...]:
        return tuple(self._by_key)


def build_catalog(
    *,
    prefix: str = "llm_",
    naming: str = "native",
    duration_buckets: tuple[float, ...] | None = None,
) -> Catalog:
    """The catalog under a naming table and prefix (``duration_buckets``: None for the
    naming's own). Self-observation metrics always keep the ``gatewaymetrics_`` prefix
    so dashboards find them whatever the naming."""
    if _PREFIX.fullmatch(prefix) is None:
        raise GatewayMetricsError(
            "prefix", prefix, "a metric name prefix: [a-zA-Z_:][a-zA-Z0-9_:]*"
        )
    table = NAMINGS.get(naming)
    if table is None or not table.selectable:
        raise GatewayMetricsError("naming", naming, [n for n, t in NAMINGS.items() if t.selectable])
    names = table.names
    if duration_buckets is None:
        duration_buckets = table.duration_buckets
    specs = []
    for key, entry in _ENTRIES.items():
        name = (SELF_PREFIX if entry.self_metric else prefix) + names[key]
        if _METRIC_NAME.fullmatch(name) is None:  # pragma: no cover - tables are checked by tests
            raise GatewayMetricsError(f"naming.{key}", name, "a valid metric name")
        buckets: tuple[float, ...] = ()
        if entry.buckets == "duration":
            buckets = duration_buckets
        elif entry.buckets == "per_token":
            buckets = table.per_token_buckets
        specs.append(
            MetricSpec(
                key=key,
                name=name,
                kind=entry.kind,
                help=entry.help,
                unit=entry.unit,
                labels=entry.labels,
                identity=entry.identity,
                buckets=buckets,
                fed_by=entry.fed_by,
                base=names[key],
                self_metric=entry.self_metric,
            )
        )
    return Catalog(tuple(specs), table)
