"""Real LiteLLM (1.110.2), run in-process with ``mock_response``: its callback payloads
become exactly the expected :class:`CallEvent`.

A capturing ``CustomLogger`` records every success and failure hook. Each test makes
one kind of call, waits (by polling) until LiteLLM's background logging delivered the
expected events, and compares what :func:`parse_litellm` makes of them with whole
records. Values that differ per call (ids, clock times, deployment hashes) are read
from the payload and cross-checked against an independent source (the hook arguments,
the router's deployment list). No network: every call is a mock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Principal,
    Status,
    TokenUsage,
    parse_litellm,
)
from tests.conftest import require_module
from tests.litellm_reference import BACKUP_ANSWER

HOW = "install it with: make test (or pip install 'gatewaymetrics[litellm]')"
# Typed Any: these are whatever the installed LiteLLM provides, checked by running it.
litellm: Any = require_module("litellm", HOW)
custom_logger: Any = require_module("litellm.integrations.custom_logger", HOW)
pydantic: Any = require_module("pydantic", HOW)

from gatewaymetrics.adapters.litellm_driver import CALLBACK_LISTS, fallback_router  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    # LiteLLM's own pydantic models warn about ReadOnly TypedDict items at first use.
    pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning"),
]

PAYLOADS_FILE = Path(__file__).resolve().parents[2] / "examples" / "litellm_payloads.jsonl"
MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "Say hello"}]

#: How long to wait for LiteLLM's background logging, and how often to look.
WAIT_S = 5.0
POLL_S = 0.005

SUCCESS_HOOKS = frozenset({"log_success_event", "async_log_success_event"})
FAILURE_HOOKS = frozenset({"log_failure_event", "async_log_failure_event"})


KEY_HASH = hashlib.sha256(b"sk-demo-1").hexdigest()
RAW_KEY = "sk-raw-secret-123"
RESET_AT = "2026-12-01T00:00:00+00:00"

#: gpt-4o-mini: 10 prompt tokens at 1.5e-7 + 20 completion tokens at 6e-7.
MINI_COST = Decimal("0.0000135")


class Captured(NamedTuple):
    """One hook invocation, as LiteLLM made it."""

    hook: str
    kwargs: dict[str, Any]
    response_obj: Any
    start_time: Any
    end_time: Any


class CapturingLogger(custom_logger.CustomLogger):  # type: ignore[misc]  # an Any base
    """Records the four success/failure hooks; every other hook is the base no-op."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Captured] = []
        self.read = 0  # how many events the test has looked at

    def _record(
        self, hook: str, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.events.append(Captured(hook, kwargs, response_obj, start_time, end_time))

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record("log_success_event", kwargs, response_obj, start_time, end_time)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record("log_failure_event", kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record("async_log_success_event", kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record("async_log_failure_event", kwargs, response_obj, start_time, end_time)


@pytest.fixture
def capture() -> Iterator[CapturingLogger]:
    """A fresh capturing logger as LiteLLM's only callback; every callback list as it
    was before afterwards."""
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    saved_cache = litellm.cache
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    logger = CapturingLogger()
    litellm.callbacks = [logger]
    try:
        yield logger
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        litellm.cache = saved_cache
    # A hook that fired after the test took its events would be a double count.
    assert [event.hook for event in logger.events[logger.read :]] == []


# -- waiting for LiteLLM's background logging ------------------------------------------


def wait_for_events(logger: CapturingLogger, count: int) -> list[Captured]:
    """The captured events once ``count`` arrived (or WAIT_S passed): sync calls log
    from LiteLLM's thread pool."""
    deadline = time.monotonic() + WAIT_S
    while len(logger.events) < count and time.monotonic() < deadline:
        time.sleep(POLL_S)
    logger.read = len(logger.events)
    return logger.events[: logger.read]


async def await_events(logger: CapturingLogger, count: int) -> list[Captured]:
    """As :func:`wait_for_events`, inside the loop: async calls log from tasks on it."""
    deadline = time.monotonic() + WAIT_S
    while len(logger.events) < count and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
    logger.read = len(logger.events)
    return logger.events[: logger.read]


def run_async(
    logger: CapturingLogger,
    count: int,
    call: Callable[[], Awaitable[object]],
    *,
    raises: type[BaseException] | None = None,
) -> list[Captured]:
    """Run ``call`` on a fresh event loop (expecting it to raise ``raises``, if given)
    and wait on that same loop for ``count`` events: ``asyncio.run`` cancels whatever
    logging task is still pending when it returns."""

    async def main() -> list[Captured]:
        if raises is None:
            await call()
        else:
            with pytest.raises(raises):
                await call()
        return await await_events(logger, count)

    return asyncio.run(main())


def hooks(events: list[Captured]) -> list[str]:
    return sorted(event.hook for event in events)


def only(events: list[Captured], hook: str) -> Captured:
    (event,) = (event for event in events if event.hook == hook)
    return event


# -- reading a capture ------------------------------------------------------------------


def parse(captured: Captured) -> CallEvent:
    """What the adapter does: the hook says whether the call failed."""
    return parse_litellm(
        captured.kwargs,
        captured.response_obj,
        captured.start_time,
        captured.end_time,
        failed=captured.hook in FAILURE_HOOKS,
    )


def slo_of(captured: Captured) -> dict[str, Any]:
    slo: dict[str, Any] = captured.kwargs["standard_logging_object"]
    return slo


def per_call(captured: Captured) -> dict[str, Any]:
    """The record fields that are per-call values (id and clock times), read from the
    payload after checking them against the hook's own arguments."""
    slo = slo_of(captured)
    assert slo["litellm_call_id"] == captured.kwargs["litellm_call_id"]
    assert isinstance(captured.start_time, datetime)
    assert isinstance(captured.end_time, datetime)
    assert slo["startTime"] == captured.start_time.timestamp()
    assert slo["endTime"] == captured.end_time.timestamp()
    upstream = captured.kwargs.get("api_call_start_time")
    return {
        "call_id": slo["litellm_call_id"],
        "started_at": slo["startTime"],
        "ended_at": slo["endTime"],
        "first_token_at": slo["completionStartTime"],
        "upstream_started_at": None if upstream is None else upstream.timestamp(),
    }


def check_times(call: CallRecord, captured: Captured) -> None:
    """The timing relations every call satisfies; streams have a first-token time."""
    slo = slo_of(captured)
    assert call.started_at == slo["startTime"]
    assert call.ended_at == slo["endTime"]
    assert call.first_token_at == slo["completionStartTime"]
    assert call.duration_s is not None
    assert call.duration_s >= 0
    assert call.duration_s == slo["endTime"] - slo["startTime"]
    if call.upstream_started_at is not None:
        assert call.upstream_duration_s is not None
        assert call.upstream_duration_s >= 0
    if call.stream:
        assert call.time_to_first_token_s is not None
        assert call.time_to_first_token_s == slo["completionStartTime"] - slo["startTime"]
        assert call.started_at is not None
        assert call.first_token_at is not None
        assert call.ended_at is not None
        assert call.started_at <= call.first_token_at <= call.ended_at
    else:
        # LiteLLM sets completionStartTime to endTime for a call that did not stream.
        assert call.first_token_at == call.ended_at
        assert call.time_to_first_token_s is None
        assert call.time_per_output_token_s is None


def chat(**overrides: Any) -> Callable[[], Any]:
    return lambda: litellm.completion(model="gpt-4o-mini", messages=MESSAGES, **overrides)


def achat(**overrides: Any) -> Callable[[], Awaitable[Any]]:
    return lambda: litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, **overrides)


# -- 1, 2: plain completions ------------------------------------------------------------


def assert_plain_completion(captured: Captured) -> None:
    slo = slo_of(captured)
    event = parse(captured)
    call = event.call
    assert call.status is Status.SUCCESS
    assert call.operation is Operation.CHAT
    assert call.provider == "openai"
    assert call.requested_model == "gpt-4o-mini"
    assert call.model == "gpt-4o-mini"
    assert call.tokens == TokenUsage(input=10, output=20)
    assert call.cost_usd == Decimal(str(captured.kwargs["response_cost"]))
    assert call.cost_usd == Decimal(str(slo["response_cost"]))
    assert call.cost_usd == MINI_COST
    assert call.stream is False
    assert call.time_to_first_token_s is None
    assert call.error is None
    assert event.budgets == ()
    assert event.problems == ()
    check_times(call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="gpt-4o-mini",
            model="gpt-4o-mini",
            api_base="https://api.openai.com",
            tokens=TokenUsage(input=10, output=20),
            cost_usd=MINI_COST,
            stream=False,
            cache_hit=None,
            **per_call(captured),
        )
    )


def test_completion_sync(capture: CapturingLogger) -> None:
    chat(mock_response="Hello there")()
    events = wait_for_events(capture, 1)
    assert hooks(events) == ["log_success_event"]
    assert_plain_completion(events[0])


def test_completion_async(capture: CapturingLogger) -> None:
    events = run_async(capture, 1, achat(mock_response="Hello there"))
    assert hooks(events) == ["async_log_success_event"]
    assert_plain_completion(events[0])


# -- 3, 4: streams ----------------------------------------------------------------------

#: The mock stream's usage is counted by LiteLLM's tokenizer: 9 prompt tokens for
#: MESSAGES, 2 completion tokens for "Hello there"; 9 * 1.5e-7 + 2 * 6e-7.
STREAM_TOKENS = TokenUsage(input=9, output=2)
STREAM_COST = Decimal("0.00000255")


def content_of(chunks: list[Any]) -> str:
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def assert_stream(captured: Captured) -> None:
    slo = slo_of(captured)
    event = parse(captured)
    call = event.call
    assert slo["stream"] is True
    assert call.stream is True
    assert call.tokens == TokenUsage(input=slo["prompt_tokens"], output=slo["completion_tokens"])
    assert call.tokens == STREAM_TOKENS
    assert call.cost_usd == Decimal(str(slo["response_cost"]))
    assert call.cost_usd == STREAM_COST
    assert call.time_to_first_token_s is not None
    assert call.time_to_first_token_s == slo["completionStartTime"] - slo["startTime"]
    check_times(call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="gpt-4o-mini",
            model="gpt-4o-mini",
            api_base=None,  # LiteLLM logs api_base "" for streams
            tokens=STREAM_TOKENS,
            cost_usd=STREAM_COST,
            stream=True,
            cache_hit=False,
            **per_call(captured),
        )
    )


