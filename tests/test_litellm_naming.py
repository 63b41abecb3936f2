"""``naming = "litellm"``: LiteLLM's family names, label names and split, from the
naming table (``core/litellm_names.py``), on both paths and every backend.

The comparison with LiteLLM's own logger on real events is
``tests/integration/test_litellm_naming_diff.py``; here: the table's own rules, exact
values through a pipeline, and the label rules for the new labels."""

from __future__ import annotations

import copy
import json
import math
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import LabelSettings, Settings
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.core.catalog import NAMINGS, build_catalog
from gatewaymetrics.core.labels import CALL_LABELS
from gatewaymetrics.core.litellm_names import LITELLM, LITELLM_BUCKETS, LITELLM_SOURCES
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Principal,
    Status,
    TokenUsage,
)
from gatewaymetrics.testing import memory_pipeline

KEY = "5" * 64  # a fingerprint


def _event(**fields: object) -> CallEvent:
    budgets = fields.pop("budgets", ())
    call = CallRecord(
        provider="openai",
        requested_model="gpt-4o",
        model="gpt-4o-2024-08-06",
        principal=Principal(api_key=KEY, api_key_alias="search", team_id="t1", team_alias="Team"),
        **fields,  # type: ignore[arg-type]
    )
    return CallEvent(call=call, budgets=budgets)  # type: ignore[arg-type]


def test_the_table_names_only_litellm_labels_and_known_sources() -> None:
    catalog = build_catalog(naming="litellm")
    names = []
    for key, exports in LITELLM.exports.items():
        spec = catalog[key]
        own = set(spec.labels) | {"subject", "alias"}
        for export in exports:
            names.append(export.name)
            for label, source in export.labels:
                assert label in LITELLM_SOURCES, (export.name, label)
                assert source == "" or source in CALL_LABELS or source in own, (label, source)
            for label, _ in export.when:
                assert label in spec.labels, (export.name, label)
    assert len(names) == len(set(names))
    assert len(names) == 46
    assert NAMINGS["litellm"] is LITELLM


def test_litellm_histograms_have_litellm_buckets() -> None:
    plan = Plan.build(Settings(naming="litellm"))
    exported = {metric.name: metric for metric in plan.exported}
    assert exported["litellm_request_total_latency_metric"].spec.buckets == LITELLM_BUCKETS
    assert LITELLM_BUCKETS[0] == 0.005
    assert LITELLM_BUCKETS[-1] == 600.0
    # configured bounds still win
    plan = Plan.build(Settings(naming="litellm", duration_buckets=(1, 2)))
    exported = {metric.name: metric for metric in plan.exported}
    assert exported["litellm_llm_api_latency_metric"].spec.buckets == (1.0, 2.0)


def test_one_success_feeds_litellms_families_exactly() -> None:
    recorder = memory_pipeline(Settings(naming="litellm"))
    recorder.pipeline.record(
        _event(
            status=Status.SUCCESS,
            tokens=TokenUsage(input=12, output=30),
            cost_usd=Decimal("0.25"),
            started_at=100.0,
            ended_at=101.5,
            budgets=(
                BudgetSnapshot(
                    scope=BudgetScope.TEAM, subject="t1", alias="Team",
                    limit_usd=Decimal("10"), spend_usd=Decimal("2.5"),
                ),
                BudgetSnapshot(scope=BudgetScope.USER, subject="alice", spend_usd=Decimal("1")),
            ),
        )
    )  # fmt: skip
    memory = recorder.backend
    who = {"hashed_api_key": KEY, "api_key_alias": "search", "team": "t1", "team_alias": "Team"}
    assert memory.series("litellm_input_tokens_metric") == [
        {**who, "model": "gpt-4o-2024-08-06", "user": "", "requested_model": "gpt-4o",
         "model_id": "", "api_provider": "openai", "org_id": "", "org_alias": ""}
    ]  # fmt: skip
    assert memory.sum("litellm_input_tokens_metric") == 12
    assert memory.sum("litellm_output_tokens_metric") == 30
    assert memory.sum("litellm_total_tokens_metric") == 42
    assert memory.exact_sum("litellm_spend_metric") == Decimal("0.25")
    assert memory.sum("litellm_proxy_total_requests_metric", status_code="200") == 1
    assert memory.sum("litellm_requests_metric") == 1
    assert memory.sum("litellm_deployment_success_responses", model_group="gpt-4o") == 1
    assert memory.sum("litellm_deployment_total_requests") == 1
    assert memory.series("litellm_proxy_failed_requests_metric") == []
    assert memory.series("litellm_deployment_failure_responses") == []
    histogram = memory.histogram("litellm_request_total_latency_metric", model_group="gpt-4o")
    assert histogram.count == 1
    assert histogram.sum == 1.5
    # one family per budget scope, with LiteLLM's label names
    assert memory.value("litellm_remaining_team_budget_metric", team="t1", team_alias="Team") == 7.5
    assert memory.value("litellm_team_max_budget_metric", team="t1", team_alias="Team") == 10.0
    assert memory.series("litellm_remaining_team_budget_metric") == [
        {"team": "t1", "team_alias": "Team"}
    ]
    # an unlimited budget has no limit or remaining series (LiteLLM: +Inf)
    assert memory.series("litellm_remaining_user_budget_metric") == []
    assert memory.series("litellm_user_max_budget_metric") == []
    assert memory.sum("llm_budget_spend_usd", scope="user", subject="alice") == 1.0
    # end_user and user_email are withheld unless opted in
    assert "end_user" not in memory.metric("litellm_input_tokens_metric").label_names
    assert "user_email" not in memory.metric("litellm_input_tokens_metric").label_names


