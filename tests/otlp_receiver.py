"""Real OTLP metrics receivers for integration tests: HTTP/protobuf and gRPC, on 127.0.0.1
with free ports, started and stopped by the test that uses them (context managers).

Requests are decoded with the official ``opentelemetry-proto`` messages
(``ExportMetricsServiceRequest``), kept whole, and flattened into plain data by
:func:`flatten` / :meth:`Receiver.points` (one :class:`Point` per data point) and
:meth:`Receiver.totals` (one value per series, whatever the temporality and however
many exports carried it).

* :func:`http_receiver` - a stdlib ``ThreadingHTTPServer``: ``POST /v1/metrics`` with
  ``Content-Type: application/x-protobuf``, body plain, ``gzip`` or ``deflate``
  (``Content-Encoding``); answers 200 with an empty ``ExportMetricsServiceResponse``.
  Any other path, content type, encoding or an undecodable body gets 404/415/400 and
  an entry in :meth:`Receiver.errors`.
* :func:`grpc_receiver` - a ``grpc.server`` with a ``MetricsServiceServicer``, insecure.
* Failure modes, per receiver: ``fail_first=N`` rejects the first N requests (HTTP
  ``fail_status``, 503 by default; gRPC ``fail_code``, UNAVAILABLE by default) and
  accepts the rest; ``fail_always=True`` rejects every request; both can be changed
  while running (:meth:`Receiver.set_failures`). ``retry_after`` (seconds) sends the
  server's retry hint (HTTP ``Retry-After``; gRPC ``google.rpc.RetryInfo`` trailer),
  which the SDK's exporters use instead of their own backoff. :meth:`Receiver.pause`
  holds every request unanswered until :meth:`Receiver.resume` (a collector that hangs).
* What arrived: :meth:`Receiver.received` (every decoded request, accepted or not, with
  its headers), :meth:`Receiver.requests`, :meth:`Receiver.points`,
  :meth:`Receiver.totals` / :meth:`Receiver.assert_totals`, :meth:`Receiver.latest`,
  :meth:`Receiver.resources`, :meth:`Receiver.rejected`, :meth:`Receiver.errors`;
  :meth:`Receiver.wait_for` polls (its timeout guards against hangs, nothing more).
* A collector that is down: :func:`closed_port` holds a port bound but not listening,
  so a connection to it is refused and nothing else can take it meanwhile.

Facts about the SDK's exporters (1.45.2) that these tests found (see
``tests/integration/test_otlp_receiver.py``): ``MeterProvider.force_flush()`` returns
True even when the export failed (the failure is only logged); the exporters ignore
the reader's ``timeout_millis``: their own ``timeout=`` (or ``OTEL_EXPORTER_OTLP_TIMEOUT``
/ ``..._METRICS_TIMEOUT``, seconds, default 10) bounds an export and its retries; they
retry 503/429/502/504 (HTTP), UNAVAILABLE and other transient codes (gRPC), and
refused connections, with backoff 1, 2, 4, ... s (+-20% jitter) while the next wait
fits in what is left of the timeout, at most 6 attempts. With the default 10 s, one
export to a collector that is down blocks its caller (the reader's thread, or
``force_flush``) about 7 s (three attempts); to one that hangs, 10 s.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple, TypeAlias, TypeVar

from tests.conftest import require_module

OTLP_HOW = "make test installs them: pip install -e '.[all,dev]'"
require_module("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2", OTLP_HOW)
require_module("grpc", OTLP_HOW)

import grpc  # noqa: E402
from google.protobuf.duration_pb2 import Duration  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402
from google.rpc.error_details_pb2 import RetryInfo  # noqa: E402
from google.rpc.status_pb2 import Status as RpcStatus  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import (  # noqa: E402
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.metrics.v1 import metrics_pb2  # noqa: E402

ExportRequest = metrics_service_pb2.ExportMetricsServiceRequest
ExportResponse = metrics_service_pb2.ExportMetricsServiceResponse

HOST = "127.0.0.1"
METRICS_PATH = "/v1/metrics"
PROTOBUF = "application/x-protobuf"

T = TypeVar("T")
AttrValue: TypeAlias = (
    "str | bool | int | float | bytes | tuple[AttrValue, ...] | dict[str, AttrValue] | None"
)
Attributes: TypeAlias = dict[str, AttrValue]
Kind = Literal["sum", "gauge", "histogram"]
Temporality = Literal["delta", "cumulative", "unspecified"]
SeriesKey: TypeAlias = tuple[str, tuple[tuple[str, Any], ...]]

_TEMPORALITY: dict[int, Temporality] = {
    metrics_pb2.AGGREGATION_TEMPORALITY_UNSPECIFIED: "unspecified",
    metrics_pb2.AGGREGATION_TEMPORALITY_DELTA: "delta",
    metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE: "cumulative",
}


# --- plain data --------------------------------------------------------------------------


class Histogram(NamedTuple):
    """An explicit-bucket histogram data point. ``bucket_counts`` has one more entry than
    ``explicit_bounds`` (the last bucket is ``(bounds[-1], +inf)``); ``sum`` is None when
    the point carries none. (The field ``count`` hides ``tuple.count``; OTLP's name wins.)"""

    count: int  # type: ignore[assignment]  # a field named like tuple's method
    sum: float | None
    explicit_bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]