def test_stream_sync(capture: CapturingLogger) -> None:
    chunks = list(chat(mock_response="Hello there", stream=True)())
    assert content_of(chunks) == "Hello there"
    events = wait_for_events(capture, 1)
    assert hooks(events) == ["log_success_event"]
    assert_stream(events[0])


def test_stream_async(capture: CapturingLogger) -> None:
    chunks: list[Any] = []

    async def consume() -> None:
        stream = await achat(mock_response="Hello there", stream=True)()
        async for chunk in stream:
            chunks.append(chunk)

    events = run_async(capture, 1, consume)
    assert content_of(chunks) == "Hello there"
    assert hooks(events) == ["async_log_success_event"]
    assert_stream(events[0])


# -- 5, 6: failures ---------------------------------------------------------------------


def assert_failure(captured: Captured, error: ErrorInfo) -> None:
    slo = slo_of(captured)
    event = parse(captured)
    call = event.call
    assert captured.response_obj is None
    assert slo["status"] == "failure"
    assert call.status is Status.FAILURE
    assert call.error == error
    assert call.tokens == TokenUsage()
    # LiteLLM logs 0 (kwargs, an int) and 0.0 (SLO) for a failed call: known to be free.
    assert captured.kwargs["response_cost"] == 0
    assert slo["response_cost"] == 0.0
    assert call.cost_usd == Decimal(0)
    assert event.budgets == ()
    assert event.problems == ()
    check_times(call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.FAILURE,
            provider="openai",
            requested_model="gpt-4o-mini",
            model="gpt-4o-mini",
            api_base=None,
            tokens=TokenUsage(),
            cost_usd=Decimal(0),
            stream=False,
            cache_hit=False,
            error=error,
            **per_call(captured),
        )
    )


