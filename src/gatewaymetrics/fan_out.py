"""Fan-out: one event's updates to every backend, each isolated from the others.

A backend that raises is logged (by exception type only: a message can quote a
payload) and counted in ``gatewaymetrics_backend_errors_total`` in every backend; the
others still get the event. Nothing here raises.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence

from gatewaymetrics.core.measure import self_sample
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.protocols import Backend, BindingBackend

__all__ = ["FanOut"]

log = logging.getLogger("gatewaymetrics")

#: A bound series: one backend's handle, or a tuple with one handle per backend.
Handle = object


class FanOut:
    """The backends of one pipeline. ``binding`` says whether every backend binds
    series (:class:`~gatewaymetrics.protocols.BindingBackend`), which the fast path
    needs: then :meth:`bind`, :meth:`bind_group` and :meth:`apply_bound` work."""

    def __init__(self, backends: Iterable[Backend], plan: Plan) -> None:
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._plan = plan
        binders = tuple(b for b in self.backends if isinstance(b, BindingBackend))
        self.binding = bool(self.backends) and len(binders) == len(self.backends)
        self._binders = binders

    def declare(self, metrics: Sequence[Metric]) -> None:
        """Declare ``metrics`` to every backend (configuration errors raise)."""
        for backend in self.backends:
            backend.declare(metrics)

    def apply(self, samples: list[Sample]) -> None:
        failed = []
        for backend in self.backends:
            try:
                backend.apply(samples)
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                self._failed(backend, exc)
        self._count_failures(failed)

    def bind(self, metric: Metric, labels: tuple[str, ...]) -> Handle:
        """One series, bound in every backend."""
        binders = self._binders
        if len(binders) == 1:
            return binders[0].bind(metric, labels)
        return tuple(backend.bind(metric, labels) for backend in binders)

    def bind_group(self, series: Sequence[tuple[Metric, tuple[str, ...]]]) -> Handle:
        """Gauges always set together, bound as one handle in every backend."""
        binders = self._binders
        if len(binders) == 1:
            return binders[0].bind_group(series)
        return tuple(backend.bind_group(series) for backend in binders)

    def apply_bound(self, updates: list[tuple[Handle, object]]) -> None:
        """Bound updates, (handle, value), to every backend."""
        binders = self._binders
        if len(binders) == 1:
            try:
                binders[0].apply_bound(updates)
            except Exception as exc:  # nothing may reach the gateway
                self._failed(binders[0], exc)
                self._count_failures(binders)
            return
        failed = []
        for index, backend in enumerate(binders):
            try:
                backend.apply_bound([(h[index], v) for h, v in updates])  # type: ignore[index]
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                self._failed(backend, exc)
        self._count_failures(failed)

    def drop(self, reason: str, exc: BaseException | None) -> None:
        """Count one dropped event (``gatewaymetrics_events_dropped_total``)."""
        try:
            if exc is not None:
                log.error("gatewaymetrics: event dropped (%s): %s", reason, type(exc).__name__)
            sample = [self_sample(self._plan, "events_dropped", reason)]
            for backend in self.backends:
                with contextlib.suppress(Exception):  # nothing more can be done
                    backend.apply(sample)
        except Exception:  # logging itself can fail (closed streams at shutdown)
            pass

    def close(self) -> None:
        """Close every backend (errors are logged, not raised)."""
        for backend in self.backends:
            try:
                backend.close()
            except Exception as exc:
                log.warning(
                    "gatewaymetrics: closing backend %s failed: %s",
                    backend.name,
                    type(exc).__name__,
                )

    def _failed(self, backend: Backend, exc: Exception) -> None:
        log.warning("gatewaymetrics: backend %s failed: %s", backend.name, type(exc).__name__)

    def _count_failures(self, failed: Sequence[Backend]) -> None:
        """``gatewaymetrics_backend_errors_total`` for each failed backend, everywhere."""
        for backend in failed:
            error = [self_sample(self._plan, "backend_errors", backend.name)]
            for other in self.backends:
                with contextlib.suppress(Exception):  # logged already; the count is best effort
                    other.apply(error)
