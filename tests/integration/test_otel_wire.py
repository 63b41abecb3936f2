"""The OpenTelemetry backend on the wire: the SDK's real OTLP exporters (HTTP/protobuf
and gRPC) send what a pipeline recorded to receivers on 127.0.0.1 that decode it with
the official ``opentelemetry-proto`` messages (``tests/otlp_receiver.py``): names,
units, attributes, bucket bounds and values exact; a collector that refuses or is down
loses nothing the SDK retries, raises nothing, and costs a counted error."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_module
from tests.otlp_receiver import Histogram, Receiver, closed_port, grpc_receiver, http_receiver

HOW = "install it with: make test (or pip install 'gatewaymetrics[otel]')"
http_exporter: Any = require_module("opentelemetry.exporter.otlp.proto.http.metric_exporter", HOW)
grpc_exporter: Any = require_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", HOW)

from gatewaymetrics import Pipeline, Settings  # noqa: E402
from gatewaymetrics.backends.memory import MemoryBackend  # noqa: E402
from gatewaymetrics.backends.otel import OtelBackend  # noqa: E402
from gatewaymetrics.config import build_pipeline, load_config  # noqa: E402
from gatewaymetrics.core.otel_names import OPERATION_BUCKETS, TOKEN_BUCKETS  # noqa: E402

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "litellm_payloads.jsonl"
#: Never an export by the reader's own timer during a test: close() flushes.
NEVER = 3_600_000


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


def _replay(pipeline: Pipeline, times: int = 2) -> int:
    events = 0
    with EXAMPLES.open(encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)
            for _ in range(times):
                pipeline.record_litellm(
                    data["kwargs"], data["response_obj"], data["start_time"],
                    data["end_time"], failed="failure" in data["hook"],
                )  # fmt: skip
                events += 1
    return events


def _exporter(protocol: str, endpoint: str, timeout: float = 10.0) -> Any:
    if protocol == "grpc":
        return grpc_exporter.OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=timeout)
    return http_exporter.OTLPMetricExporter(endpoint=endpoint, timeout=timeout)


@pytest.fixture(params=["http", "grpc"])
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[str, Receiver]]:
    start = grpc_receiver if request.param == "grpc" else http_receiver
    with start() as running:
        yield request.param, running


def _sum(receiver: Receiver, name: str) -> float:
    total = 0.0
    for (metric, _), value in receiver.totals().items():
        if metric == name:
            total += value.count if isinstance(value, Histogram) else float(value)
    return total


def test_what_a_pipeline_records_arrives_exactly(receiver: tuple[str, Receiver]) -> None:
    protocol, running = receiver
    otel = OtelBackend(exporter=_exporter(protocol, running.endpoint), export_interval_ms=NEVER)
    memory = MemoryBackend()
    pipeline = Pipeline([otel, memory], Settings())
    events = _replay(pipeline)
    pipeline.close()  # flushes
    assert running.rejected() == 0
    assert running.errors() == []
    assert _sum(running, "gatewaymetrics.requests") == events == 38
    assert memory.sum("llm_requests_total") == events
    latest = running.latest().values()  # cumulative: a series' last point is its total
    usage = [p for p in latest if p.name == "gen_ai.client.token.usage"]
    assert {p.unit for p in usage} == {"{token}"}
    assert all(p.value.explicit_bounds == TOKEN_BUCKETS for p in usage)
    assert sum(p.value.sum for p in usage if p.attributes["gen_ai.token.type"] == "input") == (
        memory.sum("llm_tokens_total", token_type="input")
    )
    (duration, *_) = [p for p in latest if p.name == "gen_ai.server.request.duration"]
    assert duration.unit == "s"
    assert duration.value.explicit_bounds == OPERATION_BUCKETS
    assert _sum(running, "gen_ai.server.request.duration") == events
    attributes = duration.attributes
    assert attributes["gen_ai.provider.name"] == "openai"
    assert isinstance(attributes.get("server.port", 443), int)
    spend = sum(float(v) for (n, _), v in running.totals().items() if n == "gatewaymetrics.spend")
    assert spend == pytest.approx(float(memory.exact_sum("llm_spend_usd_total")), rel=1e-12)
    # every value a string attribute, never a raw key
    for point in running.points():
        for value in point.attributes.values():
            assert not (isinstance(value, str) and value.startswith("sk-")), point


def test_a_refusing_collector_gets_everything_once(receiver: tuple[str, Receiver]) -> None:
    protocol, _ = receiver
    start = grpc_receiver if protocol == "grpc" else http_receiver
    with start(fail_first=2, retry_after=0) as running:
        otel = OtelBackend(exporter=_exporter(protocol, running.endpoint), export_interval_ms=NEVER)
        pipeline = Pipeline([otel], Settings())
        events = _replay(pipeline, times=1)
        pipeline.close()
        assert running.rejected() == 2
        assert _sum(running, "gatewaymetrics.requests") == events == 19
        assert otel.failed_exports == 0


def test_a_dead_collector_costs_a_counted_error_and_a_bounded_close(
    receiver: tuple[str, Receiver],
) -> None:
    protocol, _ = receiver
    with closed_port() as port:
        endpoint = (
            f"127.0.0.1:{port}" if protocol == "grpc" else f"http://127.0.0.1:{port}/v1/metrics"
        )
        otel = OtelBackend(
            exporter=_exporter(protocol, endpoint, timeout=0.5),
            export_interval_ms=NEVER,
            close_timeout=2.0,
        )
        memory = MemoryBackend()
        pipeline = Pipeline([otel, memory], Settings())
        _replay(pipeline, times=1)  # raises nothing
        started = time.monotonic()
        pipeline.close()
        closing = time.monotonic() - started
    # the flush's export and the shutdown's, each given up after the exporter's timeout
    assert otel.failed_exports == 2
    assert memory.sum("gatewaymetrics_backend_errors_total", backend="otel") == 2
    assert memory.sum("llm_requests_total") == 19
    assert closing < 30  # a hang guard: the exporter's own timeout bounds the wait


def test_build_pipeline_reads_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.base_endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-7")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        pipeline = build_pipeline(load_config(environ={"GATEWAYMETRICS_BACKENDS": "otel"}))
        events = _replay(pipeline, times=1)
        pipeline.close()
        assert _sum(running, "gatewaymetrics.requests") == events
        (resource, *_) = running.resources()
        assert resource["service.name"] == "gateway-7"
        assert resource["deployment.environment"] == "test"


def test_the_series_cap_not_the_sdks_limit_folds_series() -> None:
    """The SDK folds beyond 2000 attribute sets a metric by default; the backend's own
    reader takes the pipeline's cap instead."""
    from gatewaymetrics.core.records import CallEvent, CallRecord, Principal, Status

    with http_receiver() as running:
        otel = OtelBackend(
            exporter=_exporter("http", running.endpoint), export_interval_ms=NEVER,
            series_cap=3000,
        )  # fmt: skip
        pipeline = Pipeline([otel], Settings(series_cap=3000))
        for index in range(2100):
            call = CallRecord(status=Status.SUCCESS, principal=Principal(user_id=f"u{index}"))
            pipeline.record(CallEvent(call=call))
        pipeline.close()
        points = [p for p in running.latest().values() if p.name == "gatewaymetrics.requests"]
        assert len(points) == 2100
        assert not any("otel.metric.overflow" in p.attributes for p in points)


