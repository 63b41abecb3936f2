from __future__ import annotations

from decimal import Decimal

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    LabelSettings,
    Principal,
    Problem,
    Settings,
    Status,
    TokenUsage,
    fingerprint,
)
from gatewaymetrics.core.measure import measure_call, measure_problems, measure_snapshot
from gatewaymetrics.core.plan import Plan

KEY = fingerprint("sk-1")
assert KEY is not None


def _call(**fields: object) -> CallRecord:
    base: dict[str, object] = {
        "provider": "openai",
        "requested_model": "gpt-4o",
        "model": "gpt-4o-2024-08-06",
        "principal": Principal(api_key=KEY, team_id="t1", team_alias="Team One", user_id="u1"),
        "tokens": TokenUsage(input=10, output=4, cached_input=2, reasoning=1),
        "cost_usd": Decimal("0.0123"),
        "started_at": 100.0,
        "ended_at": 101.5,
        "first_token_at": 100.5,
        "upstream_started_at": 100.25,
        "stream": True,
    }
    base.update(fields)
    return CallRecord(**base)  # type: ignore[arg-type]


IDENTITY = ("openai", "gpt-4o", "gpt-4o-2024-08-06", "other", "t1", "Team One", KEY, "", "u1")


def _rows(samples: list) -> list[tuple[str, tuple[str, ...], object]]:  # type: ignore[type-arg]
    return [(s.metric.name, s.labels, s.value) for s in samples]


def test_measure_call_default_labels_exact() -> None:
    plan = Plan.build(Settings())
    assert _rows(measure_call(_call(), plan)) == [
        ("llm_requests_total", (*IDENTITY, "success", ""), 1),
        ("llm_tokens_total", (*IDENTITY, "input"), 10),
        ("llm_tokens_total", (*IDENTITY, "output"), 4),
        ("llm_cached_input_tokens_total", IDENTITY, 2),
        ("llm_reasoning_tokens_total", IDENTITY, 1),
        ("llm_spend_usd_total", IDENTITY, Decimal("0.0123")),
        ("llm_request_duration_seconds", IDENTITY, 1.5),
        ("llm_upstream_duration_seconds", IDENTITY, 1.25),
        ("llm_time_to_first_token_seconds", IDENTITY, 0.5),
        ("llm_time_per_output_token_seconds", IDENTITY, 1.0 / 3),
    ]


def test_failure_unpriced_cache_hit_and_rate_limits() -> None:
    plan = Plan.build(Settings())
    call = _call(
        status=Status.FAILURE,
        error=ErrorInfo(category=ErrorCategory.RATE_LIMITED, status_code=429),
        tokens=TokenUsage(),
        cost_usd=None,
        stream=False,
        cache_hit=True,
        ratelimit_remaining_requests=0,
        ratelimit_remaining_tokens=900,
        started_at=None,
        upstream_started_at=None,
    )
    assert _rows(measure_call(call, plan)) == [
        ("llm_requests_total", (*IDENTITY, "failure", "rate_limited"), 1),
        ("llm_cache_hits_total", IDENTITY, 1),
        ("llm_ratelimit_remaining_requests", ("openai", "gpt-4o", "gpt-4o-2024-08-06"), 0),
        ("llm_ratelimit_remaining_tokens", ("openai", "gpt-4o", "gpt-4o-2024-08-06"), 900),
    ]


def test_success_with_unknown_cost_counts_as_unpriced() -> None:
    plan = Plan.build(Settings(labels=LabelSettings(identity=("model",))))
    rows = _rows(measure_call(_call(cost_usd=None, tokens=TokenUsage(), stream=False,
                                    started_at=None, upstream_started_at=None), plan))  # fmt: skip
    assert rows == [
        ("llm_requests_total", ("gpt-4o-2024-08-06", "success", ""), 1),
        ("llm_unpriced_requests_total", ("gpt-4o-2024-08-06", "no_cost_reported"), 1),
    ]
    diagnosed = _call(cost_usd=None, unpriced_reason="missing_pricing_key\n" + "x" * 300)
    rows = _rows(measure_call(diagnosed, plan))
    assert (
        "llm_unpriced_requests_total",
        ("gpt-4o-2024-08-06", "missing_pricing_key" + "x" * 108),
        1,
    ) in rows


