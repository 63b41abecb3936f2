from __future__ import annotations

import pytest

from gatewaymetrics import GatewayMetricsError, MetricKind, build_catalog
from gatewaymetrics.core.catalog import DURATION_BUCKETS, NATIVE_NAMES, TIME_PER_TOKEN_BUCKETS

NATIVE = [
    ("llm_requests_total", "counter", ("status", "error_type")),
    ("llm_tokens_total", "counter", ("token_type",)),
    ("llm_cached_input_tokens_total", "counter", ()),
    ("llm_reasoning_tokens_total", "counter", ()),
    ("llm_spend_usd_total", "counter", ()),
    ("llm_unpriced_requests_total", "counter", ("reason",)),
    ("llm_request_duration_seconds", "histogram", ()),
    ("llm_upstream_duration_seconds", "histogram", ()),
    ("llm_time_to_first_token_seconds", "histogram", ()),
    ("llm_time_per_output_token_seconds", "histogram", ()),
    ("llm_cache_write_tokens_total", "counter", ()),
    ("llm_input_audio_tokens_total", "counter", ()),
    ("llm_output_audio_tokens_total", "counter", ()),
    ("llm_queue_duration_seconds", "histogram", ()),
    ("llm_overhead_duration_seconds", "histogram", ()),
    ("llm_budget_limit_usd", "gauge", ("scope", "subject", "alias")),
    ("llm_budget_spend_usd", "gauge", ("scope", "subject", "alias")),
    ("llm_budget_remaining_usd", "gauge", ("scope", "subject", "alias")),
    ("llm_budget_reset_timestamp_seconds", "gauge", ("scope", "subject", "alias")),
    ("llm_ratelimit_remaining_requests", "gauge", ("provider", "requested_model", "model")),
    ("llm_ratelimit_remaining_tokens", "gauge", ("provider", "requested_model", "model")),
    ("llm_cache_hits_total", "counter", ()),
    ("llm_cache_misses_total", "counter", ()),
    ("llm_cache_hit_tokens_total", "counter", ()),
    ("llm_fallbacks_total", "counter", ("requested_model", "fallback_model", "outcome")),
    ("gatewaymetrics_events_dropped_total", "counter", ("reason",)),
    ("gatewaymetrics_input_problems_total", "counter", ("field",)),
    ("gatewaymetrics_backend_errors_total", "counter", ("backend",)),
    ("gatewaymetrics_series_overflow_total", "counter", ("metric",)),
]


def test_native_catalog_is_exactly_the_design() -> None:
    catalog = build_catalog()
    assert [(m.name, m.kind.value, m.labels) for m in catalog] == NATIVE


def test_every_metric_has_help_and_counters_end_in_total() -> None:
    for metric in build_catalog():
        assert metric.help
        assert metric.fed_by
        assert metric.name.endswith("_total") == (metric.kind is MetricKind.COUNTER)


def test_duration_buckets_double_from_10ms_to_327s() -> None:
    assert DURATION_BUCKETS == (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96,
        81.92, 163.84, 327.68,
    )  # fmt: skip
    catalog = build_catalog()
    assert catalog["request_duration"].buckets == DURATION_BUCKETS
    assert catalog["time_per_output_token"].buckets == TIME_PER_TOKEN_BUCKETS
    assert catalog["requests"].buckets == ()


def test_prefix_renames_call_metrics_but_not_self_metrics() -> None:
    catalog = build_catalog(prefix="gw_")
    assert catalog["requests"].name == "gw_requests_total"
    assert catalog["backend_errors"].name == "gatewaymetrics_backend_errors_total"


def test_naming_table_covers_every_key() -> None:
    assert set(NATIVE_NAMES) == set(build_catalog().keys())


def test_bad_prefix_and_naming_name_the_key() -> None:
    with pytest.raises(GatewayMetricsError, match=r"invalid prefix: 'llm-'") as info:
        build_catalog(prefix="llm-")
    assert info.value.key == "prefix"
    with pytest.raises(GatewayMetricsError, match=r"naming: 'fancy'; allowed: litellm, native"):
        build_catalog(naming="fancy")