def test_a_failure_carries_status_code_and_exception_class() -> None:
    recorder = memory_pipeline(Settings(naming="litellm"))
    error = ErrorInfo(
        category=ErrorCategory.RATE_LIMITED, status_code=429, exception_type="RateLimitError"
    )
    recorder.pipeline.record(_event(status=Status.FAILURE, error=error))
    memory = recorder.backend
    assert memory.sum("litellm_proxy_total_requests_metric", status_code="429") == 1
    assert (
        memory.sum(
            "litellm_proxy_failed_requests_metric",
            exception_status="429",
            exception_class="RateLimitError",
        )
        == 1
    )
    assert memory.sum("litellm_llm_api_failed_requests_metric") == 1
    assert memory.sum("litellm_deployment_failure_responses", exception_status="429") == 1
    assert memory.series("litellm_requests_metric") == []
    assert memory.series("litellm_deployment_success_responses") == []


def test_native_status_code_and_exception_class_are_opt_in() -> None:
    plain = memory_pipeline()
    assert "status_code" not in plain.backend.metric("llm_requests_total").label_names
    opted = memory_pipeline(
        Settings(labels=LabelSettings(include={"requests": ("status_code", "exception_class")}))
    )
    error = ErrorInfo(category=ErrorCategory.TIMEOUT, status_code=408, exception_type="Timeout")
    opted.pipeline.record(_event(status=Status.FAILURE, error=error))
    opted.pipeline.record(_event(status=Status.SUCCESS))
    memory = opted.backend
    assert memory.sum("llm_requests_total", status_code="408", exception_class="Timeout") == 1
    assert memory.sum("llm_requests_total", status_code="200", exception_class="") == 1
    assert "status_code" not in memory.metric("llm_tokens_total").label_names


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@given(exception_type=_TEXT, status=st.one_of(st.none(), st.integers(0, 2**63 - 1)))
def test_new_labels_follow_the_label_rules(exception_type: str, status: int | None) -> None:
    """For all exception class names and status codes: values are cut to the cap and
    free of control characters, as every label value is."""
    cap = 16
    settings = Settings(naming="litellm", labels=LabelSettings(max_value_length=cap))
    recorder = memory_pipeline(settings)
    error = ErrorInfo(
        category=ErrorCategory.OTHER, status_code=status, exception_type=exception_type
    )
    recorder.pipeline.record(_event(status=Status.FAILURE, error=error))
    (labels,) = recorder.backend.series("litellm_proxy_failed_requests_metric")
    for name in ("exception_class", "exception_status"):
        value = labels[name]
        assert len(value) <= cap
        assert all(unicodedata.category(ch) not in {"Cc", "Cs", "Zl", "Zp"} for ch in value)
    expected_class = exception_type[:cap]
    assert labels["exception_class"] == "".join(
        ch for ch in expected_class if unicodedata.category(ch) not in {"Cc", "Cs", "Zl", "Zp"}
    )
    assert labels["exception_status"] == ("" if status is None else str(status)[:cap])


