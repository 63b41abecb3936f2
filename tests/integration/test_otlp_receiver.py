"""The OTLP receivers of ``tests/otlp_receiver.py``, and the facts about the OpenTelemetry
SDK's real OTLP exporters (HTTP/protobuf and gRPC, 1.45.2) that the OTel backend's wire
tests rely on. No gatewaymetrics code is involved: the SDK records, its exporters send,
the receivers decode with the official ``opentelemetry-proto`` messages (issue 14,
point 4).

Facts checked here:

* Names, units, descriptions, attributes (every value type), sums (monotonic or not),
  sync and observable gauges, explicit-bucket histograms (bounds from the
  ``explicit_bucket_boundaries_advisory`` parameter of ``create_histogram`` or from a
  View) arrive exactly, over HTTP (plain or gzip) and gRPC (plain or gzip).
* Cumulative temporality (the default): the last point of a series is its total.
  Delta: the points add up to the total however many exports carried them.
* 503 (HTTP) and UNAVAILABLE (gRPC) are retried with backoff 1, 2, 4 s (+-20%), or the
  server's hint (``Retry-After``, ``google.rpc.RetryInfo``) when it sends one; the data
  arrives exactly once. Retries stop when the next wait would pass the exporter's
  ``timeout`` (seconds; ``OTEL_EXPORTER_OTLP_TIMEOUT`` when not given; default 10).
* A collector that is down or hangs: ``force_flush()`` returns True anyway (the failure is
  only logged) and raises nothing; the exporter's ``timeout`` bounds how long it blocks,
  not the ``timeout_millis`` of ``force_flush`` nor the reader's ``export_timeout_millis``.
  Under cumulative temporality the next successful export carries everything; under
  delta the failed batch is lost.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import math
import os
import re
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import require_module
from tests.otlp_receiver import (
    OTLP_HOW,
    ExportRequest,
    ExportResponse,
    Histogram,
    Kind,
    Point,
    Receiver,
    Temporality,
    closed_port,
    flatten,
    grpc_receiver,
    http_receiver,
    series_key,
    totals,
)

require_module("opentelemetry.sdk.metrics", OTLP_HOW)
require_module("opentelemetry.exporter.otlp.proto.http.metric_exporter", OTLP_HOW)
require_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", OTLP_HOW)

import grpc  # noqa: E402
from google.rpc.error_details_pb2 import RetryInfo  # noqa: E402
from google.rpc.status_pb2 import Status as RpcStatus  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: E402
    OTLPMetricExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: E402
    OTLPMetricExporter as HttpExporter,
)
from opentelemetry.metrics import CallbackOptions, Observation  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import (  # noqa: E402
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2  # noqa: E402
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource  # noqa: E402
from opentelemetry.sdk import metrics as sdk_metrics  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import (  # noqa: E402
    AggregationTemporality,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import (  # noqa: E402
    ExplicitBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PROTOCOLS = ["http", "http+gzip", "grpc", "grpc+gzip"]
HTTP_LOGGER = "opentelemetry.exporter.otlp.proto.http.metric_exporter"
HTTP_GAVE_UP = "Failed to export metrics batch due to timeout, max retries or shutdown."
DELTA = {
    sdk_metrics.Counter: AggregationTemporality.DELTA,
    sdk_metrics.UpDownCounter: AggregationTemporality.DELTA,
    sdk_metrics.Histogram: AggregationTemporality.DELTA,
}
SDK_RESOURCE = {
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": version("opentelemetry-sdk"),
}


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporters and Resource.create read OTEL_* variables: none from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@contextmanager
def receiver_for(protocol: str, **options: Any) -> Iterator[Receiver]:
    """An HTTP or gRPC receiver for ``protocol`` ("http", "grpc", "+gzip" ignored here)."""
    if protocol.startswith("http"):
        with http_receiver(**options) as http:
            yield http
    else:
        with grpc_receiver(**options) as rpc:
            yield rpc


def exporter_for(protocol: str, endpoint: str, **kwargs: Any) -> MetricExporter:
    """The SDK's real OTLP exporter for ``protocol``, sending to ``endpoint``."""
    gzip_on = protocol.endswith("+gzip")
    if protocol.startswith("http"):
        if gzip_on:
            kwargs["compression"] = HttpCompression.Gzip
        return HttpExporter(endpoint=endpoint, **kwargs)
    if gzip_on:
        kwargs["compression"] = grpc.Compression.Gzip
    return GrpcExporter(endpoint=endpoint, insecure=True, **kwargs)


