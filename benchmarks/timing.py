"""What the benchmarks share: the timing loops and the payloads they replay."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPEATS = 7
PAYLOADS = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"

Payload = tuple[dict[str, Any], Any, dt.datetime, dt.datetime]


#: Runs the given number of events and returns the seconds they took, as it measured
#: them (so it can leave out what an event does not cost: an event loop's start-up).
Batch = Callable[[int], float]


def median_us(run: Callable[[], object], events: int, repeats: int = REPEATS) -> float:
    """The median, over ``repeats`` runs of ``events`` calls, of microseconds per call."""
    return interleaved_us({"run": (run, events)}, repeats)["run"]


def interleaved_us(
    runs: Mapping[str, tuple[Callable[[], object], int]], repeats: int = REPEATS
) -> dict[str, float]:
    """Per run, the median over ``repeats`` rounds of microseconds per call, where each
    round times every run once, in turn: a slower or faster spell of a shared machine
    then touches all of them alike, so their ratios hold."""
    batches = {name: (timed_loop(run), events) for name, (run, events) in runs.items()}
    return interleaved_batches_us(batches, repeats)


def interleaved_batches_us(
    runs: Mapping[str, tuple[Batch, int]], repeats: int = REPEATS
) -> dict[str, float]:
    """:func:`interleaved_us` for batches: each round runs every batch once, in turn,
    with its number of events; per run, the median of microseconds per event."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (batch, events) in runs.items():
            gc.collect()
            timings[name].append(batch(events) / events * 1e6)
    return {name: statistics.median(values) for name, values in timings.items()}


def timed_loop(run: Callable[[], object]) -> Batch:
    """A batch that calls ``run`` once per event, timed around the loop."""

    def batch(events: int) -> float:
        start = time.perf_counter()
        for _ in range(events):
            run()
        return time.perf_counter() - start

    return batch


def proxy_payload() -> Payload:
    """The captured LiteLLM 1.110.2 proxy-style success event: kwargs, response, times."""
    lines = [json.loads(line) for line in PAYLOADS.read_text(encoding="utf-8").splitlines()]
    payload = next(p for p in lines if p["scenario"] == "proxy_metadata")
    start = dt.datetime.fromisoformat(payload["start_time"])
    end = dt.datetime.fromisoformat(payload["end_time"])
    return payload["kwargs"], payload["response_obj"], start, end


def proxy_stream(ring: int = 8) -> Callable[[], Payload]:
    """Successive calls of one caller, as a gateway sees them: a function giving the
    next payload, each a copy of the proxy-style one that shares no dict or string
    value with the one before, with its own call id, tokens, cost, times and a budget
    spend that keeps growing. Its dict keys are interned, as LiteLLM's are (they are
    string literals of its code; keys fresh from ``json.loads`` are not, and cost
    every lookup a string comparison that no gateway pays). ``ring`` copies are reused
    round robin and rewritten in place (a gateway's payload is freshly built, so it is
    in the CPU caches; a long ring of prepared copies would measure cache misses
    instead). The rewriting is part of each call: benchmarks time it alone and
    subtract it."""
    kwargs, response, start, end = proxy_payload()
    text = json.dumps([kwargs, response])
    copies = [_as_litellm_passes_it(*_interned_keys(json.loads(text))) for _ in range(ring)]
    counter = itertools.count()
    spends = ("user_api_key_spend", "user_api_key_team_spend", "user_api_key_user_spend")
    base_spend = [kwargs["standard_logging_object"]["metadata"][name] for name in spends]
    base_times = [kwargs["standard_logging_object"][name]
                  for name in ("startTime", "endTime", "completionStartTime")]  # fmt: skip

    base_datetimes = {name: copies[0][0][name] for name in _DATETIMES}

    def following() -> Payload:
        index = next(counter)
        kw, resp = copies[index % ring]
        slo = kw["standard_logging_object"]
        meta, legacy = slo["metadata"], kw["litellm_params"]["metadata"]
        slo["litellm_call_id"] = kw["litellm_call_id"] = f"call-{index}"
        slo["prompt_tokens"] = 10 + index % 13
        slo["completion_tokens"] = 20 + index % 17
        slo["response_cost"] = kw["response_cost"] = 1.35e-05 * (1 + index % 7)
        shift = index * 0.25
        slo["startTime"], slo["endTime"], slo["completionStartTime"] = (
            base_times[0] + shift, base_times[1] + shift, base_times[2] + shift)  # fmt: skip
        step = dt.timedelta(seconds=shift)
        for name, base in base_datetimes.items():
            kw[name] = base + step
        for name, spend in zip(spends, base_spend, strict=True):
            meta[name] = legacy[name] = spend + index * 1e-4
        return kw, resp, start, end

    return following


_DATETIMES = ("api_call_start_time", "completion_start_time")


def _interned_keys(value: Any) -> Any:
    """``value`` (parsed JSON) with every dict key interned."""
    if isinstance(value, dict):
        return {sys.intern(key): _interned_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_interned_keys(item) for item in value]
    return value


def _as_litellm_passes_it(kwargs: dict[str, Any], response: Any) -> tuple[dict[str, Any], Any]:
    """A JSON-captured payload with the types LiteLLM hands a callback in-process: its
    times as datetimes and the response as a ``ModelResponse`` (when LiteLLM is
    installed; a dict otherwise)."""
    for name in _DATETIMES:
        kwargs[name] = dt.datetime.fromisoformat(kwargs[name])
    try:
        from litellm import ModelResponse
    except ImportError:
        return kwargs, response
    return kwargs, ModelResponse(**response)