def test_label_options_shape_each_metric() -> None:
    settings = Settings(
        labels=LabelSettings(
            identity=("model", "api_key"),
            opt_in=("stream",),
            custom={"app": "requester_metadata.app"},
            include={"requests": ["end_user"]},
            exclude={"requests": ["error_type", "stream"], "tokens": ["model"]},
            api_key="alias",
        )
    )
    plan = Plan.build(settings)
    assert plan.metrics["requests"].label_names == ("model", "api_key", "app", "end_user", "status")
    assert plan.metrics["tokens"].label_names == ("api_key", "stream", "app", "token_type")
    assert plan.metrics["budget_spend"].label_names == ("scope", "subject", "alias")
    call = _call(
        principal=Principal(api_key=KEY, api_key_alias="ci-key", end_user="eu\n1"),
        extra_labels=(("app", "chatbot"),),
        tokens=TokenUsage(input=3),
    )
    samples = measure_call(call, plan)
    assert _rows(samples[:2]) == [
        ("llm_requests_total", ("gpt-4o-2024-08-06", "ci-key", "chatbot", "eu1", "success"), 1),
        ("llm_tokens_total", ("ci-key", "true", "chatbot", "input"), 3),
    ]


def test_api_key_alias_mode_falls_back_to_the_fingerprint() -> None:
    plan = Plan.build(Settings(labels=LabelSettings(identity=("api_key",), api_key="alias")))
    assert measure_call(_call(), plan)[0].labels == (KEY, "success", "")


def test_unlimited_budget_removes_limit_and_remaining() -> None:
    plan = Plan.build(Settings())
    limited = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias="Team One",
                             limit_usd=Decimal("50"), spend_usd=Decimal("3.5"))  # fmt: skip
    labels = ("team", "t1", "Team One")
    assert _rows(measure_snapshot(limited, plan)) == [
        ("llm_budget_limit_usd", labels, Decimal("50")),
        ("llm_budget_spend_usd", labels, Decimal("3.5")),
        ("llm_budget_remaining_usd", labels, Decimal("46.5")),
    ]
    unlimited = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias="Team One",
                               spend_usd=Decimal("3.5"))  # fmt: skip
    assert _rows(measure_snapshot(unlimited, plan)) == [
        ("llm_budget_limit_usd", labels, None),
        ("llm_budget_spend_usd", labels, Decimal("3.5")),
        ("llm_budget_remaining_usd", labels, None),
    ]


def test_a_budget_with_a_reset_time_sets_its_reset_gauge() -> None:
    plan = Plan.build(Settings())
    snapshot = BudgetSnapshot(scope=BudgetScope.USER, subject="u1", spend_usd=Decimal("2"),
                              reset_at=1_767_225_600.0)  # fmt: skip
    labels = ("user", "u1", "")
    assert _rows(measure_snapshot(snapshot, plan)) == [
        ("llm_budget_limit_usd", labels, None),
        ("llm_budget_spend_usd", labels, Decimal("2")),
        ("llm_budget_remaining_usd", labels, None),
        ("llm_budget_reset_timestamp_seconds", labels, 1_767_225_600.0),
    ]


def test_litellm_routes_the_reset_time_as_hours_until_it() -> None:
    plan = Plan.build(Settings(naming="litellm"))
    assert plan.routes is not None
    routes = plan.routes[plan.metrics["budget_reset"]]
    assert [route.metric.name for route in routes] == [
        "litellm_api_key_budget_remaining_hours_metric",
        "litellm_team_budget_remaining_hours_metric",
        "litellm_user_budget_remaining_hours_metric",
        "litellm_org_budget_remaining_hours_metric",
        "litellm_customer_budget_remaining_hours_metric",
    ]
    team = routes[1]
    assert team.metric.label_names == ("team", "team_alias")
    assert team.labels(("team", "t1", "Team One")) == ("t1", "Team One")
    assert team.labels(("user", "t1", "")) is None
    assert team.transform is not None
    assert team.transform(1_000_000.0 + 5400.0, 1_000_000.0) == 1.5
    limit = plan.routes[plan.metrics["budget_limit"]][1]
    assert limit.transform is None


def test_problems_count_by_field() -> None:
    plan = Plan.build(Settings())
    problems = [Problem(field="cost_usd", message="x"), Problem(field="stream", message="y")]
    assert _rows(measure_problems(problems, plan)) == [
        ("gatewaymetrics_input_problems_total", ("cost_usd",), 1),
        ("gatewaymetrics_input_problems_total", ("stream",), 1),
    ]
