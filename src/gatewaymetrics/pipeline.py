"""The imperative shell: parse, guard cardinality, keep budgets monotonic, fan out.

Nothing raised by parsing, measuring or a backend ever reaches the gateway: it is
caught, counted in a self-observation metric and logged by exception type only (an
exception's message can quote a payload). Safe to call from many threads at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gatewaymetrics.core import litellm_fast
from gatewaymetrics.core.budget import supersedes
from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.labels import OTHER
from gatewaymetrics.core.litellm_fast import Payload, Values
from gatewaymetrics.core.litellm_payload import budget_places, parse_litellm
from gatewaymetrics.core.measure import (
    budget_labels,
    measure_budget,
    measure_call,
    measure_fallback,
    measure_problems,
    self_sample,
)
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot, CallEvent, Status
from gatewaymetrics.core.samples import Metric, Number, Sample
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.native import compiled
from gatewaymetrics.protocols import Backend, BindingBackend

Labels = tuple[str, ...]

# The fast path's reader: its compiled copy when built from this very source.
_reader = compiled(litellm_fast)
identity_key: Callable[
    [object, object, tuple[str, ...]], tuple[tuple[object, ...], Payload] | None
] = _reader.identity_key
read_values: Callable[[Payload, object, object, object, bool, tuple[str, ...]], Values] = (
    _reader.read_values
)
Uncommon: type[litellm_fast.Uncommon] = _reader.Uncommon
#: A budget's subject as one string, scope value and subject joined by a NUL (no scope
#: value holds one). A string keeps its hash: the fast path looks a subject up several
#: times per event, always through the same string object.
Subject = str
#: The last budget accepted for a subject: reset time, spend (compared), and what its
#: gauges were set to: own labels, limit, spend, remaining.
_Mark = tuple[float | None, Number, Labels, Number | None, Number, Number | None]


class _BudgetState:
    """One budget subject's last accepted snapshot. The object stays for the life of
    the pipeline (the fast path holds it); ``mark`` is replaced, under the pipeline's
    lock, by each snapshot that supersedes it."""

    __slots__ = ("mark",)

    def __init__(self, mark: _Mark) -> None:
        self.mark = mark


__all__ = ["Pipeline"]

log = logging.getLogger("gatewaymetrics")

#: How many call identities (key, team, user, model, ...) the fast path remembers.
IDENTITY_CACHE = 4096


class Pipeline:
    """Records events into every backend.

    ``backends`` are declared the metrics at once (configuration errors raise here, as
    :class:`~gatewaymetrics.errors.GatewayMetricsError`); after that, ``record*``
    never raises.
    """

    def __init__(
        self,
        backends: Iterable[Backend],
        settings: Settings | None = None,
        *,
        fast_path: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.plan = Plan.build(self.settings)
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._cap = self.settings.series_cap
        self._custom_labels = self.settings.labels.custom
        self._lock = threading.Lock()  # guards _seen and _budgets; never held during I/O
        self._seen: dict[Metric, set[tuple[str, ...]]] = {}
        self._budgets: dict[Subject, _BudgetState] = {}
        #: Counts the events whose budgets were accepted: an event that sees it moved
        #: between its acceptance and its fan-out may have been overtaken (see _settle).
        self._budget_writes = 0
        self._budget_labels: dict[tuple[BudgetScope, str, str | None], tuple[str, ...]] = {}
        self._closed = False
        # The fast path (see _FastCall) runs when every backend binds series; those
        # keep float64 values, so budget spends are compared as floats too.
        binders = [b for b in self.backends if isinstance(b, BindingBackend)]
        self._fast = fast_path and bool(self.backends) and len(binders) == len(self.backends)
        self._binders: tuple[BindingBackend, ...] = tuple(binders)
        self._identities: dict[tuple[object, ...], _FastCall] = {}
        self._custom_paths = tuple(path for _, path in self._custom_labels)
        self._fast_events = 0
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
        if self._fast:
            try:
                if self._record_fast(kwargs, response_obj, start_time, end_time, failed):
                    return
            except Exception as exc:  # nothing may reach the gateway
                self._drop("internal_error", exc)
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
            accepted: list[tuple[_BudgetState, _Mark]] = []
            if event.budgets:
                accepted, overflowed = self._accept_budgets(event.budgets)
                samples += [self._budget_overflow] * overflowed
            for _, mark in accepted:
                samples += self._mark_samples(mark)
            self._fan_out(self._guard(samples))
            for state, mark in accepted:
                self._settle(state, mark)
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

    # -- the fast path --------------------------------------------------------------------

    def _record_fast(
        self,
        kwargs: object,
        response_obj: object,
        start_time: object,
        end_time: object,
        failed: bool | None,
    ) -> bool:
        """Record a LiteLLM success payload of the common shape without building
        records: its identity is looked up (the first payload of an identity goes
        through the general path, which admits its series and budgets), its numbers
        are read raw and applied to series bound once. False: nothing was recorded;
        the caller takes the general path. Equivalent to it by construction (the
        parser is the specification) and by test (tests/test_fast_path_equivalence.py)."""
        if self._closed:
            return False
        read = identity_key(kwargs, failed, self._custom_paths)
        if read is None:
            return False
        key, payload = read
        call = self._identities.get(key)
        if call is None:
            self._learn(key, kwargs, response_obj, start_time, end_time, failed)
            return True
        try:
            values = read_values(payload, response_obj, start_time, end_time,
                                 call.stream, call.budget_keys)  # fmt: skip
            return self._apply_fast(call, values)
        except (Uncommon, _NotAdmitted):
            return False  # the parser's job, or a series the general path admits first

    def _learn(
        self,
        key: tuple[object, ...],
        kwargs: object,
        response_obj: object,
        start_time: object,
        end_time: object,
        failed: bool | None,
    ) -> None:
        """Record a new identity's first payload by the general path, and keep what its
        identity means (labels, budget subjects) if it parsed without a problem."""
        event = parse_litellm(kwargs, response_obj, start_time, end_time, failed=failed,
                              custom_labels=self._custom_labels)  # fmt: skip
        self.record(event)
        if event.problems or event.call.status is not Status.SUCCESS:
            return
        identities = self._identities
        if len(identities) >= min(self._cap, IDENTITY_CACHE):
            for old in list(itertools.islice(identities, len(identities) // 2 + 1)):
                identities.pop(old, None)  # the oldest half; busy identities come back
        identities[key] = call = _FastCall(self, event)
        call.prepare()  # what the general path just admitted

    def _apply_fast(self, call: _FastCall, values: Values) -> bool:
        """Apply one call's numbers to its bound series. Raises :class:`_NotAdmitted`
        (before anything is applied) when a series or budget is not admitted yet."""
        (inp, out, cached, reasoning, cost, duration, upstream, first_token, per_token,
         remaining_requests, remaining_tokens, budget_values) = values  # fmt: skip
        bound, bind = call.bound, call.bind
        updates: list[tuple[object, object]] = [(bound[_REQUESTS] or bind(_REQUESTS), 1.0)]
        add = updates.append
        if inp:
            add((bound[_INPUT] or bind(_INPUT), inp))
        if out:
            add((bound[_OUTPUT] or bind(_OUTPUT), out))
        if cached:
            add((bound[_CACHED] or bind(_CACHED), cached))
        if reasoning:
            add((bound[_REASONING] or bind(_REASONING), reasoning))
        if cost:
            add((bound[_SPEND] or bind(_SPEND), cost))
        elif cost is None:
            add((bound[_UNPRICED] or bind(_UNPRICED), 1.0))
        if call.cache_hit:
            add((bound[_CACHE_HITS] or bind(_CACHE_HITS), 1.0))
        if duration is not None:
            add((bound[_DURATION] or bind(_DURATION), duration))
        if upstream is not None:
            add((bound[_UPSTREAM] or bind(_UPSTREAM), upstream))
        if first_token is not None:
            add((bound[_FIRST_TOKEN] or bind(_FIRST_TOKEN), first_token))
        if per_token is not None:
            add((bound[_PER_TOKEN] or bind(_PER_TOKEN), per_token))
        if remaining_requests is not None:
            add((bound[_RL_REQUESTS] or bind(_RL_REQUESTS), remaining_requests))
        if remaining_tokens is not None:
            add((bound[_RL_TOKENS] or bind(_RL_TOKENS), remaining_tokens))

        # Budgets (spends include this call): only subjects the general path admitted,
        # only gauges it made; the monotonic rule of core.budget.supersedes, inline.
        written = 0
        unlimited: list[_Mark] = []
        if budget_values:
            places = call.places
            for index in call.unprepared:  # places not admitted yet (often no budget)
                if budget_values[index] is not None:
                    call.prepare(budget_values)
                    break
            with self._lock:  # (zip's strict= parses keywords per call: both come from call)
                for place, budget in zip(places, budget_values):  # noqa: B905
                    if budget is None:
                        continue
                    spend, limit, reset_at = budget
                    state: _BudgetState = place.state  # type: ignore[assignment]  # prepared
                    last = state.mark
                    if reset_at == last[0]:
                        if spend < last[1]:
                            continue  # a late event: spend never goes back
                    elif reset_at is None or (last[0] is not None and reset_at < last[0]):
                        continue  # an earlier period
                    mark: _Mark
                    if limit is None:
                        state.mark = mark = (reset_at, spend, place.own, None, spend, None)
                        add((place.unlimited, spend))  # the spend gauge alone
                        unlimited.append(mark)
                    else:
                        remaining = limit - spend
                        state.mark = (reset_at, spend, place.own, limit, spend, remaining)
                        add((place.limited, (limit, spend, remaining)))
                    written += 1
                if written:
                    self._budget_writes += 1
                    written = self._budget_writes
        self._fan_out_bound(updates)
        for mark in unlimited:  # an unlimited budget has no limit or remaining series
            self._fan_out([s for s in self._mark_samples(mark) if s.value is None])
        if written and self._budget_writes != written:  # another event wrote meanwhile
            for place, budget in zip(call.places, budget_values, strict=True):
                if budget is not None and place.state is not None:
                    self._settle(place.state, None)
        self._fast_events += 1
        return True

    def _fan_out_bound(self, updates: list[tuple[object, object]]) -> None:
        """Bound updates to every backend: with one backend a handle is its own, with
        several a tuple of one handle per backend."""
        binders = self._binders
        if len(binders) == 1:
            try:
                binders[0].apply_bound(updates)
            except Exception as exc:  # nothing may reach the gateway
                self._backend_failed(binders[0], exc)
                self._count_failures(binders)
            return
        failed = []
        for index, backend in enumerate(binders):
            try:
                backend.apply_bound([(h[index], v) for h, v in updates])  # type: ignore[index]
            except Exception as exc:  # one failing backend never stops the others
                failed.append(backend)
                self._backend_failed(backend, exc)
        self._count_failures(failed)

    # -- the steps ----------------------------------------------------------------------

    def _accept_budgets(
        self, budgets: Iterable[BudgetSnapshot]
    ) -> tuple[list[tuple[_BudgetState, _Mark]], int]:
        """The snapshots that supersede the last one seen for their subject (they become
        the last seen), and how many were new subjects beyond the series cap."""
        accepted: list[tuple[_BudgetState, _Mark]] = []
        overflowed = 0
        with self._lock:
            for snapshot in budgets:
                subject = f"{snapshot.scope.value}\0{snapshot.subject}"
                state = self._budgets.get(subject)
                if state is None and len(self._budgets) >= self._cap:
                    overflowed += 1
                    continue
                spend: Number = float(snapshot.spend_usd) if self._fast else snapshot.spend_usd
                if state is not None and not supersedes(
                    new_spend=spend,
                    new_reset_at=snapshot.reset_at,
                    old_spend=state.mark[1],
                    old_reset_at=state.mark[0],
                ):
                    continue
                own = self._labels_of(snapshot.scope, snapshot.subject, snapshot.alias)
                mark: _Mark = (snapshot.reset_at, spend, own, snapshot.limit_usd,
                        snapshot.spend_usd, snapshot.remaining_usd)  # fmt: skip
                if state is None:
                    state = self._budgets[subject] = _BudgetState(mark)
                else:
                    state.mark = mark
                accepted.append((state, mark))
            if accepted:
                self._budget_writes += 1
        return accepted, overflowed

    def _labels_of(self, scope: BudgetScope, subject: str, alias: str | None) -> Labels:
        """A budget's rendered labels, kept per subject (bounded like the subjects)."""
        key = (scope, subject, alias)
        labels = self._budget_labels.get(key)
        if labels is None:
            if len(self._budget_labels) >= self._cap:
                self._budget_labels.clear()
            labels = self._budget_labels[key] = budget_labels(scope, subject, alias, self.plan)
        return labels

    def _mark_samples(self, mark: _Mark) -> list[Sample]:
        _, _, own, limit, spend, remaining = mark
        return measure_budget(self.plan, own, limit, spend, remaining)

    def _settle(self, state: _BudgetState, applied: _Mark | None) -> None:
        """After a budget's gauges were set to ``applied``, set them again if a newer
        snapshot for the same subject was accepted meanwhile: its own event may have
        reached a backend before this one did (None: not known, set them again anyway).
        Gauge sets are absolute, so repeating one is harmless; no lock is held while
        backends run."""
        last = applied
        while True:
            current = state.mark
            if current is last:
                return
            self._fan_out(self._guard(self._mark_samples(current)))
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
                self._backend_failed(backend, exc)
        self._count_failures(failed)

    def _backend_failed(self, backend: Backend, exc: Exception) -> None:
        log.warning("gatewaymetrics: backend %s failed: %s", backend.name, type(exc).__name__)

    def _count_failures(self, failed: Sequence[Backend]) -> None:
        """``gatewaymetrics_backend_errors_total`` for each failed backend, everywhere."""
        for backend in failed:
            error = [self_sample(self.plan, "backend_errors", backend.name)]
            for other in self.backends:
                with contextlib.suppress(Exception):  # logged already; the count is best effort
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