@given(secret=st.from_regex(r"sk-[A-Za-z0-9]{20,40}", fullmatch=True))
def test_a_raw_key_never_becomes_hashed_api_key(secret: str) -> None:
    from gatewaymetrics.core.secrets import fingerprint

    recorder = memory_pipeline(Settings(naming="litellm"))
    call = CallRecord(status=Status.SUCCESS, principal=Principal(api_key=fingerprint(secret)))
    recorder.pipeline.record(CallEvent(call=call))
    snapshot = repr(recorder.backend.snapshot())
    assert secret not in snapshot
    (labels,) = recorder.backend.series("litellm_proxy_total_requests_metric")
    assert labels["hashed_api_key"] == fingerprint(secret)
    assert not math.isnan(recorder.backend.sum("litellm_proxy_total_requests_metric"))


# -- from LiteLLM's payloads ---------------------------------------------------------------

_EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"


def _captured_success() -> dict[str, Any]:
    with _EXAMPLES.open(encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)
            slo = data["kwargs"].get("standard_logging_object") or {}
            if data["hook"] == "log_success_event" and slo.get("response_cost"):
                return dict(data)
    raise AssertionError("no priced success in the captured payloads")


def _record_twice(settings: Settings, change: Callable[[dict[str, Any]], None]) -> MemoryBackend:
    """The captured payload, changed, recorded twice (the second may take the fast path)."""
    recorder = memory_pipeline(settings)
    for _ in range(2):
        data = copy.deepcopy(_captured_success())
        change(data["kwargs"])
        recorder.pipeline.record_litellm(
            data["kwargs"], data["response_obj"], data["start_time"], data["end_time"]
        )
    return recorder.backend


def test_a_zero_cost_diagnosis_is_an_unpriced_call_with_its_reason() -> None:
    def diagnosed(kwargs: dict[str, Any]) -> None:
        kwargs["standard_logging_object"]["response_cost"] = 0.0
        kwargs["standard_logging_object"]["zero_cost_diagnostic"] = {
            "reason": "missing_pricing_key",
            "detail": "sk-never-a-label",
        }

    memory = _record_twice(Settings(), diagnosed)
    assert memory.sum("llm_unpriced_requests_total", reason="missing_pricing_key") == 2
    assert memory.series("llm_spend_usd_total") == []
    assert "sk-never-a-label" not in repr(memory.snapshot())
    named = _record_twice(Settings(naming="litellm"), diagnosed)
    assert named.sum("litellm_zero_cost_requests", reason="missing_pricing_key") == 2


def test_an_unknown_cost_without_a_diagnosis_has_its_reason() -> None:
    def failed(kwargs: dict[str, Any]) -> None:
        kwargs["standard_logging_object"]["response_cost"] = 0.0
        kwargs["standard_logging_object"]["response_cost_failure_debug_info"] = {"error": "x"}

    memory = _record_twice(Settings(), failed)
    assert memory.sum("llm_unpriced_requests_total", reason="cost_calculation_error") == 2

    def missing(kwargs: dict[str, Any]) -> None:
        kwargs["standard_logging_object"]["response_cost"] = None
        kwargs.pop("response_cost", None)

    memory = _record_twice(Settings(), missing)
    assert memory.sum("llm_unpriced_requests_total", reason="no_cost_reported") == 2


def test_cache_misses_and_the_tokens_a_cache_hit_served() -> None:
    def missed(kwargs: dict[str, Any]) -> None:
        kwargs["standard_logging_object"]["cache_hit"] = False

    memory = _record_twice(Settings(), missed)
    assert memory.sum("llm_cache_misses_total") == 2
    assert memory.series("llm_cache_hits_total") == []

    def hit(kwargs: dict[str, Any]) -> None:
        kwargs["standard_logging_object"]["cache_hit"] = True

    memory = _record_twice(Settings(), hit)
    tokens = memory.sum("llm_tokens_total")
    assert tokens > 0
    assert memory.sum("llm_cache_hits_total") == 2
    assert memory.sum("llm_cache_hit_tokens_total") == tokens
    assert memory.series("llm_cache_misses_total") == []
