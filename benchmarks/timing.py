"""What the benchmarks share: the timing loop and the payload they replay."""

from __future__ import annotations

import datetime as dt
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPEATS = 7
PAYLOADS = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"


def median_us(run: Callable[[], object], events: int, repeats: int = REPEATS) -> float:
    """The median, over ``repeats`` runs of ``events`` calls, of microseconds per call."""
    timings = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        for _ in range(events):
            run()
        timings.append((time.perf_counter() - start) / events * 1e6)
    return statistics.median(timings)


def proxy_payload() -> tuple[dict[str, Any], Any, dt.datetime, dt.datetime]:
    """The captured LiteLLM 1.110.2 proxy-style success event: kwargs, response, times."""
    lines = [json.loads(line) for line in PAYLOADS.read_text(encoding="utf-8").splitlines()]
    payload = next(p for p in lines if p["scenario"] == "proxy_metadata")
    start = dt.datetime.fromisoformat(payload["start_time"])
    end = dt.datetime.fromisoformat(payload["end_time"])
    return payload["kwargs"], payload["response_obj"], start, end
