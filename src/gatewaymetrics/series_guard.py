"""The series guard: a cap on the series of each metric.

A new label set beyond a metric's cap folds into the all-``_other`` series (counters,
histograms: nothing is lost from the totals) or is dropped (gauges), and
``gatewaymetrics_series_overflow_total`` counts it. Thread-safe.
"""

from __future__ import annotations

import threading

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.labels import OTHER
from gatewaymetrics.core.measure import self_sample
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Metric, Sample

__all__ = ["SeriesGuard"]


class SeriesGuard:
    """The series admitted so far, per metric, up to ``cap`` each."""

    def __init__(self, plan: Plan, cap: int) -> None:
        self._plan = plan
        self._cap = cap
        self._lock = threading.Lock()
        self._seen: dict[Metric, set[tuple[str, ...]]] = {}
        self._self_metrics = frozenset(m for m in plan.metrics.values() if m.spec.self_metric)

    def admitted(self, metric: Metric, labels: tuple[str, ...]) -> bool:
        """Whether this series was admitted (so the fast path may bind it)."""
        seen = self._seen.get(metric)
        return seen is not None and labels in seen

    def admit(self, samples: list[Sample]) -> list[Sample]:
        """``samples`` with each new series admitted, folded or dropped by the cap,
        and one overflow count per series beyond it."""
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
            with self._lock:
                seen = seen_by_metric.setdefault(metric, set())
                admitted = labels in seen or len(seen) < self._cap
                if admitted:
                    seen.add(labels)
            if admitted:
                out.append(sample)
                continue
            overflow.append(self_sample(self._plan, "series_overflow", metric.name))
            if metric.kind is not MetricKind.GAUGE:
                out.append(sample._replace(labels=(OTHER,) * len(labels)))
        return out + overflow
