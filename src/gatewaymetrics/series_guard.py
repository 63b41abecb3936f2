"""The series guard: a cap on the series of each metric, and a scrape budget across
all of them.

Two limits, both checked when a label set is new (a known series costs nothing):

- ``series_cap``: the most series of one metric.
- the scrape budget: the exposition lines and bytes of every admitted series of every
  metric together. A series costs the lines it renders (:func:`series_lines`: a
  counter 2, a gauge 1, a histogram its buckets + 4) and, per line, an upper bound of
  its bytes (:func:`series_bytes`); under a naming that exports a metric as several
  families, the lines and bytes of each family it feeds. The budget is
  :data:`SCRAPE_LINES` lines and :data:`SCRAPE_BYTES` bytes up to the default series
  cap, in proportion above it
  (:func:`scrape_budget`): 12 000 lines and 8 MB with the defaults, a scrape of 0.3 s
  on an unloaded machine here (``benchmarks/scrape.py``), where 10 000 series of each metric
  rendered 490 000 lines and 135 MB in 15 to 24 s.

A new label set beyond either limit folds into the all-``_other`` series (counters,
histograms: nothing is lost from the totals) or is dropped (gauges), and
``gatewaymetrics_series_overflow_total`` counts it. Self-metrics (bounded label sets)
and removals are never charged. Thread-safe.
"""

from __future__ import annotations

import threading

import attrs

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.labels import OTHER
from gatewaymetrics.core.measure import self_sample
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.core.settings import Settings

__all__ = [
    "LINE_BYTES_OVERHEAD",
    "SCRAPE_BYTES",
    "SCRAPE_LINES",
    "SeriesGuard",
    "scrape_budget",
    "series_bytes",
    "series_lines",
]

#: The scrape budget at the default series cap: exposition lines and bytes.
SCRAPE_LINES = 12_000
SCRAPE_BYTES = 8_000_000
#: Per line, beyond the metric name and the labels: the longest sample suffix
#: (``_created``, ``_bucket``), braces, the ``le`` label of a bucket, the value (at most
#: 24 characters as Go formats a float), the space and the newline.
LINE_BYTES_OVERHEAD = 64
_DEFAULT_CAP = int(attrs.fields(Settings).series_cap.default or 0)


def scrape_budget(series_cap: int) -> tuple[int, int]:
    """The scrape budget (lines, bytes) that goes with ``series_cap``: the default
    budget up to the default cap, in proportion above it."""
    scale = max(1.0, series_cap / _DEFAULT_CAP)
    return int(SCRAPE_LINES * scale), int(SCRAPE_BYTES * scale)


def series_lines(metric: Metric) -> int:
    """The exposition lines of one series of ``metric``: a counter's ``_total`` and
    ``_created``; a gauge's value; a histogram's buckets, ``+Inf``, ``_count``,
    ``_sum`` and ``_created``."""
    if metric.kind is MetricKind.COUNTER:
        return 2
    if metric.kind is MetricKind.GAUGE:
        return 1
    return len(metric.spec.buckets) + 4


def _escaped_length(value: str) -> int:
    # UTF-8 bytes; the exposition escapes backslash, double quote and newline.
    size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    return size + value.count("\\") + value.count('"') + value.count("\n")


def series_bytes(metric: Metric, labels: tuple[str, ...]) -> int:
    """An upper bound of the exposition bytes of one series of ``metric``."""
    spec = metric.spec
    name = len(spec.name) + len(spec.unit) + 1  # the unit is appended when missing
    label_text = sum(
        len(label) + _escaped_length(value) + 4  # label="value",
        for label, value in zip(metric.label_names, labels, strict=True)
    )
    return series_lines(metric) * (name + label_text + LINE_BYTES_OVERHEAD)


class SeriesGuard:
    """The series admitted so far, per metric up to ``cap`` each, all of them within
    the scrape budget of ``cap`` (:func:`scrape_budget`)."""

    def __init__(self, plan: Plan, cap: int) -> None:
        self._plan = plan
        self._cap = cap
        self._lock = threading.Lock()
        self._seen: dict[Metric, set[tuple[str, ...]]] = {}
        self._self_metrics = frozenset(m for m in plan.metrics.values() if m.spec.self_metric)
        self.line_budget, self.byte_budget = scrape_budget(cap)
        #: What the admitted series cost so far (lines, bytes).
        self.lines = 0
        self.bytes = 0

    def admitted(self, metric: Metric, labels: tuple[str, ...]) -> bool:
        """Whether this series was admitted (so the fast path may bind it)."""
        seen = self._seen.get(metric)
        return seen is not None and labels in seen

    def admit(self, samples: list[Sample]) -> list[Sample]:
        """``samples`` with each new series admitted, folded or dropped by the limits,
        and one overflow count per series beyond them."""
        seen_by_metric = self._seen
        for metric, labels, _ in samples:  # the common case: every series is known
            seen = seen_by_metric.get(metric)
            if seen is None or labels not in seen:
                break
        else:
            return samples
        out: list[Sample] = []
        overflow: list[Sample] = []
        for sample in samples:
            metric, labels, _ = sample
            seen = seen_by_metric.get(metric)
            if seen is not None and labels in seen:
                out.append(sample)
                continue
            if metric in self._self_metrics or sample.value is None:
                out.append(sample)  # self-metrics are bounded; removals add no series
                continue
            if self._admit_new(metric, labels):
                out.append(sample)
                continue
            overflow.append(self_sample(self._plan, "series_overflow", metric.name))
            if metric.kind is not MetricKind.GAUGE:
                out.append(sample._replace(labels=(OTHER,) * len(labels)))
        return out + overflow

    def _cost(self, metric: Metric, labels: tuple[str, ...]) -> tuple[int, int]:
        """The lines and an upper bound of the bytes a new series adds to a scrape: its
        own, or under a naming that exports it as other families, theirs (each of
        which it may feed alone)."""
        routes = self._plan.routes.get(metric) if self._plan.routes is not None else None
        if routes is None:
            return series_lines(metric), series_bytes(metric, labels)
        lines = size = 0
        for route in routes:
            exported = route.labels(labels)
            if exported is not None:
                lines += series_lines(route.metric)
                size += series_bytes(route.metric, exported)
        return lines, size

    def _admit_new(self, metric: Metric, labels: tuple[str, ...]) -> bool:
        lines, size = self._cost(metric, labels)
        with self._lock:
            seen = self._seen.setdefault(metric, set())
            if labels in seen:
                return True
            if (
                len(seen) >= self._cap
                or self.lines + lines > self.line_budget
                or self.bytes + size > self.byte_budget
            ):
                return False
            seen.add(labels)
            self.lines += lines
            self.bytes += size
            return True