RATE_LIMITED = ErrorInfo(
    category=ErrorCategory.RATE_LIMITED, status_code=429, exception_type="RateLimitError"
)
PROVIDER_500 = ErrorInfo(
    category=ErrorCategory.PROVIDER_ERROR, status_code=500, exception_type="InternalServerError"
)


def test_rate_limit_failure_sync(capture: CapturingLogger) -> None:
    with pytest.raises(litellm.RateLimitError):
        chat(mock_response="litellm.RateLimitError")()
    events = wait_for_events(capture, 1)
    assert hooks(events) == ["log_failure_event"]
    assert_failure(events[0], RATE_LIMITED)


def test_rate_limit_failure_async(capture: CapturingLogger) -> None:
    events = run_async(
        capture, 1, achat(mock_response="litellm.RateLimitError"), raises=litellm.RateLimitError
    )
    assert hooks(events) == ["async_log_failure_event"]
    assert_failure(events[0], RATE_LIMITED)


def test_generic_exception_failure(capture: CapturingLogger) -> None:
    with pytest.raises(litellm.InternalServerError) as raised:
        chat(mock_response=Exception("boom"))()
    assert raised.value.status_code == 500
    events = wait_for_events(capture, 1)
    assert hooks(events) == ["log_failure_event"]
    assert type(events[0].kwargs["exception"]) is litellm.InternalServerError
    assert_failure(events[0], PROVIDER_500)


