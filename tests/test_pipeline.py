from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    LabelSettings,
    Metric,
    Pipeline,
    Problem,
    Sample,
    Settings,
    TokenUsage,
)
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.testing import call_event, memory_pipeline
from tests.core.test_litellm_payload import slo_kwargs
from tests.strategies import call_events

ONLY_MODEL = Settings(labels=LabelSettings(identity=("model",)))


class Exploding:
    """A backend that fails on every call."""

    name = "exploding"

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        raise RuntimeError("disk full")

    def close(self) -> None:
        raise RuntimeError("still full")


def test_one_failing_backend_never_stops_the_others() -> None:
    good = MemoryBackend()
    pipeline = Pipeline([Exploding(), good], ONLY_MODEL)
    pipeline.record(call_event(model="m"))
    pipeline.record(call_event(model="m"))
    assert good.sum("llm_requests_total", model="m") == 2.0
    assert good.value("gatewaymetrics_backend_errors_total", backend="exploding") == 2.0
    pipeline.close()  # the exploding close is logged, not raised


def test_garbage_never_raises_and_is_counted() -> None:
    recorder = memory_pipeline()
    recorder.pipeline.record("not an event")  # type: ignore[arg-type]
    recorder.pipeline.record_litellm(None)
    backend = recorder.backend
    assert backend.value("gatewaymetrics_events_dropped_total", reason="internal_error") == 1.0
    assert backend.sum("llm_requests_total") == 1.0  # the None payload is a bare call
    assert backend.value("gatewaymetrics_input_problems_total", field="kwargs") == 1.0


def test_events_after_close_are_dropped_and_counted() -> None:
    recorder = memory_pipeline(ONLY_MODEL)
    recorder.pipeline.close()
    recorder.pipeline.record(call_event(model="m"))
    assert recorder.backend.sum("llm_requests_total") == 0.0
    assert recorder.backend.value("gatewaymetrics_events_dropped_total", reason="closed") == 1.0


def test_series_cap_folds_counters_into_other_and_drops_gauges() -> None:
    recorder = memory_pipeline(Settings(labels=LabelSettings(identity=("model",)), series_cap=2))
    for model in ["a", "b", "c", "d", "a", "e"]:
        recorder.pipeline.record(call_event(model=model, tokens=TokenUsage(input=1)))
    backend = recorder.backend
    assert backend.series("llm_requests_total") == [
        {"model": "_other", "status": "_other", "error_type": "_other"},
        {"model": "a", "status": "success", "error_type": ""},
        {"model": "b", "status": "success", "error_type": ""},
    ]
    assert backend.value("llm_requests_total", model="a", status="success", error_type="") == 2.0
    assert backend.sum("llm_requests_total") == 6.0  # nothing lost
    assert backend.sum("llm_tokens_total") == 6.0
    overflow = "gatewaymetrics_series_overflow_total"
    assert backend.value(overflow, metric="llm_requests_total") == 3.0
    for subject in ["t1", "t2", "t3"]:
        budget = BudgetSnapshot(scope=BudgetScope.TEAM, subject=subject, spend_usd=Decimal(1))
        recorder.pipeline.record(CallEvent(call=CallRecord(model="a"), budgets=(budget,)))
    assert [s["subject"] for s in backend.series("llm_budget_spend_usd")] == ["t1", "t2"]
    assert backend.value(overflow, metric="llm_budget_spend_usd") == 1.0


def _budget_event(spend: str, limit: str | None = "10", reset_at: float | None = None) -> CallEvent:
    snapshot = BudgetSnapshot(
        scope=BudgetScope.API_KEY,
        subject="k",
        alias="ci",
        limit_usd=None if limit is None else Decimal(limit),
        spend_usd=Decimal(spend),
        reset_at=reset_at,
    )
    return CallEvent(call=CallRecord(), budgets=(snapshot,))


def test_late_budget_events_never_move_the_gauge_backwards() -> None:
    recorder = memory_pipeline(ONLY_MODEL)
    labels = {"scope": "api_key", "subject": "k", "alias": "ci"}
    for spend in ["1", "3", "2"]:  # "2" arrives late
        recorder.pipeline.record(_budget_event(spend))
    backend = recorder.backend
    assert backend.exact("llm_budget_spend_usd", **labels) == Decimal("3")
    assert backend.exact("llm_budget_remaining_usd", **labels) == Decimal("7")
    recorder.pipeline.record(_budget_event("0.5", reset_at=2e9))  # a new period
    assert backend.exact("llm_budget_spend_usd", **labels) == Decimal("0.5")


def test_unlimited_budget_has_no_limit_or_remaining_series() -> None:
    recorder = memory_pipeline(ONLY_MODEL)
    recorder.pipeline.record(_budget_event("1"))
    recorder.pipeline.record(_budget_event("2", limit=None))  # the limit was lifted
    backend = recorder.backend
    assert backend.series("llm_budget_limit_usd") == []
    assert backend.series("llm_budget_remaining_usd") == []
    assert backend.sum("llm_budget_spend_usd") == 2.0


def test_problems_are_counted_by_field() -> None:
    recorder = memory_pipeline(ONLY_MODEL)
    problem = Problem(field="cost_usd", message="not finite; unknown")
    recorder.pipeline.record(CallEvent(call=CallRecord(), problems=(problem, problem)))
    assert recorder.backend.value("gatewaymetrics_input_problems_total", field="cost_usd") == 2.0


