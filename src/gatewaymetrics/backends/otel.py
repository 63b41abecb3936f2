"""The OpenTelemetry backend: the ``otel`` naming (GenAI semantic conventions) recorded
through a ``MeterProvider`` and exported over OTLP.

The only module that imports ``opentelemetry``. Give it the ``meter_provider`` the
application already configured; without one it builds its own from the standard
``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL``:
``http/protobuf`` (default) or ``grpc``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_METRIC_EXPORT_INTERVAL``, the temporality
preference), shuts it down on :meth:`close` (which flushes) and owns nothing else.

Export runs on the SDK's own reader thread, never on the event's: a dead collector
costs the SDK's bounded retries there, never the gateway. Instruments are made once
(:meth:`declare`); the attributes of a series are built once, when it is bound (the
fast path) or first seen. An empty label value is no attribute; ``server.port`` and
``http.response.status_code`` are ints. Gauges are observable: the SDK reads their
last values at export time, so a removed gauge series (an alias renamed, a limit
lifted) stops being reported, as in the Prometheus backend.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.samples import Metric, Sample

try:
    from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
    from opentelemetry.sdk.metrics import Counter, Histogram, ObservableGauge
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        MetricsData,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.resources import Resource
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the OpenTelemetry backend needs the OpenTelemetry SDK and OTLP exporters: "
        "pip install 'gatewaymetrics[otel]'"
    ) from exc

__all__ = ["SCHEMA_URL", "OtelBackend", "otlp_exporter", "otlp_protocol"]

Attributes = dict[str, str | int]
Labels = tuple[str, ...]
#: Attributes the conventions type as integers.
_INT_ATTRIBUTES = frozenset({"server.port", "http.response.status_code"})
#: The semantic conventions version the ``otel`` naming follows.
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gatewaymetrics")
    except PackageNotFoundError:  # pragma: no cover - a source tree on the path
        return "0"


def _attributes(names: Sequence[str], values: Sequence[str]) -> Attributes:
    out: Attributes = {}
    for name, value in zip(names, values, strict=True):
        if not value:
            continue
        if name in _INT_ATTRIBUTES:
            if value.isdigit() and len(value) < 7:
                out[name] = int(value)
            continue
        out[name] = value
    return out


_PROTOCOLS = ("http/protobuf", "grpc")


def otlp_protocol() -> str:
    """The OTLP protocol the standard variables ask for:
    ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL``, then ``OTEL_EXPORTER_OTLP_PROTOCOL``, then
    ``http/protobuf``; :class:`GatewayMetricsError` naming the variable if it is
    neither ``http/protobuf`` nor ``grpc``."""
    for variable in ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(variable)
        if protocol:
            if protocol not in _PROTOCOLS:
                from gatewaymetrics.errors import GatewayMetricsError

                raise GatewayMetricsError(variable, protocol, _PROTOCOLS)
            return protocol
    return "http/protobuf"


def otlp_exporter(protocol: str | None = None) -> MetricExporter:
    """The SDK's OTLP metric exporter for ``protocol`` (``http/protobuf`` or
    ``grpc``; None: :func:`otlp_protocol`). It reads its endpoint, headers, timeout
    and temporality preference from the standard variables."""
    if protocol is None:
        protocol = otlp_protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpExporter,
        )

        return HttpExporter()
    from gatewaymetrics.errors import GatewayMetricsError

    raise GatewayMetricsError("protocol", protocol, _PROTOCOLS)


class _CountedExporter(MetricExporter):
    """``exporter``, with each export it gives up on (after the SDK's retries) told to
    ``failed``: the SDK's reader only logs them."""

    def __init__(self, exporter: MetricExporter, failed: Callable[[], None]) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter
        self._failed = failed

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = self._exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is not MetricExportResult.SUCCESS:
            self._failed()
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


class _Gauge:
    """An observable gauge's last values, by attribute set (None removes one)."""

    __slots__ = ("attributes", "values")

    def __init__(self) -> None:
        self.values: dict[Labels, float] = {}
        self.attributes: dict[Labels, Attributes] = {}

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        for labels, value in list(self.values.items()):  # a copy: writers never wait
            yield Observation(value, self.attributes[labels])


class OtelBackend:
    """Samples into OpenTelemetry instruments (see the module docstring).

    ``meter_provider``: the application's (not shut down by :meth:`close`); else one
    built with ``exporter`` (default :func:`otlp_exporter`) behind a periodic reader
    (``export_interval_ms``; default ``OTEL_METRIC_EXPORT_INTERVAL``, else 60 s), for
    the resource the ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` variables
    describe, its cardinality limit raised to ``series_cap`` (the SDK's own, 2000 a
    metric, would fold series long before the pipeline's cap; an application's provider
    keeps its own limit). ``close_timeout``: how long :meth:`close` may flush (seconds)."""

    #: The naming this backend exports, whatever ``Settings.naming`` says.
    naming = "otel"

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        exporter: MetricExporter | None = None,
        export_interval_ms: float | None = None,
        series_cap: int = 10_000,
        close_timeout: float = 10.0,
        name: str = "otel",
    ) -> None:
        self.name = name
        self._owned: SdkMeterProvider | None = None
        self._sink: Callable[[str, int], None] | None = None
        #: Exports the SDK gave up on (also reported to the pipeline's error sink).
        self.failed_exports = 0
        if meter_provider is None:
            # One more than the cap: the pipeline's _other series fits too.
            limit = series_cap + 1
            limits: dict[Any, int] = {  # (the SDK's key type is a private alias)
                Counter: limit, Histogram: limit, ObservableGauge: limit,
            }  # fmt: skip
            counted = _CountedExporter(
                exporter if exporter is not None else otlp_exporter(), self._failed_export
            )
            reader = PeriodicExportingMetricReader(
                counted,
                export_interval_millis=export_interval_ms,
                cardinality_limits=limits,
            )
            self._owned = SdkMeterProvider(metric_readers=[reader], resource=Resource.create())
            meter_provider = self._owned
        self._meter: Meter = meter_provider.get_meter(
            "gatewaymetrics", _version(), schema_url=SCHEMA_URL
        )
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._record: dict[Metric, Callable[..., None]] = {}
        self._gauges: dict[Metric, _Gauge] = {}
        self._known: dict[tuple[Metric, Labels], Attributes] = {}

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        """Make each metric's instrument once (with the conventions' bucket advice)."""
        with self._lock:
            for metric in metrics:
                if metric in self._record or metric in self._gauges:
                    continue
                spec = metric.spec
                if spec.kind is MetricKind.COUNTER:
                    counter = self._meter.create_counter(
                        spec.name, unit=spec.unit, description=spec.help
                    )
                    self._record[metric] = counter.add
                elif spec.kind is MetricKind.HISTOGRAM:
                    histogram = self._meter.create_histogram(
                        spec.name,
                        unit=spec.unit,
                        description=spec.help,
                        explicit_bucket_boundaries_advisory=list(spec.buckets),
                    )
                    self._record[metric] = histogram.record
                else:
                    gauge = self._gauges[metric] = _Gauge()
                    self._meter.create_observable_gauge(
                        spec.name, callbacks=[gauge.observe], unit=spec.unit,
                        description=spec.help,
                    )  # fmt: skip

    def apply(self, samples: Sequence[Sample]) -> None:
        for metric, labels, value in samples:
            gauge = self._gauges.get(metric)
            if gauge is not None:
                self._set(gauge, metric, labels, value)
                continue
            if value is None:
                continue
            attributes = self._known.get((metric, labels))
            if attributes is None:
                attributes = self._attributes_of(metric, labels)
            self._record[metric](float(value), attributes)

    def close(self) -> None:
        """Flush what is recorded and shut down the provider this backend built,
        within ``close_timeout`` (the SDK's own flush waits out its exporter's retries
        whatever timeout it is given: it runs on a thread of its own, and the shutdown
        that follows stops the exporter's waiting)."""
        owned = self._owned
        if owned is None:
            return
        self._owned = None
        deadline = time.monotonic() + self._close_timeout
        flush = threading.Thread(
            target=owned.force_flush, name="gatewaymetrics-otel-flush", daemon=True
        )
        flush.start()
        flush.join(self._close_timeout)
        left = max(deadline - time.monotonic(), 0.0)
        owned.shutdown(timeout_millis=max(int(left * 1000), 1))

    def report_errors_to(self, sink: Callable[[str, int], None]) -> None:
        """Failed exports (the SDK only logs them) are reported to ``sink``."""
        self._sink = sink

    # -- binding (the pipeline's fast path) -------------------------------------------

    def bind(self, metric: Metric, labels: Labels) -> object:
        gauge = self._gauges.get(metric)
        if gauge is not None:
            self._attributes_of(metric, labels, gauge)
            return (gauge, labels)
        return (self._record[metric], self._attributes_of(metric, labels))

    def bind_group(self, series: Sequence[tuple[Metric, Labels]]) -> object:
        return tuple(self.bind(metric, labels) for metric, labels in series)

    def apply_bound(self, updates: Iterable[tuple[Any, Any]]) -> None:
        for handle, value in updates:
            first = handle[0]
            if type(first) is tuple:  # a group: one value per gauge
                for (gauge, labels), one in zip(handle, value, strict=True):
                    self._put(gauge, labels, one)
            elif type(first) is _Gauge:
                self._put(first, handle[1], value)
            else:
                first(float(value), handle[1])

    # -- internals --------------------------------------------------------------------

    def _failed_export(self) -> None:
        self.failed_exports += 1
        sink = self._sink
        if sink is not None:
            sink("ExportFailed", 1)

    def _attributes_of(
        self, metric: Metric, labels: Labels, gauge: _Gauge | None = None
    ) -> Attributes:
        attributes = _attributes(metric.label_names, labels)
        if gauge is not None:
            gauge.attributes[labels] = attributes
        elif len(self._known) < 100_000:  # bounded: the series guard admits far fewer
            self._known[(metric, labels)] = attributes
        return attributes

    def _set(self, gauge: _Gauge, metric: Metric, labels: Labels, value: object) -> None:
        if labels not in gauge.attributes:
            self._attributes_of(metric, labels, gauge)
        self._put(gauge, labels, value)

    @staticmethod
    def _put(gauge: _Gauge, labels: Labels, value: object) -> None:
        if value is None:
            gauge.values.pop(labels, None)
        else:
            gauge.values[labels] = float(value)  # type: ignore[arg-type]  # a number