# -- 7: embeddings ----------------------------------------------------------------------


def test_embedding(capture: CapturingLogger) -> None:
    litellm.embedding(model="text-embedding-3-small", input=["hi"], mock_response=[0.1, 0.2])
    events = wait_for_events(capture, 1)
    assert hooks(events) == ["log_success_event"]
    captured = events[0]
    slo = slo_of(captured)
    event = parse(captured)
    assert "api_call_start_time" not in captured.kwargs  # not set for embeddings
    assert event.call.operation is Operation.EMBEDDINGS
    # The mock's usage: 10 prompt tokens (total_tokens is 0 in it); 10 * 2e-8.
    assert event.call.tokens == TokenUsage(input=10, output=0)
    assert event.call.cost_usd == Decimal(str(slo["response_cost"]))
    assert event.call.cost_usd == Decimal("0.0000002")
    check_times(event.call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.EMBEDDINGS,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="text-embedding-3-small",
            model="text-embedding-3-small",
            api_base="https://api.openai.com",
            tokens=TokenUsage(input=10, output=0),
            cost_usd=Decimal("0.0000002"),
            stream=False,
            cache_hit=None,
            **per_call(captured),
        )
    )


# -- 8: router fallback -----------------------------------------------------------------

#: gpt-4o: 10 * 2.5e-6 + 20 * 1e-5, summed by LiteLLM in floats. The float it logs is
#: 0.00022500000000000002; exact conversion keeps that, it does not round to 0.000225.
BACKUP_COST = Decimal("0.00022500000000000002")


def make_router() -> Any:
    return fallback_router(BACKUP_ANSWER)


