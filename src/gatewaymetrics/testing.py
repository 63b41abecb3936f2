"""Test helpers: a pipeline over an in-memory backend, and a call builder.

from gatewaymetrics.testing import memory_pipeline

recorder = memory_pipeline()
recorder.pipeline.record_litellm(kwargs, response_obj, start, end)
assert recorder.backend.sum("llm_requests_total", status="success") == 1
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.core.records import CallEvent, CallRecord
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.pipeline import Pipeline

__all__ = ["MemoryPipeline", "call_event", "memory_pipeline"]


class MemoryPipeline(NamedTuple):
    pipeline: Pipeline
    backend: MemoryBackend


def memory_pipeline(settings: Settings | None = None) -> MemoryPipeline:
    """A fresh pipeline recording into a fresh :class:`MemoryBackend`."""
    backend = MemoryBackend()
    return MemoryPipeline(Pipeline([backend], settings), backend)


def call_event(**fields: Any) -> CallEvent:
    """A :class:`CallEvent` with a call built from ``fields`` (record defaults
    otherwise) and no budgets or problems."""
    return CallEvent(call=CallRecord(**fields))
