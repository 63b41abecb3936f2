"""Fan-out: one event's updates to every backend, each isolated from the others.

A backend that raises is counted in ``gatewaymetrics_backend_errors_total`` in every
backend; the others still get the event. Nothing here raises.

A backend that sends off the event path (StatsD's sender thread) cannot raise into
the event that failed; it reports instead through the error sink the fan-out attaches
when it has a ``report_errors_to(sink)`` method: ``sink(error type name, count)``,
callable from any thread, counts ``count`` failures just the same.

Under a naming whose exports transform values (LiteLLM's hours until a budget resets),
the transform is applied here, when the value is written, with the ``wall_clock``
read once per write; a removal (None) stays a removal.

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
from collections.abc import Callable, Iterable, Mapping, Sequence

from gatewaymetrics.core.measure import self_sample
from gatewaymetrics.core.plan import Plan, Route
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.protocols import Backend, BindingBackend

__all__ = ["FanOut", "LogLimiter"]

log = logging.getLogger("gatewaymetrics")

#: A bound series: one backend's handle, or a tuple with one handle per backend, or
#: (under a naming that exports a metric as several families) a :class:`_Split`.
Handle = object
Labels = tuple[str, ...]
Routes = Mapping[Metric, tuple[Route, ...]]
#: An export's value transform: (value, wall clock now) -> exported value.
Transform = Callable[[float, float], float]


def _transformed(transform: Transform | None, value: object, now: float) -> object:
    """``value`` as ``transform`` exports it (a removal, None, stays None)."""
    if transform is None or value is None:
        return value
    return transform(value, now)  # type: ignore[arg-type]  # a gauge's number


class _Split:
    """One catalog series bound as the exported series it feeds (none, or several, or
    one whose values are transformed): an update of it is an update of each ``part``
    (for a gauge group, ``parts`` holds one tuple of handles per gauge, and ``group``
    is set). ``transforms``: None, or each part's transform (or None), in the shape of
    ``parts``."""

    __slots__ = ("group", "parts", "transforms")

    def __init__(
        self,
        parts: tuple[object, ...],
        *,
        group: bool = False,
        transforms: tuple[object, ...] | None = None,
    ) -> None:
        self.parts = parts
        self.group = group
        self.transforms = transforms

    def expand(self, value: object, out: list[tuple[Handle, object]], now: float) -> None:
        transforms = self.transforms
        if not self.group:
            if transforms is None:
                for part in self.parts:
                    out.append((part, value))
                return
            for part, transform in zip(self.parts, transforms, strict=True):
                out.append((part, _transformed(transform, value, now)))  # type: ignore[arg-type]
            return
        if transforms is None:
            for handles, one in zip(self.parts, value, strict=True):  # type: ignore[call-overload]
                for part in handles:
                    out.append((part, one))
            return
        for handles, each, one in zip(self.parts, transforms, value, strict=True):  # type: ignore[call-overload]
            for part, transform in zip(handles, each, strict=True):
                out.append((part, _transformed(transform, one, now)))


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

    ``clock`` and ``log_interval`` rule how often a repeated failure is logged;
    ``wall_clock`` (Unix seconds) is the "now" of value transforms."""

    def __init__(
        self,
        backends: Iterable[Backend],
        plan: Plan,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = 60.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._plan = plan
        self._wall_clock = wall_clock
        binders = tuple(b for b in self.backends if isinstance(b, BindingBackend))
        self.binding = bool(self.backends) and len(binders) == len(self.backends)
        self._binders = binders
        #: Per backend, where each update goes (None: the catalog's metrics as they
        #: are): the routes of the pipeline's naming, or of the backend's own
        #: ``naming`` (the OpenTelemetry backend's, the command line's summary).
        self._routes_of = tuple(self._routes_for(backend) for backend in self.backends)
        self._binder_routes = tuple(self._routes_for(backend) for backend in binders)
        self._routing = any(routes is not None for routes in self._routes_of)
        self._log_interval = log_interval
        self._limiter = LogLimiter(clock, log_interval)
        for backend in self.backends:
            attach = getattr(backend, "report_errors_to", None)
            if callable(attach):
                attach(functools.partial(self.report, backend))

    def _routes_for(self, backend: object) -> Routes | None:
        naming = getattr(backend, "naming", None)
        if isinstance(naming, str):
            return self._plan.routes_for(naming)
        return self._plan.routes

    def declare(self, metrics: Sequence[Metric]) -> None:
        """Declare ``metrics`` (the pipeline's naming's families) to every backend
        (configuration errors raise); a backend of another naming is given that
        naming's."""
        for backend in self.backends:
            naming = getattr(backend, "naming", None)
            backend.declare(self._plan.exported_for(naming) if isinstance(naming, str) else metrics)

    @staticmethod
    def _routed(
        routes: Routes | None, metric: Metric, labels: Labels
    ) -> list[tuple[Metric, Labels, Transform | None]]:
        """The exported series one catalog series feeds, each with its transform."""
        mine = routes.get(metric) if routes is not None else None
        if mine is None:
            return [(metric, labels, None)]
        out = []
        for route in mine:
            exported = route.labels(labels)
            if exported is not None:
                out.append((route.metric, exported, route.transform))
        return out

    def _translate(self, routes: Routes, samples: list[Sample]) -> list[Sample]:
        out = []
        now: float | None = None
        for sample in samples:
            for metric, labels, transform in self._routed(routes, sample.metric, sample.labels):
                value = sample.value
                if transform is not None and value is not None:
                    if now is None:
                        now = self._wall_clock()
                    value = transform(value, now)  # type: ignore[arg-type]  # a gauge's number
                out.append(Sample(metric, labels, value))
        return out

    def apply(self, samples: list[Sample]) -> None:
        translated: dict[int, list[Sample]] | None = None  # by routes, made once each
        failed = []
        for backend, routes in zip(self.backends, self._routes_of, strict=True):
            mine = samples
            if routes is not None:
                if translated is None:
                    translated = {}
                known = translated.get(id(routes))
                if known is None:
                    known = translated[id(routes)] = self._translate(routes, samples)
                mine = known
            try:
                backend.apply(mine)
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                self._failed(backend, exc)
        self._count_failures(failed)

    def bind(self, metric: Metric, labels: tuple[str, ...]) -> Handle:
        """One series, bound in every backend."""
        binders = self._binders
        if len(binders) == 1:
            return self._bind_in(binders[0], self._binder_routes[0], metric, labels)
        return tuple(
            self._bind_in(backend, routes, metric, labels)
            for backend, routes in zip(binders, self._binder_routes, strict=True)
        )

    def _bind_in(
        self, backend: BindingBackend, routes: Routes | None, metric: Metric, labels: Labels
    ) -> Handle:
        """One series in one backend: its handle, or a :class:`_Split` of the exported
        series it feeds there."""
        if routes is None or metric not in routes:
            return backend.bind(metric, labels)
        series = self._routed(routes, metric, labels)
        transforms = tuple(transform for _, _, transform in series)
        parts = tuple(backend.bind(exported, values) for exported, values, _ in series)
        if all(transform is None for transform in transforms):
            return parts[0] if len(parts) == 1 else _Split(parts)
        return _Split(parts, transforms=transforms)

    def bind_group(self, series: Sequence[tuple[Metric, tuple[str, ...]]]) -> Handle:
        """Gauges always set together, bound as one handle in every backend."""
        binders = self._binders
        if len(binders) == 1:
            return self._bind_group_in(binders[0], self._binder_routes[0], series)
        return tuple(
            self._bind_group_in(backend, routes, series)
            for backend, routes in zip(binders, self._binder_routes, strict=True)
        )

    def _bind_group_in(
        self,
        backend: BindingBackend,
        routes: Routes | None,
        series: Sequence[tuple[Metric, Labels]],
    ) -> Handle:
        if routes is not None:
            routed = [self._routed(routes, metric, labels) for metric, labels in series]
            transformed = any(t is not None for one in routed for _, _, t in one)
            if transformed or any(len(one) != 1 for one in routed):
                parts = tuple(
                    tuple(backend.bind(m, labels) for m, labels, _ in one) for one in routed
                )
                transforms = tuple(tuple(t for _, _, t in one) for one in routed)
                return _Split(parts, group=True, transforms=transforms if transformed else None)
            series = [(metric, labels) for ((metric, labels, _),) in routed]
        return backend.bind_group(series)

    def apply_bound(self, updates: list[tuple[Handle, object]]) -> None:
        """Bound updates, (handle, value), to every backend."""
        binders = self._binders
        if len(binders) == 1:
            try:
                binders[0].apply_bound(self._expand(updates) if self._routing else updates)
            except Exception as exc:  # nothing may reach the gateway
                self._failed(binders[0], exc)
                self._count_failures(binders)
            return
        failed = []
        for index, backend in enumerate(binders):
            try:
                mine = [(h[index], v) for h, v in updates]  # type: ignore[index]
                backend.apply_bound(self._expand(mine) if self._routing else mine)
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                self._failed(backend, exc)
        self._count_failures(failed)

    def _expand(self, updates: list[tuple[Handle, object]]) -> list[tuple[Handle, object]]:
        out: list[tuple[Handle, object]] = []
        now, timed = 0.0, False  # the wall clock, read once, when a transform needs it
        for handle, value in updates:
            if type(handle) is _Split:
                if handle.transforms is not None and not timed:
                    now, timed = self._wall_clock(), True
                handle.expand(value, out, now)
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
