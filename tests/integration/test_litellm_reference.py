"""The reference side of the naming diff (``tests/litellm_reference.py``): LiteLLM
1.110.2's own ``PrometheusLogger`` on the scenario's real events, on a registry of its
own, next to extra callbacks that see the very same events."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import require_module

HOW = "install it with: make test (or pip install 'gatewaymetrics[litellm]')"
litellm: Any = require_module("litellm", HOW)
custom_logger: Any = require_module("litellm.integrations.custom_logger", HOW)
prometheus_client: Any = require_module("prometheus_client", HOW)

from tests import litellm_reference as reference  # noqa: E402  # after the skip checks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning"),
]

#: The families the scenario gives samples; the other 51 of the 83 stay empty.
FAMILIES_WITH_SAMPLES = {
    # written when the logger is made (user/team counts, batch-cost job state)
    "litellm_active_users",
    "litellm_check_batch_cost_jobs_polled",
    "litellm_check_batch_cost_last_run_timestamp",
    "litellm_teams_count",
    "litellm_total_users",
    # async success
    "litellm_deployment_latency_per_output_token",
    "litellm_deployment_state",
    "litellm_deployment_success_responses",
    "litellm_deployment_total_requests",
    "litellm_input_tokens_metric",
    "litellm_llm_api_latency_metric",
    "litellm_output_tokens_metric",
    "litellm_proxy_total_requests_metric",
    "litellm_remaining_api_key_requests_for_model",
    "litellm_remaining_api_key_tokens_for_model",
    "litellm_request_total_latency_metric",
    "litellm_requests_metric",
    "litellm_spend_metric",
    "litellm_total_tokens_metric",
    # stream
    "litellm_llm_api_time_to_first_token_metric",
    # failures
    "litellm_deployment_failure_responses",
    "litellm_llm_api_failed_requests_metric",
    # router fallback
    "litellm_deployment_successful_fallbacks",
    # proxy metadata with budgets
    "litellm_api_key_budget_remaining_hours_metric",
    "litellm_api_key_max_budget_metric",
    "litellm_remaining_api_key_budget_metric",
    "litellm_remaining_team_budget_metric",
    "litellm_remaining_user_budget_metric",
    "litellm_team_max_budget_metric",
    # cache (the miss is the stream's: LiteLLM logs cache_hit=False for it)
    "litellm_cache_hits_metric",
    "litellm_cache_misses_metric",
    "litellm_cached_tokens_metric",
    # the cache hit's litellm_overhead_time_ms
    "litellm_overhead_latency_metric",
    "litellm_overhead_with_guardrails_latency_metric",
}

ALL_HOOKS = {
    "sync": ("log_success_event",),
    "async": ("async_log_success_event",),
    "stream": ("async_log_success_event",),
    "failure": ("async_log_failure_event",),
    "rate_limit": ("async_log_failure_event",),
    "router_fallback": (
        "async_log_failure_event",
        "async_log_success_event",
        "log_success_fallback_event",
    ),
    "proxy_budgets": ("async_log_success_event",),
    "cache_hit": ("async_log_success_event", "async_log_success_event"),
}


@pytest.fixture(scope="module")
def run() -> tuple[reference.Reference, Any, list[object]]:
    callbacks_before = list(litellm.callbacks)
    extra = reference.hook_recorder("ExtraRecorder")
    result = reference.run_reference([extra])
    return result, extra, callbacks_before


def samples(
    families: reference.Families, family: str, suffix: str = ""
) -> list[tuple[dict[str, str], float]]:
    """The samples named ``family + suffix``: (labels, value)."""
    return [
        (labels, value)
        for name, labels, value in families[family]["samples"]
        if name == family + suffix
    ]


def total(families: reference.Families, family: str, suffix: str) -> float:
    return sum(value for _, value in samples(families, family, suffix))


NO_CALLER = {
    "api_key_alias": "None",
    "hashed_api_key": "None",
    "team": "None",
    "team_alias": "None",
}


def test_every_family_and_which_have_samples(run: Any) -> None:
    families = run[0].families
    assert len(families) == 83
    with_samples = {name for name, family in families.items() if family["samples"]}
    assert with_samples == FAMILIES_WITH_SAMPLES
    assert families["litellm_proxy_total_requests_metric"]["type"] == "counter"
    assert families["litellm_proxy_total_requests_metric"]["labels"] == [
        "api_key_alias", "api_provider", "client_ip", "end_user", "hashed_api_key",
        "model_id", "org_alias", "org_id", "requested_model", "route", "status_code",
        "team", "team_alias", "user", "user_agent", "user_email",
    ]  # fmt: skip
    # A family without samples still has its label names (from the metric object).
    assert families["litellm_proxy_failed_requests_metric"]["samples"] == []
    assert families["litellm_proxy_failed_requests_metric"]["labels"] == [
        "api_key_alias", "api_provider", "client_ip", "end_user", "exception_class",
        "exception_status", "hashed_api_key", "model_id", "org_alias", "org_id",
        "requested_model", "route", "team", "team_alias", "user", "user_agent",
        "user_email",
    ]  # fmt: skip
    assert families["litellm_zero_cost_requests"]["labels"] == [
        "api_provider", "model", "model_id", "reason", "requested_model",
    ]  # fmt: skip


def test_extra_callbacks_see_the_same_events(run: Any) -> None:
    result, extra, _ = run
    assert result.hooks == ALL_HOOKS
    assert sorted(extra.hooks) == sorted(hook for hooks in ALL_HOOKS.values() for hook in hooks)


def test_sync_calls_are_not_counted_by_litellm(run: Any) -> None:
    families = run[0].families
    # async, stream, cache miss + hit, router backup, proxy call: 6; the sync call: 0.
    assert total(families, "litellm_proxy_total_requests_metric", "_total") == 6.0
    assert total(families, "litellm_requests_metric", "_total") == 6.0
    assert total(families, "litellm_input_tokens_metric", "_total") == 59.0


def test_proxy_metadata_labels_and_budgets(run: Any) -> None:
    families = run[0].families
    proxy_calls = [
        (labels, value)
        for labels, value in samples(families, "litellm_proxy_total_requests_metric", "_total")
        if labels["hashed_api_key"] == reference.KEY_HASH
    ]
    assert proxy_calls == [
        (
            {
                "api_key_alias": "search-prod",
                "api_provider": "openai",
                "client_ip": "None",
                "end_user": "None",  # needs enable_end_user_cost_tracking_prometheus_only
                "hashed_api_key": reference.KEY_HASH,
                "model_id": "",
                "org_alias": "acme",
                "org_id": "org-acme",
                "requested_model": "",  # no model group without a Router
                "route": "/chat/completions",
                "status_code": "200",
                "team": "team-search",
                "team_alias": "search",
                "user": "alice",
                "user_agent": "None",
                "user_email": "alice@example.com",
            },
            1.0,
        )
    ]
    key = {"api_key_alias": "search-prod", "hashed_api_key": reference.KEY_HASH}
    team = {"team": "team-search", "team_alias": "search"}
    # spend read at auth time plus this call's cost (1.35e-05)
    assert samples(families, "litellm_remaining_api_key_budget_metric") == [(key, 8.7499865)]
    assert samples(families, "litellm_api_key_max_budget_metric") == [(key, 10.0)]
    assert samples(families, "litellm_remaining_team_budget_metric") == [(team, 46.4999865)]
    assert samples(families, "litellm_team_max_budget_metric") == [(team, 50.0)]
    # an unlimited user budget: LiteLLM writes +Inf
    assert samples(families, "litellm_remaining_user_budget_metric") == [
        ({"user": "alice"}, math.inf)
    ]
    ((hours_labels, _),) = samples(families, "litellm_api_key_budget_remaining_hours_metric")
    assert hours_labels == key
    # reset times of team and user, org and end-user budgets need the proxy's database
    for family in (
        "litellm_team_budget_remaining_hours_metric",
        "litellm_user_budget_remaining_hours_metric",
        "litellm_remaining_org_budget_metric",
        "litellm_remaining_customer_budget_metric",
    ):
        assert families[family]["samples"] == []


def test_failures_rate_limit_and_fallback_labels(run: Any) -> None:
    families = run[0].families
    failures = samples(families, "litellm_deployment_failure_responses", "_total")
    no_deployment = {
        **NO_CALLER,
        "api_base": "",
        "api_provider": "",
        "client_ip": "None",
        "litellm_model_name": "",
        "model_group": "",
        "model_id": "",
        "requested_model": "gpt-4o-mini",
        "user_agent": "None",
    }
    rate_limit = {
        **no_deployment,
        "exception_class": "Openai.RateLimitError",
        "exception_status": "429",
    }
    bad_request = {
        **no_deployment,
        "exception_class": "Openai.BadRequestError",
        "exception_status": "400",
    }
    assert (rate_limit, 1.0) in failures
    assert (bad_request, 1.0) in failures
    assert len(failures) == 3  # and the router's primary deployment
    assert samples(families, "litellm_deployment_successful_fallbacks", "_total") == [
        (
            {
                **NO_CALLER,
                "exception_class": "Openai.InternalServerError",
                "exception_status": "500",
                "fallback_model": "backup",
                "model_id": "None",
                "requested_model": "primary",
            },
            1.0,
        )
    ]
    assert total(families, "litellm_llm_api_failed_requests_metric", "_total") == 3.0


def test_cache_and_stream(run: Any) -> None:
    families = run[0].families
    cache_labels = {
        **NO_CALLER,
        "api_provider": "openai",
        "end_user": "None",
        "model": "gpt-4o-mini",
        "model_id": "",
        "user": "None",
    }
    assert samples(families, "litellm_cache_hits_metric", "_total") == [(cache_labels, 1.0)]
    assert samples(families, "litellm_cache_misses_metric", "_total") == [(cache_labels, 1.0)]
    assert samples(families, "litellm_cached_tokens_metric", "_total") == [(cache_labels, 30.0)]
    assert total(families, "litellm_llm_api_time_to_first_token_metric", "_count") == 1.0


def test_the_global_registry_and_litellm_are_left_as_they_were(run: Any) -> None:
    _, _, callbacks_before = run
    assert litellm.callbacks == callbacks_before
    registered = {
        name for names in prometheus_client.REGISTRY._collector_to_names.values() for name in names
    }
    # (Importing LiteLLM's proxy modules registers metrics of their own, litellm_accounting_*.)
    assert registered & set(run[0].families) == set()
    # A second run in the same process starts from zero (no "Duplicated timeseries").
    again = reference.run_scenario(steps=["async"])
    assert total(again, "litellm_requests_metric", "_total") == 1.0


def test_unknown_step_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown steps \['nope'\]; allowed: \['sync', 'async'"):
        reference.run_scenario(steps=["nope"])


def test_parse_exposition_folds_created_into_its_family() -> None:
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("demo_requests", "Requests.", ["team"], registry=registry)
    counter.labels(team="a").inc(2)
    families = reference.parse_exposition(prometheus_client.generate_latest(registry).decode())
    assert set(families) == {"demo_requests"}
    family = families["demo_requests"]
    assert (family["type"], family["labels"]) == ("counter", ["team"])
    assert [(name, labels) for name, labels, _ in family["samples"]] == [
        ("demo_requests_total", {"team": "a"}),
        ("demo_requests_created", {"team": "a"}),
    ]
    assert family["samples"][0][2] == 2.0
