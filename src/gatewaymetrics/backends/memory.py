"""The in-memory backend: the exact reference sink, for tests and for embedding.

Counters and histogram sums accumulate as ``Decimal``, so spend sums are exact.
Series are keyed by the exported metric name and the label values. Queries name
labels as keyword arguments; an unknown metric or label name raises, so a typo in a
test fails loudly instead of reading 0.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.samples import Metric, Number, Sample

__all__ = ["HistogramValue", "MemoryBackend", "MemorySnapshot", "SeriesValue"]

Labels = tuple[tuple[str, str], ...]


def _exact(value: Number) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(str(value))


@attrs.frozen(kw_only=True)
class HistogramValue:
    """Cumulative bucket counts as (upper bound, count) pairs ending with +Inf,
    the number of observations and their exact sum."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: Decimal


@attrs.frozen(kw_only=True)
class SeriesValue:
    name: str
    kind: MetricKind
    labels: Labels
    value: Decimal | HistogramValue


@attrs.frozen(kw_only=True)
class MemorySnapshot:
    """An immutable copy of every series, sorted by name and labels."""

    series: tuple[SeriesValue, ...]

    def as_dict(self) -> dict[tuple[str, Labels], Decimal | HistogramValue]:
        return {(s.name, s.labels): s.value for s in self.series}


class _Histogram:
    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = Decimal(0)

    def observe(self, value: float) -> None:
        index = len(self.bounds)
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                index = i
                break
        self.counts[index] += 1
        self.count += 1
        self.total += _exact(value)

    def frozen(self) -> HistogramValue:
        cumulative, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return HistogramValue(buckets=tuple(cumulative), count=self.count, sum=self.total)


class MemoryBackend:
    """Thread-safe, exact, queryable. ``name`` labels its errors (default "memory").
    ``naming``: the naming it holds (None: the pipeline's; ``"native"``: the native
    metrics whatever the pipeline exports, as the command line's summary reads them)."""

    def __init__(self, *, name: str = "memory", naming: str | None = None) -> None:
        self.name = name
        self.naming = naming
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}
        self._values: dict[str, dict[tuple[str, ...], Decimal]] = {}
        self._histograms: dict[str, dict[tuple[str, ...], _Histogram]] = {}

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        with self._lock:
            for metric in metrics:
                self._metrics[metric.name] = metric
                self._values.setdefault(metric.name, {})
                self._histograms.setdefault(metric.name, {})

    def apply(self, samples: Sequence[Sample]) -> None:
        with self._lock:
            for metric, labels, value in samples:
                kind = metric.spec.kind
                if kind is MetricKind.COUNTER:
                    series = self._values[metric.name]
                    series[labels] = series.get(labels, Decimal(0)) + _exact(value or 0)
                elif kind is MetricKind.GAUGE:
                    if value is None:
                        self._values[metric.name].pop(labels, None)
                    else:
                        self._values[metric.name][labels] = _exact(value)
                elif value is not None:
                    histograms = self._histograms[metric.name]
                    histogram = histograms.get(labels)
                    if histogram is None:
                        histogram = histograms[labels] = _Histogram(metric.spec.buckets)
                    histogram.observe(float(value))

    def close(self) -> None:
        """Nothing to release; the values stay queryable."""

    # -- queries ----------------------------------------------------------------------

    def metric(self, name: str) -> Metric:
        """The declared metric of that exported name."""
        try:
            return self._metrics[name]
        except KeyError:
            known = ", ".join(sorted(self._metrics)) or "none declared yet"
            raise KeyError(f"no metric {name!r}; known: {known}") from None

    def _matching(self, name: str, labels: Mapping[str, str]) -> list[tuple[str, ...]]:
        metric = self.metric(name)
        unknown = set(labels) - set(metric.label_names)
        if unknown:
            raise ValueError(
                f"{name} has no label {', '.join(sorted(unknown))}; "
                f"its labels: {', '.join(metric.label_names) or 'none'}"
            )
        positions = [(metric.label_names.index(k), v) for k, v in labels.items()]
        keys = self._histograms[name] if metric.kind is MetricKind.HISTOGRAM else self._values[name]
        return [key for key in keys if all(key[i] == v for i, v in positions)]

    def exact(self, name: str, **labels: str) -> Decimal:
        """The exact value of one series (all its labels given); 0 if absent."""
        metric = self.metric(name)
        if metric.kind is MetricKind.HISTOGRAM:
            raise ValueError(f"{name} is a histogram: use histogram() for its count and sum")
        missing = set(metric.label_names) - set(labels)
        if missing:
            raise ValueError(
                f"value() names one series: also give {', '.join(sorted(missing))} "
                "(or use sum() for a partial match)"
            )
        with self._lock:
            self._matching(name, labels)  # validates the label names
            key = tuple(labels[n] for n in metric.label_names)
            return self._values[name].get(key, Decimal(0))

    def value(self, name: str, **labels: str) -> float:
        """The value of one series (all its labels given); 0.0 if absent."""
        return float(self.exact(name, **labels))

    def exact_sum(self, name: str, **labels: str) -> Decimal:
        """The exact sum over every series whose labels include the given ones."""
        if self.metric(name).kind is MetricKind.HISTOGRAM:
            raise ValueError(f"{name} is a histogram: use histogram() for its count and sum")
        with self._lock:
            keys = self._matching(name, labels)
            values = self._values[name]
            return sum((values[key] for key in keys), Decimal(0))

    def sum(self, name: str, **labels: str) -> float:
        """The sum over every series whose labels include the given ones."""
        return float(self.exact_sum(name, **labels))

    def histogram(self, name: str, **labels: str) -> HistogramValue:
        """Buckets, count and sum, merged over every series matching the labels."""
        metric = self.metric(name)
        if metric.kind is not MetricKind.HISTOGRAM:
            raise ValueError(f"{name} is a {metric.kind.value}, not a histogram")
        merged = _Histogram(metric.spec.buckets)
        with self._lock:
            for key in self._matching(name, labels):
                part = self._histograms[name][key]
                merged.counts = [a + b for a, b in zip(merged.counts, part.counts, strict=True)]
                merged.count += part.count
                merged.total += part.total
        return merged.frozen()

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every series of a metric, sorted."""
        metric = self.metric(name)
        with self._lock:
            keys = sorted(self._matching(name, {}))
        return [dict(zip(metric.label_names, key, strict=True)) for key in keys]

    def snapshot(self) -> MemorySnapshot:
        """An immutable copy of every series."""
        out = []
        with self._lock:
            for name, metric in self._metrics.items():
                if metric.kind is MetricKind.HISTOGRAM:
                    for key, histogram in self._histograms[name].items():
                        out.append(self._series(metric, key, histogram.frozen()))
                else:
                    for key, value in self._values[name].items():
                        out.append(self._series(metric, key, value))
        out.sort(key=lambda s: (s.name, s.labels))
        return MemorySnapshot(series=tuple(out))

    @staticmethod
    def _series(
        metric: Metric, key: tuple[str, ...], value: Decimal | HistogramValue
    ) -> SeriesValue:
        labels = tuple(zip(metric.label_names, key, strict=True))
        return SeriesValue(name=metric.name, kind=metric.kind, labels=labels, value=value)
