"""The Prometheus backend: the catalog rendered into Prometheus exposition families.

The only module that imports ``prometheus_client``. The registry is injected, so two
pipelines in one process never collide ("Duplicated timeseries"); declaring the same
metrics twice on one registry is a configuration error that says so.

Hot path (one process): values live in a :class:`SeriesStore`, registered on the
registry as one collector. A series is resolved once into a cell; after that an event
is one lock and a few additions, however many series it touches (a
``prometheus_client`` child takes a lock per update). The pipeline's fast path binds
cells once per call identity (:meth:`PrometheusBackend.bind`).

Multiprocess (gunicorn or uvicorn workers): set ``PROMETHEUS_MULTIPROC_DIR`` in the
environment before the workers start. Values then live in ``prometheus_client``'s
memory-mapped files: counters and histograms sum across workers; budget and
rate-limit gauges use ``mostrecent`` (one series per subject, the latest write wins;
never a ``pid`` label); the exposition aggregates the directory with
``MultiProcessCollector``. Call :func:`mark_process_dead` when a worker exits
(gunicorn's ``child_exit`` hook).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

from gatewaymetrics.backends.metrics_server import MetricsServer
from gatewaymetrics.backends.series_store import Handle, SeriesStore, Value
from gatewaymetrics.core.catalog import MetricKind, MetricSpec
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.errors import GatewayMetricsError
from gatewaymetrics.startup_checks import MULTIPROC_ENV, check_multiprocess_dir

try:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
    from prometheus_client import multiprocess as _multiprocess
    from prometheus_client.exposition import choose_encoder, make_wsgi_app
    from prometheus_client.metrics import MetricWrapperBase
    from prometheus_client.metrics_core import Metric as Family
    from prometheus_client.utils import floatToGoString
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the Prometheus backend needs prometheus_client: pip install 'gatewaymetrics[prometheus]'"
    ) from exc

__all__ = [
    "MULTIPROC_ENV",
    "PrometheusBackend",
    "check_multiprocess_dir",
    "client_metric",
    "mark_process_dead",
    "multiprocess_dir",
]

log = logging.getLogger("gatewaymetrics")

#: Gauges hold facts about a subject, not about a worker: the latest write wins.
GaugeMode = Literal["mostrecent", "livemostrecent", "max", "min", "sum", "all"]
_GAUGE_MODE: GaugeMode = "mostrecent"

#: prometheus_client's switch for the ``_created`` samples, honoured here too.
_USE_CREATED = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in (
    "true",
    "1",
    "t",
)


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


class _FilesCollector:
    """``prometheus_client``'s multiprocess aggregation over the directory's ``*.db``
    files, surviving a partial file: a worker's file is empty between its creation and
    its first truncate, and a killed worker can leave one cut short. Such a file is
    skipped (counted in :attr:`skipped`, logged once per file), never the scrape."""

    def __init__(self, path: str) -> None:
        self._path = path
        #: Partial files skipped so far, over all scrapes.
        self.skipped = 0
        self._logged: set[str] = set()

    def collect(self) -> list[Family]:
        files = glob.glob(os.path.join(self._path, "*.db"))
        try:
            return self._merge(files)
        except Exception:
            pass
        readable = [path for path in files if self._readable(path)]
        try:
            return self._merge(readable)
        except Exception:
            log.warning("gatewaymetrics: the multiprocess files changed while read; retry")
            return []

    @staticmethod
    def _merge(files: list[str]) -> list[Family]:
        merged: list[Family] = _multiprocess.MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]  # untyped upstream
        return merged

    def _readable(self, path: str) -> bool:
        try:
            self._merge([path])
        except Exception as exc:
            self.skipped += 1
            if path not in self._logged:
                self._logged.add(path)
                log.warning(
                    "gatewaymetrics: skipping the partial multiprocess file %s (%s)",
                    os.path.basename(path),
                    type(exc).__name__,
                )
            return False
        return True


def _is_multiprocess_value_class() -> bool:
    return values.ValueClass is not values.MutexValue


def family_name(spec: MetricSpec) -> str:
    """The exposition family name, as ``prometheus_client`` builds it: a counter loses
    ``_total`` (its samples get it back); the unit is appended when missing."""
    name = spec.name
    if spec.kind is MetricKind.COUNTER and name.endswith("_total"):
        name = name[:-6]
    if spec.unit and not name.endswith("_" + spec.unit):
        name += "_" + spec.unit
    return name


def _go_float(value: float) -> str:
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # untyped upstream
    return text


def client_metric(metric: Metric, registry: CollectorRegistry) -> MetricWrapperBase:
    """``metric`` as a ``prometheus_client`` object on ``registry``: what multiprocess
    mode records into (gauges with the ``mostrecent`` mode), and the reference the
    store's exposition and the benchmark's floor are compared with."""
    spec = metric.spec
    common: dict[str, Any] = {
        "name": spec.name,
        "documentation": spec.help,
        "labelnames": metric.label_names,
        "unit": spec.unit,
        "registry": registry,
    }
    if spec.kind is MetricKind.COUNTER:
        return Counter(**common)
    if spec.kind is MetricKind.GAUGE:
        return Gauge(**common, multiprocess_mode=_GAUGE_MODE)
    return Histogram(**common, buckets=spec.buckets)


class _StoreCollector:
    """The store's series as exposition families (what a registry collects)."""

    def __init__(self, store: SeriesStore, metrics: Sequence[Metric]) -> None:
        self._store = store
        self._metrics = tuple(metrics)
        self._le = {
            metric: tuple(_go_float(bound) for bound in (*metric.spec.buckets, float("inf")))
            for metric in self._metrics
        }

    def describe(self) -> Iterator[Family]:
        for metric in self._metrics:
            spec = metric.spec
            yield Family(family_name(spec), spec.help, spec.kind.value, spec.unit)

    def collect(self) -> Iterator[Family]:
        for metric in self._metrics:
            spec = metric.spec
            name = family_name(spec)
            family = Family(name, spec.help, spec.kind.value, spec.unit)
            names = metric.label_names
            for series in itertools.chain.from_iterable(self._store.snapshot(metric)):
                labels = dict(zip(names, series.labels, strict=True))
                if spec.kind is MetricKind.COUNTER:
                    family.add_sample(name + "_total", labels, series.value)
                elif spec.kind is MetricKind.GAUGE:
                    family.add_sample(name, labels, series.value)
                    continue
                else:
                    for le, (_, count) in zip(self._le[metric], series.buckets, strict=True):
                        family.add_sample(name + "_bucket", {**labels, "le": le}, count)
                    family.add_sample(name + "_count", labels, series.buckets[-1][1])
                    family.add_sample(name + "_sum", labels, series.value)
                if _USE_CREATED and series.created is not None:
                    family.add_sample(name + "_created", labels, series.created)
            yield family


