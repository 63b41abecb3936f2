"""The Prometheus backend: the catalog rendered into ``prometheus_client`` metrics.

The only module that imports ``prometheus_client``. The registry is injected, so two
pipelines in one process never collide ("Duplicated timeseries"); declaring the same
metrics twice on one registry is a configuration error that says so.

Hot path: each (metric, label values) pair resolves ``.labels()`` once; after that an
event is a dictionary lookup and the child's own ``inc``/``set``/``observe``.

Multiprocess (gunicorn or uvicorn workers): set ``PROMETHEUS_MULTIPROC_DIR`` in the
environment before the workers start. Counters and histograms then sum across
workers; budget and rate-limit gauges use ``mostrecent`` (one series per subject,
the latest write wins; never a ``pid`` label); the exposition aggregates the
directory with ``MultiProcessCollector``. Call :func:`mark_process_dead` when a
worker exits (gunicorn's ``child_exit`` hook).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.errors import GatewayMetricsError

try:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
    from prometheus_client import multiprocess as _multiprocess
    from prometheus_client.exposition import (
        choose_encoder,
        make_wsgi_app,
        start_http_server,
    )
    from prometheus_client.metrics import MetricWrapperBase
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the Prometheus backend needs prometheus_client: pip install 'gatewaymetrics[prometheus]'"
    ) from exc

__all__ = [
    "MULTIPROC_ENV",
    "PrometheusBackend",
    "mark_process_dead",
    "multiprocess_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Gauges hold facts about a subject, not about a worker: the latest write wins.
GaugeMode = Literal["mostrecent", "livemostrecent", "max", "min", "sum", "all"]
_GAUGE_MODE: GaugeMode = "mostrecent"

_Update = Callable[[float], None]


def multiprocess_dir() -> str | None:
    """The multiprocess directory from the environment, or None."""
    # prometheus_client also reads the old lower-case name; so do we.
    return os.environ.get(MULTIPROC_ENV) or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Clean up after a worker that exited: its live-gauge files go; its counters and
    histograms, and the latest budget values, stay (they are facts that outlive it).

    For gunicorn, in ``gunicorn.conf.py``::

        def child_exit(server, worker):
            from gatewaymetrics.backends.prometheus import mark_process_dead
            mark_process_dead(worker.pid)
    """
    directory = path or multiprocess_dir()
    if directory:
        _multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]  # untyped upstream


def _is_multiprocess_value_class() -> bool:
    return values.ValueClass is not values.MutexValue


class PrometheusBackend:
    """Samples into ``prometheus_client`` metrics on an injected registry.

    ``registry``: where the metrics are registered (pass a fresh ``CollectorRegistry()``
    per pipeline; the global default registry works too but is shared process-wide).
    ``multiprocess``: None (default) follows ``PROMETHEUS_MULTIPROC_DIR``; True insists
    on it; False ignores it.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        name: str = "prometheus",
        multiprocess: bool | None = None,
    ) -> None:
        self.name = name
        self.registry = registry
        directory = multiprocess_dir()
        if multiprocess is None:
            multiprocess = directory is not None
        if multiprocess and (directory is None or not os.path.isdir(directory)):
            raise GatewayMetricsError(
                "prometheus.multiprocess_dir",
                directory,
                f"an existing directory named by {MULTIPROC_ENV}, set before the workers start",
            )
        if multiprocess and not _is_multiprocess_value_class():
            raise GatewayMetricsError(
                "prometheus.multiprocess_dir",
                directory,
                f"{MULTIPROC_ENV} set in the environment before prometheus_client is imported",
            )
        self.multiprocess_dir = directory if multiprocess else None
        self._metrics: dict[Metric, MetricWrapperBase] = {}
        self._children: dict[tuple[Metric, tuple[str, ...]], _Update] = {}
        self._servers: list[Any] = []
        #: Where :meth:`serve` listens, once it does.
        self.address: tuple[str, int] | None = None
        if self.multiprocess_dir is not None:
            self.exposition_registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]  # untyped upstream
                self.exposition_registry, path=self.multiprocess_dir
            )
        else:
            self.exposition_registry = registry

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        made: list[MetricWrapperBase] = []
        try:
            for metric in metrics:
                wrapper = self._make(metric)
                made.append(wrapper)
                self._metrics[metric] = wrapper
        except ValueError as exc:  # prometheus_client: "Duplicated timeseries ..."
            for wrapper in made:
                with contextlib.suppress(KeyError):
                    self.registry.unregister(wrapper)
            raise GatewayMetricsError(
                "prometheus.registry",
                type(self.registry).__name__,
                "a registry that no other pipeline's backend has declared these metrics on "
                f"(prometheus_client said: {exc})",
            ) from None

    def _make(self, metric: Metric) -> MetricWrapperBase:
        spec = metric.spec
        common: dict[str, Any] = {
            "name": spec.name,
            "documentation": spec.help,
            "labelnames": metric.label_names,
            "unit": spec.unit,
            "registry": self.registry,
        }
        if spec.kind is MetricKind.COUNTER:
            return Counter(**common)
        if spec.kind is MetricKind.GAUGE:
            return Gauge(**common, multiprocess_mode=_GAUGE_MODE)
        return Histogram(**common, buckets=spec.buckets)

    def apply(self, samples: Sequence[Sample]) -> None:
        children = self._children
        for sample in samples:
            metric, labels, value = sample
            update = children.get((metric, labels))
            if update is None:
                if value is None:  # removing a gauge series
                    self._remove(metric, labels)
                    continue
                update = self._resolve(metric, labels)
            elif value is None:
                self._remove(metric, labels)
                continue
            update(float(value))

    def _resolve(self, metric: Metric, labels: tuple[str, ...]) -> _Update:
        wrapper = self._metrics[metric]
        child: Any = wrapper.labels(*labels) if labels else wrapper
        kind = metric.spec.kind
        update: _Update
        if kind is MetricKind.COUNTER:
            update = child.inc
        elif kind is MetricKind.GAUGE:
            update = child.set
        else:
            update = child.observe
        self._children[(metric, labels)] = update
        return update

    def _remove(self, metric: Metric, labels: tuple[str, ...]) -> None:
        self._children.pop((metric, labels), None)
        with contextlib.suppress(KeyError):
            self._metrics[metric].remove(*labels)

    def close(self) -> None:
        """Stop the HTTP servers this backend started."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.shutdown()
            server.server_close()

    # -- exposition -------------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics and their content type: OpenMetrics when ``accept`` asks for
        ``application/openmetrics-text``, the Prometheus text format otherwise."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.exposition_registry), content_type

    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        """A WSGI app serving the metrics (content negotiation, gzip)."""
        app: Callable[..., Iterable[bytes]] = make_wsgi_app(self.exposition_registry)
        return app

    def asgi_app(self) -> Callable[..., Any]:
        """An ASGI app serving the metrics, to mount on a gateway's ``/metrics``."""
        from prometheus_client import make_asgi_app

        app: Callable[..., Any] = make_asgi_app(self.exposition_registry)
        return app

    def serve(self, *, host: str = "127.0.0.1", port: int = 9464) -> tuple[str, int]:
        """Serve ``/metrics`` on an own HTTP server thread; ``port=0`` picks a free one.
        Returns the address bound. Stopped by :meth:`close`."""
        server, _thread = start_http_server(port, addr=host, registry=self.exposition_registry)
        self._servers.append(server)
        bound_host, bound_port = server.server_address[:2]
        self.address = (str(bound_host), int(bound_port))
        return self.address
