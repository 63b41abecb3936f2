"""The in-process series store: exact under threads, gauges removed and set again
through any handle, groups, and exposition identical to prometheus_client's own."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gatewaymetrics import CallEvent, LabelSettings, Metric, Pipeline, Sample, Settings
from gatewaymetrics.backends.prometheus import PrometheusBackend, client_metric
from gatewaymetrics.backends.series_store import SNAPSHOT_CHUNK, SeriesStore
from gatewaymetrics.core.plan import Plan
from tests.strategies import call_events

PLAN = Plan.build(Settings(labels=LabelSettings(identity=("model",))))
REQUESTS = PLAN.metrics["requests"]
DURATION = PLAN.metrics["request_duration"]
SPEND_GAUGE = PLAN.metrics["budget_spend"]
LIMIT_GAUGE = PLAN.metrics["budget_limit"]
LABELS = ("m", "success", "")
BUDGET = ("team", "t1", "")


def _store(*metrics: Metric) -> SeriesStore:
    store = SeriesStore()
    for metric in metrics:
        store.declare(metric)
    return store


def _values(store: SeriesStore, metric: Metric) -> dict[tuple[str, ...], float]:
    return {series.labels: series.value for series in store.collect(metric)}


def test_threads_lose_no_update() -> None:
    store = _store(REQUESTS, DURATION)
    counter = store.cell(REQUESTS, LABELS)
    histogram = store.cell(DURATION, ("m",))

    def work() -> None:
        for _ in range(5000):
            store.update([(counter, 1.0), (histogram, 0.03)])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _values(store, REQUESTS) == {LABELS: 40_000.0}
    (series,) = store.collect(DURATION)
    assert series.buckets[-1] == (float("inf"), 40_000.0)
    assert dict(series.buckets)[0.02] == 0.0
    assert dict(series.buckets)[0.04] == 40_000.0  # 0.03 <= 0.04: cumulative from there
    assert series.value == pytest.approx(1200.0, rel=1e-9)


def test_a_removed_gauge_comes_back_through_any_handle() -> None:
    store = _store(SPEND_GAUGE)
    first = store.cell(SPEND_GAUGE, BUDGET)
    store.update([(first, 3.0)])
    store.apply([Sample(SPEND_GAUGE, BUDGET, None)])  # removed: not exposed
    assert _values(store, SPEND_GAUGE) == {}
    second = store.cell(SPEND_GAUGE, BUDGET)  # a handle taken after the removal
    assert second is first  # one cell per series, whatever happened to it
    store.apply([Sample(SPEND_GAUGE, BUDGET, 4)])
    assert _values(store, SPEND_GAUGE) == {BUDGET: 4.0}
    store.update([(first, 5.0)])
    assert _values(store, SPEND_GAUGE) == {BUDGET: 5.0}


def test_removing_a_gauge_that_never_existed_makes_nothing() -> None:
    store = _store(SPEND_GAUGE)
    store.apply([Sample(SPEND_GAUGE, BUDGET, None)])
    assert store.collect(SPEND_GAUGE) == []


def test_a_group_sets_its_gauges_together_and_brings_removed_ones_back() -> None:
    store = _store(SPEND_GAUGE, LIMIT_GAUGE, REQUESTS)
    group = store.group([store.cell(LIMIT_GAUGE, BUDGET), store.cell(SPEND_GAUGE, BUDGET)])
    store.update([(group, (10.0, 4.0))])
    store.apply([Sample(LIMIT_GAUGE, BUDGET, None)])
    assert _values(store, LIMIT_GAUGE) == {}
    store.update([(group, (12.0, 5.0))])
    assert (_values(store, LIMIT_GAUGE), _values(store, SPEND_GAUGE)) == (
        {BUDGET: 12.0},
        {BUDGET: 5.0},
    )
    with pytest.raises(TypeError, match="only gauges"):
        store.group([store.cell(REQUESTS, LABELS)])


def test_a_counter_without_labels_exists_from_the_start() -> None:
    plan = Plan.build(Settings(labels=LabelSettings(identity=())))
    store = _store(plan.metrics["spend"], plan.metrics["budget_spend"])
    assert _values(store, plan.metrics["spend"]) == {(): 0.0}
    assert store.collect(plan.metrics["budget_spend"]) == []  # a gauge waits for a value


def _client_registry(samples: list[Sample]) -> CollectorRegistry:
    """The same samples through prometheus_client's own metric objects."""
    registry = CollectorRegistry()
    wrappers = {
        metric: client_metric(metric, registry) for metric in {s.metric: 0 for s in samples}
    }
    for metric, labels, value in samples:
        wrapper = wrappers[metric]
        if value is None:
            if labels in wrapper._metrics:  # type: ignore[attr-defined]
                wrapper.remove(*labels)
            continue
        child = wrapper.labels(*labels)
        if isinstance(child, Counter):
            child.inc(float(value))
        elif isinstance(child, Gauge):
            child.set(float(value))
        else:
            child.observe(float(value))
    return registry


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def declare(self, metrics: object) -> None:
        pass

    def apply(self, samples: list[Sample]) -> None:
        self.samples.extend(samples)

    def close(self) -> None:
        pass


