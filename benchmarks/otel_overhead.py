"""Per-event cost of the installed OpenTelemetry path, against the SDK floor and LiteLLM's.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/otel_overhead.py
        [EVENTS] [--pure | --both | --wheel PATH ...]

Measures gatewaymetrics as ``pip install`` gives it, as prometheus_overhead.py does:
the script builds the project's wheel, installs it into a fresh venv that borrows every
other package from the project venv (installed_wheel.py) and runs itself there with
``--inside``, which prints which gatewaymetrics runs and refuses the one in ``src/``.

The collector is down while events are timed: ``OTEL_EXPORTER_OTLP_ENDPOINT`` points at
a 127.0.0.1 port held bound but not listening (a connection to it is refused), and
``OTEL_METRIC_EXPORT_INTERVAL`` is a day, so nothing is exported meanwhile. Afterwards
the port starts listening (a stdlib HTTP server that decodes the requests with the
official ``opentelemetry-proto`` messages) and the pipeline is closed, which flushes:
the check reads what (a) recorded from the real OTLP request.

One payload stream, as prometheus_overhead's (timing.proxy_stream: LiteLLM 1.110.2
proxy-style success events, fresh copies with their own ids, tokens, costs, times and
growing budget spends). Medians of interleaved rounds, in microseconds per event, with
the cost of taking the next payload subtracted from (a) and (b):

  (a) gatewaymetrics: ``GatewayMetricsLogger(pipeline).async_log_success_event``,
      awaited once per event by one coroutine per round, ``pipeline`` built as users
      build it: ``build_pipeline(load_config(environ={"GATEWAYMETRICS_BACKENDS":
      "otel"}))`` with the standard ``OTEL_*`` variables (OTLP over HTTP/protobuf);
  (floor) the very same SDK calls for the updates one event makes (taken from a
      recorder backend of ``naming = "otel"``): ``counter.add`` / ``histogram.record``
      with the attribute dicts the backend records (read back from an
      ``InMemoryMetricReader``, so the backend decides them), built once, on
      instruments made once with the same names, units and bucket advice, on a
      provider like the backend's own (a periodic reader over the OTLP exporter); a
      gauge update is what an observable gauge needs, its value stored for the
      callback (the backend's gauges are observable);
  (b) LiteLLM's own ``otel`` callback (``litellm.integrations.opentelemetry.
      OpenTelemetry``, metrics enabled) on the same events, with no network: its spans
      through a ``BatchSpanProcessor`` to an exporter that drops them (export off the
      event path, as with its OTLP exporters; the encoding an OTLP exporter would do on
      that thread is not counted, so (b) is a lower bound), its metrics on a provider
      with an ``InMemoryMetricReader`` (recording costs the same whatever the reader).
      Skipped, saying why, when LiteLLM or its integration cannot run here.

Prints (a)/(floor) (target <= 1.5) and (b)/(a); exits with status 1 unless the OTLP
request carries exactly one request per event sent to (a) and the fast path took
every timed event.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installed_wheel import add_build_options, chosen_builds, provenance, relaunch
from prometheus_overhead import Awaited, Recorder
from timing import Batch, Payload, interleaved_batches_us, proxy_stream, timed_loop

if TYPE_CHECKING:  # gatewaymetrics is imported at run time only inside the fresh venv
    from gatewaymetrics import Metric, Pipeline, Sample

#: Rounds of interleaved timing (as prometheus_overhead: a shared machine's spells move
#: single rounds).
ROUNDS = 15
#: What the pipeline is configured with: the OpenTelemetry backend only.
ENVIRONMENT = {"GATEWAYMETRICS_BACKENDS": "otel"}
#: No periodic export while events are timed: one a day.
EXPORT_INTERVAL_MS = 86_400_000
#: Variables that would override the ones set here (unset in the measuring process).
OVERRIDES = (
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",  # cumulative: what the check reads
)

#: One SDK call of the floor: ``call(first, second)``.
Update = tuple[Callable[[Any, Any], object], Any, Any]


class OtelRecorder(Recorder):
    """A recorder backend of the ``otel`` naming: the pipeline routes it the samples an
    OpenTelemetry backend gets."""

    naming = "otel"


class Collector:
    """An OTLP/HTTP metrics receiver on 127.0.0.1, down until :meth:`listen`: its port
    is held bound but not listening, so a connection to it is refused meanwhile."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        #: The decoded ``ExportMetricsServiceRequest`` messages received.
        self.requests: list[Any] = []
        self._server: HTTPServer | None = None

    def listen(self) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
            ExportMetricsServiceResponse,
        )

        received = self.requests
        answer = ExportMetricsServiceResponse().SerializeToString()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append(ExportMetricsServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        server = HTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._socket
        self._socket.listen()
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def total(self, scope: str, name: str) -> float:
        """The total of the cumulative sum ``name`` of instrumentation scope ``scope``
        (its data points added up) in the last request that carries it; 0 if none
        does. Each export of a cumulative sum carries the totals so far."""
        total = 0.0
        for request in self.requests:
            metrics = [
                metric
                for resource in request.resource_metrics
                for scoped in resource.scope_metrics
                if scoped.scope.name == scope
                for metric in scoped.metrics
                if metric.name == name
            ]
            if metrics:
                total = sum(
                    point.as_double or point.as_int
                    for metric in metrics
                    for point in metric.sum.data_points
                )
        return total

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        else:
            self._socket.close()


def otel_environment(port: int) -> None:
    """The standard variables of a collector on ``port`` that exports once a day."""
    for name in OVERRIDES:
        os.environ.pop(name, None)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_METRIC_EXPORT_INTERVAL"] = str(EXPORT_INTERVAL_MS)


def ours(following: Callable[[], Payload]) -> tuple[Awaited, Pipeline]:
    """(a): the adapter's async success hook into a pipeline built as users build it."""
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.config import build_pipeline, load_config

    pipeline = build_pipeline(load_config(environ=ENVIRONMENT))
    logger = GatewayMetricsLogger(pipeline)
    return Awaited(logger.async_log_success_event, following), pipeline


def recorded_attributes(sample: Sample) -> dict[str, Any]:
    """The attributes the OpenTelemetry backend records ``sample`` with, read back from
    an ``InMemoryMetricReader``."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from gatewaymetrics.backends.otel import OtelBackend

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    backend = OtelBackend(meter_provider=provider)
    backend.declare([sample[0]])
    backend.apply([sample])
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    (point,) = [
        point
        for resource in data.resource_metrics
        for scoped in resource.scope_metrics
        for metric in scoped.metrics
        for point in metric.data.data_points
    ]
    return dict(point.attributes or {})


def floor_updates(pipeline: Pipeline, payload: Payload) -> tuple[list[Update], Any]:
    """The SDK calls (a) makes for ``payload``, on instruments made once, their
    arguments converted once; and the provider they record into."""
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from gatewaymetrics import MetricKind, Pipeline
    from gatewaymetrics.backends.otel import otlp_exporter

    recorder = OtelRecorder()
    Pipeline([recorder], pipeline.settings).record_litellm(*payload, failed=False)
    exporter = otlp_exporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=EXPORT_INTERVAL_MS)
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("floor")
    instruments: dict[Metric, Any] = {}
    updates: list[Update] = []
    for sample in recorder.samples:
        metric, labels, value = sample
        assert value is not None
        spec = metric.spec
        if metric not in instruments:
            if spec.kind is MetricKind.COUNTER:
                counter = meter.create_counter(spec.name, unit=spec.unit, description=spec.help)
                instruments[metric] = counter.add
            elif spec.kind is MetricKind.HISTOGRAM:
                histogram = meter.create_histogram(
                    spec.name, unit=spec.unit, description=spec.help,
                    explicit_bucket_boundaries_advisory=list(spec.buckets),
                )  # fmt: skip
                instruments[metric] = histogram.record
            else:
                values: dict[tuple[str, ...], float] = {}
                attributes: dict[tuple[str, ...], dict[str, Any]] = {}

                def observe(
                    _: CallbackOptions,
                    values: dict[tuple[str, ...], float] = values,
                    attributes: dict[tuple[str, ...], dict[str, Any]] = attributes,
                ) -> list[Observation]:
                    return [Observation(v, attributes[k]) for k, v in values.items()]

                meter.create_observable_gauge(
                    spec.name, callbacks=[observe], unit=spec.unit, description=spec.help
                )
                instruments[metric] = (values, attributes)
        instrument = instruments[metric]
        if spec.kind is MetricKind.GAUGE:
            values, attributes = instrument
            attributes[labels] = recorded_attributes(sample)
            updates.append((values.__setitem__, labels, float(value)))
        else:
            updates.append((instrument, float(value), recorded_attributes(sample)))
    return updates, provider


def drop_span_exporter() -> Any:
    """A span exporter that counts the spans it is given and drops them."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        spans = 0

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            self.spans += len(spans)
            return SpanExportResult.SUCCESS

    return Drop()


class Theirs:
    """(b): LiteLLM's OpenTelemetry callback with its providers, and its checks."""

    def __init__(self, following: Callable[[], Payload]) -> None:
        from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.exporter = drop_span_exporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[self.reader])
        config = OpenTelemetryConfig(exporter=self.exporter, enable_metrics=True)
        logger = OpenTelemetry(
            config=config, tracer_provider=self.tracer_provider, meter_provider=provider
        )
        hook = logger.async_log_success_event

        async def success(kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> None:
            await hook(kwargs, response, start, end)  # type: ignore[no-untyped-call]  # untyped upstream
            # Its mark that this call was logged (kept in the kwargs, which the ring of
            # payloads reuses): every call of a gateway comes with kwargs of its own.
            kwargs["litellm_params"]["metadata"].pop("_otel_internal", None)

        self.run = Awaited(success, following)

    def operations(self) -> int:
        """How many operations LiteLLM's ``gen_ai.client.operation.duration`` counted."""
        from opentelemetry.sdk.metrics.export import HistogramDataPoint

        data = self.reader.get_metrics_data()
        return sum(
            point.count
            for resource in (data.resource_metrics if data is not None else ())
            for scoped in resource.scope_metrics
            for metric in scoped.metrics
            if metric.name == "gen_ai.client.operation.duration"
            for point in metric.data.data_points
            if isinstance(point, HistogramDataPoint)
        )


def litellm_otel(following: Callable[[], Payload]) -> tuple[Theirs | None, str]:
    """(b) ready to time (after one event), or None and why not; and LiteLLM's first
    error log line, if it logged one."""
    failures: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING or "rror" in record.getMessage():
                failures.append(record.getMessage()[:160])

    for name in ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router"):
        logging.getLogger(name).addHandler(Catch())
    try:
        theirs = Theirs(following)
        theirs.run.batch(1)
    except Exception as exc:  # report, do not crash the benchmark
        return None, f"LiteLLM's OpenTelemetry callback failed: {type(exc).__name__}: {exc}"
    return theirs, "" if not failures else f"; LiteLLM logged errors: {failures[0]}"


def measure(events: int) -> int:
    """The benchmark on the gatewaymetrics this process imports; its exit status."""
    for line in provenance():
        print(line)
    collector = Collector()
    otel_environment(collector.port)
    following = proxy_stream()
    a_run, pipeline = ours(following)
    a_run.batch(10)  # the first event of an identity takes the general path
    fast_before, sent_before = pipeline.fast_events, a_run.sent
    updates, floor_provider = floor_updates(pipeline, following())

    def floor(events: int) -> float:
        start = time.perf_counter()
        for _ in range(events):
            for call, first, second in updates:
                call(first, second)
        return time.perf_counter() - start

    baseline = timed_loop(following)  # taking the next payload ((a) and (b) pay it too)

    runs: dict[str, tuple[Batch, int]] = {
        "a": (a_run.batch, events), "floor": (floor, events), "0": (baseline, events),
    }  # fmt: skip
    theirs, note = litellm_otel(following)
    if theirs is not None:
        runs["b"] = (theirs.run.batch, max(events // 10, 50))
    medians = interleaved_batches_us(runs, ROUNDS)
    a_run.close()
    step = medians["0"]
    a, c = medians["a"] - step, medians["floor"]
    b = medians["b"] - step if "b" in medians else None

    print(f"pipeline: build_pipeline(load_config(environ={ENVIRONMENT!r})), OTLP over "
          f"HTTP/protobuf to a collector that is down, export interval "
          f"{EXPORT_INTERVAL_MS} ms; events through "
          "GatewayMetricsLogger(pipeline).async_log_success_event")  # fmt: skip
    print("payload: LiteLLM 1.110.2 proxy-style success events, fresh copies with their own "
          "ids, tokens, costs, times and growing spends; "
          f"{len(updates)} SDK updates each")  # fmt: skip
    print(f"medians of {ROUNDS} interleaved rounds of {events} events (LiteLLM's: a tenth "
          f"as many), each round one coroutine awaiting the hook per event; taking the "
          f"next payload ({step:.2f} us) is subtracted")  # fmt: skip
    print(f"(a) gatewaymetrics adapter -> OpenTelemetry      {a:9.1f} us/event")
    if b is not None:
        print(f"(b) LiteLLM's otel callback (spans + metrics)    {b:9.1f} us/event{note}")
    else:
        print(f"(b) LiteLLM's otel callback                      skipped ({note})")
    print(f"(floor) the same SDK calls, attributes pre-built {c:9.1f} us/event")
    print(f"(a)/(floor) = {a / c:6.2f}   (target <= 1.5: {'met' if a / c <= 1.5 else 'MISSED'})")
    if b is not None:
        print(f"(b)/(a)     = {b / a:6.1f}")

    status = 0
    fast = pipeline.fast_events - fast_before
    timed = a_run.sent - sent_before
    (backend,) = pipeline.backends
    requests = pipeline.plan.metrics["requests"]
    routes = (pipeline.plan.routes_for(getattr(backend, "naming", "")) or {}).get(requests)
    name = requests.name if not routes else next(r.metric.name for r in routes if not r.when)
    collector.listen()
    pipeline.close()  # flushes: one OTLP export, to the collector now listening
    floor_provider.shutdown()
    counted = collector.total("gatewaymetrics", name)
    failed = getattr(backend, "failed_exports", 0)
    print(
        f"check: {a_run.sent} events sent to (a), {counted:.0f} counted in {name} as the "
        f"OTLP export at close carried it ({len(collector.requests)} requests); "
        f"{fast} of the {timed} timed events by the fast path; {failed} failed exports"
    )
    collector.close()
    if counted != a_run.sent or failed:
        print("FAILED: the OTLP export does not carry one request per event sent (dropped "
              "as duplicates, not recorded or not exported): (a) is not a measurement "
              "of recording")  # fmt: skip
        status = 1
    if fast != timed:
        print("FAILED: the fast path did not take every timed event: (a) measured the "
              "general path")  # fmt: skip
        status = 1
    if theirs is not None:
        theirs.run.close()
        theirs.tracer_provider.force_flush()
        operations, spans = theirs.operations(), theirs.exporter.spans
        print(
            f"check (b): {theirs.run.sent} events sent to LiteLLM's callback, {operations} "
            f"operations in its gen_ai.client.operation.duration, {spans} spans exported"
        )
        if operations != theirs.run.sent:
            print("warning: LiteLLM's callback did not record one operation per event: "
                  "(b) is not a measurement of its recording")  # fmt: skip
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("events", nargs="?", type=int, default=2000,
                        help="events per round for (a) and the floor (default 2000)")  # fmt: skip
    add_build_options(parser)
    options = parser.parse_args(argv)
    if options.inside:
        return measure(options.events)
    return relaunch(Path(__file__).resolve(), [str(options.events)], chosen_builds(options))


if __name__ == "__main__":
    sys.exit(main())