def test_real_litellm_calls_through_the_adapter(receiver: tuple[str, Receiver]) -> None:
    """Real LiteLLM (``mock_response``: chats, streams, embeddings, failures, fallbacks,
    budgets) through the adapter into Prometheus-less memory and OTel at once."""
    import asyncio

    require_module("litellm", HOW)
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.adapters.litellm_driver import drive
    from gatewaymetrics.demo import demo_calls

    protocol, running = receiver
    otel = OtelBackend(exporter=_exporter(protocol, running.endpoint), export_interval_ms=NEVER)
    memory = MemoryBackend()
    pipeline = Pipeline([otel, memory], Settings())
    asyncio.run(drive(demo_calls(40), GatewayMetricsLogger(pipeline)))
    pipeline.close()
    requests = memory.sum("llm_requests_total")
    assert requests >= 40
    assert _sum(running, "gatewaymetrics.requests") == requests
    ttft = memory.histogram("llm_time_to_first_token_seconds").count
    assert ttft > 0
    assert _sum(running, "gen_ai.server.time_to_first_token") == ttft
    budgets = {
        (p.attributes["gatewaymetrics.budget.scope"], p.attributes["gatewaymetrics.budget.subject"])
        for p in running.latest().values()
        if p.name == "gatewaymetrics.budget_spend"
    }
    assert len(budgets) == len(memory.series("llm_budget_spend_usd"))