# The series one success call can update, by slot.
(_REQUESTS, _INPUT, _OUTPUT, _CACHED, _REASONING, _SPEND, _UNPRICED, _CACHE_HITS,
 _DURATION, _UPSTREAM, _FIRST_TOKEN, _PER_TOKEN, _RL_REQUESTS, _RL_TOKENS) = range(14)  # fmt: skip
_SLOT_METRICS = (
    ("requests", ("success", "")), ("tokens", ("input",)), ("tokens", ("output",)),
    ("cached_input_tokens", ()), ("reasoning_tokens", ()), ("spend", ()),
    ("unpriced_requests", ()), ("cache_hits", ()), ("request_duration", ()),
    ("upstream_duration", ()), ("time_to_first_token", ()), ("time_per_output_token", ()),
    ("ratelimit_remaining_requests", None), ("ratelimit_remaining_tokens", None),
)  # fmt: skip
_BUDGET_GAUGES = ("budget_limit", "budget_spend", "budget_remaining")


class _Place:
    """One budget of a call identity on the fast path: its subject, its rendered
    labels, and once the general path has admitted them, the subject's state and its
    bound gauges: (limit, spend, remaining) as one group, and spend alone (for an
    unlimited budget)."""

    __slots__ = ("limited", "own", "state", "subject", "unlimited")

    def __init__(self, subject: Subject, own: Labels) -> None:
        self.subject = subject
        self.own = own
        self.state: _BudgetState | None = None
        self.limited: object | None = None
        self.unlimited: object | None = None


