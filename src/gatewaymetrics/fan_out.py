"""Fan-out: one event's updates to every backend, each isolated from the others.

A backend that raises is counted in ``gatewaymetrics_backend_errors_total`` in every
backend; the others still get the event. Nothing here raises.

A backend that sends off the event path (StatsD's sender thread) cannot raise into
the event that failed; it reports instead through the error sink the fan-out attaches
when it has a ``report_errors_to(sink)`` method: ``sink(error type name, count)``,
callable from any thread, counts ``count`` failures just the same.

Logging is by exception type only (a message can quote a payload or a credential),
and at most one line per ``log_interval`` seconds (default 60) for each backend and
error type (and each dropped-event reason and type), saying how many failures it
stands for: a dead daemon or an unwritable directory failing every event must not
flood the gateway's log.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from gatewaymetrics.core.measure import self_sample
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.protocols import Backend, BindingBackend

__all__ = ["FanOut", "LogLimiter"]

log = logging.getLogger("gatewaymetrics")

#: A bound series: one backend's handle, or a tuple with one handle per backend, or
#: (under a naming that exports a metric as several families) a :class:`_Split`.
Handle = object
Labels = tuple[str, ...]


class _Split:
    """One catalog series bound as the exported series it feeds (none, or several):
    an update of it is an update of each ``part`` (for a gauge group, ``parts`` holds
    one tuple of handles per gauge, and ``group`` is set)."""

    __slots__ = ("group", "parts")

    def __init__(self, parts: tuple[object, ...], *, group: bool = False) -> None:
        self.parts = parts
        self.group = group

    def expand(self, value: object, out: list[tuple[Handle, object]]) -> None:
        if not self.group:
            for part in self.parts:
                out.append((part, value))
            return
        for handles, one in zip(self.parts, value, strict=True):  # type: ignore[call-overload]
            for part in handles:
                out.append((part, one))


class LogLimiter:
    """At most one log line per ``interval`` seconds for each key, by ``clock``;
    thread-safe. :meth:`admit` says whether to write the line now, and how many
    occurrences it stands for (this one and those held back since the last line)."""

    def __init__(self, clock: Callable[[], float], interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._next: dict[tuple[str, ...], float] = {}
        self._held: dict[tuple[str, ...], int] = {}

    def admit(self, key: tuple[str, ...], count: int = 1) -> int:
        """0: stay silent (``count`` is held back); else write one line now, for the
        returned number of occurrences."""
        now = self._clock()
        with self._lock:
            held = self._held.get(key, 0) + count
            if now < self._next.get(key, -math.inf):
                self._held[key] = held
                return 0
            self._next[key] = now + self._interval
            self._held[key] = 0
            return held


class FanOut:
    """The backends of one pipeline. ``binding`` says whether every backend binds
    series (:class:`~gatewaymetrics.protocols.BindingBackend`), which the fast path
    needs: then :meth:`bind`, :meth:`bind_group` and :meth:`apply_bound` work.

    ``clock`` and ``log_interval`` rule how often a repeated failure is logged."""

    def __init__(
        self,
        backends: Iterable[Backend],
        plan: Plan,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = 60.0,
    ) -> None:
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._plan = plan
        #: Where each update goes under a naming that exports families of their own
        #: (None: backends get the catalog's metrics as they are).
        self._routes = plan.routes
        binders = tuple(b for b in self.backends if isinstance(b, BindingBackend))
        self.binding = bool(self.backends) and len(binders) == len(self.backends)
        self._binders = binders
        self._log_interval = log_interval
        self._limiter = LogLimiter(clock, log_interval)
        for backend in self.backends:
            attach = getattr(backend, "report_errors_to", None)
            if callable(attach):
                attach(functools.partial(self.report, backend))

    def declare(self, metrics: Sequence[Metric]) -> None:
        """Declare ``metrics`` to every backend (configuration errors raise)."""
        for backend in self.backends:
            backend.declare(metrics)

    def _routed(self, metric: Metric, labels: Labels) -> list[tuple[Metric, Labels]]:
        """The exported series one catalog series feeds."""
        routes = self._routes.get(metric) if self._routes is not None else None
        if routes is None:
            return [(metric, labels)]
        out = []
        for route in routes:
            exported = route.labels(labels)
            if exported is not None:
                out.append((route.metric, exported))
        return out

    def _translate(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for sample in samples:
            for metric, labels in self._routed(sample.metric, sample.labels):
                out.append(Sample(metric, labels, sample.value))
        return out

    def apply(self, samples: list[Sample]) -> None:
        if self._routes is not None:
            samples = self._translate(samples)
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
        if self._routes is not None and metric in self._routes:
            series = self._routed(metric, labels)
            if len(series) == 1:
                return self._bind(*series[0])
            return _Split(tuple(self._bind(*one) for one in series))
        return self._bind(metric, labels)

    def _bind(self, metric: Metric, labels: tuple[str, ...]) -> Handle:
        binders = self._binders
        if len(binders) == 1:
            return binders[0].bind(metric, labels)
        return tuple(backend.bind(metric, labels) for backend in binders)

    def bind_group(self, series: Sequence[tuple[Metric, tuple[str, ...]]]) -> Handle:
        """Gauges always set together, bound as one handle in every backend."""
        if self._routes is not None:
            routed = [self._routed(metric, labels) for metric, labels in series]
            if any(len(one) != 1 for one in routed):
                parts = tuple(tuple(self._bind(*s) for s in one) for one in routed)
                return _Split(parts, group=True)
            series = [one[0] for one in routed]
        binders = self._binders
        if len(binders) == 1:
            return binders[0].bind_group(series)
        return tuple(backend.bind_group(series) for backend in binders)

    def apply_bound(self, updates: list[tuple[Handle, object]]) -> None:
        """Bound updates, (handle, value), to every backend."""
        if self._routes is not None:
            updates = self._expand(updates)
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

    @staticmethod
    def _expand(updates: list[tuple[Handle, object]]) -> list[tuple[Handle, object]]:
        out: list[tuple[Handle, object]] = []
        for handle, value in updates:
            if type(handle) is _Split:
                handle.expand(value, out)
            else:
                out.append((handle, value))
        return out

    def drop(self, reason: str, exc: BaseException | None) -> None:
        """Count one dropped event (``gatewaymetrics_events_dropped_total``)."""
        try:
            if exc is not None:
                error = type(exc).__name__
                times = self._limiter.admit(("dropped", reason, error))
                if times:
                    log.error(
                        "gatewaymetrics: event dropped (%s): %s; %d time(s) since the last"
                        " line about it (logged at most once per %g s)",
                        reason, error, times, self._log_interval,
                    )  # fmt: skip
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

    def report(self, backend: Backend, error: str, count: int) -> None:
        """``count`` failures of ``backend`` (of the exception type named ``error``)
        that happened off the event path: logged and counted as if ``apply`` had
        raised. The error sink attached to backends; any thread; never raises."""
        try:
            self._log_failure(backend, error, count)
            sample = [self_sample(self._plan, "backend_errors", backend.name, count)]
            for other in self.backends:
                with contextlib.suppress(Exception):  # the count is best effort
                    other.apply(sample)
        except Exception:  # logging itself can fail (closed streams at shutdown)
            pass

    def _failed(self, backend: Backend, exc: Exception) -> None:
        with contextlib.suppress(Exception):  # logging itself can fail at shutdown
            self._log_failure(backend, type(exc).__name__, 1)

    def _log_failure(self, backend: Backend, error: str, count: int) -> None:
        times = self._limiter.admit(("backend", backend.name, error), count)
        if times:
            log.warning(
                "gatewaymetrics: backend %s failed: %s; %d failure(s) since the last line"
                " about it (logged at most once per %g s)",
                backend.name, error, times, self._log_interval,
            )  # fmt: skip

    def _count_failures(self, failed: Sequence[Backend]) -> None:
        """``gatewaymetrics_backend_errors_total`` for each failed backend, everywhere."""
        for backend in failed:
            error = [self_sample(self._plan, "backend_errors", backend.name)]
            for other in self.backends:
                with contextlib.suppress(Exception):  # logged already; the count is best effort
                    other.apply(error)
