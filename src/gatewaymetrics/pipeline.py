"""The imperative shell: parse, guard cardinality, keep budgets monotonic, fan out.

Nothing raised by parsing, measuring or a backend ever reaches the gateway: it is
caught, counted in a self-observation metric and logged by exception type only (an
exception's message can quote a payload). Safe to call from many threads at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import Any

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.labels import OTHER
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.measure import (
    budget_labels,
    measure_budget,
    measure_call,
    measure_fallback,
    measure_problems,
    self_sample,
)
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot, CallEvent
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.protocols import Backend

__all__ = ["Pipeline"]

log = logging.getLogger("gatewaymetrics")


class Pipeline:
    """Records events into every backend.

    ``backends`` are declared the metrics at once (configuration errors raise here, as
    :class:`~gatewaymetrics.errors.GatewayMetricsError`); after that, ``record*``
    never raises.
    """

    def __init__(self, backends: Iterable[Backend], settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.plan = Plan.build(self.settings)
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._cap = self.settings.series_cap
        self._custom_labels = self.settings.labels.custom
        self._lock = threading.Lock()  # guards _seen and _budgets; never held during I/O
        self._seen: dict[Metric, set[tuple[str, ...]]] = {}
        self._budgets: dict[tuple[BudgetScope, str], BudgetSnapshot] = {}
        self._budget_labels: dict[tuple[BudgetScope, str, str | None], tuple[str, ...]] = {}
        self._closed = False
        metrics = tuple(self.plan.metrics.values())
        self._self_metrics = frozenset(m for m in metrics if m.spec.self_metric)
        self._budget_overflow = self_sample(
            self.plan, "series_overflow", self.plan.metrics["budget_spend"].name
        )
        for backend in self.backends:
            backend.declare(metrics)

    # -- recording ----------------------------------------------------------------------

    def record_litellm(
        self,
        kwargs: object,
        response_obj: object = None,
        start_time: object = None,
        end_time: object = None,
        *,
        failed: bool | None = None,
    ) -> None:
        """Parse one LiteLLM callback payload and record it. Never raises."""
        try:
            event = parse_litellm(
                kwargs,
                response_obj,
                start_time,
                end_time,
                failed=failed,
                custom_labels=self._custom_labels,
            )
        except Exception as exc:  # parse_litellm is total; this is a last line of defence
            self._drop("internal_error", exc)
            return
        self.record(event)

    def record(self, event: CallEvent) -> None:
        """Record one event in every backend. Never raises."""
        try:
            if self._closed:
                self._drop("closed", None)
                return
            samples = measure_call(event.call, self.plan)
            if event.problems:
                samples += measure_problems(event.problems, self.plan)
            accepted: list[BudgetSnapshot] = []
            if event.budgets:
                accepted, overflowed = self._accept_budgets(event.budgets)
                samples += [self._budget_overflow] * overflowed
            for snapshot in accepted:
                samples += measure_budget(snapshot, self.plan, self._labels_of(snapshot))
            self._fan_out(self._guard(samples))
            for snapshot in accepted:
                self._settle(snapshot)
        except Exception as exc:  # nothing may reach the gateway
            self._drop("internal_error", exc)

    def record_fallback(
        self, requested_model: str | None, fallback_model: str | None, *, succeeded: bool
    ) -> None:
        """Record one router fallback (``llm_fallbacks_total``). Never raises."""
        try:
            if self._closed:
                self._drop("closed", None)
                return
            outcome = "success" if succeeded else "failure"
            self._fan_out(
                self._guard(measure_fallback(self.plan, requested_model, fallback_model, outcome))
            )
        except Exception as exc:  # nothing may reach the gateway
            self._drop("internal_error", exc)

    def close(self) -> None:
        """Close every backend (errors are logged, not raised). Later events are dropped."""
        self._closed = True
        for backend in self.backends:
            try:
                backend.close()
            except Exception as exc:
                log.warning(
                    "gatewaymetrics: closing backend %s failed: %s",
                    backend.name,
                    type(exc).__name__,
                )

    # -- the steps ----------------------------------------------------------------------

    def _accept_budgets(
        self, budgets: Iterable[BudgetSnapshot]
    ) -> tuple[list[BudgetSnapshot], int]:
        """The snapshots that supersede the last one seen for their subject (they become
        the last seen), and how many were new subjects beyond the series cap."""
        accepted, overflowed = [], 0
        with self._lock:
            for snapshot in budgets:
                subject = (snapshot.scope, snapshot.subject)
                last = self._budgets.get(subject)
                if last is None and len(self._budgets) >= self._cap:
                    overflowed += 1
                    continue
                if last is not None and not snapshot.supersedes(last):
                    continue
                self._budgets[subject] = snapshot
                accepted.append(snapshot)
        return accepted, overflowed

    def _labels_of(self, snapshot: BudgetSnapshot) -> tuple[str, ...]:
        """A budget's rendered labels, kept per subject (bounded like the subjects)."""
        key = (snapshot.scope, snapshot.subject, snapshot.alias)
        labels = self._budget_labels.get(key)
        if labels is None:
            if len(self._budget_labels) >= self._cap:
                self._budget_labels.clear()
            labels = self._budget_labels[key] = budget_labels(snapshot, self.plan)
        return labels

    def _settle(self, applied: BudgetSnapshot) -> None:
        """After a budget's gauges were set, set them again if a newer snapshot for the
        same subject was accepted meanwhile: its own event may have reached a backend
        before this one did. Gauge sets are absolute, so repeating one is harmless; no
        lock is held while backends run."""
        subject = (applied.scope, applied.subject)
        last = applied
        while True:
            current = self._budgets.get(subject)
            if current is None or current is last:
                return
            self._fan_out(self._guard(measure_budget(current, self.plan, self._labels_of(current))))
            last = current

    def _guard(self, samples: list[Sample]) -> list[Sample]:
        """Apply the per-metric series cap: a new label set beyond the cap folds into
        the ``_other`` series (counters, histograms) or is dropped (gauges)."""
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
            seen = self._seen.get(metric)
            if seen is not None and labels in seen:
                out.append(sample)
                continue
            if metric in self._self_metrics or sample.value is None:
                out.append(sample)  # self-metrics are bounded; removals add no series
                continue
            with self._lock:
                seen = self._seen.setdefault(metric, set())
                if labels in seen or len(seen) < self._cap:
                    seen.add(labels)
                    out.append(sample)
                    continue
            overflow.append(self_sample(self.plan, "series_overflow", metric.name))
            if metric.kind is not MetricKind.GAUGE:
                out.append(sample._replace(labels=(OTHER,) * len(labels)))
        return out + overflow

    def _fan_out(self, samples: list[Sample]) -> None:
        failed = []
        for backend in self.backends:
            try:
                backend.apply(samples)
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                log.warning(
                    "gatewaymetrics: backend %s failed: %s", backend.name, type(exc).__name__
                )
        for backend in failed:
            error = [self_sample(self.plan, "backend_errors", backend.name)]
            for other in self.backends:
                with contextlib.suppress(Exception):  # logged above; the count is best effort
                    other.apply(error)

    def _drop(self, reason: str, exc: BaseException | None) -> None:
        try:
            if exc is not None:
                log.error("gatewaymetrics: event dropped (%s): %s", reason, type(exc).__name__)
            sample = [self_sample(self.plan, "events_dropped", reason)]
            for backend in self.backends:
                with contextlib.suppress(Exception):  # nothing more can be done
                    backend.apply(sample)
        except Exception:  # logging itself can fail (closed streams at shutdown)
            pass

    # -- introspection --------------------------------------------------------------

    def __repr__(self) -> str:
        names = ", ".join(b.name for b in self.backends)
        return f"Pipeline(backends=[{names}], prefix={self.settings.prefix!r})"

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
