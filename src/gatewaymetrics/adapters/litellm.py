"""The LiteLLM adapter: a ``CustomLogger`` that records every call exactly once.

SDK::

    import litellm
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.config import build_pipeline
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.records import CallRecord

    litellm.callbacks = [GatewayMetricsLogger(build_pipeline())]

Proxy (``config.yaml``)::

    litellm_settings:
      callbacks: ["gatewaymetrics.adapters.litellm.proxy_logger"]

``proxy_logger`` builds its pipeline from ``GATEWAYMETRICS_*`` variables or the
``GATEWAYMETRICS_CONFIG`` file on its first event (importing this module does nothing
else), and serves ``/metrics`` on its own port (default 127.0.0.1:9464).

The only module that imports ``litellm``. Hooks never raise into LiteLLM, never block
its event loop on the network (the backends do not), and never modify its kwargs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from gatewaymetrics.config import build_pipeline
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.records import CallRecord
from gatewaymetrics.pipeline import Pipeline

try:
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the LiteLLM adapter needs litellm: pip install 'gatewaymetrics[litellm]'"
    ) from exc

__all__ = [
    "GatewayMetricsLogger",
    "MockCall",
    "drive",
    "log_failure",
    "log_success",
    "proxy_logger",
]

log = logging.getLogger("gatewaymetrics")

#: How many recent call ids are remembered to drop a second hook for the same call.
DEDUPE_WINDOW = 65_536


class GatewayMetricsLogger(CustomLogger):
    """Records LiteLLM's success, failure and router fallback events into a pipeline.

    Give it a ``pipeline``, or a ``factory`` that makes one on the first event (the
    proxy's module-level instance uses :func:`gatewaymetrics.config.build_pipeline`).
    A call is counted once, whatever mix of hooks LiteLLM fires for it: events are
    keyed by ``litellm_call_id``, outcome and model, and a repeat is dropped. A stream
    counts once, from its final event, never per chunk.
    """

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        *,
        factory: Callable[[], Pipeline] | None = None,
        dedupe_window: int = DEDUPE_WINDOW,
    ) -> None:
        super().__init__()
        if pipeline is None and factory is None:
            factory = build_pipeline
        self._pipeline = pipeline
        self._factory = factory
        self._lock = threading.Lock()
        self._seen: dict[tuple[object, ...], None] = {}
        self._window = dedupe_window
        self._broken = False

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline, made on first use; None if making it failed (logged once)."""
        if self._pipeline is None and not self._broken:
            with self._lock:
                if self._pipeline is None and not self._broken and self._factory is not None:
                    try:
                        self._pipeline = self._factory()
                    except Exception as exc:  # a config error must not break the gateway
                        self._broken = True
                        log.error("gatewaymetrics: no metrics, the pipeline failed: %s", exc)
        return self._pipeline

    def _first_time(self, call: CallRecord) -> bool:
        """Whether this is the first report of this attempt. An attempt is its call id
        with its outcome and model: the proxy's fallback success shares the failed
        primary's call id (one logging object) but is another attempt."""
        if call.call_id is None:
            return True
        key = (call.call_id, call.status, call.requested_model, call.model, call.deployment_id)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._window:
                del self._seen[next(iter(self._seen))]
        return True

    def _record(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, *, failed: bool
    ) -> None:
        try:
            pipeline = self.pipeline
            if pipeline is None:
                return
            event = parse_litellm(
                kwargs, response_obj, start_time, end_time,
                failed=failed, custom_labels=pipeline.settings.labels.custom,
            )  # fmt: skip
            if self._first_time(event.call):
                pipeline.record(event)
        except Exception as exc:  # pragma: no cover - parsing and recording never raise
            log.error("gatewaymetrics: event not recorded: %s", type(exc).__name__)

    def _fallback(self, original_model_group: Any, kwargs: Any, *, succeeded: bool) -> None:
        try:
            pipeline = self.pipeline
            if pipeline is None:
                return
            fallback = kwargs.get("model") if isinstance(kwargs, dict) else None
            pipeline.record_fallback(
                original_model_group if isinstance(original_model_group, str) else None,
                fallback if isinstance(fallback, str) else None,
                succeeded=succeeded,
            )
        except Exception as exc:  # pragma: no cover - record_fallback never raises
            log.error("gatewaymetrics: fallback not recorded: %s", type(exc).__name__)

    # -- LiteLLM's hooks ------------------------------------------------------------------

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    def log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    async def log_success_fallback_event(
        self,
        original_model_group: Any,
        kwargs: Any,
        original_exception: Any,  # noqa: ARG002  # LiteLLM's signature; the class name is in kwargs
    ) -> None:
        self._fallback(original_model_group, kwargs, succeeded=True)

    async def log_failure_fallback_event(
        self,
        original_model_group: Any,
        kwargs: Any,
        original_exception: Any,  # noqa: ARG002  # LiteLLM's signature
    ) -> None:
        self._fallback(original_model_group, kwargs, succeeded=False)


#: The proxy's callback, named in ``litellm_settings: callbacks:`` as
#: ``gatewaymetrics.adapters.litellm.proxy_logger``.
proxy_logger = GatewayMetricsLogger(factory=build_pipeline)


def log_success(kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
    """Function-style callback: ``litellm.success_callback = [log_success]``."""
    proxy_logger.log_success_event(kwargs, response_obj, start_time, end_time)


def log_failure(kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
    """Function-style callback: ``litellm.failure_callback = [log_failure]``."""
    proxy_logger.log_failure_event(kwargs, response_obj, start_time, end_time)


# -- driving LiteLLM with mock calls (the demo) ----------------------------------------


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


_CALLBACK_LISTS = (
    "callbacks", "input_callback", "success_callback", "failure_callback",
    "_async_input_callback", "_async_success_callback", "_async_failure_callback",
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
    saved = {name: list(getattr(litellm, name)) for name in _CALLBACK_LISTS}
    for name in _CALLBACK_LISTS:
        setattr(litellm, name, [])
    litellm.callbacks = [logger]
    router = litellm.Router(  # type: ignore[attr-defined]  # exported lazily by litellm
        model_list=[
            {"model_name": "primary", "litellm_params": {
                "model": "gpt-4o-mini", "mock_response": "litellm.InternalServerError"}},
            {"model_name": "backup", "litellm_params": {
                "model": "gpt-4o", "mock_response": "Answered by the fallback."}},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )  # fmt: skip
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