class Point(NamedTuple):
    """One data point of one metric of one accepted request, as plain data."""

    name: str
    unit: str
    kind: Kind
    attributes: Attributes
    value: int | float | Histogram  # int for as_int, float for as_double
    is_monotonic: bool | None  # sums only
    temporality: Temporality | None  # None for gauges
    resource: Attributes
    scope: str  # the instrumentation scope (meter) name
    description: str

    @property
    def key(self) -> SeriesKey:
        """``(name, sorted attribute items)``: which series the point belongs to."""
        return series_key(self.name, self.attributes)


class Received(NamedTuple):
    """One request as it arrived, accepted or not. ``headers`` are lower-cased names
    (HTTP headers, or gRPC invocation metadata); ``size`` is the body length on the wire
    (after compression, HTTP only; 0 for gRPC)."""

    request: metrics_service_pb2.ExportMetricsServiceRequest
    headers: dict[str, str]
    accepted: bool
    size: int


def _hashable(value: AttrValue) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, tuple):
        return tuple(_hashable(item) for item in value)
    return value


def series_key(name: str, attributes: Mapping[str, AttrValue]) -> SeriesKey:
    """The key :meth:`Receiver.totals` and :meth:`Receiver.latest` use for a series:
    ``(name, sorted attribute items)``, a kvlist value as its sorted items."""
    return (name, tuple(sorted((key, _hashable(value)) for key, value in attributes.items())))


