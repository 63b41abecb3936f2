from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Principal,
    Problem,
    Status,
    TokenUsage,
    parse_litellm,
)
from gatewaymetrics.testing import memory_pipeline
from tests.strategies import json_like, odd_like, payload_like

KEY_HASH = hashlib.sha256(b"sk-team-a").hexdigest()


def slo_kwargs(**slo_overrides: Any) -> dict[str, Any]:
    """A success payload shaped like LiteLLM 1.110.2's, from the proxy."""
    metadata = {
        "user_api_key_hash": KEY_HASH,
        "user_api_key_alias": "ci-key",
        "user_api_key_team_id": "team-a",
        "user_api_key_team_alias": "Team A",
        "user_api_key_user_id": "user-1",
        "user_api_key_user_email": "u1@example.com",
        "user_api_key_org_id": "org-1",
        "user_api_key_end_user_id": "customer-9",
        "user_api_key_spend": 1.25,
        "user_api_key_max_budget": 10.0,
        "user_api_key_budget_reset_at": "2026-12-01T00:00:00+00:00",
        "user_api_key_team_spend": 3.5,
        "user_api_key_team_max_budget": 50.0,
        "user_api_key_user_spend": 0.75,
        "user_api_key_user_max_budget": None,
        "usage_object": {
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 6},
        },
        "requester_metadata": {"app": "chatbot", "tier": 2},
    }
    slo: dict[str, Any] = {
        "id": "chatcmpl-1",
        "litellm_call_id": "call-1",
        "call_type": "acompletion",
        "stream": None,
        "status": "success",
        "custom_llm_provider": "openai",
        "model": "gpt-4o-mini",
        "model_group": "fast",
        "model_id": "deploy-1",
        "api_base": "",
        "response_cost": 1.35e-05,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "startTime": 1000.0,
        "endTime": 1002.0,
        "completionStartTime": 1002.0,
        "cache_hit": None,
        "end_user": None,
        "metadata": metadata,
        "hidden_params": {
            "api_base": "https://api.openai.com/v1?api-key=abc",
            "model_id": "deploy-1",
            "additional_headers": {
                "x_ratelimit_remaining_requests": 99,
                "x_ratelimit_remaining_tokens": 12000,
            },
        },
        "error_information": {"error_class": "", "error_code": "", "error_message": ""},
    }
    slo.update(slo_overrides)
    return {
        "model": "gpt-4o-mini",
        "litellm_call_id": "call-1",
        "api_call_start_time": datetime.fromtimestamp(1000.5),
        "standard_logging_object": slo,
        "litellm_params": {"metadata": {"user_api_key": KEY_HASH}},
    }


def test_standard_logging_object_is_read_exactly() -> None:
    event = parse_litellm(
        slo_kwargs(),
        custom_labels=[("app", "requester_metadata.app"), ("tier", "requester_metadata.tier")],
    )
    cost = Decimal("0.0000135")
    reset = datetime.fromisoformat("2026-12-01T00:00:00+00:00").timestamp()
    assert event == CallEvent(
        call=CallRecord(
            call_id="call-1",
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="fast",
            model="gpt-4o-mini",
            deployment_id="deploy-1",
            api_base="https://api.openai.com",
            principal=Principal(
                api_key=KEY_HASH,
                api_key_alias="ci-key",
                team_id="team-a",
                team_alias="Team A",
                user_id="user-1",
                user_email="u1@example.com",
                org_id="org-1",
                end_user="customer-9",
            ),
            tokens=TokenUsage(input=10, output=20, cached_input=4, reasoning=6),
            cost_usd=cost,
            started_at=1000.0,
            ended_at=1002.0,
            first_token_at=1002.0,
            upstream_started_at=1000.5,
            stream=False,
            cache_hit=None,
            error=None,
            ratelimit_remaining_requests=99,
            ratelimit_remaining_tokens=12000,
            extra_labels=(("app", "chatbot"), ("tier", "2")),
        ),
        budgets=(
            BudgetSnapshot(
                scope=BudgetScope.API_KEY,
                subject=KEY_HASH,
                alias="ci-key",
                limit_usd=Decimal("10.0"),
                spend_usd=Decimal("1.25") + cost,
                reset_at=reset,
            ),
            BudgetSnapshot(
                scope=BudgetScope.TEAM,
                subject="team-a",
                alias="Team A",
                limit_usd=Decimal("50.0"),
                spend_usd=Decimal("3.5") + cost,
            ),
            BudgetSnapshot(
                scope=BudgetScope.USER,
                subject="user-1",
                limit_usd=None,
                spend_usd=Decimal("0.75") + cost,
            ),
        ),
        problems=(),
    )


