"""Per-event cost of the pure core and the pipeline, on a real captured payload.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/core_overhead.py

Prints the median microseconds per event over several repetitions for:
  (a) parse_litellm alone;
  (b) Pipeline.record_litellm into a backend that does nothing (core + pipeline);
  (c) Pipeline.record_litellm into the in-memory backend;
and the ratios b/a and c/a, measured in the same run so machine noise cancels out.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gatewaymetrics import Metric, Pipeline, Sample, parse_litellm
from gatewaymetrics.backends.memory import MemoryBackend

PAYLOADS = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"


class NullBackend:
    name = "null"

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        pass

    def close(self) -> None:
        pass


def median_us(run: Callable[[], None], events: int, repeats: int = 7) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(events):
            run()
        timings.append((time.perf_counter() - start) / events * 1e6)
    return statistics.median(timings)


def main(events: int = 2000) -> None:
    lines = [json.loads(line) for line in PAYLOADS.read_text(encoding="utf-8").splitlines()]
    payload = next(p for p in lines if p["scenario"] == "proxy_metadata")
    kwargs, response = payload["kwargs"], payload["response_obj"]
    null = Pipeline([NullBackend()])
    memory = Pipeline([MemoryBackend()])

    a = median_us(lambda: parse_litellm(kwargs, response, failed=False) and None, events)
    b = median_us(lambda: null.record_litellm(kwargs, response, failed=False), events)
    c = median_us(lambda: memory.record_litellm(kwargs, response, failed=False), events)
    print(f"payload: proxy_metadata success event, {events} events x 7 repetitions, medians")
    print(f"(a) parse_litellm                   {a:8.1f} us/event")
    print(f"(b) record_litellm, null backend    {b:8.1f} us/event   b/a = {b / a:.2f}")
    print(f"(c) record_litellm, memory backend  {c:8.1f} us/event   c/a = {c / a:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
