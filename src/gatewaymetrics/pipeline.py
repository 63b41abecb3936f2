"""The imperative shell: parse, guard cardinality, keep budgets monotonic, fan out.

A :class:`Pipeline` is made of named parts: a :class:`~gatewaymetrics.fan_out.FanOut`
to its backends, a :class:`~gatewaymetrics.series_guard.SeriesGuard`, a
:class:`~gatewaymetrics.budget_book.BudgetBook`, and, when every backend binds series,
a :class:`~gatewaymetrics.fast_path.FastPath` for LiteLLM payloads. Nothing raised by
parsing, measuring or a backend ever reaches the gateway: it is caught, counted in a
self-observation metric and logged by exception type only (an exception's message can
quote a payload). Safe to call from many threads at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from gatewaymetrics.budget_book import BudgetBook
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.measure import (
    measure_call,
    measure_fallback,
    measure_problems,
)
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import CallEvent
from gatewaymetrics.core.samples import Sample
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.fan_out import FanOut
from gatewaymetrics.fast_path import FastPath
from gatewaymetrics.protocols import Backend
from gatewaymetrics.series_guard import SeriesGuard

__all__ = ["Pipeline"]


class Pipeline:
    """Records events into every backend.

    ``backends`` are declared the metrics at once (configuration errors raise here, as
    :class:`~gatewaymetrics.errors.GatewayMetricsError`); after that, ``record*``
    never raises. ``fast_path=False`` records every LiteLLM payload by its records.
    ``wall_clock`` (Unix seconds) is the "now" of values written relative to it (under
    ``naming = "litellm"``, the hours until a budget resets).
    """

    def __init__(
        self,
        backends: Iterable[Backend],
        settings: Settings | None = None,
        *,
        fast_path: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        backends = tuple(backends)
        # A backend may export a naming of its own (the OpenTelemetry backend's).
        namings = [getattr(backend, "naming", None) for backend in backends]
        self.plan = Plan.build(self.settings, [n for n in namings if isinstance(n, str)])
        self._fan_out = FanOut(backends, self.plan, wall_clock=wall_clock)
        self.backends = self._fan_out.backends
        self._guard = SeriesGuard(self.plan, self.settings.series_cap)
        fast = fast_path and self._fan_out.binding
        self._book = BudgetBook(
            self.plan, self.settings.series_cap, fan_out=self._fan_out, guard=self._guard
        )
        self._custom_labels = self.settings.labels.custom
        self._closed = False
        self._fast: FastPath | None = None
        if fast:
            self._fast = FastPath(
                plan=self.plan,
                settings=self.settings,
                fan_out=self._fan_out,
                guard=self._guard,
                book=self._book,
                record_event=self.record,
            )
        self._fan_out.declare(self.plan.exported)

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
        fast = self._fast
        if fast is not None and not self._closed:
            try:
                if fast.record(kwargs, response_obj, start_time, end_time, failed):
                    return
            except Exception as exc:  # nothing may reach the gateway
                self._fan_out.drop("internal_error", exc)
                return
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
            self._fan_out.drop("internal_error", exc)
            return
        self.record(event)

    def record(self, event: CallEvent) -> None:
        """Record one event in every backend. Never raises."""
        try:
            if self._closed:
                self._fan_out.drop("closed", None)
                return
            samples = measure_call(event.call, self.plan)
            if event.problems:
                samples += measure_problems(event.problems, self.plan)
            if event.budgets:  # decided and written with the call's samples, as one step
                self._book.record(event.budgets, samples)
            else:
                self._fan_out.apply(self._guard.admit(samples))
        except Exception as exc:  # nothing may reach the gateway
            self._fan_out.drop("internal_error", exc)

    def record_fallback(
        self, requested_model: str | None, fallback_model: str | None, *, succeeded: bool
    ) -> None:
        """Record one router fallback (``llm_fallbacks_total``). Never raises."""
        try:
            if self._closed:
                self._fan_out.drop("closed", None)
                return
            outcome = "success" if succeeded else "failure"
            self._apply_guarded(
                measure_fallback(self.plan, requested_model, fallback_model, outcome)
            )
        except Exception as exc:  # nothing may reach the gateway
            self._fan_out.drop("internal_error", exc)

    def close(self) -> None:
        """Close every backend (errors are logged, not raised). Later events are dropped."""
        self._closed = True
        self._fan_out.close()

    def _apply_guarded(self, samples: list[Sample]) -> None:
        self._fan_out.apply(self._guard.admit(samples))

    # -- introspection --------------------------------------------------------------

    @property
    def fast_events(self) -> int:
        """How many LiteLLM events the fast path recorded (0 without one)."""
        return 0 if self._fast is None else self._fast.events

    @property
    def fast_identities(self) -> int:
        """How many call identities the fast path remembers (0 without one)."""
        return 0 if self._fast is None else self._fast.identities

    def __repr__(self) -> str:
        names = ", ".join(b.name for b in self.backends)
        return f"Pipeline(backends=[{names}], prefix={self.settings.prefix!r})"

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