def test_record_litellm_end_to_end() -> None:
    recorder = memory_pipeline(
        Settings(labels=LabelSettings(identity=("requested_model", "team"),
                                      custom={"app": "requester_metadata.app"}))
    )  # fmt: skip
    recorder.pipeline.record_litellm(slo_kwargs())
    backend = recorder.backend
    labels = {"requested_model": "fast", "team": "team-a", "app": "chatbot"}
    assert backend.value("llm_requests_total", status="success", error_type="", **labels) == 1.0
    assert backend.value("llm_tokens_total", token_type="input", **labels) == 10.0
    assert backend.exact("llm_spend_usd_total", **labels) == Decimal("0.0000135")
    assert backend.histogram("llm_request_duration_seconds", **labels).sum == Decimal("2.0")
    assert (
        backend.value("llm_budget_spend_usd", scope="team", subject="team-a", alias="Team A")
        == 3.5000135
    )


@settings(max_examples=25)
@given(st.lists(call_events, min_size=1, max_size=60))
def test_many_threads_lose_nothing(events: list[CallEvent]) -> None:
    recorder = memory_pipeline(Settings(series_cap=5))
    chunks = [events[i::8] for i in range(8)]
    barrier = threading.Barrier(8)

    def work(chunk: list[CallEvent]) -> None:
        barrier.wait()
        for event in chunk:
            recorder.pipeline.record(event)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend = recorder.backend
    assert backend.exact_sum("llm_requests_total") == len(events)
    known = [e.call.cost_usd for e in events if e.call.cost_usd is not None]
    assert backend.exact_sum("llm_spend_usd_total") == sum(known, Decimal(0))
    assert backend.exact_sum("llm_tokens_total") == sum(e.call.tokens.total for e in events)
    assert backend.sum("gatewaymetrics_events_dropped_total") == 0.0


def _renamed(spend: str, alias: str, limit: str | None = "10") -> CallEvent:
    snapshot = BudgetSnapshot(
        scope=BudgetScope.API_KEY,
        subject="k",
        alias=alias,
        limit_usd=None if limit is None else Decimal(limit),
        spend_usd=Decimal(spend),
    )
    return CallEvent(call=CallRecord(), budgets=(snapshot,))


BUDGET_GAUGES = ("llm_budget_limit_usd", "llm_budget_spend_usd", "llm_budget_remaining_usd")


def test_a_renamed_alias_leaves_one_series_per_budget_memory() -> None:
    recorder = memory_pipeline(ONLY_MODEL)
    pipeline, backend = recorder.pipeline, recorder.backend
    pipeline.record(_renamed("1", alias="ci"))
    pipeline.record(_renamed("2", alias="ci-2"))  # the key's alias was renamed
    pipeline.record(_renamed("1.5", alias="ci"))  # a late event: changes nothing
    renamed = [{"scope": "api_key", "subject": "k", "alias": "ci-2"}]
    for name in BUDGET_GAUGES:
        assert backend.series(name) == renamed
    assert backend.exact("llm_budget_remaining_usd", **renamed[0]) == Decimal(8)
    pipeline.record(_renamed("3", alias="ci-3", limit=None))  # renamed and unlimited
    assert backend.series("llm_budget_spend_usd") == [{**renamed[0], "alias": "ci-3"}]
    assert backend.series("llm_budget_limit_usd") == []
    assert backend.series("llm_budget_remaining_usd") == []


def test_a_renamed_alias_leaves_one_series_per_budget_prometheus() -> None:
    registry = CollectorRegistry()
    pipeline = Pipeline([PrometheusBackend(registry=registry, multiprocess=False)], ONLY_MODEL)
    pipeline.record(_renamed("1", alias="ci"))
    pipeline.record(_renamed("2", alias="ci-2"))
    text = generate_latest(registry).decode()
    budget_lines = [line for line in text.splitlines() if line.startswith("llm_budget_")]
    assert budget_lines == [
        'llm_budget_limit_usd{alias="ci-2",scope="api_key",subject="k"} 10.0',
        'llm_budget_spend_usd{alias="ci-2",scope="api_key",subject="k"} 2.0',
        'llm_budget_remaining_usd{alias="ci-2",scope="api_key",subject="k"} 8.0',
    ]


def test_an_alias_rendered_alike_is_not_a_rename() -> None:
    """Aliases cut to the same label value are one series: nothing is removed."""
    recorder = memory_pipeline(Settings(labels=LabelSettings(identity=("model",),
                                                             max_value_length=4)))  # fmt: skip
    recorder.pipeline.record(_renamed("1", alias="ci-1x"))
    recorder.pipeline.record(_renamed("2", alias="ci-1y"))
    labels = {"scope": "api_", "subject": "k", "alias": "ci-1"}
    assert recorder.backend.series("llm_budget_spend_usd") == [labels]
    assert recorder.backend.value("llm_budget_spend_usd", **labels) == 2.0


def test_a_gauge_without_the_alias_label_keeps_its_series_on_a_rename() -> None:
    recorder = memory_pipeline(
        Settings(labels=LabelSettings(identity=("model",), exclude={"budget_spend": ("alias",)}))
    )
    recorder.pipeline.record(_renamed("1", alias="a"))
    recorder.pipeline.record(_renamed("2", alias="b"))
    backend = recorder.backend
    assert backend.series("llm_budget_limit_usd") == [{"scope": "api_key", "subject": "k",
                                                        "alias": "b"}]  # fmt: skip
    assert backend.series("llm_budget_spend_usd") == [{"scope": "api_key", "subject": "k"}]
    assert backend.value("llm_budget_spend_usd", scope="api_key", subject="k") == 2.0