def deployment_ids(router: Any) -> dict[str, str]:
    """Model group -> the id the router gave its (only) deployment."""
    return {
        deployment["model_name"]: deployment["model_info"]["id"]
        for deployment in router.registry().all()
    }


def assert_router_fallback(events: list[Captured], ids: dict[str, str], sync: bool) -> None:
    prefix = "" if sync else "async_"
    assert hooks(events) == sorted([f"{prefix}log_failure_event", f"{prefix}log_success_event"])
    failed = only(events, f"{prefix}log_failure_event")
    succeeded = only(events, f"{prefix}log_success_event")
    assert ids["primary"] != ids["backup"]
    assert slo_of(failed)["model_id"] == ids["primary"] != ""
    assert slo_of(succeeded)["model_id"] == ids["backup"] != ""
    assert slo_of(failed)["trace_id"] == slo_of(succeeded)["trace_id"]
    assert "exception" not in succeeded.kwargs

    failure = parse(failed)
    assert failure.call.requested_model == "primary"
    assert failure.call.model == "gpt-4o-mini"
    assert failure.call.error == PROVIDER_500
    check_times(failure.call, failed)
    assert failure == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.FAILURE,
            provider="openai",
            requested_model="primary",
            model="gpt-4o-mini",
            deployment_id=ids["primary"],
            api_base=None,
            tokens=TokenUsage(),
            cost_usd=Decimal(0),
            stream=False,
            cache_hit=False,
            error=PROVIDER_500,
            **per_call(failed),
        )
    )

    success = parse(succeeded)
    assert success.call.requested_model == "backup"
    assert success.call.model == "gpt-4o"
    assert success.call.deployment_id == slo_of(succeeded)["model_id"]
    assert success.call.cost_usd == Decimal(str(slo_of(succeeded)["response_cost"]))
    check_times(success.call, succeeded)
    assert success == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="backup",
            model="gpt-4o",
            deployment_id=ids["backup"],
            api_base="https://api.openai.com",
            tokens=TokenUsage(input=10, output=20),
            cost_usd=BACKUP_COST,
            stream=False,
            cache_hit=None,
            **per_call(succeeded),
        )
    )


def test_router_fallback_sync(capture: CapturingLogger) -> None:
    router = make_router()
    response = router.completion(model="primary", messages=MESSAGES)
    assert response.choices[0].message.content == "Hello from backup"
    events = wait_for_events(capture, 2)
    assert_router_fallback(events, deployment_ids(router), sync=True)


def test_router_fallback_async(capture: CapturingLogger) -> None:
    router = make_router()
    events = run_async(capture, 2, lambda: router.acompletion(model="primary", messages=MESSAGES))
    assert_router_fallback(events, deployment_ids(router), sync=False)


# -- 9, 10: proxy-style key, team and user metadata -------------------------------------


def proxy_metadata(user_api_key: str) -> dict[str, object]:
    """Metadata shaped like what the LiteLLM proxy attaches to a request."""
    return {
        "user_api_key": user_api_key,
        "user_api_key_alias": "search-prod",
        "user_api_key_team_id": "team-search",
        "user_api_key_team_alias": "search",
        "user_api_key_user_id": "alice",
        "user_api_key_spend": 1.25,
        "user_api_key_max_budget": 10.0,
        "user_api_key_team_spend": 3.5,
        "user_api_key_team_max_budget": 50.0,
        "user_api_key_user_spend": 0.75,
        "user_api_key_user_max_budget": None,  # unlimited
        "user_api_key_budget_reset_at": RESET_AT,
    }


