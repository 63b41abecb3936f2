"""The project's plug-in surfaces and type aliases, in one place.

A backend is anything with this shape; the pipeline owns it after construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from gatewaymetrics.core.samples import Metric, Number, Sample

__all__ = ["Backend", "BindingBackend", "Metric", "Number", "Sample"]


@runtime_checkable
class Backend(Protocol):
    """A sink for samples: Prometheus, StatsD, memory, or your own.

    - ``name`` labels this backend in ``gatewaymetrics_backend_errors_total``.
    - ``declare(metrics)`` is called once, when a pipeline is built, with every metric
      and its final label names. It may raise
      :class:`~gatewaymetrics.errors.GatewayMetricsError` (configuration time).
    - ``apply(samples)`` records one event's samples: add to a counter, set a gauge
      (``value`` None removes that gauge series), observe a histogram. It is called
      from many threads at once and must not block on the network. What it raises is
      caught, counted and logged by the pipeline; it never reaches the gateway.
    - ``close()`` flushes and releases resources; called once.
    - Optional: ``report_errors_to(sink)``, for a backend whose failures happen off the
      event's thread (StatsD's sender): the pipeline gives it a ``sink(error_type,
      count)`` it may call from any thread; each count is added to
      ``gatewaymetrics_backend_errors_total`` and logged at most once a minute.
    - Optional: ``naming``, the name of a naming in ``catalog.NAMINGS`` this backend
      exports whatever ``Settings.naming`` says (the OpenTelemetry backend's ``"otel"``;
      ``"native"`` for a summary that reads the native metrics).
    """

    name: str

    def declare(self, metrics: Sequence[Metric]) -> None: ...

    def apply(self, samples: Sequence[Sample]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class BindingBackend(Backend, Protocol):
    """A backend that can resolve a series once and update it by reference: what the
    pipeline's fast path needs. Values are float64 (no exact money).

    - ``bind(metric, labels)`` returns an opaque handle for one series; it may create
      the series (at zero for counters and histograms).
    - ``bind_group(series)`` returns one handle for several gauges that are always
      set together; its value is a tuple, in the same order.
    - ``apply_bound(updates)`` applies one event's (handle, value) pairs, with the
      meaning of :meth:`Backend.apply`; it never sees None (removals use ``apply``).
    """

    def bind(self, metric: Metric, labels: tuple[str, ...]) -> object: ...

    def bind_group(self, series: Sequence[tuple[Metric, tuple[str, ...]]]) -> object: ...

    def apply_bound(self, updates: Iterable[tuple[Any, Any]]) -> None: ...