def any_value(value: AnyValue) -> AttrValue:
    """An ``AnyValue`` as Python: str, bool, int, float, bytes, a tuple (array), a dict
    (kvlist), or None when no value is set."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    plain: AttrValue = getattr(value, which)
    return plain


def attributes(pairs: Sequence[KeyValue]) -> Attributes:
    """``KeyValue`` pairs as a dict; a key sent twice is an error (OTLP forbids it)."""
    out: Attributes = {}
    for pair in pairs:
        if pair.key in out:
            raise ValueError(f"attribute {pair.key!r} appears twice in one attribute set")
        out[pair.key] = any_value(pair.value)
    return out


def _number(point: metrics_pb2.NumberDataPoint, metric: str) -> int | float:
    which = point.WhichOneof("value")
    if which == "as_int":
        return int(point.as_int)
    if which == "as_double":
        return float(point.as_double)
    raise ValueError(f"metric {metric!r}: a number data point without a value")


def _point(
    metric: metrics_pb2.Metric,
    context: tuple[Attributes, str],
    kind: Kind,
    pairs: Sequence[KeyValue],
    value: int | float | Histogram,
    monotonic: bool | None,
    temporality: Temporality | None,
) -> Point:
    resource, scope = context
    return Point(
        name=metric.name,
        unit=metric.unit,
        kind=kind,
        attributes=attributes(pairs),
        value=value,
        is_monotonic=monotonic,
        temporality=temporality,
        resource=resource,
        scope=scope,
        description=metric.description,
    )


def _histogram(point: metrics_pb2.HistogramDataPoint) -> Histogram:
    return Histogram(
        count=int(point.count),
        sum=float(point.sum) if point.HasField("sum") else None,
        explicit_bounds=tuple(point.explicit_bounds),
        bucket_counts=tuple(int(count) for count in point.bucket_counts),
    )


def _metric_points(metric: metrics_pb2.Metric, context: tuple[Attributes, str]) -> list[Point]:
    which = metric.WhichOneof("data")
    if which == "sum":
        temporality = _TEMPORALITY[metric.sum.aggregation_temporality]
        monotonic = bool(metric.sum.is_monotonic)
        return [
            _point(
                metric,
                context,
                "sum",
                p.attributes,
                _number(p, metric.name),
                monotonic,
                temporality,
            )
            for p in metric.sum.data_points
        ]
    if which == "gauge":
        return [
            _point(metric, context, "gauge", p.attributes, _number(p, metric.name), None, None)
            for p in metric.gauge.data_points
        ]
    if which == "histogram":
        temporality = _TEMPORALITY[metric.histogram.aggregation_temporality]
        return [
            _point(metric, context, "histogram", p.attributes, _histogram(p), None, temporality)
            for p in metric.histogram.data_points
        ]
    raise ValueError(
        f"metric {metric.name!r} is a {which!r}; this receiver decodes sum, gauge and"
        " histogram only"
    )


def flatten(request: metrics_service_pb2.ExportMetricsServiceRequest) -> list[Point]:
    """Every data point of ``request``, in the order they were sent. Raises ValueError
    for a metric that is not a sum, gauge or explicit-bucket histogram (exponential
    histograms and summaries are not decoded: no test expects them)."""
    out: list[Point] = []
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            context = (resource, scope_metrics.scope.name)
            for metric in scope_metrics.metrics:
                out.extend(_metric_points(metric, context))
    return out


def _add(total: int | float | Histogram, more: int | float | Histogram, key: SeriesKey) -> Any:
    if isinstance(total, Histogram) and isinstance(more, Histogram):
        if total.explicit_bounds != more.explicit_bounds:
            raise ValueError(
                f"series {key!r}: bucket bounds changed from {total.explicit_bounds}"
                f" to {more.explicit_bounds}"
            )
        return Histogram(
            count=total.count + more.count,
            sum=None if total.sum is None or more.sum is None else total.sum + more.sum,
            explicit_bounds=total.explicit_bounds,
            bucket_counts=tuple(
                a + b for a, b in zip(total.bucket_counts, more.bucket_counts, strict=True)
            ),
        )
    if isinstance(total, Histogram) or isinstance(more, Histogram):
        raise ValueError(f"series {key!r} is a histogram in one point and a number in another")
    return total + more


def totals(points: Sequence[Point]) -> dict[SeriesKey, int | float | Histogram]:
    """What each series amounts to over ``points`` (in arrival order): the sum of its
    delta points, the last of its cumulative points, the last gauge value. Raises
    ValueError when a series mixes kinds or temporalities, or its bounds change."""
    out: dict[SeriesKey, int | float | Histogram] = {}
    seen: dict[SeriesKey, tuple[Kind, Temporality | None]] = {}
    for p in points:
        key = p.key
        shape = (p.kind, p.temporality)
        if seen.setdefault(key, shape) != shape:
            raise ValueError(f"series {key!r} arrived as {seen[key]} and as {shape}")
        if p.temporality == "delta" and key in out:
            out[key] = _add(out[key], p.value, key)
        else:
            out[key] = p.value
    return out


# --- shared bookkeeping ------------------------------------------------------------------


class Receiver:
    """What both receivers share: every request kept, the failure policy, pause."""

    def __init__(
        self, *, fail_first: int = 0, fail_always: bool = False, retry_after: float | None
    ) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._errors: list[str] = []
        self._fail_first = fail_first
        self._fail_always = fail_always
        self.retry_after = retry_after
        self._running = threading.Event()
        self._running.set()
        self._stopping = False

    # -- policy ----------------------------------------------------------------------------

    def set_failures(self, *, first: int = 0, always: bool = False) -> None:
        """From now on reject the next ``first`` requests (or all, when ``always``)."""
        with self._lock:
            self._fail_first = first
            self._fail_always = always

    def pause(self) -> None:
        """Hold every request that arrives from now on unanswered until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def _admit(
        self,
        request: metrics_service_pb2.ExportMetricsServiceRequest,
        headers: dict[str, str],
        size: int,
    ) -> bool:
        """Wait while paused, then record the request; whether it is accepted."""
        self._running.wait()
        with self._lock:
            if self._stopping or self._fail_always:
                accepted = False
            elif self._fail_first > 0:
                self._fail_first -= 1
                accepted = False
            else:
                accepted = True
            self._received.append(Received(request, headers, accepted, size))
        return accepted

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _stop_admitting(self) -> None:
        with self._lock:
            self._stopping = True
        self._running.set()

    # -- what arrived ----------------------------------------------------------------------

    def received(self) -> list[Received]:
        """Every request that decoded, accepted or rejected, in arrival order."""
        with self._lock:
            return list(self._received)

    def requests(self) -> list[metrics_service_pb2.ExportMetricsServiceRequest]:
        """The accepted requests, in arrival order."""
        return [r.request for r in self.received() if r.accepted]

    def rejected(self) -> int:
        """How many requests the failure policy answered with an error."""
        return sum(1 for r in self.received() if not r.accepted)

    def errors(self) -> list[str]:
        """Protocol errors (wrong path, content type, encoding, undecodable body)."""
        with self._lock:
            return list(self._errors)

    def points(self) -> list[Point]:
        """Every data point of every accepted request, in arrival order."""
        return [p for request in self.requests() for p in flatten(request)]

    def resources(self) -> list[Attributes]:
        """The resource attributes of each ResourceMetrics of each accepted request."""
        return [
            attributes(rm.resource.attributes)
            for request in self.requests()
            for rm in request.resource_metrics
        ]

    def totals(self) -> dict[SeriesKey, int | float | Histogram]:
        """:func:`totals` over :meth:`points`: each series' value, exact whatever the
        temporality and however many exports carried it. Under cumulative temporality
        with a periodic reader, an export collected before a later one can arrive after
        it: :meth:`assert_totals` waits for the latest state."""
        return totals(self.points())

    def assert_totals(
        self, expected: Mapping[SeriesKey, int | float | Histogram], timeout: float = 5.0
    ) -> None:
        """Assert :meth:`totals` equals ``expected``, polling up to ``timeout`` seconds
        (a hang guard) for it to settle; on failure pytest shows the exact difference."""
        with contextlib.suppress(AssertionError):
            self.wait_for(lambda: self.totals() == expected, timeout)
        assert self.totals() == expected

    def clear(self) -> None:
        """Forget every request and error received so far (the failure policy stays)."""
        with self._lock:
            self._received.clear()
            self._errors.clear()

    def latest(self) -> dict[SeriesKey, Point]:
        """The last point received of each series."""
        return {p.key: p for p in self.points()}

    def names(self) -> set[str]:
        """The metric names received (accepted requests)."""
        return {p.name for p in self.points()}

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value and return that value; raise
        AssertionError after ``timeout`` seconds (a guard against hangs, not a
        measurement) with the last value and what has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                received = self.received()
                raise AssertionError(
                    f"still {value!r} after {timeout} s; {len(received)} requests"
                    f" ({sum(r.accepted for r in received)} accepted), names"
                    f" {sorted(self.names())}, errors {self.errors()}"
                )
            time.sleep(interval)