class _ClientSeries:
    """One ``prometheus_client`` child (multiprocess mode). A removed gauge series is
    resolved again by its next set."""

    __slots__ = ("_kind", "_labels", "_update", "_wrapper")

    def __init__(self, wrapper: MetricWrapperBase, labels: tuple[str, ...], kind: MetricKind):
        self._wrapper = wrapper
        self._labels = labels
        self._kind = kind
        self._update: Callable[[float], None] | None = None

    def update(self, value: float | None) -> None:
        if value is None:
            self._update = None
            if self._labels:
                with contextlib.suppress(KeyError):  # removing what is not there
                    self._wrapper.remove(*self._labels)
            return
        if self._update is None:
            self._update = self._resolve()
        self._update(value)

    def _resolve(self) -> Callable[[float], None]:
        child: Any = self._wrapper.labels(*self._labels) if self._labels else self._wrapper
        if self._kind is MetricKind.COUNTER:
            return child.inc  # type: ignore[no-any-return]
        if self._kind is MetricKind.GAUGE:
            return child.set  # type: ignore[no-any-return]
        return child.observe  # type: ignore[no-any-return]


class _ClientGroup:
    """Client series set together (multiprocess mode), from a tuple of values."""

    __slots__ = ("_series",)

    def __init__(self, series: tuple[_ClientSeries, ...]) -> None:
        self._series = series

    def update(self, values: tuple[float, ...]) -> None:
        for series, value in zip(self._series, values, strict=True):
            series.update(value)


#: What :meth:`PrometheusBackend.bind` returns: a series to pass to ``apply_bound``.
Bound = Handle | _ClientSeries | _ClientGroup


