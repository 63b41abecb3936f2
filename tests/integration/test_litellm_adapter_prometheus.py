"""What a LiteLLM user runs: real LiteLLM 1.110.2 calls (``mock_response``, no network)
through ``GatewayMetricsLogger`` into the Prometheus backend. Exact values, and the
fast path took the common successes: every success of an identity after its first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gatewaymetrics import LabelSettings, Pipeline, Settings
from tests.conftest import require_module
from tests.integration.test_litellm_real import CALLBACK_LISTS, HOW
from tests.promtools import exposition_values, promtool_check

pytestmark = pytest.mark.integration

litellm = require_module("litellm", HOW)
adapter = require_module("gatewaymetrics.adapters.litellm", HOW)
driver = require_module("gatewaymetrics.adapters.litellm_driver", HOW)
prometheus = require_module("gatewaymetrics.backends.prometheus", HOW)
prometheus_client = require_module("prometheus_client", HOW)

MESSAGES = [{"role": "user", "content": "Say hello"}]
SETTINGS = Settings(labels=LabelSettings(identity=("requested_model", "model")))
Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def pipeline() -> Iterator[tuple[Pipeline, Any]]:
    """A Prometheus pipeline behind our logger, LiteLLM's only callback."""
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    registry = prometheus_client.CollectorRegistry()
    pipe = Pipeline([prometheus.PrometheusBackend(registry=registry)], SETTINGS)
    litellm.callbacks = [adapter.GatewayMetricsLogger(pipe)]
    try:
        yield pipe, registry
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)


def values(registry: Any) -> Values:
    exposition = prometheus_client.generate_latest(registry)
    assert promtool_check(exposition).returncode == 0
    return exposition_values(exposition.decode())


def total(found: Values, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items()
               if n == name and all((k, w) in ls for k, w in labels.items()))  # fmt: skip


def wait_for(registry: Any, requests: float, timeout: float = 10.0) -> None:
    """LiteLLM logs from a thread pool (sync) and from tasks (async)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if total(values(registry), "llm_requests_total") >= requests:
            break
        time.sleep(0.01)
    time.sleep(0.3)  # a repeated hook would arrive now; the counts below would show it


def test_real_calls_through_the_adapter_into_prometheus(pipeline: tuple[Pipeline, Any]) -> None:
    pipe, registry = pipeline
    for _ in range(3):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there")
    wait_for(registry, 3)
    router = driver.fallback_router()

    async def main() -> None:
        for _ in range(3):
            await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hi")
        for _ in range(2):
            stream = await litellm.acompletion(
                model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there", stream=True
            )
            async for _ in stream:
                pass
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES,
                                      mock_response="litellm.RateLimitError")  # fmt: skip
        await router.acompletion(model="primary", messages=MESSAGES)
        await asyncio.sleep(0.5)  # LiteLLM logs from tasks on this loop

    asyncio.run(main())
    wait_for(registry, 12)
    found = values(registry)
    mini = {"requested_model": "gpt-4o-mini", "model": "gpt-4o-mini"}
    assert total(found, "llm_requests_total", status="success", **mini) == 8.0
    assert total(found, "llm_requests_total", status="failure", error_type="rate_limited") == 1.0
    assert total(found, "llm_requests_total", status="failure") == 2.0  # and the primary
    assert total(found, "llm_requests_total", status="success", model="gpt-4o") == 1.0
    assert total(found, "llm_requests_total") == 11.0
    assert total(found, "llm_fallbacks_total") == 1.0
    # Plain calls: 10 input, 20 output tokens, $0.0000135; streams: 9, 2, $0.00000255.
    assert total(found, "llm_tokens_total", token_type="input", **mini) == 6 * 10 + 2 * 9
    assert total(found, "llm_tokens_total", token_type="output", **mini) == 6 * 20 + 2 * 2
    spend = total(found, "llm_spend_usd_total", **mini)
    assert spend == pytest.approx(6 * 1.35e-05 + 2 * 2.55e-06, rel=1e-12)
    assert total(found, "llm_tokens_total", model="gpt-4o") == 30.0
    assert total(found, "llm_request_duration_seconds_count", **mini) == 9.0  # rate limit too
    assert total(found, "llm_time_to_first_token_seconds_count", **mini) == 2.0
    assert total(found, "gatewaymetrics_input_problems_total") == 0.0
    # Three identities of successes (sync, async, async stream): all but their first
    # events took the fast path; failures and the fallback took the general one.
    assert pipe.fast_events == 2 + 2 + 1