# --- HTTP/protobuf -----------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # the exporter keeps connections alive: do not join them
    receiver: HttpReceiver


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests session uses
    timeout = 30.0  # an idle kept-alive connection ends after this
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the receiver's errors() says what went wrong."""

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", PROTOBUF)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            self.close_connection = True

    def _refuse(self, status: int, message: str) -> None:
        self.server.receiver._error(message)
        body = RpcStatus(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message=message)
        self._reply(status, body.SerializeToString())

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._refuse(411, "a POST without Content-Length")
            return
        body = self.rfile.read(int(length))
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server.receiver
        if self.path != METRICS_PATH:
            self._refuse(404, f"POST to {self.path!r}, not {METRICS_PATH!r}")
            return
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type != PROTOBUF:
            self._refuse(415, f"Content-Type {content_type!r}, not {PROTOBUF!r}")
            return
        encoding = headers.get("content-encoding", "identity").strip().lower()
        try:
            if encoding == "gzip":
                raw = gzip.decompress(body)
            elif encoding == "deflate":
                raw = zlib.decompress(body)
            elif encoding in ("identity", "none", ""):
                raw = body
            else:
                self._refuse(415, f"Content-Encoding {encoding!r} is not gzip or deflate")
                return
            request = ExportRequest.FromString(raw)
        except (OSError, EOFError, zlib.error, DecodeError) as exc:
            self._refuse(400, f"undecodable {encoding} body of {len(body)} bytes: {exc}")
            return
        if receiver._admit(request, headers, len(body)):
            self._reply(200, ExportResponse().SerializeToString())
            return
        extra = {}
        if receiver.retry_after is not None:
            extra["Retry-After"] = f"{receiver.retry_after:g}"
        status = RpcStatus(
            code=grpc.StatusCode.UNAVAILABLE.value[0], message="rejected by the test receiver"
        )
        self._reply(receiver.fail_status, status.SerializeToString(), extra)

    def do_GET(self) -> None:
        self._refuse(405, f"GET {self.path!r}: OTLP/HTTP takes POST only")