def test_a_stream_has_time_to_first_token() -> None:
    event = parse_litellm(slo_kwargs(stream=True, completionStartTime=1000.4))
    assert event.call.stream is True
    assert event.call.time_to_first_token_s == pytest.approx(0.4)
    assert event.call.time_per_output_token_s == pytest.approx(1.6 / 19)


def test_failure_from_the_standard_logging_object() -> None:
    kwargs = slo_kwargs(
        status="failure",
        response_cost=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        error_information={
            "error_class": "RateLimitError",
            "error_code": "429",
            "error_message": "sk-oops",
        },
    )
    kwargs["exception"] = {"type": "RateLimitError", "status_code": 429}
    event = parse_litellm(kwargs)
    assert event.call.status is Status.FAILURE
    assert event.call.error == ErrorInfo(
        category=ErrorCategory.RATE_LIMITED, status_code=429, exception_type="RateLimitError"
    )
    assert event.call.cost_usd == Decimal("0.0")
    assert "sk-oops" not in repr(event)


def test_the_hook_that_fired_decides_the_status() -> None:
    # A success after a router fallback still carries kwargs["exception"].
    kwargs = slo_kwargs()
    kwargs["exception"] = ValueError("primary failed")
    assert parse_litellm(kwargs, failed=False).call.status is Status.SUCCESS
    assert parse_litellm(kwargs, failed=True).call.status is Status.FAILURE
    kwargs["standard_logging_object"] = None
    assert parse_litellm(kwargs).call.status is Status.FAILURE  # legacy rule


def test_exception_objects_give_class_name_and_status_code() -> None:
    class ProxyException(Exception):  # LiteLLM's name
        def __init__(self) -> None:
            super().__init__("Authentication Error, invalid key sk-raw")
            self.code = "401"

    event = parse_litellm({"model": "m", "exception": ProxyException()}, failed=True)
    assert event.call.error == ErrorInfo(
        category=ErrorCategory.AUTH, status_code=401, exception_type="ProxyException"
    )
    assert "sk-raw" not in repr(event)


def test_legacy_payload_without_standard_logging_object() -> None:
    class Usage:
        prompt_tokens = 12
        completion_tokens = 3

    class Response:
        usage = Usage()

    kwargs = {
        "model": "gpt-3.5-turbo",
        "response_cost": 0.002,
        "call_type": "completion",
        "litellm_params": {
            "custom_llm_provider": "openai",
            "metadata": {
                "user_api_key": "sk-raw-key",
                "user_api_key_user_id": "u7",
                "user_api_key_team_id": "t7",
                "user_api_key_spend": 4,
                "user_api_key_max_budget": None,
            },
            "proxy_server_request": {"body": {"user": "end-user-3"}},
        },
    }
    start, end = datetime.fromtimestamp(2000.0), datetime.fromtimestamp(2001.5)
    event = parse_litellm(kwargs, Response(), start, end)
    raw_hash = hashlib.sha256(b"sk-raw-key").hexdigest()
    assert event.call == CallRecord(
        operation=Operation.CHAT,
        provider="openai",
        requested_model="gpt-3.5-turbo",
        model="gpt-3.5-turbo",
        principal=Principal(api_key=raw_hash, team_id="t7", user_id="u7", end_user="end-user-3"),
        tokens=TokenUsage(input=12, output=3),
        cost_usd=Decimal("0.002"),
        started_at=2000.0,
        ended_at=2001.5,
    )
    assert event.budgets == (
        BudgetSnapshot(scope=BudgetScope.API_KEY, subject=raw_hash, spend_usd=Decimal("4.002")),
    )
    assert "sk-raw-key" not in repr(event)


def test_a_json_replayed_payload_parses_like_the_original() -> None:
    kwargs = slo_kwargs()
    original = parse_litellm(kwargs)
    replayed = copy.deepcopy(kwargs)
    replayed["api_call_start_time"] = kwargs["api_call_start_time"].isoformat()
    assert parse_litellm(replayed) == original


