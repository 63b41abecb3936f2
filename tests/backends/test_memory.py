from __future__ import annotations

from decimal import Decimal

import pytest

from gatewaymetrics import LabelSettings, Settings
from gatewaymetrics.backends.memory import HistogramValue, MemoryBackend
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Sample


@pytest.fixture
def backend_and_plan() -> tuple[MemoryBackend, Plan]:
    plan = Plan.build(Settings(labels=LabelSettings(identity=("model",))))
    backend = MemoryBackend()
    backend.declare(tuple(plan.metrics.values()))
    return backend, plan


def test_counters_are_exact_decimals(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, plan = backend_and_plan
    spend = plan.metrics["spend"]
    backend.apply([Sample(spend, ("a",), Decimal("0.1")) for _ in range(10)])
    backend.apply([Sample(spend, ("b",), 0.2)])
    assert backend.exact("llm_spend_usd_total", model="a") == Decimal("1.0")
    assert backend.value("llm_spend_usd_total", model="a") == 1.0
    assert backend.exact_sum("llm_spend_usd_total") == Decimal("1.2")
    assert backend.value("llm_spend_usd_total", model="missing") == 0.0


def test_sum_matches_partial_labels(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, plan = backend_and_plan
    requests = plan.metrics["requests"]
    backend.apply([
        Sample(requests, ("a", "success", ""), 1),
        Sample(requests, ("a", "failure", "timeout"), 1),
        Sample(requests, ("b", "success", ""), 1),
        Sample(requests, ("b", "success", ""), 1),
    ])  # fmt: skip
    assert backend.sum("llm_requests_total") == 4.0
    assert backend.sum("llm_requests_total", status="success") == 3.0
    assert backend.sum("llm_requests_total", model="a", status="failure") == 1.0
    assert backend.series("llm_requests_total") == [
        {"model": "a", "status": "failure", "error_type": "timeout"},
        {"model": "a", "status": "success", "error_type": ""},
        {"model": "b", "status": "success", "error_type": ""},
    ]


def test_gauges_set_and_remove(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, plan = backend_and_plan
    limit = plan.metrics["budget_limit"]
    labels = ("team", "t1", "")
    backend.apply([Sample(limit, labels, Decimal("10"))])
    backend.apply([Sample(limit, labels, Decimal("-2.5"))])
    assert backend.exact("llm_budget_limit_usd", scope="team", subject="t1", alias="") == Decimal(
        "-2.5"
    )
    backend.apply([Sample(limit, labels, None)])
    assert backend.series("llm_budget_limit_usd") == []


def test_histogram_buckets_are_cumulative(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, plan = backend_and_plan
    duration = plan.metrics["request_duration"]
    backend.apply([Sample(duration, ("a",), v) for v in (0.005, 0.01, 0.03, 1000.0)])
    backend.apply([Sample(duration, ("b",), 0.5)])
    only_a = backend.histogram("llm_request_duration_seconds", model="a")
    assert only_a.count == 4
    assert only_a.sum == Decimal("1000.045")
    assert only_a.buckets[:3] == ((0.01, 2), (0.02, 2), (0.04, 3))
    assert only_a.buckets[-2:] == ((327.68, 3), (float("inf"), 4))
    both = backend.histogram("llm_request_duration_seconds")
    assert (both.count, both.sum) == (5, Decimal("1000.545"))


def test_typos_fail_loudly(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, _ = backend_and_plan
    with pytest.raises(KeyError, match="no metric 'llm_request_total'; known: "):
        backend.sum("llm_request_total")
    with pytest.raises(ValueError, match="has no label team; its labels: model, status"):
        backend.sum("llm_requests_total", team="x")
    with pytest.raises(ValueError, match="also give error_type, status"):
        backend.value("llm_requests_total", model="a")
    with pytest.raises(ValueError, match="is a counter, not a histogram"):
        backend.histogram("llm_requests_total")
    with pytest.raises(ValueError, match="is a histogram: use histogram"):
        backend.sum("llm_request_duration_seconds")
    with pytest.raises(ValueError, match="is a histogram: use histogram"):
        backend.value("llm_request_duration_seconds", model="a")


def test_snapshot_is_an_immutable_sorted_copy(backend_and_plan: tuple[MemoryBackend, Plan]) -> None:
    backend, plan = backend_and_plan
    backend.apply([
        Sample(plan.metrics["tokens"], ("m", "output"), 5),
        Sample(plan.metrics["tokens"], ("m", "input"), 7),
        Sample(plan.metrics["request_duration"], ("m",), 0.015),
    ])  # fmt: skip
    snapshot = backend.snapshot()
    backend.apply([Sample(plan.metrics["tokens"], ("m", "input"), 1)])
    as_dict = snapshot.as_dict()
    assert as_dict[("llm_tokens_total", (("model", "m"), ("token_type", "input")))] == 7
    assert as_dict[("llm_tokens_total", (("model", "m"), ("token_type", "output")))] == 5
    histogram = as_dict[("llm_request_duration_seconds", (("model", "m"),))]
    assert isinstance(histogram, HistogramValue)
    assert (histogram.count, histogram.sum, histogram.buckets[1]) == (
        1,
        Decimal("0.015"),
        (0.02, 1),
    )
    assert [s.name for s in snapshot.series] == [
        "llm_request_duration_seconds", "llm_tokens_total", "llm_tokens_total",
    ]  # fmt: skip