def expected_budgets(subject: str, cost: Decimal) -> tuple[BudgetSnapshot, ...]:
    return (
        BudgetSnapshot(
            scope=BudgetScope.API_KEY,
            subject=subject,
            alias="search-prod",
            limit_usd=Decimal("10.0"),
            spend_usd=Decimal("1.25") + cost,
            reset_at=datetime.fromisoformat(RESET_AT).timestamp(),
        ),
        BudgetSnapshot(
            scope=BudgetScope.TEAM,
            subject="team-search",
            alias="search",
            limit_usd=Decimal("50.0"),
            spend_usd=Decimal("3.5") + cost,
            reset_at=None,
        ),
        BudgetSnapshot(
            scope=BudgetScope.USER,
            subject="alice",
            alias=None,
            limit_usd=None,
            spend_usd=Decimal("0.75") + cost,
            reset_at=None,
        ),
    )


def expected_principal(api_key: str) -> Principal:
    return Principal(
        api_key=api_key,
        api_key_alias="search-prod",
        team_id="team-search",
        team_alias="search",
        user_id="alice",
    )


def test_proxy_metadata_principal_and_budgets(capture: CapturingLogger) -> None:
    events = run_async(
        capture, 1, achat(mock_response="Hello there", metadata=proxy_metadata(KEY_HASH))
    )
    assert hooks(events) == ["async_log_success_event"]
    captured = events[0]
    assert slo_of(captured)["metadata"]["user_api_key_hash"] == KEY_HASH
    event = parse(captured)
    assert event.call.cost_usd == MINI_COST
    assert event.call.principal == expected_principal(KEY_HASH)
    assert event.budgets == expected_budgets(KEY_HASH, MINI_COST)
    assert [budget.remaining_usd for budget in event.budgets] == [
        Decimal("8.7499865"),
        Decimal("46.4999865"),
        None,
    ]
    assert event.problems == ()
    check_times(event.call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="openai",
            requested_model="gpt-4o-mini",
            model="gpt-4o-mini",
            api_base="https://api.openai.com",
            principal=expected_principal(KEY_HASH),
            tokens=TokenUsage(input=10, output=20),
            cost_usd=MINI_COST,
            stream=False,
            cache_hit=None,
            **per_call(captured),
        ),
        budgets=expected_budgets(KEY_HASH, MINI_COST),
    )


def test_raw_api_key_never_enters_a_record(capture: CapturingLogger) -> None:
    events = run_async(
        capture, 1, achat(mock_response="Hello there", metadata=proxy_metadata(RAW_KEY))
    )
    assert hooks(events) == ["async_log_success_event"]
    captured = events[0]
    # LiteLLM keeps the raw key in litellm_params.metadata, so the parser does see it.
    assert captured.kwargs["litellm_params"]["metadata"]["user_api_key"] == RAW_KEY
    event = parse(captured)
    fingerprint = hashlib.sha256(RAW_KEY.encode()).hexdigest()
    assert RAW_KEY not in repr(event)
    assert event.call.principal.api_key == fingerprint
    assert event.call.principal == expected_principal(fingerprint)
    assert event.budgets == expected_budgets(fingerprint, MINI_COST)
    assert event.problems == ()


# -- 11: a model LiteLLM cannot price ---------------------------------------------------


def test_unpriced_model_cost_is_unknown(capture: CapturingLogger) -> None:
    events = run_async(
        capture,
        1,
        lambda: litellm.acompletion(
            model="anthropic/claude-3-5-sonnet-20240620", messages=MESSAGES, mock_response="hi"
        ),
    )
    assert hooks(events) == ["async_log_success_event"]
    captured = events[0]
    slo = slo_of(captured)
    # 1.110.2 has no price: kwargs say None, the SLO says 0.0 plus why it failed.
    assert captured.kwargs["response_cost"] is None
    assert slo["response_cost"] == 0.0
    assert slo["response_cost_failure_debug_info"] is not None
    event = parse(captured)
    assert event.call.cost_usd is None
    check_times(event.call, captured)
    assert event == CallEvent(
        call=CallRecord(
            operation=Operation.CHAT,
            status=Status.SUCCESS,
            provider="anthropic",
            requested_model="claude-3-5-sonnet-20240620",
            model="claude-3-5-sonnet-20240620",
            api_base=None,
            tokens=TokenUsage(input=10, output=20),
            cost_usd=None,
            unpriced_reason="cost_calculation_error",  # LiteLLM's debug info says it failed
            stream=False,
            cache_hit=None,
            **per_call(captured),
        )
    )


