"""Namings: how the catalog's metrics are exported, as pure data.

A naming gives every catalog metric its exported name (``names``: the base name the
prefix is put before), and may export a metric as other families instead
(``exports``): another tool's names, label names and per-scope split. An
:class:`Export` is one such family: its full name, help text, its label names with
the catalog label each one is read from, and the catalog label values it is limited
to (``when``). Catalog labels an export does not list are summed out; an export
listing a label the metric does not carry (turned off, or never known) leaves it out.

The plan (``core/plan.py``) turns exports into metrics and routes; the fan-out sends
every update through them, so backends only ever see exported families.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from gatewaymetrics.errors import GatewayMetricsError

__all__ = [
    "DURATION_BUCKETS",
    "LABEL_PARTS",
    "NATIVE",
    "NATIVE_NAMES",
    "TIME_PER_TOKEN_BUCKETS",
    "TRANSFORMS",
    "Export",
    "Naming",
]

#: OpenTelemetry GenAI duration buckets, extended by doubling for long calls:
#: 0.01, 0.02, 0.04, ... 327.68 seconds.
DURATION_BUCKETS: tuple[float, ...] = tuple(round(0.01 * 2**i, 2) for i in range(16))

#: OpenTelemetry GenAI ``gen_ai.server.time_per_output_token`` buckets.
TIME_PER_TOKEN_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip


def _hours_until(value: float, now: float) -> float:
    """Hours from ``now`` to the Unix time ``value`` (negative once it has passed), as
    LiteLLM computes its ``*_budget_remaining_hours_metric``."""
    return (float(value) - now) / 3600


def _host(origin: str) -> str:
    """The host of an origin (``scheme://host[:port]``, as ``core/urls`` makes it)."""
    authority = origin.partition("://")[2]
    if authority.startswith("["):
        return authority.partition("]")[0] + "]"
    return authority.rpartition(":")[0] if ":" in authority else authority


def _port(origin: str) -> str:
    """The port of an origin: its own, else the scheme's ("" when neither is known)."""
    scheme, _, authority = origin.partition("://")
    tail = authority.rpartition("]")[2] if authority.startswith("[") else authority
    port = tail.rpartition(":")[2] if ":" in tail else ""
    return port or {"https": "443", "http": "80"}.get(scheme, "")


#: Parts of a label value an export may take, by name: ``value -> part``.
LABEL_PARTS: Mapping[str, Callable[[str], str]] = {"host": _host, "port": _port}


#: Value transforms an export may apply, by name: ``(value, now) -> exported value``,
#: ``now`` being the wall clock (Unix seconds) when the value is written.
TRANSFORMS: Mapping[str, Callable[[float, float], float]] = {"hours_until": _hours_until}


def _check_transform(instance: Export, _attribute: attrs.Attribute[str], value: str) -> None:
    if value and value not in TRANSFORMS:
        allowed = '"" (the value as it is), ' + ", ".join(sorted(TRANSFORMS))
        raise GatewayMetricsError(f"exports.{instance.name}.transform", value, allowed)


@attrs.frozen(kw_only=True)
class Export:
    """One exported family of a catalog metric.

    - ``name``: the full family name (no prefix is added).
    - ``labels``: (exported label name, catalog label name) pairs, in exposition order.
    - ``when``: (catalog label name, value) pairs an update must match to reach this
      family; those labels are not exported (the family's name says their value).
    - ``transform``: "" (the value as it is) or the name of one of :data:`TRANSFORMS`,
      applied to every value written to this family (a removal stays a removal).
    - ``kind``, ``unit``, ``buckets``: the family's own ("": the catalog metric's; a
      counter exported as a histogram observes each increment, one per call).
    - ``values``: (exported label, ((value, exported value), ...)) value maps (values
      not in a map are kept), and ``parts``: (exported label, the name of one of
      :data:`LABEL_PARTS`) for a label read as a part of its source's value.
    - ``others``: (catalog label, exported label) for the catalog metric's remaining
      labels (the configured call labels, its own): those it carries are exported
      too, renamed; the naming's exports never add them.
    """

    name: str
    help: str
    labels: tuple[tuple[str, str], ...] = ()
    when: tuple[tuple[str, str], ...] = ()
    transform: str = attrs.field(default="", validator=_check_transform)
    kind: str = ""
    unit: str = ""
    buckets: tuple[float, ...] = ()
    values: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    parts: tuple[tuple[str, str], ...] = ()
    others: tuple[tuple[str, str], ...] = ()


@attrs.frozen(kw_only=True)
class Naming:
    """A naming table.

    - ``names``: catalog key -> base name (after the prefix) of a metric exported in
      its own shape.
    - ``exports``: catalog key -> the families it is exported as instead.
    - ``duration_buckets`` / ``per_token_buckets``: histogram bounds in seconds.
    - ``withheld``: call labels an export may name but that are only added when the
      settings turn them on (personal data, unbounded values).
    """

    names: Mapping[str, str]
    duration_buckets: tuple[float, ...]
    per_token_buckets: tuple[float, ...]
    exports: Mapping[str, tuple[Export, ...]] = attrs.field(factory=dict)
    withheld: tuple[str, ...] = ()
    #: Whether ``Settings.naming`` may name it (False: a backend's own naming, whose
    #: names another backend could not take, such as OpenTelemetry's dotted ones).
    selectable: bool = True


#: The native naming table: key -> exported name without prefix.
NATIVE_NAMES: Mapping[str, str] = {
    "requests": "requests_total",
    "tokens": "tokens_total",
    "cached_input_tokens": "cached_input_tokens_total",
    "reasoning_tokens": "reasoning_tokens_total",
    "spend": "spend_usd_total",
    "unpriced_requests": "unpriced_requests_total",
    "request_duration": "request_duration_seconds",
    "upstream_duration": "upstream_duration_seconds",
    "time_to_first_token": "time_to_first_token_seconds",
    "time_per_output_token": "time_per_output_token_seconds",
    "cache_write_tokens": "cache_write_tokens_total",
    "input_audio_tokens": "input_audio_tokens_total",
    "output_audio_tokens": "output_audio_tokens_total",
    "queue_duration": "queue_duration_seconds",
    "overhead_duration": "overhead_duration_seconds",
    "budget_limit": "budget_limit_usd",
    "budget_spend": "budget_spend_usd",
    "budget_remaining": "budget_remaining_usd",
    "budget_reset": "budget_reset_timestamp_seconds",
    "ratelimit_remaining_requests": "ratelimit_remaining_requests",
    "ratelimit_remaining_tokens": "ratelimit_remaining_tokens",
    "cache_hits": "cache_hits_total",
    "cache_misses": "cache_misses_total",
    "cache_hit_tokens": "cache_hit_tokens_total",
    "fallbacks": "fallbacks_total",
    "events_dropped": "events_dropped_total",
    "input_problems": "input_problems_total",
    "backend_errors": "backend_errors_total",
    "series_overflow": "series_overflow_total",
}

#: gatewaymetrics' own names: each metric in its own shape, under the prefix.
NATIVE = Naming(
    names=NATIVE_NAMES,
    duration_buckets=DURATION_BUCKETS,
    per_token_buckets=TIME_PER_TOKEN_BUCKETS,
)