class PrometheusBackend:
    """Samples into Prometheus series on an injected registry.

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
        if multiprocess and directory is None:
            raise GatewayMetricsError(
                "prometheus.multiprocess_dir",
                directory,
                f"an existing directory named by {MULTIPROC_ENV}, set before the workers start",
            )
        if multiprocess:
            check_multiprocess_dir(directory, key=MULTIPROC_ENV)
        if multiprocess and not _is_multiprocess_value_class():
            raise GatewayMetricsError(
                "prometheus.multiprocess_dir",
                directory,
                f"{MULTIPROC_ENV} set in the environment before prometheus_client is imported",
            )
        self.multiprocess_dir = directory if multiprocess else None
        self._store: SeriesStore | None = SeriesStore() if self.multiprocess_dir is None else None
        self._wrappers: dict[Metric, MetricWrapperBase] = {}
        self._client_series: dict[tuple[Metric, tuple[str, ...]], _ClientSeries] = {}
        self._servers: list[MetricsServer] = []
        #: Where :meth:`serve` listens, once it does.
        self.address: tuple[str, int] | None = None
        if self.multiprocess_dir is not None:
            self.exposition_registry = CollectorRegistry()
            self.multiprocess_collector = _FilesCollector(self.multiprocess_dir)
            self.exposition_registry.register(self.multiprocess_collector)
        else:
            self.exposition_registry = registry

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        try:
            if self._store is not None:
                self._declare_store(self._store, metrics)
            else:
                self._declare_wrappers(metrics)
        except ValueError as exc:  # prometheus_client: "Duplicated timeseries ..."
            raise GatewayMetricsError(
                "prometheus.registry",
                type(self.registry).__name__,
                "a registry that no other pipeline's backend has declared these metrics on "
                f"(prometheus_client said: {exc})",
            ) from None

    def _declare_store(self, store: SeriesStore, metrics: Sequence[Metric]) -> None:
        self.registry.register(_StoreCollector(store, metrics))
        for metric in metrics:
            store.declare(metric)

    def _declare_wrappers(self, metrics: Sequence[Metric]) -> None:
        made: list[MetricWrapperBase] = []
        try:
            for metric in metrics:
                wrapper = client_metric(metric, self.registry)
                made.append(wrapper)
                self._wrappers[metric] = wrapper
        except ValueError:
            for wrapper in made:
                with contextlib.suppress(KeyError):
                    self.registry.unregister(wrapper)
            raise

    def apply(self, samples: Sequence[Sample]) -> None:
        if self._store is not None:
            self._store.apply(samples)
            return
        for metric, labels, value in samples:
            self._client(metric, labels).update(None if value is None else float(value))

    def bind(self, metric: Metric, labels: tuple[str, ...]) -> Bound:
        """One series, resolved once, for :meth:`apply_bound` (the pipeline's fast path)."""
        if self._store is not None:
            return self._store.cell(metric, labels)
        return self._client(metric, labels)

    def bind_group(self, series: Sequence[tuple[Metric, tuple[str, ...]]]) -> Bound:
        """Gauges always set together, as one handle whose value is a tuple."""
        if self._store is not None:
            return self._store.group([self._store.cell(m, labels) for m, labels in series])
        return _ClientGroup(tuple(self._client(m, labels) for m, labels in series))

    def apply_bound(self, updates: Iterable[tuple[Bound, Value]]) -> None:
        """One event's updates on bound series: add, observe or set by the metric's
        kind (a tuple of values for a group); None removes a gauge series."""
        if self._store is not None:
            self._store.update(updates)  # type: ignore[arg-type]  # store handles, in this mode
            return
        for series, value in updates:
            series.update(value)  # type: ignore[union-attr, arg-type]  # client series here

    def _client(self, metric: Metric, labels: tuple[str, ...]) -> _ClientSeries:
        series = self._client_series.get((metric, labels))
        if series is None:
            series = _ClientSeries(self._wrappers[metric], labels, metric.kind)
            self._client_series[(metric, labels)] = series
        return series

    def close(self) -> None:
        """Stop the HTTP servers this backend started."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()

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

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 9464,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        tls_certfile: str | None = None,
        tls_keyfile: str | None = None,
        workers: int = 4,
        timeout: float = 10.0,
    ) -> tuple[str, int]:
        """Serve ``/metrics`` on an own HTTP server; ``port=0`` picks a free one. Returns
        the address bound. Stopped by :meth:`close`. A server this process already runs
        on ``host:port`` (an earlier pipeline's) is taken over: from now on this backend
        is served there, the earlier one no longer (``metrics_server.serving``).

        ``workers`` threads answer requests; a connection that sends no request within
        ``timeout`` seconds is closed (:class:`~.metrics_server.MetricsServer`).
        ``bearer_token`` and/or ``basic_auth`` (user, password) require credentials;
        ``tls_certfile`` (and ``tls_keyfile``) serve HTTPS."""
        server = MetricsServer(
            host, port, self.exposition,
            bearer_token=bearer_token, basic_auth=basic_auth,
            tls_certfile=tls_certfile, tls_keyfile=tls_keyfile,
            workers=workers, timeout=timeout,
        )  # fmt: skip
        self._servers.append(server)
        bound_host, bound_port = server.server_address
        self.address = (str(bound_host), int(bound_port))
        return self.address
