"""The adapter inside real LiteLLM 1.110.2 (``mock_response``, no network): after each
call shape the memory backend holds exactly the expected series."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gatewaymetrics import LabelSettings, Settings
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.testing import memory_pipeline
from tests.conftest import require_module
from tests.integration.test_litellm_real import CALLBACK_LISTS, HOW
from tests.promtools import free_port

pytestmark = pytest.mark.integration

litellm = require_module("litellm", HOW)
adapter = require_module("gatewaymetrics.adapters.litellm", HOW)

MESSAGES = [{"role": "user", "content": "Say hello"}]
SETTINGS = Settings(labels=LabelSettings(identity=("requested_model", "model", "team")))
KEY_HASH = hashlib.sha256(b"sk-demo-1").hexdigest()


@pytest.fixture
def recorder() -> Iterator[tuple[Any, MemoryBackend]]:
    """Our logger as LiteLLM's only callback; LiteLLM's callback lists restored after."""
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    saved_cache = litellm.cache
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    pipeline, backend = memory_pipeline(SETTINGS)
    logger = adapter.GatewayMetricsLogger(pipeline)
    litellm.callbacks = [logger]
    try:
        yield logger, backend
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        litellm.cache = saved_cache


def wait_requests(backend: MemoryBackend, count: float, timeout: float = 5.0) -> None:
    """LiteLLM logs from a thread pool (sync) or tasks (async): wait for the count."""
    deadline = time.monotonic() + timeout
    while backend.sum("llm_requests_total") < count and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.2)  # a duplicate hook would arrive now: the counts below would show it


async def await_requests(backend: MemoryBackend, count: float, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while backend.sum("llm_requests_total") < count and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.2)


def labels(model: str, requested: str | None = None, team: str = "") -> dict[str, str]:
    return {"requested_model": requested or model, "model": model, "team": team}


def test_completion_sync_and_async(recorder: tuple[Any, MemoryBackend]) -> None:
    _, backend = recorder
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there")
    wait_requests(backend, 1)

    async def main() -> None:
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hi")
        await await_requests(backend, 2)

    asyncio.run(main())
    mini = labels("gpt-4o-mini")
    assert backend.value("llm_requests_total", status="success", error_type="", **mini) == 2.0
    assert backend.value("llm_tokens_total", token_type="input", **mini) == 20.0
    assert backend.exact("llm_spend_usd_total", **mini) == Decimal("0.0000135") * 2
    assert backend.histogram("llm_request_duration_seconds", **mini).count == 2
    assert backend.series("llm_time_to_first_token_seconds") == []  # not streams
    assert backend.sum("gatewaymetrics_input_problems_total") == 0.0


def test_streams_count_once_with_time_to_first_token(recorder: tuple[Any, MemoryBackend]) -> None:
    _, backend = recorder
    for _ in litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there",
                                stream=True):  # fmt: skip
        pass
    wait_requests(backend, 1)

    async def main() -> None:
        response = await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES,
                                             mock_response="Hello there", stream=True)  # fmt: skip
        async for _ in response:
            pass
        await await_requests(backend, 2)

    asyncio.run(main())
    mini = labels("gpt-4o-mini")
    assert backend.value("llm_requests_total", status="success", error_type="", **mini) == 2.0
    assert backend.value("llm_tokens_total", token_type="output", **mini) == 4.0  # 2 each
    assert backend.histogram("llm_time_to_first_token_seconds", **mini).count == 2


def test_failures_sync_and_async(recorder: tuple[Any, MemoryBackend]) -> None:
    _, backend = recorder
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES,
                           mock_response="litellm.RateLimitError")  # fmt: skip
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("boom"))
    wait_requests(backend, 2)

    async def main() -> None:
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES,
                                      mock_response="litellm.RateLimitError")  # fmt: skip
        await await_requests(backend, 3)

    asyncio.run(main())
    mini = labels("gpt-4o-mini")
    failures = {"status": "failure", **mini}
    assert backend.value("llm_requests_total", error_type="rate_limited", **failures) == 2.0
    assert backend.value("llm_requests_total", error_type="provider_error", **failures) == 1.0
    assert backend.sum("llm_requests_total") == 3.0
    assert backend.sum("llm_unpriced_requests_total") == 0.0  # failures are not "unpriced"


def test_embedding(recorder: tuple[Any, MemoryBackend]) -> None:
    _, backend = recorder
    litellm.embedding(model="text-embedding-3-small", input=["hi"], mock_response=[0.1, 0.2])
    wait_requests(backend, 1)
    emb = labels("text-embedding-3-small")
    assert backend.value("llm_requests_total", status="success", error_type="", **emb) == 1.0
    assert backend.value("llm_tokens_total", token_type="input", **emb) == 10.0


def _router() -> Any:
    return litellm.Router(
        model_list=[
            {"model_name": "primary", "litellm_params": {
                "model": "gpt-4o-mini", "mock_response": "litellm.InternalServerError"}},
            {"model_name": "backup", "litellm_params": {"model": "gpt-4o",
                                                        "mock_response": "Hello from backup"}},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )  # fmt: skip


def test_router_fallback_counts_both_attempts_and_one_fallback(
    recorder: tuple[Any, MemoryBackend],
) -> None:
    _, backend = recorder

    async def main() -> None:
        await _router().acompletion(model="primary", messages=MESSAGES)
        await await_requests(backend, 2)

    asyncio.run(main())
    failed = {"status": "failure", "error_type": "provider_error"}
    assert backend.value("llm_requests_total", **failed, **labels("gpt-4o-mini", "primary")) == 1.0
    ok = {"status": "success", "error_type": ""}
    assert backend.value("llm_requests_total", **ok, **labels("gpt-4o", "backup")) == 1.0
    assert backend.sum("llm_requests_total") == 2.0
    assert backend.value("llm_fallbacks_total", requested_model="primary",
                         fallback_model="backup", outcome="success") == 1.0  # fmt: skip


def test_proxy_style_metadata_gives_exact_budgets(recorder: tuple[Any, MemoryBackend]) -> None:
    _, backend = recorder
    metadata = {
        "user_api_key": KEY_HASH, "user_api_key_alias": "ci-key",
        "user_api_key_team_id": "team-a", "user_api_key_team_alias": "Team A",
        "user_api_key_user_id": "user-1", "user_api_key_spend": 1.25,
        "user_api_key_max_budget": 10.0, "user_api_key_team_spend": 3.5,
        "user_api_key_team_max_budget": 50.0, "user_api_key_user_spend": 0.75,
        "user_api_key_user_max_budget": None,
    }  # fmt: skip

    async def main() -> None:
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hi",
                                  metadata=metadata)  # fmt: skip
        await await_requests(backend, 1)

    asyncio.run(main())
    cost = Decimal("0.0000135")
    key = {"scope": "api_key", "subject": KEY_HASH, "alias": "ci-key"}
    assert backend.exact("llm_budget_spend_usd", **key) == Decimal("1.25") + cost
    assert (
        backend.exact("llm_budget_remaining_usd", **key) == Decimal("10.0") - Decimal("1.25") - cost
    )
    team = {"scope": "team", "subject": "team-a", "alias": "Team A"}
    assert (
        backend.exact("llm_budget_remaining_usd", **team) == Decimal("50.0") - Decimal("3.5") - cost
    )
    user = {"scope": "user", "subject": "user-1", "alias": ""}
    assert backend.exact("llm_budget_spend_usd", **user) == Decimal("0.75") + cost
    assert backend.series("llm_budget_limit_usd") == [
        {"scope": "api_key", "subject": KEY_HASH, "alias": "ci-key"},
        {"scope": "team", "subject": "team-a", "alias": "Team A"},
    ]  # the unlimited user budget has no limit series
    requests = labels("gpt-4o-mini", team="team-a")
    assert backend.value("llm_requests_total", status="success", error_type="", **requests) == 1.0


def test_a_call_seen_twice_counts_once_and_kwargs_stay_untouched() -> None:
    pipeline, backend = memory_pipeline(SETTINGS)
    logger = adapter.GatewayMetricsLogger(pipeline)
    kwargs = {"litellm_call_id": "call-1", "model": "m", "litellm_params": {"metadata": {}}}
    before = copy.deepcopy(kwargs)
    logger.log_failure_event(kwargs, None, None, None)
    asyncio.run(logger.async_log_failure_event(kwargs, None, None, None))  # the same call
    assert backend.sum("llm_requests_total") == 1.0
    assert kwargs == before
    logger.log_success_event({"litellm_call_id": "call-2", "model": "m"}, None, None, None)
    assert backend.sum("llm_requests_total") == 2.0


def test_hooks_never_raise_into_litellm() -> None:
    def broken() -> Any:
        raise ValueError("bad config")

    logger = adapter.GatewayMetricsLogger(factory=broken)
    logger.log_success_event(None, None, None, None)
    asyncio.run(logger.async_log_failure_event(object(), object(), object(), object()))
    asyncio.run(logger.log_success_fallback_event(None, None, None))
    assert logger.pipeline is None  # the failure was logged once; events are ignored


def test_function_style_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, backend = memory_pipeline(SETTINGS)
    monkeypatch.setattr(adapter, "_proxy_logger", adapter.GatewayMetricsLogger(pipeline))
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    try:
        for name in CALLBACK_LISTS:
            setattr(litellm, name, [])
        litellm.success_callback = [adapter.log_success]
        litellm.failure_callback = [adapter.log_failure]
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello")
        with pytest.raises(litellm.RateLimitError):
            litellm.completion(model="gpt-4o-mini", messages=MESSAGES,
                               mock_response="litellm.RateLimitError")  # fmt: skip
        wait_requests(backend, 2)
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
    assert backend.sum("llm_requests_total", status="success") == 1.0
    assert backend.sum("llm_requests_total", status="failure") == 1.0


def test_proxy_logger_builds_its_pipeline_from_the_environment_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAYMETRICS_BACKENDS", "memory")
    monkeypatch.setenv("GATEWAYMETRICS_PREFIX", "gw_")
    logger = adapter.GatewayMetricsLogger()  # what proxy_logger is: no pipeline yet
    assert logger._pipeline is None
    logger.log_success_event({"model": "m"}, None, None, None)
    (backend,) = logger.pipeline.backends
    assert backend.sum("gw_requests_total") == 1.0


def test_a_fallback_success_sharing_the_call_id_is_its_own_attempt() -> None:
    # In the proxy the failed primary and the fallback's success share one logging
    # object, hence one litellm_call_id; both attempts count.
    pipeline, backend = memory_pipeline(SETTINGS)
    logger = adapter.GatewayMetricsLogger(pipeline)
    primary = {"litellm_call_id": "shared", "model": "gpt-4o-mini",
               "exception": ValueError("primary down")}  # fmt: skip
    backup = {"litellm_call_id": "shared", "model": "gpt-4o", "exception": ValueError("kept")}
    asyncio.run(logger.async_log_failure_event(primary, None, None, None))
    asyncio.run(logger.async_log_success_event(backup, None, None, None))
    logger.log_failure_event(primary, None, None, None)  # a second report of the failure
    assert backend.sum("llm_requests_total", status="failure") == 1.0
    assert backend.sum("llm_requests_total", status="success") == 1.0


def test_a_cache_hit_is_counted_as_one(recorder: tuple[Any, MemoryBackend]) -> None:
    require_module("fastapi", "install the LiteLLM proxy's dependencies: make test does")
    _, backend = recorder
    litellm.cache = litellm.Cache(type="local")
    for _ in range(2):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Cached",
                           caching=True)  # fmt: skip
    wait_requests(backend, 2)
    assert backend.sum("llm_requests_total", status="success") == 2.0
    assert backend.sum("llm_cache_hits_total") == 1.0
    # The cache answered for free: spend counts the first call only.
    assert backend.exact_sum("llm_spend_usd_total") == Decimal("0.0000135")


_LOAD = """
import importlib, socket, sys
module = importlib.import_module("gatewaymetrics.adapters.litellm")
port = int(sys.argv[1])
def listening():
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
print("after import:", listening())
getattr(module, "proxy_logger")  # what LiteLLM's proxy does with the callback's name
print("after load:", listening())
"""


def test_the_proxy_logger_serves_when_loaded_not_at_the_first_call(tmp_path: Path) -> None:
    """LiteLLM's proxy imports the module and looks ``proxy_logger`` up at start-up:
    /metrics is up from then on (an idle proxy is not "down"); importing alone serves
    nothing; a configuration error is logged then, not at the first request."""
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}  # fmt: skip
    env.pop("GATEWAYMETRICS_CONFIG", None)
    run = subprocess.run([sys.executable, "-c", _LOAD, str(port)], env=env,
                         capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    assert run.stdout.splitlines() == ["after import: False", "after load: True"]
    bad = {**env, "GATEWAYMETRICS_STATSD_PORT": "70000", "GATEWAYMETRICS_BACKENDS": "statsd"}
    run = subprocess.run([sys.executable, "-c", _LOAD, str(port)], env=bad,
                         capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    assert "gatewaymetrics: no metrics, the pipeline failed" in run.stderr
    assert "GATEWAYMETRICS_STATSD_PORT" in run.stderr
