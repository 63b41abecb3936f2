"""The scrape budget (issue 12, point 9): at the default limits the exposition stays
within a fixed number of lines and bytes, whatever the callers; each series' byte
charge bounds what it really renders; the at-cap exposition passes promtool."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from gatewaymetrics import (
    CallEvent,
    LabelSettings,
    Pipeline,
    Settings,
)
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Sample
from gatewaymetrics.series_guard import (
    SCRAPE_BYTES,
    SCRAPE_LINES,
    SeriesGuard,
    scrape_budget,
    series_bytes,
    series_lines,
)
from tests.promtools import promtool_check


def _scrape_benchmark() -> ModuleType:
    """benchmarks/scrape.py, whose ``full_call`` the budget is measured with: the test
    fills the budget with the same calls the benchmark times."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "scrape.py"
    spec = importlib.util.spec_from_file_location("scrape_benchmark", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BENCHMARK = _scrape_benchmark()
full_call: Callable[..., CallEvent] = _BENCHMARK.full_call


def at_the_cap(
    width: int = 0, calls: int = 400, naming: str = "native"
) -> tuple[Pipeline, PrometheusBackend]:
    """The pipeline users run (config-built, default settings), past its budget."""
    pipeline_with: Callable[[int, int, str], tuple[Pipeline, PrometheusBackend]]
    pipeline_with = _BENCHMARK.pipeline_with
    return pipeline_with(calls, width, naming)


def test_the_default_budget() -> None:
    assert scrape_budget(Settings().series_cap) == (12_000, 8_000_000)
    assert scrape_budget(5) == (SCRAPE_LINES, SCRAPE_BYTES)  # small caps: the default
    assert scrape_budget(20_000) == (24_000, 16_000_000)  # above it: in proportion


def test_a_scrape_at_the_default_cap_stays_within_the_budget() -> None:
    pipeline, backend = at_the_cap()
    body, _ = backend.exposition()
    # 400 identities asked; the budget admitted what fits: every further one folded.
    assert body.count(b"\n") == 12_205
    assert len(body) <= 10_000_000
    openmetrics, _ = backend.exposition("application/openmetrics-text")
    assert openmetrics.count(b"\n") == 12_201
    assert len(openmetrics) <= 10_000_000
    overflow = b'gatewaymetrics_series_overflow_total{metric="llm_requests_total"} '
    assert overflow in body
    pipeline.close()


def test_under_litellm_names_a_series_costs_the_families_it_feeds() -> None:
    """One request feeds up to seven of LiteLLM's families: the budget charges them all,
    so a scrape at the cap stays within it under either naming."""
    pipeline, backend = at_the_cap(naming="litellm")
    body, _ = backend.exposition()
    lines = body.count(b"\n")
    assert SCRAPE_LINES - 1_000 < lines <= SCRAPE_LINES + 1_000  # + headers, self, _other
    assert len(body) <= 10_000_000
    assert b"litellm_proxy_total_requests_metric_total{" in body
    pipeline.close()


def test_long_label_values_meet_the_byte_budget_first() -> None:
    pipeline, backend = at_the_cap(width=128)
    body, _ = backend.exposition()
    assert body.count(b"\n") == 7_267
    assert len(body) <= SCRAPE_BYTES + 200_000  # + headers, self-metrics, _other series
    pipeline.close()


def test_the_exposition_at_the_cap_passes_promtool() -> None:
    pipeline, backend = at_the_cap()
    body, _ = backend.exposition()
    result = promtool_check(body)
    assert result.returncode == 0, result.stdout + result.stderr
    pipeline.close()


PLAN = Plan.build(Settings(labels=LabelSettings(opt_in=("end_user",))))


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(sorted(k for k, m in PLAN.metrics.items() if not m.spec.self_metric)),
    values=st.lists(st.text(max_size=40), min_size=20, max_size=20),
    value=st.floats(min_value=-1e308, max_value=1e308, allow_nan=False),
    openmetrics=st.booleans(),
)
def test_a_series_charge_bounds_its_rendered_bytes(
    key: str, values: list[str], value: float, openmetrics: bool
) -> None:
    metric = PLAN.metrics[key]
    labels = PLAN.render(tuple(values[: len(metric.label_names)]))
    registry = CollectorRegistry()
    backend = PrometheusBackend(registry=registry, multiprocess=False)
    backend.declare(list(PLAN.metrics.values()))
    if metric.kind is MetricKind.COUNTER:
        value = abs(value)
    elif metric.kind is MetricKind.HISTOGRAM:
        value = min(abs(value), 1e30)
    # One series first, so the family's header lines are there before ours.
    backend.apply([Sample(metric, ("a",) * len(labels), 1.0)])
    empty = (generate_openmetrics if openmetrics else generate_latest)(registry)
    backend.apply([Sample(metric, labels, value)])
    body = (generate_openmetrics if openmetrics else generate_latest)(registry)
    added = len(body) - len(empty)
    assert body.count(b"\n") - empty.count(b"\n") == series_lines(metric)
    assert added <= series_bytes(metric, labels)


@pytest.mark.parametrize(("width", "expected"), [(10, 600), (100, 394)])
def test_the_budget_folds_what_is_beyond_it(width: int, expected: int) -> None:
    plan = Plan.build(Settings())
    guard = SeriesGuard(plan, 10_000)
    duration = plan.metrics["request_duration"]
    labels = tuple("x" * width for _ in duration.label_names)
    per_series = series_lines(duration)
    assert per_series == 20  # 16 buckets, +Inf, _count, _sum, _created
    admitted = 0
    for index in range(1000):
        out = guard.admit([Sample(duration, (*labels[:-1], f"{index:03}"), 1.0)])
        if out[0].labels[0] != "_other":
            admitted += 1
    fits_lines = SCRAPE_LINES // per_series  # short values: the line budget binds
    fits_bytes = SCRAPE_BYTES // series_bytes(duration, (*labels[:-1], "999"))  # long: bytes
    assert admitted == min(fits_lines, fits_bytes) == expected
    assert guard.lines == expected * 20
