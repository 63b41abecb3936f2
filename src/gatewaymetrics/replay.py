"""Captured LiteLLM callback payloads, as JSON lines, fed back through a pipeline.

One JSON object per line: ``{"kwargs": {...}, "response_obj": ..., "start_time": ...,
"end_time": ..., "hook": "log_success_event"}``. ``hook`` names the callback that
fired; a hook with "failure" in its name records a failure, "success" a success. A
line that is not such an object is reported with its number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from gatewaymetrics.pipeline import Pipeline

__all__ = ["BadLine", "Payload", "read_payloads", "replay"]


class Payload(NamedTuple):
    line: int
    kwargs: object
    response_obj: object
    start_time: object
    end_time: object
    failed: bool | None


class BadLine(NamedTuple):
    line: int
    reason: str


def _failed(hook: object) -> bool | None:
    if not isinstance(hook, str):
        return None
    if "failure" in hook:
        return True
    if "success" in hook:
        return False
    return None


def read_payloads(lines: Iterable[str]) -> Iterator[Payload | BadLine]:
    """Each non-blank line as a :class:`Payload`, or a :class:`BadLine` saying why not."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield BadLine(number, f"not JSON ({exc.__class__.__name__})")
            continue
        if not isinstance(data, dict) or "kwargs" not in data:
            yield BadLine(number, 'not an object with a "kwargs" key')
            continue
        yield Payload(
            line=number,
            kwargs=data["kwargs"],
            response_obj=data.get("response_obj"),
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            failed=_failed(data.get("hook")),
        )


def replay(lines: Iterable[str], pipeline: Pipeline) -> tuple[int, list[BadLine]]:
    """Record every good line; return how many were recorded and the bad lines."""
    recorded, bad = 0, []
    for item in read_payloads(lines):
        if isinstance(item, BadLine):
            bad.append(item)
            continue
        pipeline.record_litellm(
            item.kwargs, item.response_obj, item.start_time, item.end_time, failed=item.failed
        )
        recorded += 1
    return recorded, bad