class _FastCall:
    """What one call identity means, kept by the fast path: the series of each slot
    and of each budget, bound to every backend once the general path has admitted
    them (a series never admitted, say beyond the series cap, keeps its events on the
    general path). A handle is one backend's, or a tuple with one per backend."""

    __slots__ = ("_pipeline", "_rate_labels", "_values", "bound", "budget_keys", "cache_hit",
                 "places", "stream", "unprepared")  # fmt: skip

    def __init__(self, pipeline: Pipeline, event: CallEvent) -> None:
        self._pipeline = pipeline
        plan = pipeline.plan
        call = event.call
        self._values = plan.call_values(call)
        self._rate_labels = plan.render((call.provider, call.requested_model, call.model))
        self.bound: list[object | None] = [None] * len(_SLOT_METRICS)
        self.stream = call.stream
        self.cache_hit = bool(call.cache_hit)
        places = budget_places(call.principal)
        self.budget_keys = tuple(key for _, _, _, keys in places for key in keys)
        self.places = [
            _Place(f"{scope.value}\0{subject}", pipeline._labels_of(scope, subject, alias))
            for scope, subject, alias, _ in places
        ]
        #: The places still without their state or both kinds of gauges, by index.
        self.unprepared = tuple(range(len(self.places)))

    def _admitted(self, metric: Metric, labels: Labels) -> bool:
        """Whether the general path's guard has admitted this series."""
        seen = self._pipeline._seen.get(metric)
        return seen is not None and labels in seen

    def _bind(self, key: str, labels: Labels) -> object | None:
        pipeline = self._pipeline
        metric = pipeline.plan.metrics[key]
        if not self._admitted(metric, labels):
            return None
        binders = pipeline._binders
        if len(binders) == 1:
            return binders[0].bind(metric, labels)
        return tuple(backend.bind(metric, labels) for backend in binders)

    def bind(self, slot: int) -> object:
        """The bound series of ``slot``; :class:`_NotAdmitted` if not admitted yet."""
        key, own = _SLOT_METRICS[slot]
        plan = self._pipeline.plan
        if own is None:  # the rate-limit gauges: provider and models, no identity
            labels = plan.labels(key, (), self._rate_labels)
        else:
            labels = plan.labels(key, self._values, own)
        handle = self._bind(key, labels)
        if handle is None:
            raise _NotAdmitted
        self.bound[slot] = handle
        return handle

    def prepare(
        self, budgets: list[tuple[float, float | None, float | None] | None] | None = None
    ) -> None:
        """Find each budget's subject state and bind its gauges, as far as the general
        path has admitted them. With one event's ``budgets`` (spend, limit, reset, or
        None: no budget): :class:`_NotAdmitted` if one of them needs a subject or a
        gauge not admitted yet."""
        known = self._pipeline._budgets
        unprepared = []
        for index, place in enumerate(self.places):
            if place.state is None:
                place.state = known.get(place.subject)
            if place.state is not None:
                if place.limited is None:
                    place.limited = self._budget_gauges(place.own, limited=True)
                if place.unlimited is None:
                    place.unlimited = self._budget_gauges(place.own, limited=False)
            if None in (place.state, place.limited, place.unlimited):
                unprepared.append(index)
            budget = budgets[index] if budgets is not None else None
            if budget is not None:
                gauges = place.limited if budget[1] is not None else place.unlimited
                if place.state is None or gauges is None:
                    raise _NotAdmitted
        self.unprepared = tuple(unprepared)

    def _budget_gauges(self, own: Labels, *, limited: bool) -> object | None:
        """A budget's gauges as one handle: (limit, spend, remaining) set together, or
        its spend gauge alone; None if one of them is not admitted yet."""
        pipeline = self._pipeline
        plan = pipeline.plan
        if not limited:
            return self._bind("budget_spend", plan.labels("budget_spend", (), own))
        series = [(plan.metrics[key], plan.labels(key, (), own)) for key in _BUDGET_GAUGES]
        if not all(self._admitted(metric, labels) for metric, labels in series):
            return None
        binders = pipeline._binders
        if len(binders) == 1:
            return binders[0].bind_group(series)
        return tuple(backend.bind_group(series) for backend in binders)


class _NotAdmitted(Exception):
    """The fast path met a series or budget subject the general path has to admit."""