# -- 12: replay through JSON ------------------------------------------------------------


def to_json_default(value: object) -> object:
    """How a capture is written down: what JSON cannot hold becomes a plain value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "status_code": getattr(value, "status_code", None)}
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump()
    return None


def json_round_trip(value: object) -> Any:
    return json.loads(json.dumps(value, default=to_json_default))


def replayed(captured: Captured) -> Captured:
    return Captured(
        captured.hook,
        json_round_trip(captured.kwargs),
        json_round_trip(captured.response_obj),
        json_round_trip(captured.start_time),
        json_round_trip(captured.end_time),
    )


def capture_completion(logger: CapturingLogger) -> list[Captured]:
    return run_async(
        logger, 1, achat(mock_response="Hello there", metadata=proxy_metadata(KEY_HASH))
    )


def capture_stream(logger: CapturingLogger) -> list[Captured]:
    for _chunk in chat(mock_response="Hello there", stream=True)():
        pass
    return wait_for_events(logger, 1)


def capture_rate_limit(logger: CapturingLogger) -> list[Captured]:
    with pytest.raises(litellm.RateLimitError):
        chat(mock_response="litellm.RateLimitError", metadata=proxy_metadata(KEY_HASH))()
    return wait_for_events(logger, 1)


def capture_router(logger: CapturingLogger) -> list[Captured]:
    make_router().completion(model="primary", messages=MESSAGES)
    return wait_for_events(logger, 2)


@pytest.mark.parametrize(
    ("scenario", "expected_hooks"),
    [
        (capture_completion, ["async_log_success_event"]),
        (capture_stream, ["log_success_event"]),
        (capture_rate_limit, ["log_failure_event"]),
        (capture_router, ["log_failure_event", "log_success_event"]),
    ],
    ids=["completion", "stream", "rate_limit", "router_fallback"],
)
def test_json_replay_parses_equal(
    capture: CapturingLogger,
    scenario: Callable[[CapturingLogger], list[Captured]],
    expected_hooks: list[str],
) -> None:
    events = scenario(capture)
    assert hooks(events) == expected_hooks
    for captured in events:
        live = parse(captured)
        assert live.problems == ()
        assert parse(replayed(captured)) == live


def payload_lines() -> list[Any]:
    """One param per line of the captured file, named by line number, scenario and hook."""
    params = []
    for number, line in enumerate(PAYLOADS_FILE.read_text(encoding="utf-8").splitlines(), 1):
        record = json.loads(line)
        name = f"{number}-{record.get('scenario')}-{record.get('hook')}"
        params.append(pytest.param(record, id=name))
    return params


@pytest.mark.parametrize("record", payload_lines())
def test_captured_payload_file_parses_cleanly(record: dict[str, Any]) -> None:
    assert set(record) == {"scenario", "hook", "kwargs", "response_obj", "start_time", "end_time"}
    hook = record["hook"]
    assert hook in SUCCESS_HOOKS | FAILURE_HOOKS
    event = parse_litellm(
        record["kwargs"],
        record["response_obj"],
        record["start_time"],
        record["end_time"],
        failed=hook in FAILURE_HOOKS,
    )
    assert event.problems == ()
    if hook in FAILURE_HOOKS:
        assert event.call.status is Status.FAILURE
        assert event.call.error is not None
    else:
        assert event.call.status is Status.SUCCESS
        assert event.call.error is None
    slo: Mapping[str, Any] = record["kwargs"]["standard_logging_object"]
    assert event.call.started_at == slo["startTime"]
    assert event.call.ended_at == slo["endTime"]
    assert event.call.duration_s is not None
    assert event.call.duration_s >= 0
