"""The OpenTelemetry backend through the SDK's own ``InMemoryMetricReader``: the GenAI
semantic-convention names, units, attributes and bucket advice, exact values on both
paths, beside Prometheus with the same counts, and the label rules."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import require_module

HOW = "install it with: make test (or pip install 'gatewaymetrics[otel]')"
sdk_metrics: Any = require_module("opentelemetry.sdk.metrics", HOW)
sdk_export: Any = require_module("opentelemetry.sdk.metrics.export", HOW)

from prometheus_client import CollectorRegistry  # noqa: E402

from gatewaymetrics import LabelSettings, Pipeline, Settings  # noqa: E402
from gatewaymetrics.backends.otel import OtelBackend  # noqa: E402
from gatewaymetrics.backends.prometheus import PrometheusBackend  # noqa: E402
from gatewaymetrics.core.otel_names import OPERATION_BUCKETS, TOKEN_BUCKETS  # noqa: E402
from gatewaymetrics.core.records import (  # noqa: E402
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
)
from gatewaymetrics.core.secrets import fingerprint  # noqa: E402
from tests.test_fast_path_equivalence import event_sequences, record_all, series  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "litellm_payloads.jsonl"
KEY = fingerprint("sk-otel-test-key")


class Read:
    """What the reader holds now: {metric name: (unit, [(attributes, point)])}."""

    def __init__(self, reader: Any) -> None:
        self.metrics: dict[str, tuple[str, list[tuple[dict[str, object], Any]]]] = {}
        data = reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = [(dict(p.attributes), p) for p in metric.data.data_points]
                    self.metrics[metric.name] = (metric.unit, points)

    def total(self, name: str) -> float:
        _, points = self.metrics.get(name, ("", []))
        return float(sum(getattr(p, "value", None) or getattr(p, "count", 0) for _, p in points))


def otel_pipeline(settings: Settings | None = None, *, fast: bool = True) -> tuple[Pipeline, Any]:
    reader = sdk_export.InMemoryMetricReader()
    provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    backend = OtelBackend(meter_provider=provider)
    return Pipeline([backend], settings, fast_path=fast), reader


def _call(**fields: Any) -> CallEvent:
    budgets = fields.pop("budgets", ())
    call = CallRecord(
        operation=Operation.CHAT,
        provider="bedrock",
        requested_model="claude",
        model="anthropic.claude-3",
        api_base="https://bedrock-runtime.us-east-1.amazonaws.com",
        principal=Principal(api_key=KEY, team_id="t1", user_id="alice"),
        **fields,
    )
    return CallEvent(call=call, budgets=budgets)


def test_semconv_names_units_attributes_and_buckets() -> None:
    pipeline, reader = otel_pipeline()
    pipeline.record(
        _call(status=Status.SUCCESS, tokens=TokenUsage(input=12, output=30),
              cost_usd=Decimal("0.25"), started_at=100.0, upstream_started_at=100.5,
              ended_at=101.5)
    )  # fmt: skip
    read = Read(reader)
    unit, points = read.metrics["gen_ai.client.token.usage"]
    assert unit == "{token}"
    by_type = {attributes["gen_ai.token.type"]: (attributes, p) for attributes, p in points}
    attributes, point = by_type["input"]
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",  # LiteLLM's "bedrock", the well-known value
        "gen_ai.request.model": "claude",
        "gen_ai.response.model": "anthropic.claude-3",
        "server.address": "bedrock-runtime.us-east-1.amazonaws.com",
        "server.port": 443,
        "gen_ai.token.type": "input",
        "gatewaymetrics.team.id": "t1",
        "gatewaymetrics.api_key.fingerprint": KEY,
        "user.id": "alice",
    }
    assert (point.count, point.sum) == (1, 12)
    assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
    assert by_type["output"][1].sum == 30
    unit, ((_, duration),) = read.metrics["gen_ai.server.request.duration"]
    assert (unit, duration.count, duration.sum) == ("s", 1, 1.5)
    assert tuple(duration.explicit_bounds) == OPERATION_BUCKETS
    _, ((_, upstream),) = read.metrics["gen_ai.client.operation.duration"]
    assert upstream.sum == 1.0
    unit, ((_, spend),) = read.metrics["gatewaymetrics.spend"]
    assert (unit, spend.value) == ("{USD}", 0.25)
    assert read.total("gatewaymetrics.requests") == 1


def test_a_failure_has_error_type_and_no_empty_attributes() -> None:
    pipeline, reader = otel_pipeline()
    error = ErrorInfo(category=ErrorCategory.RATE_LIMITED, status_code=429)
    pipeline.record(_call(status=Status.FAILURE, error=error, started_at=1.0, ended_at=3.0))
    read = Read(reader)
    ((attributes, point),) = read.metrics["gen_ai.server.request.duration"][1]
    assert attributes["error.type"] == "rate_limited"
    assert point.sum == 2.0
    ((attributes, _),) = read.metrics["gatewaymetrics.requests"][1]
    assert attributes["error.type"] == "rate_limited"
    assert attributes["gatewaymetrics.status"] == "failure"
    assert "" not in attributes.values()
    assert "gatewaymetrics.team.alias" not in attributes  # no alias: no attribute


def test_budgets_are_observable_gauges_without_infinity() -> None:
    pipeline, reader = otel_pipeline()
    team = BudgetSnapshot(
        scope=BudgetScope.TEAM,
        subject="t1",
        alias="Team",
        limit_usd=Decimal(10),
        spend_usd=Decimal("2.5"),
        reset_at=1.8e9,
    )
    user = BudgetSnapshot(scope=BudgetScope.USER, subject="alice", spend_usd=Decimal(1))
    pipeline.record(_call(status=Status.SUCCESS, budgets=(team, user)))  # fmt: skip
    read = Read(reader)
    remaining = read.metrics["gatewaymetrics.budget_remaining"][1]
    assert [(a["gatewaymetrics.budget.subject"], p.value) for a, p in remaining] == [("t1", 7.5)]
    spend = {a["gatewaymetrics.budget.subject"]: p.value for a, p in read.metrics[
        "gatewaymetrics.budget_spend"][1]}  # fmt: skip
    assert spend == {"t1": 2.5, "alice": 1.0}
    assert read.metrics["gatewaymetrics.budget_reset_timestamp"][1][0][1].value == 1.8e9


def _replay(pipelines: list[Pipeline]) -> None:
    with EXAMPLES.open(encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)
            for _ in range(3):  # the repeats take the fast path
                for pipeline in pipelines:
                    pipeline.record_litellm(
                        data["kwargs"], data["response_obj"], data["start_time"],
                        data["end_time"], failed="failure" in data["hook"],
                    )  # fmt: skip


@pytest.mark.parametrize("naming", ["native", "litellm"])
def test_prometheus_and_otel_together_count_the_same(naming: str) -> None:
    """One pipeline, both backends; and the OTel backend alone on the general path."""
    reader = sdk_export.InMemoryMetricReader()
    otel = OtelBackend(meter_provider=sdk_metrics.MeterProvider(metric_readers=[reader]))
    prometheus = PrometheusBackend(registry=CollectorRegistry(), multiprocess=False)
    both = Pipeline([prometheus, otel], Settings(naming=naming))
    alone, alone_reader = otel_pipeline(fast=False)
    _replay([both, alone])
    assert both.fast_events > 0
    body = prometheus.exposition()[0].decode()
    family = "llm_requests_total" if naming == "native" else "litellm_proxy_total_requests_metric"
    requests = sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(family + "{") or line.startswith(family + "_total{")
    )
    read, general = Read(reader), Read(alone_reader)
    assert requests == read.total("gatewaymetrics.requests") == 57.0
    for name in ("gen_ai.client.token.usage", "gen_ai.server.request.duration",
                 "gatewaymetrics.spend", "gatewaymetrics.cache_hits"):  # fmt: skip
        assert read.total(name) == pytest.approx(general.total(name), rel=1e-12), name
    both.close()
    alone.close()


def test_label_settings_opt_attributes_in_and_out() -> None:
    settings = Settings(labels=LabelSettings(identity=("provider", "model"), api_key="drop"))
    pipeline, reader = otel_pipeline(settings)
    pipeline.record(_call(status=Status.SUCCESS, tokens=TokenUsage(input=1, output=1)))
    ((attributes, _),) = Read(reader).metrics["gatewaymetrics.requests"][1]
    assert attributes == {
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.response.model": "anthropic.claude-3",
        "gatewaymetrics.status": "success",
    }


def test_the_series_cap_folds_into_other() -> None:
    pipeline, reader = otel_pipeline(Settings(series_cap=2))
    for user in ("u1", "u2", "u3", "u4"):
        call = CallRecord(status=Status.SUCCESS, principal=Principal(user_id=user))
        pipeline.record(CallEvent(call=call))
    points = Read(reader).metrics["gatewaymetrics.requests"][1]
    users = sorted(str(a.get("user.id")) for a, _ in points)
    assert users == ["_other", "u1", "u2"]
    assert sum(p.value for _, p in points) == 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=event_sequences(), naming=st.sampled_from(["native", "litellm"]))
def test_for_all_payloads_prometheus_and_otel_count_alike(sequence: list[Any], naming: str) -> None:
    """For any sequence of (mutated, captured) LiteLLM payloads: the OTel backend beside
    Prometheus in one pipeline (both paths) counts the requests, tokens and spend the
    Prometheus backend counts."""
    reader = sdk_export.InMemoryMetricReader()
    otel = OtelBackend(meter_provider=sdk_metrics.MeterProvider(metric_readers=[reader]))
    registry = CollectorRegistry()
    prometheus = PrometheusBackend(registry=registry, multiprocess=False)
    pipeline = Pipeline([prometheus, otel], Settings(naming=naming))
    record_all(pipeline, sequence)
    native = {
        "native": ("llm_requests_total", "llm_tokens_total", "llm_spend_usd_total"),
        "litellm": (
            "litellm_proxy_total_requests_metric_total",
            "litellm_total_tokens_metric_total",
            "litellm_spend_metric_total",
        ),
    }[naming]
    values = series(registry)
    totals = [sum(v for (name, _), v in values.items() if name == n) for n in native]
    read = Read(reader)
    _, usage = read.metrics.get("gen_ai.client.token.usage", ("", []))
    assert totals[0] == read.total("gatewaymetrics.requests") == len(sequence)
    assert totals[1] == sum(point.sum for _, point in usage)
    _, spend = read.metrics.get("gatewaymetrics.spend", ("", []))
    assert totals[2] == pytest.approx(sum(point.value for _, point in spend), rel=1e-9, abs=1e-12)
    pipeline.close()


def test_every_label_has_an_attribute_name() -> None:
    """A new call label or own label cannot silently miss the OTel export."""
    from gatewaymetrics.core.catalog import build_catalog
    from gatewaymetrics.core.labels import CALL_LABELS
    from gatewaymetrics.core.otel_names import OTEL_ATTRIBUTES

    own = {label for spec in build_catalog() for label in spec.labels}
    assert (set(CALL_LABELS) | own) - set(OTEL_ATTRIBUTES) == set()
