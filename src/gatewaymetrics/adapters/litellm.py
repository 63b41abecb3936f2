"""The LiteLLM adapter: a ``CustomLogger`` that records every call exactly once.

SDK::

    import litellm
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.config import build_pipeline

    litellm.callbacks = [GatewayMetricsLogger(build_pipeline())]

Proxy (``config.yaml``; LiteLLM itself refuses to start without a master key)::

    general_settings:
      master_key: os.environ/LITELLM_MASTER_KEY
    litellm_settings:
      callbacks: ["gatewaymetrics.adapters.litellm.proxy_logger"]

``proxy_logger`` builds its pipeline from ``GATEWAYMETRICS_*`` variables or the
``GATEWAYMETRICS_CONFIG`` file when the proxy loads it (so a configuration error shows
at start-up, and ``/metrics`` is up before the first LLM call), and serves ``/metrics``
on its own port (default 127.0.0.1:9464). Importing this module alone starts nothing.

With ``adapters/litellm_driver.py`` (the demo's mock calls), the only module that
imports ``litellm``. Hooks never raise into LiteLLM, never block
its event loop on the network (the backends do not), and never modify its kwargs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gatewaymetrics.attempts import AttemptWindow
from gatewaymetrics.config import build_pipeline
from gatewaymetrics.core.litellm_fast import attempt_key
from gatewaymetrics.pipeline import Pipeline

try:
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the LiteLLM adapter needs litellm: pip install 'gatewaymetrics[litellm]'"
    ) from exc

__all__ = ["GatewayMetricsLogger", "log_failure", "log_success", "proxy_logger"]

log = logging.getLogger("gatewaymetrics")

#: How many recent attempts are remembered (at least half as many) to drop a second
#: hook for the same attempt.
DEDUPE_WINDOW = 65_536


class GatewayMetricsLogger(CustomLogger):
    """Records LiteLLM's success, failure and router fallback events into a pipeline.

    Give it a ``pipeline``, or a ``factory`` that makes one on the first event (the
    proxy's module-level instance uses :func:`gatewaymetrics.config.build_pipeline`).
    A call is counted once, whatever mix of hooks LiteLLM fires for it: events are
    keyed by the call's id, outcome and model (read raw, ``core.litellm_fast``), and a
    repeat is dropped. A stream
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
        self._attempts = AttemptWindow(dedupe_window)
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

    def _record(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, *, failed: bool
    ) -> None:
        try:
            pipeline = self._pipeline or self.pipeline
            # One report per attempt (its call id with its outcome and models: the proxy's
            # fallback success shares the failed primary's call id), told by raw values.
            if pipeline is not None and self._attempts.first(attempt_key(kwargs, failed)):
                pipeline.record_litellm(kwargs, response_obj, start_time, end_time, failed=failed)
        except Exception as exc:  # pragma: no cover - recording never raises
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


#: The proxy's callback (made by :func:`__getattr__` when it is looked up).
proxy_logger: GatewayMetricsLogger
_proxy_logger: GatewayMetricsLogger | None = None
_proxy_lock = threading.Lock()


def _the_proxy_logger() -> GatewayMetricsLogger:
    """The module's one logger (its pipeline built from the environment on first use)."""
    global _proxy_logger
    with _proxy_lock:
        if _proxy_logger is None:
            _proxy_logger = GatewayMetricsLogger(factory=build_pipeline)
        return _proxy_logger


def __getattr__(name: str) -> object:
    """``proxy_logger``, the proxy's callback (``litellm_settings: callbacks:``
    ``gatewaymetrics.adapters.litellm.proxy_logger``): looking it up is the proxy
    loading it, so its pipeline is built then (configuration checked, ``/metrics``
    served); a failure is logged then and events are ignored, never raised."""
    if name == "proxy_logger":
        logger = _the_proxy_logger()
        _ = logger.pipeline  # built now, not at the first LLM call
        return logger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def log_success(kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
    """Function-style callback: ``litellm.success_callback = [log_success]``."""
    _the_proxy_logger().log_success_event(kwargs, response_obj, start_time, end_time)


def log_failure(kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
    """Function-style callback: ``litellm.failure_callback = [log_failure]``."""
    _the_proxy_logger().log_failure_event(kwargs, response_obj, start_time, end_time)