def http_endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/metrics"


def endpoint_for(protocol: str, port: int) -> str:
    return http_endpoint(port) if protocol.startswith("http") else f"127.0.0.1:{port}"


@contextmanager
def provider_for(
    exporter: MetricExporter,
    *,
    interval_ms: float = 100,
    views: Sequence[View] = (),
    resource: Resource | None = None,
) -> Iterator[MeterProvider]:
    """A MeterProvider exporting through ``exporter`` every ``interval_ms`` (math.inf: only
    on force_flush); shut down after the block."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)
    provider = MeterProvider(
        metric_readers=[reader],
        views=list(views),
        resource=resource if resource is not None else Resource.create({}),
    )
    try:
        yield provider
    finally:
        provider.shutdown(timeout_millis=10_000)


def http_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == HTTP_LOGGER]


# --- the decoding, without the network -------------------------------------------------


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def _hand_built_request() -> Any:
    attrs = [
        _kv("s", AnyValue(string_value="x")),
        _kv("b", AnyValue(bool_value=False)),
        _kv("i", AnyValue(int_value=-3)),
        _kv("d", AnyValue(double_value=0.5)),
        _kv("raw", AnyValue(bytes_value=b"\x00\x01")),
        _kv(
            "arr",
            AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()])),
        ),
        _kv(
            "kv",
            AnyValue(kvlist_value=KeyValueList(values=[_kv("k", AnyValue(string_value="v"))])),
        ),
    ]
    metrics = [
        metrics_pb2.Metric(
            name="s",
            unit="1",
            description="a sum",
            sum=metrics_pb2.Sum(
                aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_DELTA,
                is_monotonic=False,
                data_points=[
                    metrics_pb2.NumberDataPoint(attributes=attrs, as_int=-7),
                    metrics_pb2.NumberDataPoint(as_double=2.5),
                ],
            ),
        ),
        metrics_pb2.Metric(
            name="g",
            gauge=metrics_pb2.Gauge(data_points=[metrics_pb2.NumberDataPoint(as_double=1.0)]),
        ),
        metrics_pb2.Metric(
            name="h",
            unit="s",
            histogram=metrics_pb2.Histogram(
                aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE,
                data_points=[
                    metrics_pb2.HistogramDataPoint(
                        count=3, sum=4.5, explicit_bounds=[1.0, 2.0], bucket_counts=[1, 0, 2]
                    ),
                    metrics_pb2.HistogramDataPoint(
                        count=1, explicit_bounds=[1.0], bucket_counts=[1, 0]
                    ),
                ],
            ),
        ),
    ]
    return ExportRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=PbResource(attributes=[_kv("service.name", AnyValue(string_value="r"))]),
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        scope=InstrumentationScope(name="scope"), metrics=metrics
                    )
                ],
            )
        ]
    )


HAND_BUILT_POINTS = [
    Point(
        name="s",
        unit="1",
        kind="sum",
        attributes={
            "s": "x",
            "b": False,
            "i": -3,
            "d": 0.5,
            "raw": b"\x00\x01",
            "arr": (1, None),
            "kv": {"k": "v"},
        },
        value=-7,
        is_monotonic=False,
        temporality="delta",
        resource={"service.name": "r"},
        scope="scope",
        description="a sum",
    ),
    Point("s", "1", "sum", {}, 2.5, False, "delta", {"service.name": "r"}, "scope", "a sum"),
    Point("g", "", "gauge", {}, 1.0, None, None, {"service.name": "r"}, "scope", ""),
    Point(
        "h",
        "s",
        "histogram",
        {},
        Histogram(count=3, sum=4.5, explicit_bounds=(1.0, 2.0), bucket_counts=(1, 0, 2)),
        None,
        "cumulative",
        {"service.name": "r"},
        "scope",
        "",
    ),
    Point(
        "h",
        "s",
        "histogram",
        {},
        Histogram(count=1, sum=None, explicit_bounds=(1.0,), bucket_counts=(1, 0)),
        None,
        "cumulative",
        {"service.name": "r"},
        "scope",
        "",
    ),
]


def test_flatten_decodes_every_value_type() -> None:
    points = flatten(_hand_built_request())
    assert points == HAND_BUILT_POINTS
    assert [type(p.value) for p in points[:3]] == [int, float, float]  # as_int vs as_double


def test_flatten_refuses_what_it_does_not_decode() -> None:
    exponential = ExportRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        metrics=[
                            metrics_pb2.Metric(
                                name="e", exponential_histogram=metrics_pb2.ExponentialHistogram()
                            )
                        ]
                    )
                ]
            )
        ]
    )
    with pytest.raises(ValueError, match="'e' is a 'exponential_histogram'"):
        flatten(exponential)
    twice = [_kv("a", AnyValue(int_value=1)), _kv("a", AnyValue(int_value=2))]
    duplicate = ExportRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        metrics=[
                            metrics_pb2.Metric(
                                name="g",
                                gauge=metrics_pb2.Gauge(
                                    data_points=[
                                        metrics_pb2.NumberDataPoint(attributes=twice, as_int=1)
                                    ]
                                ),
                            )
                        ]
                    )
                ]
            )
        ]
    )
    with pytest.raises(ValueError, match="attribute 'a' appears twice"):
        flatten(duplicate)


def _pt(value: int | Histogram, temporality: Temporality, kind: Kind = "sum") -> Point:
    return Point("m", "", kind, {"k": "v"}, value, True, temporality, {}, "", "")


def test_totals_by_temporality() -> None:
    h1 = Histogram(count=1, sum=0.5, explicit_bounds=(1.0,), bucket_counts=(1, 0))
    h2 = Histogram(count=2, sum=4.0, explicit_bounds=(1.0,), bucket_counts=(0, 2))
    key = series_key("m", {"k": "v"})
    assert totals([_pt(1, "delta"), _pt(2, "delta")]) == {key: 3}
    assert totals([_pt(1, "cumulative"), _pt(5, "cumulative")]) == {key: 5}
    assert totals([_pt(h1, "delta", "histogram"), _pt(h2, "delta", "histogram")]) == {
        key: Histogram(count=3, sum=4.5, explicit_bounds=(1.0,), bucket_counts=(1, 2))
    }
    with pytest.raises(ValueError, match="arrived as"):
        totals([_pt(1, "delta"), _pt(1, "cumulative")])
    moved = Histogram(count=1, sum=0.5, explicit_bounds=(2.0,), bucket_counts=(1, 0))
    with pytest.raises(ValueError, match="bucket bounds changed"):
        totals([_pt(h1, "delta", "histogram"), _pt(moved, "delta", "histogram")])


@given(
    values=st.lists(st.integers(min_value=0, max_value=10**12), max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=5),
)
def test_totals_of_delta_batches_is_the_sum_however_split(
    values: list[int], cuts: list[int]
) -> None:
    """For all values and all ways to split them into delta exports, the total is their sum."""
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    batches = [values[a:b] for a, b in itertools.pairwise(bounds)]
    points = [_pt(sum(batch), "delta") for batch in batches]
    expected = {series_key("m", {"k": "v"}): sum(values)} if points else {}
    assert totals(points) == expected


# --- the receivers on the wire, driven by hand ---------------------------------------------


def _post(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_http_receiver_protocol() -> None:
    raw = _hand_built_request().SerializeToString()
    protobuf = {"Content-Type": "application/x-protobuf"}
    with http_receiver() as receiver:
        url = receiver.endpoint
        assert url == f"http://127.0.0.1:{receiver.port}/v1/metrics"
        assert receiver.base_endpoint == f"http://127.0.0.1:{receiver.port}"
        answers = [
            _post(url, raw, protobuf),
            _post(url, gzip.compress(raw), {**protobuf, "Content-Encoding": "gzip"}),
            _post(url, zlib.compress(raw), {**protobuf, "Content-Encoding": "deflate"}),
        ]
        for status, headers, body in answers:
            assert (status, headers["Content-Type"]) == (200, "application/x-protobuf")
            assert ExportResponse.FromString(body) == ExportResponse()
        assert [r.request for r in receiver.received()] == [_hand_built_request()] * 3
        assert [r.headers.get("content-encoding") for r in receiver.received()] == [
            None,
            "gzip",
            "deflate",
        ]
        assert receiver.points() == HAND_BUILT_POINTS * 3
        assert receiver.resources() == [{"service.name": "r"}] * 3
        assert receiver.names() == {"s", "g", "h"}
        assert receiver.errors() == []

        bad = [
            _post(url.replace("/v1/metrics", "/v1/traces"), raw, protobuf),
            _post(url, raw, {"Content-Type": "application/json"}),
            _post(url, raw, {**protobuf, "Content-Encoding": "br"}),
            _post(url, b"\xff\xff\xff", protobuf),
            _post(url, raw, {**protobuf, "Content-Encoding": "gzip"}),
            _post(url, b"", {}, method="GET"),
        ]
        assert [status for status, _, _ in bad] == [404, 415, 415, 400, 400, 405]
        assert RpcStatus.FromString(bad[0][2]).message == "POST to '/v1/traces', not '/v1/metrics'"
        assert len(receiver.errors()) == 6
        assert receiver.errors()[:3] == [
            "POST to '/v1/traces', not '/v1/metrics'",
            "Content-Type 'application/json', not 'application/x-protobuf'",
            "Content-Encoding 'br' is not gzip or deflate",
        ]
        assert len(receiver.received()) == 3  # nothing undecodable is kept
        # Hand-built "s" is a delta sum: -7 + 2.5 per request, three requests.
        receiver.assert_totals(
            {
                series_key("s", HAND_BUILT_POINTS[0].attributes): -21,
                series_key("s", {}): 7.5,
                series_key("g", {}): 1.0,
                series_key("h", {}): HAND_BUILT_POINTS[4].value,
            }
        )
        with pytest.raises(AssertionError):
            receiver.assert_totals({}, timeout=0.05)
        receiver.clear()
        assert (receiver.received(), receiver.errors(), receiver.totals()) == ([], [], {})


def test_http_receiver_failure_modes() -> None:
    raw = _hand_built_request().SerializeToString()
    protobuf = {"Content-Type": "application/x-protobuf"}
    with http_receiver(fail_first=2, retry_after=0) as receiver:
        answers = [_post(receiver.endpoint, raw, protobuf) for _ in range(3)]
        assert [status for status, _, _ in answers] == [503, 503, 200]
        assert [headers.get("Retry-After") for _, headers, _ in answers] == ["0", "0", None]
        assert RpcStatus.FromString(answers[0][2]).code == grpc.StatusCode.UNAVAILABLE.value[0]
        assert [r.accepted for r in receiver.received()] == [False, False, True]
        assert (receiver.rejected(), len(receiver.requests())) == (2, 1)
        assert receiver.points() == HAND_BUILT_POINTS  # rejected requests carry no points
        receiver.set_failures(always=True)
        assert [_post(receiver.endpoint, raw, protobuf)[0] for _ in range(3)] == [503] * 3
        receiver.set_failures()
        assert _post(receiver.endpoint, raw, protobuf)[0] == 200
        assert receiver.rejected() == 5
    with http_receiver(fail_always=True, fail_status=429) as receiver:
        assert _post(receiver.endpoint, raw, protobuf)[0] == 429


def test_grpc_receiver_protocol_and_failure_modes() -> None:
    request = _hand_built_request()
    with grpc_receiver(fail_first=1, retry_after=1.25) as receiver:
        assert receiver.endpoint == f"127.0.0.1:{receiver.port}"
        with grpc.insecure_channel(receiver.endpoint) as channel:
            stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
            with pytest.raises(grpc.RpcError) as failed:
                stub.Export(request, metadata=(("x-test", "yes"),), timeout=10)
            error: Any = failed.value
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            hint = RetryInfo.FromString(dict(error.trailing_metadata())["google.rpc.retryinfo-bin"])
            assert (hint.retry_delay.seconds, hint.retry_delay.nanos) == (1, 250_000_000)
            assert stub.Export(request, metadata=(("x-test", "yes"),), timeout=10) == (
                ExportResponse()
            )
        assert [r.accepted for r in receiver.received()] == [False, True]
        assert [r.headers["x-test"] for r in receiver.received()] == ["yes", "yes"]
        assert receiver.points() == HAND_BUILT_POINTS
    with (
        grpc_receiver(fail_always=True, fail_code=grpc.StatusCode.INVALID_ARGUMENT) as receiver,
        grpc.insecure_channel(receiver.endpoint) as channel,
    ):
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.Export(request, timeout=10)
        error = failed.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "google.rpc.retryinfo-bin" not in dict(error.trailing_metadata())


def test_closed_port_refuses_connections() -> None:
    with closed_port() as port, pytest.raises(urllib.error.URLError, match="refused"):
        _post(http_endpoint(port), b"", {"Content-Type": "application/x-protobuf"})
    with http_receiver(port=port) as receiver:  # free again after the block
        assert receiver.port == port


# --- the SDK's real exporters ------------------------------------------------------------

TOKEN_VIEW = View(
    instrument_name="gm.test.tokens",
    aggregation=ExplicitBucketHistogramAggregation(boundaries=[1, 4, 16, 64]),
)


def record_everything(provider: MeterProvider) -> None:
    """One of each instrument kind, with attributes of every type the API takes."""
    meter = provider.get_meter("gm.test.meter", "0.1")
    requests = meter.create_counter("gm.test.requests", unit="{request}", description="Requests")
    requests.add(1, {"team": "a", "ok": True})
    requests.add(2, {"team": "a", "ok": True})
    requests.add(5, {"team": "b", "ok": False})
    requests.add(3, {"team": "b", "ok": False, "n": 7, "ratio": 0.5, "tags": ["x", "y"]})
    duration = meter.create_histogram(
        "gm.test.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0, 10.0]
    )
    for seconds in (0.25, 0.5, 0.5, 1.0, 20.0):  # 1.0 falls in (0.1, 1.0]: upper bound inclusive
        duration.record(seconds, {"model": "m1"})
    tokens = meter.create_histogram("gm.test.tokens", unit="{token}")  # bounds from TOKEN_VIEW
    for count in (1, 3, 100, 16):
        tokens.record(count, {"gen_ai.token.type": "input"})
    inflight = meter.create_up_down_counter("gm.test.inflight", unit="{request}")
    inflight.add(3)
    inflight.add(-1)
    queue = meter.create_gauge("gm.test.queue", unit="{item}")
    queue.set(3, {"pool": "x"})
    queue.set(7, {"pool": "x"})
    queue.set(2.5, {"pool": "y"})

    def spend(options: CallbackOptions) -> list[Observation]:
        return [Observation(12.5, {"team": "a"})]

    meter.create_observable_gauge("gm.test.spend", callbacks=[spend], unit="USD")


EXPECTED_TOTALS = {
    series_key("gm.test.requests", {"team": "a", "ok": True}): 3,
    series_key("gm.test.requests", {"team": "b", "ok": False}): 5,
    series_key(
        "gm.test.requests",
        {"team": "b", "ok": False, "n": 7, "ratio": 0.5, "tags": ("x", "y")},
    ): 3,
    series_key("gm.test.duration", {"model": "m1"}): Histogram(
        count=5, sum=22.25, explicit_bounds=(0.1, 1.0, 10.0), bucket_counts=(0, 4, 0, 1)
    ),
    series_key("gm.test.tokens", {"gen_ai.token.type": "input"}): Histogram(
        count=4, sum=120.0, explicit_bounds=(1.0, 4.0, 16.0, 64.0), bucket_counts=(1, 1, 1, 0, 1)
    ),
    series_key("gm.test.inflight", {}): 2,
    series_key("gm.test.queue", {"pool": "x"}): 7,
    series_key("gm.test.queue", {"pool": "y"}): 2.5,
    series_key("gm.test.spend", {"team": "a"}): 12.5,
}

#: name -> (unit, kind, is_monotonic, temporality, description) under the default temporality
EXPECTED_SHAPES = {
    "gm.test.requests": ("{request}", "sum", True, "cumulative", "Requests"),
    "gm.test.duration": ("s", "histogram", None, "cumulative", ""),
    "gm.test.tokens": ("{token}", "histogram", None, "cumulative", ""),
    "gm.test.inflight": ("{request}", "sum", False, "cumulative", ""),
    "gm.test.queue": ("{item}", "gauge", None, None, ""),
    "gm.test.spend": ("USD", "gauge", None, None, ""),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_exporter_exact_values(protocol: str) -> None:
    resource = Resource.create({"service.name": "gm-otlp-test", "deployment.environment.name": "t"})
    with receiver_for(protocol) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, headers={"x-test-header": "yes"})
        with provider_for(exporter, views=[TOKEN_VIEW], resource=resource) as provider:
            record_everything(provider)
            assert provider.force_flush() is True
            receiver.assert_totals(EXPECTED_TOTALS)
        points = receiver.points()
        shapes = {
            (p.name, p.unit, p.kind, p.is_monotonic, p.temporality, p.description) for p in points
        }
        assert shapes == {(name, *shape) for name, shape in EXPECTED_SHAPES.items()}
        assert {p.scope for p in points} == {"gm.test.meter"}
        # Ints stay ints, doubles stay doubles on the wire.
        latest = receiver.latest()
        assert type(latest[series_key("gm.test.requests", {"team": "a", "ok": True})].value) is int
        assert type(latest[series_key("gm.test.queue", {"pool": "y"})].value) is float
        for resource_attributes in receiver.resources():
            instance = resource_attributes.pop("service.instance.id")  # random per process
            assert isinstance(instance, str)
            assert instance
            assert resource_attributes == {
                **SDK_RESOURCE,
                "service.name": "gm-otlp-test",
                "deployment.environment.name": "t",
            }
        received = receiver.received()
        assert all(r.accepted for r in received)
        assert {r.headers["x-test-header"] for r in received} == {"yes"}
        if protocol == "http+gzip":
            assert {r.headers.get("content-encoding") for r in received} == {"gzip"}
        elif protocol == "http":
            assert {r.headers.get("content-encoding") for r in received} == {None}
        assert receiver.errors() == []


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sdk_delta_points_add_up_exactly(protocol: str) -> None:
    with receiver_for(protocol) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, preferred_temporality=DELTA)
        with provider_for(exporter) as provider:
            meter = provider.get_meter("gm.test.meter")
            counter = meter.create_counter("c")
            hist = meter.create_histogram("h", explicit_bucket_boundaries_advisory=[10.0])
            for round_ in range(1, 4):
                counter.add(round_, {"r": "all"})
                hist.record(round_ * 5.0)
                assert provider.force_flush() is True
            receiver.assert_totals(
                {
                    series_key("c", {"r": "all"}): 6,
                    series_key("h", {}): Histogram(
                        count=3, sum=30.0, explicit_bounds=(10.0,), bucket_counts=(2, 1)
                    ),
                },
            )
        counter_points = [p for p in receiver.points() if p.name == "c"]
        assert {p.temporality for p in counter_points} == {"delta"}
        assert len(counter_points) >= 3  # three flushes, each with its own delta


_RETRYING = re.compile(r"retrying in (\d+\.\d\d)s")


def _backoffs(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [
        float(match.group(1))
        for message in http_messages(caplog)
        if "Transient error" in message and (match := _RETRYING.search(message))
    ]


@pytest.mark.parametrize(
    ("protocol", "fail_first", "retry_after"),
    [("http", 2, None), ("http", 3, 0.0), ("grpc", 1, None), ("grpc", 3, 0.0)],
)
def test_sdk_retries_until_accepted_and_the_data_arrives_once(
    protocol: str, fail_first: int, retry_after: float | None, caplog: pytest.LogCaptureFixture
) -> None:
    """503 / UNAVAILABLE for the first requests: the SDK sends the same batch again and it
    is counted once (delta temporality, so a lost or doubled batch would show)."""
    caplog.set_level(logging.WARNING)
    with receiver_for(protocol, fail_first=fail_first, retry_after=retry_after) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, preferred_temporality=DELTA)
        with provider_for(exporter, interval_ms=math.inf) as provider:
            counter = provider.get_meter("m").create_counter("c")
            counter.add(4, {"k": "v"})
            counter.add(6, {"k": "v"})
            assert provider.force_flush() is True
            counter.add(1, {"k": "v"})
            assert provider.force_flush() is True
        received = receiver.received()
        assert [r.accepted for r in received] == [False] * fail_first + [True, True]
        first = received[0].request
        assert all(r.request == first for r in received[: fail_first + 1])  # one batch, resent
        assert receiver.totals() == {series_key("c", {"k": "v"}): 11}
        assert [p.value for p in receiver.points()] == [10, 1]
    if protocol == "http":
        backoffs = _backoffs(caplog)
        assert len(backoffs) == fail_first
        if retry_after is None:  # the SDK's own backoff: 2**retry seconds, +-20% jitter
            for retry, backoff in enumerate(backoffs):
                assert 0.8 * 2**retry - 0.01 <= backoff <= 1.2 * 2**retry + 0.01
        else:  # the server's Retry-After instead
            assert backoffs == [retry_after] * fail_first


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize(("timeout", "attempts"), [(0.5, 1), (2.2, 2)])
def test_sdk_exporter_timeout_bounds_the_retries(
    protocol: str, timeout: float, attempts: int
) -> None:
    """A receiver that always answers 503 / UNAVAILABLE: the SDK tries again only while the
    next backoff (first 0.8-1.2 s, then 1.6-2.4 s) fits in what is left of ``timeout``:
    once under 0.5 s, twice under 2.2 s (whatever the jitter, and with up to 1 s for the
    first attempt on a loaded machine). force_flush still returns True."""
    with receiver_for(protocol, fail_always=True) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, timeout=timeout)
        with provider_for(exporter, interval_ms=math.inf) as provider:
            provider.get_meter("m").create_counter("c").add(1)
            assert provider.force_flush() is True
        assert (receiver.rejected(), receiver.requests()) == (attempts, [])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sdk_reader_timeouts_do_not_bound_the_exporter(protocol: str) -> None:
    """``force_flush(timeout_millis=...)`` and the reader's ``export_timeout_millis`` are not
    passed on to the exporters: under 0.5 s of either, a 2.2 s exporter still retries once."""
    with receiver_for(protocol, fail_always=True) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, timeout=2.2)
        reader = PeriodicExportingMetricReader(
            exporter, export_interval_millis=math.inf, export_timeout_millis=500
        )
        provider = MeterProvider(metric_readers=[reader])
        try:
            provider.get_meter("m").create_counter("c").add(1)
            assert provider.force_flush(timeout_millis=500) is True
        finally:
            provider.shutdown()
        assert receiver.rejected() == 2


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"]
)
def test_sdk_exporter_timeout_from_the_environment(
    protocol: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``timeout=``, the variable (seconds) bounds the retries the same way."""
    monkeypatch.setenv(variable, "0.5")
    with receiver_for(protocol, fail_always=True) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint)
        with provider_for(exporter, interval_ms=math.inf) as provider:
            provider.get_meter("m").create_counter("c").add(1)
            assert provider.force_flush() is True
        assert receiver.rejected() == 1


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize(("temporality", "delivered"), [(None, 3), (DELTA, 2)])
def test_sdk_collector_down_then_up(
    protocol: str,
    temporality: dict[type, AggregationTemporality] | None,
    delivered: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens: force_flush returns True, nothing raises, the failure is logged.
    When the collector comes up, cumulative temporality delivers everything; delta loses
    the batch that failed."""
    caplog.set_level(logging.WARNING)
    with ExitStack() as down:
        port = down.enter_context(closed_port())
        exporter = exporter_for(
            protocol, endpoint_for(protocol, port), timeout=0.5, preferred_temporality=temporality
        )
        with provider_for(exporter, interval_ms=math.inf) as provider:
            counter = provider.get_meter("m").create_counter("c")
            counter.add(1)
            assert provider.force_flush() is True
            if protocol == "http":
                messages = http_messages(caplog)
                assert messages[-1] == HTTP_GAVE_UP
                assert not [m for m in messages if "Transient error" in m]  # 0.5 s < backoff
            down.close()  # the port is free: the collector comes up on it
            with receiver_for(protocol, port=port) as receiver:
                counter.add(2)
                assert provider.force_flush() is True
                assert receiver.totals() == {series_key("c", {}): delivered}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sdk_hanging_collector_blocks_the_exporter_for_its_timeout_only(protocol: str) -> None:
    """A collector that accepts the connection and never answers: the export gives up at
    the exporter's timeout and force_flush returns True; the held request is recorded when
    the collector resumes (the client has left by then; cumulative totals stay right)."""
    with receiver_for(protocol) as receiver:
        exporter = exporter_for(protocol, receiver.endpoint, timeout=0.5)
        with provider_for(exporter, interval_ms=math.inf) as provider:
            provider.get_meter("m").create_counter("c").add(1)
            receiver.pause()
            assert provider.force_flush() is True
            receiver.resume()
            receiver.wait_for(lambda: len(receiver.received()) == 1)
            assert provider.force_flush() is True
            receiver.wait_for(lambda: len(receiver.received()) == 2)
        assert receiver.totals() == {series_key("c", {}): 1}
        assert [p.value for p in receiver.points()] == [1, 1]