class HttpReceiver(Receiver):
    """An OTLP/HTTP receiver; ``endpoint`` is what ``OTLPMetricExporter(endpoint=...)``
    of ``opentelemetry.exporter.otlp.proto.http`` takes; ``base_endpoint`` is what
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes (the exporter appends ``/v1/metrics``)."""

    def __init__(
        self,
        *,
        port: int = 0,
        fail_first: int = 0,
        fail_always: bool = False,
        fail_status: int = 503,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(fail_first=fail_first, fail_always=fail_always, retry_after=retry_after)
        self.fail_status = fail_status
        self._server = _HttpServer((HOST, port), _HttpHandler)
        self._server.receiver = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-http-{self.port}",
            daemon=True,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}{METRICS_PATH}"

    @property
    def base_endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; requests held by :meth:`pause` are answered with the failure."""
        self._stop_admitting()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextlib.contextmanager
def http_receiver(
    *,
    port: int = 0,
    fail_first: int = 0,
    fail_always: bool = False,
    fail_status: int = 503,
    retry_after: float | None = None,
) -> Iterator[HttpReceiver]:
    """Run an OTLP/HTTP receiver on 127.0.0.1 (a free port unless ``port``) for the block."""
    receiver = HttpReceiver(
        port=port,
        fail_first=fail_first,
        fail_always=fail_always,
        fail_status=fail_status,
        retry_after=retry_after,
    )
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


# --- gRPC --------------------------------------------------------------------------------


class _Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: GrpcReceiver) -> None:
        self.receiver = receiver

    def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        receiver = self.receiver
        headers = {
            key.lower(): value if isinstance(value, str) else repr(value)
            for key, value in context.invocation_metadata()
        }
        if receiver._admit(request, headers, 0):
            return ExportResponse()
        if receiver.retry_after is not None:
            seconds = int(receiver.retry_after)
            nanos = round((receiver.retry_after - seconds) * 1e9)
            info = RetryInfo(retry_delay=Duration(seconds=seconds, nanos=nanos))
            context.set_trailing_metadata((("google.rpc.retryinfo-bin", info.SerializeToString()),))
        context.set_code(receiver.fail_code)
        context.set_details("rejected by the test receiver")
        return ExportResponse()


class GrpcReceiver(Receiver):
    """An OTLP/gRPC receiver; ``endpoint`` (``127.0.0.1:port``) is what the gRPC
    ``OTLPMetricExporter(endpoint=..., insecure=True)`` takes."""

    def __init__(
        self,
        *,
        port: int = 0,
        fail_first: int = 0,
        fail_always: bool = False,
        fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(fail_first=fail_first, fail_always=fail_always, retry_after=retry_after)
        self.fail_code = fail_code
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-grpc")
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Servicer(self), self._server)
        self.port = self._server.add_insecure_port(f"{HOST}:{port}")
        if self.port == 0:
            raise RuntimeError(f"gRPC could not bind {HOST}:{port}")

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Stop at once; requests held by :meth:`pause` are answered with the failure."""
        self._stop_admitting()
        self._server.stop(grace=None).wait()


@contextlib.contextmanager
def grpc_receiver(
    *,
    port: int = 0,
    fail_first: int = 0,
    fail_always: bool = False,
    fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
    retry_after: float | None = None,
) -> Iterator[GrpcReceiver]:
    """Run an OTLP/gRPC receiver on 127.0.0.1 (a free port unless ``port``) for the block."""
    receiver = GrpcReceiver(
        port=port,
        fail_first=fail_first,
        fail_always=fail_always,
        fail_code=fail_code,
        retry_after=retry_after,
    )
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


# --- a collector that is down ------------------------------------------------------------


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 bound but not listening for the block: connecting to it is
    refused at once, and no other process can take it meanwhile. After the block it is
    free again (a receiver may then be started on it: ``http_receiver(port=...)``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        yield int(sock.getsockname()[1])