def test_unpriced_call_is_unknown_cost_not_free() -> None:
    event = parse_litellm(
        slo_kwargs(response_cost=0.0, response_cost_failure_debug_info={"error_str": "no price"})
    )
    assert event.call.cost_usd is None
    assert parse_litellm(slo_kwargs(response_cost=None)).call.cost_usd is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"response_cost": float("nan")}, Problem(field="cost_usd", message="not finite; unknown")),
        ({"response_cost": -1.0}, Problem(field="cost_usd", message="negative; unknown")),
        (
            {"prompt_tokens": True},
            Problem(field="tokens.input", message="bool is not a count; ignored"),
        ),
        ({"stream": "yes"}, Problem(field="stream", message="str is not a bool; ignored")),
        ({"startTime": "soon"}, Problem(field="started_at", message="str is not a time; ignored")),
    ],
)
def test_repairs_are_reported_as_problems(overrides: dict[str, Any], problem: Problem) -> None:
    assert parse_litellm(slo_kwargs(**overrides)).problems == (problem,)


def test_cached_tokens_beyond_input_are_capped() -> None:
    kwargs = slo_kwargs(prompt_tokens=3)
    event = parse_litellm(kwargs)
    assert event.call.tokens.cached_input == 3
    assert event.problems == (
        Problem(field="tokens.cached_input", message="more than input; capped"),
    )


def test_operations_from_call_types() -> None:
    cases = {
        "embedding": Operation.EMBEDDINGS, "aembedding": Operation.EMBEDDINGS,
        "atext_completion": Operation.TEXT_COMPLETION,
        "image_generation": Operation.IMAGE_GENERATION,
        "atranscription": Operation.AUDIO_TRANSCRIPTION, "speech": Operation.AUDIO_SPEECH,
        "arerank": Operation.RERANK, "moderation": Operation.MODERATION,
        "aresponses": Operation.RESPONSES, "pass_through_endpoint": Operation.OTHER,
    }  # fmt: skip
    for call_type, operation in cases.items():
        assert parse_litellm(slo_kwargs(call_type=call_type)).call.operation is operation


# -- properties ---------------------------------------------------------------------------

PARSER_BUG = Problem(field="payload", message="unreadable; recorded as a bare call")


@given(payload_like, odd_like, odd_like, odd_like, st.one_of(st.none(), st.booleans()))
def test_parsing_is_total(kwargs: object, response: object, start: object, end: object,
                          failed: bool | None) -> None:  # fmt: skip
    event = parse_litellm(kwargs, response, start, end, failed=failed)
    assert isinstance(event, CallEvent)
    assert PARSER_BUG not in event.problems  # the backstop was not needed


@given(st.dictionaries(st.sampled_from(list(slo_kwargs()["standard_logging_object"])), json_like))
def test_parsing_is_total_on_a_mangled_standard_logging_object(overrides: dict[str, Any]) -> None:
    event = parse_litellm(slo_kwargs(**overrides))
    assert PARSER_BUG not in event.problems


@given(st.sampled_from(["metadata", "hidden_params", "error_information"]), odd_like)
def test_parsing_is_total_when_a_section_is_odd(section: str, value: object) -> None:
    event = parse_litellm(slo_kwargs(**{section: value}), failed=True)
    assert PARSER_BUG not in event.problems


SECRET_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=8, max_size=40
)


def _plant(kwargs: dict[str, Any], token: str) -> None:
    """Put a raw credential everywhere LiteLLM payloads can carry one."""
    slo = kwargs["standard_logging_object"]
    slo["metadata"]["user_api_key_hash"] = token
    slo["metadata"]["requester_custom_headers"] = {"authorization": f"Bearer {token}"}
    slo["hidden_params"]["api_base"] = f"https://user:{token}@llm.example/v1?key={token}"
    slo["error_information"]["error_message"] = f"invalid key {token}"
    slo["error_str"] = f"invalid key {token}"
    kwargs["api_key"] = token
    params = kwargs["litellm_params"]
    params["api_key"] = token
    params["api_base"] = f"https://{token}.example/"
    params["metadata"]["user_api_key"] = f"Bearer {token}"
    params["metadata"]["headers"] = {"authorization": f"Bearer {token}", "x-api-key": token}
    params["proxy_server_request"] = {"headers": {"authorization": f"Bearer {token}"}}
    kwargs["exception"] = PermissionError(f"bad key {token}")


@given(SECRET_TEXT.map(lambda t: "sk-" + t), st.booleans())
def test_no_raw_secret_in_records_labels_or_problems(token: str, failed: bool) -> None:
    kwargs = slo_kwargs()
    _plant(kwargs, token)
    event = parse_litellm(kwargs, failed=failed, custom_labels=[("app", "requester_metadata.app")])
    assert token not in repr(event)
    assert all(token not in str(problem) for problem in event.problems)
    recorder = memory_pipeline()
    recorder.pipeline.record(event)
    for series in recorder.backend.snapshot().series:
        for _, value in series.labels:
            assert token not in value
