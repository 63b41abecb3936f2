"""Budget gauges are written in the order they are decided: no reader ever sees a
spend go down within a period, on the general path (``Pipeline.record``) and on the
fast path (``Pipeline.record_litellm`` of a known identity), whatever the threads do.

The interleaving of the issue is forced, not hoped for: a backend holds the first
budget write of one event until another event has reached the backend. Before, the
decision was taken under the book's lock and the gauges written after it, so the
second event's spend landed first and the first one's then moved it back
(``[2.0, 1.0, 2.0]``); now the second event waits for the first one's write.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    LabelSettings,
    Pipeline,
    Sample,
    Settings,
)
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from tests.test_fast_path import KEY, PROXY, proxy_event

ONLY_MODEL = Settings(labels=LabelSettings(identity=("model",)))
GENERAL_LABELS = {"scope": "api_key", "subject": "k", "alias": "ci"}
FAST_LABELS = {"scope": "api_key", "subject": KEY, "alias": "search-prod"}
COST = 1.35e-05  # the captured payload's cost, added to its budgets' spends


def budget_event(spend: Decimal) -> CallEvent:
    snapshot = BudgetSnapshot(
        scope=BudgetScope.API_KEY, subject="k", alias="ci", limit_usd=Decimal(10), spend_usd=spend
    )
    return CallEvent(call=CallRecord(), budgets=(snapshot,))


def fast_spend(spend: float) -> float:
    """The spend gauge of a proxy event whose key spent ``spend`` before the call."""
    return float(Decimal(repr(spend)) + Decimal(repr(COST)))


class Gate:
    """Around every write of a backend: holds the first budget write after ``arm()``
    until :meth:`release`, notes when thread "b" writes anything, and reads the spend
    gauge after each write (``seen``: what a reader polling the backend saw)."""

    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read
        self._armed = False
        self._held = False
        self.holding = threading.Event()
        self.b_wrote = threading.Event()
        self._release = threading.Event()
        self.seen: list[float] = []

    def arm(self) -> None:
        self._armed = True

    def release(self) -> None:
        self._release.set()

    def before(self, budget: bool) -> None:
        if not self._armed:
            return
        if budget and not self._held:
            self._held = True
            self.holding.set()
            self._release.wait(timeout=60)  # (a safety net; the test releases it)
        elif threading.current_thread().name == "b":
            self.b_wrote.set()

    def after(self) -> None:
        if self._armed:
            self.seen.append(self._read())


class GatedMemory(MemoryBackend):
    gate: Gate

    def apply(self, samples: Sequence[Sample]) -> None:
        self.gate.before(any(s.metric.key == "budget_spend" for s in samples))
        super().apply(samples)
        self.gate.after()


class GatedPrometheus(PrometheusBackend):
    gate: Gate

    def apply(self, samples: Sequence[Sample]) -> None:
        self.gate.before(any(s.metric.key == "budget_spend" for s in samples))
        super().apply(samples)
        self.gate.after()

    def apply_bound(self, updates: Iterable[tuple[Any, Any]]) -> None:
        updates = list(updates)
        self.gate.before(any(type(value) is tuple for _, value in updates))  # budget groups
        super().apply_bound(updates)
        self.gate.after()


def prometheus_spend(registry: CollectorRegistry, labels: dict[str, str]) -> Callable[[], float]:
    def read() -> float:
        value = registry.get_sample_value("llm_budget_spend_usd", labels)
        return -1.0 if value is None else value

    return read


def interleave(gate: Gate, first: Callable[[], None], second: Callable[[], None]) -> None:
    """``first`` holds in its budget write while ``second`` runs as far as it can."""
    gate.arm()
    a = threading.Thread(target=first, name="a")
    a.start()
    assert gate.holding.wait(timeout=60)
    b = threading.Thread(target=second, name="b")
    b.start()
    # b runs as far as it can: on code that writes budgets outside the decision, it
    # reaches the backend; here it waits on the book's lock, which the wait below only
    # gives the time to reach (nothing is asserted on the time).
    gate.b_wrote.wait(timeout=1.0)
    gate.release()
    a.join()
    b.join()


def test_forced_interleaving_general_path_memory() -> None:
    backend = GatedMemory()
    backend.gate = gate = Gate(lambda: backend.value("llm_budget_spend_usd", **GENERAL_LABELS))
    pipeline = Pipeline([backend], ONLY_MODEL)
    pipeline.record(budget_event(Decimal("0.5")))
    interleave(
        gate,
        lambda: pipeline.record(budget_event(Decimal(1))),
        lambda: pipeline.record(budget_event(Decimal(2))),
    )
    # a's call metrics, b's call metrics (b then waits for a's budgets), a's, b's budgets
    assert gate.seen == [1.0, 2.0]
    assert backend.exact("llm_budget_spend_usd", **GENERAL_LABELS) == Decimal(2)
    assert backend.exact("llm_budget_remaining_usd", **GENERAL_LABELS) == Decimal(8)


def test_forced_interleaving_general_path_prometheus() -> None:
    registry = CollectorRegistry()
    backend = GatedPrometheus(registry=registry, multiprocess=False)
    backend.gate = gate = Gate(prometheus_spend(registry, GENERAL_LABELS))
    pipeline = Pipeline([backend], ONLY_MODEL)
    pipeline.record(budget_event(Decimal("0.5")))
    interleave(
        gate,
        lambda: pipeline.record(budget_event(Decimal(1))),
        lambda: pipeline.record(budget_event(Decimal(2))),
    )
    assert gate.seen == [1.0, 2.0]


def _litellm(pipeline: Pipeline, spend: float) -> Callable[[], None]:
    kwargs = proxy_event(user_api_key_spend=spend)
    return lambda: pipeline.record_litellm(kwargs, PROXY["response_obj"], failed=False)


def test_forced_interleaving_fast_path() -> None:
    registry = CollectorRegistry()
    backend = GatedPrometheus(registry=registry, multiprocess=False)
    backend.gate = gate = Gate(prometheus_spend(registry, FAST_LABELS))
    pipeline = Pipeline([backend])
    _litellm(pipeline, 0.25)()  # learnt by the general path
    _litellm(pipeline, 0.5)()  # fast
    interleave(gate, _litellm(pipeline, 1.0), _litellm(pipeline, 2.0))
    assert pipeline.fast_events == 3
    assert gate.seen == [fast_spend(1.0), fast_spend(2.0)]


# -- many writers, one reader ---------------------------------------------------------------


class Slow:
    """Takes a moment over every budget write (as a busy backend would), so a writer
    that decided first is still writing while others decide: the window in which a
    gauge written outside the decision could move back. Notes the spend after each
    write."""

    read: Callable[[], float]
    seen: list[float]

    def slow(self, budget: bool) -> None:
        if budget:
            time.sleep(0.0002)


class SlowMemory(MemoryBackend, Slow):
    def apply(self, samples: Sequence[Sample]) -> None:
        self.slow(any(s.metric.key == "budget_spend" for s in samples))
        super().apply(samples)
        self.seen.append(self.read())


class SlowPrometheus(PrometheusBackend, Slow):
    def apply(self, samples: Sequence[Sample]) -> None:
        self.slow(any(s.metric.key == "budget_spend" for s in samples))
        super().apply(samples)
        self.seen.append(self.read())

    def apply_bound(self, updates: Iterable[tuple[Any, Any]]) -> None:
        updates = list(updates)
        self.slow(any(type(value) is tuple for _, value in updates))
        super().apply_bound(updates)
        self.seen.append(self.read())


def _run(writers: list[Callable[[], None]], read: Callable[[], float]) -> list[float]:
    """Run the writers, 4 threads, while a reader polls; what the reader saw."""
    done = threading.Event()
    polled: list[float] = []

    def reader() -> None:
        while not done.is_set():
            polled.append(read())

    def work(chunk: list[Callable[[], None]]) -> None:
        barrier.wait()
        for write in chunk:
            write()

    chunks = [writers[i::4] for i in range(4)]
    barrier = threading.Barrier(4)
    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    poll = threading.Thread(target=reader)
    poll.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poll.join()
    return polled


def _never_down(values: list[float]) -> None:
    seen = [v for v in values if v >= 0]  # (-1: no series yet)
    drops = [(a, b) for a, b in itertools.pairwise(seen) if b < a]
    assert drops == [], f"the spend went down {len(drops)} times, first {drops[:1]}"


_spends = st.lists(st.integers(min_value=1, max_value=10_000), min_size=8, max_size=40, unique=True)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spends=_spends,
    order=st.randoms(use_true_random=False),
    kind=st.sampled_from(["memory", "prometheus"]),
)
def test_a_concurrent_reader_never_sees_a_budget_go_back_general_path(
    spends: list[int], order: Any, kind: str
) -> None:
    backend: SlowMemory | SlowPrometheus
    if kind == "memory":
        memory = backend = SlowMemory()
        backend.read = lambda: memory.value("llm_budget_spend_usd", **GENERAL_LABELS) or -1.0
    else:
        registry = CollectorRegistry()
        backend = SlowPrometheus(registry=registry, multiprocess=False)
        backend.read = prometheus_spend(registry, GENERAL_LABELS)
    backend.seen = []
    pipeline = Pipeline([backend], ONLY_MODEL)
    events = [budget_event(Decimal(spend) / 100) for spend in spends]
    order.shuffle(events)
    polled = _run([functools.partial(pipeline.record, event) for event in events], backend.read)
    _never_down(backend.seen)
    _never_down(polled)
    assert backend.read() == max(spends) / 100


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spends=_spends, order=st.randoms(use_true_random=False))
def test_a_concurrent_reader_never_sees_a_budget_go_back_fast_path(
    spends: list[int], order: Any
) -> None:
    registry = CollectorRegistry()
    backend = SlowPrometheus(registry=registry, multiprocess=False)
    backend.read = prometheus_spend(registry, FAST_LABELS)
    backend.seen = []
    pipeline = Pipeline([backend])
    _litellm(pipeline, 0.0)()  # learnt by the general path; the rest are fast
    writers = [_litellm(pipeline, spend / 100) for spend in spends]
    order.shuffle(writers)
    polled = _run(writers, backend.read)
    assert pipeline.fast_events == len(spends)
    _never_down(backend.seen)
    _never_down(polled)
    assert backend.read() == fast_spend(max(spends) / 100)
