"""Real LiteLLM calls with ``mock_response`` (no network), for the demo and tests.

The LiteLLM adapter's second module (the only other importer of ``litellm``): it
makes calls, the adapter (:mod:`gatewaymetrics.adapters.litellm`) records them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from gatewaymetrics.adapters.litellm import GatewayMetricsLogger

try:
    import litellm
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the LiteLLM driver needs litellm: pip install 'gatewaymetrics[litellm]'"
    ) from exc

__all__ = ["CALLBACK_LISTS", "MockCall", "drive", "fallback_router"]


@attrs.frozen(kw_only=True)
class MockCall:
    """One LiteLLM call made with ``mock_response`` (no network): ``kind`` is chat,
    stream, embedding or fallback (a Router whose ``model`` group fails over to
    ``fallback_model``); ``fail`` makes the provider answer with a rate limit."""

    kind: str
    model: str
    metadata: Mapping[str, object] = attrs.field(factory=dict)
    fail: bool = False
    delay_s: float = 0.0
    fallback_model: str = "gpt-4o"


#: Every LiteLLM list a ``CustomLogger`` in ``litellm.callbacks`` gets copied into
#: (LiteLLM keeps one logger per class in them: a stale one would get the next events).
CALLBACK_LISTS = (
    "callbacks", "input_callback", "success_callback", "failure_callback",
    "service_callback", "_async_input_callback", "_async_success_callback",
    "_async_failure_callback",
)  # fmt: skip
_MESSAGES = [{"role": "user", "content": "Summarise the gateway metrics in one line."}]


async def _one(call: MockCall, router: Any) -> None:
    common: dict[str, Any] = {"metadata": dict(call.metadata), "mock_delay": call.delay_s}
    reply = "litellm.RateLimitError" if call.fail else "Requests, tokens and spend look healthy."
    try:
        if call.kind == "embedding":
            await litellm.aembedding(model=call.model, input=["gateway"], mock_response=[0.1, 0.2],
                                     metadata=common["metadata"])  # fmt: skip
        elif call.kind == "fallback":
            await router.acompletion(model="primary", messages=_MESSAGES, **common)
        elif call.kind == "stream":
            response = await litellm.acompletion(model=call.model, messages=_MESSAGES, stream=True,
                                                 mock_response=reply, **common)  # fmt: skip
            async for _ in response:
                pass
        else:
            await litellm.acompletion(model=call.model, messages=_MESSAGES, mock_response=reply,
                                      **common)  # fmt: skip
    except Exception:  # the mock failures are the point: they are recorded by the hooks
        return


def fallback_router(answer: str = "Answered by the fallback.") -> Any:
    """A LiteLLM Router whose model group ``primary`` (gpt-4o-mini) always fails with a
    provider error and falls back to ``backup`` (gpt-4o), which answers ``answer``."""
    return litellm.Router(  # type: ignore[attr-defined]  # exported lazily by litellm
        model_list=[
            {"model_name": "primary", "litellm_params": {
                "model": "gpt-4o-mini", "mock_response": "litellm.InternalServerError"}},
            {"model_name": "backup", "litellm_params": {
                "model": "gpt-4o", "mock_response": answer}},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )  # fmt: skip


async def drive(
    calls: Sequence[MockCall],
    logger: GatewayMetricsLogger,
    *,
    concurrency: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Make ``calls`` through real LiteLLM with ``logger`` as its only callback, then
    wait until LiteLLM's background logging has delivered every event. LiteLLM's
    callback lists are restored afterwards."""
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    litellm.callbacks = [logger]
    router = fallback_router()
    try:
        done = 0
        for start in range(0, len(calls), concurrency):
            batch = calls[start : start + concurrency]
            await asyncio.gather(*(_one(call, router) for call in batch))
            done += len(batch)
            if progress is not None:
                progress(done, len(calls))
        await asyncio.sleep(0.5)  # LiteLLM logs from tasks on this loop: let them finish
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