def _parsed(text: str) -> tuple[set[tuple[str, str, str]], dict[tuple[str, str], float]]:
    """Families (name, type, help) and samples, ``_created`` left out (timestamps)."""
    families, samples = set(), {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue
        families.add((family.name, family.type, family.documentation))
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                samples[(sample.name, repr(sorted(sample.labels.items())))] = sample.value
    return families, samples


@settings(max_examples=60, deadline=None)
@given(st.lists(call_events, max_size=6))
def test_exposition_is_what_prometheus_client_would_expose(events: list[CallEvent]) -> None:
    recorder = _Recorder()
    ours = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([recorder, ours], fast_path=False)
    for event in events:
        pipeline.record(event)
    expected_families, expected = _parsed(
        generate_latest(_client_registry(recorder.samples)).decode()
    )
    families, samples = _parsed(generate_latest(ours.registry).decode())
    # prometheus_client's registry here only has the metrics the samples touched.
    assert expected_families <= families
    assert samples == expected


def test_groups_share_values_with_their_gauges_and_overlaps_still_work() -> None:
    store = _store(SPEND_GAUGE, LIMIT_GAUGE)
    limit, spend = store.cell(LIMIT_GAUGE, BUDGET), store.cell(SPEND_GAUGE, BUDGET)
    group = store.group([limit, spend])
    assert store.group([limit, spend]) is group  # asked again (another caller): the same
    other = store.group([spend, limit])  # the same gauges in another order: written apart
    store.update([(group, (10.0, 4.0))])
    store.update([(spend, 5.0)])  # a single write through the gauge's own handle
    assert (_values(store, LIMIT_GAUGE), _values(store, SPEND_GAUGE)) == (
        {BUDGET: 10.0},
        {BUDGET: 5.0},
    )
    store.update([(other, (6.0, 11.0))])
    assert (_values(store, LIMIT_GAUGE), _values(store, SPEND_GAUGE)) == (
        {BUDGET: 11.0},
        {BUDGET: 6.0},
    )
    with pytest.raises(ValueError, match="one value per gauge"):
        store.update([(group, (1.0,))])
    assert _values(store, SPEND_GAUGE) == {BUDGET: 6.0}  # nothing half-written


class _CountingLock:
    """The store's lock, counting how often it is taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0

    def __enter__(self) -> None:
        self._lock.acquire()
        self.taken += 1

    def __exit__(self, *_: object) -> None:
        self._lock.release()


def test_a_scrape_copies_chunk_by_chunk_and_formats_outside_the_lock() -> None:
    """Issue 12, point 9: a scrape holds the lock for one chunk's copy at a time; while
    it is paused (formatting a chunk), recording proceeds."""
    store = _store(DURATION)
    cells = [store.cell(DURATION, (f"m{i}",)) for i in range(1000)]
    lock = _CountingLock()
    store.lock = lock  # type: ignore[assignment]  # the same protocol, counted
    chunks = store.snapshot(DURATION)
    first = next(chunks)  # the caller now formats; the store is free
    assert lock.taken == 2  # the list of series, then the first chunk's values
    assert len(first) == SNAPSHOT_CHUNK
    done = threading.Event()
    recorder = threading.Thread(
        target=lambda: (store.update([(cells[-1], 0.03)]), done.set()), daemon=True
    )
    recorder.start()
    assert done.wait(timeout=30)  # would never happen if the scrape held the lock
    rest = [series for chunk in chunks for series in chunk]
    assert len(first) + len(rest) == 1000
    assert lock.taken == 2 + 1 + 3  # the update, then chunks 2 to 4
    last = rest[-1]
    assert last.labels == ("m999",)
    assert last.buckets[-1] == (float("inf"), 1.0)  # the update during the scrape is in it
