"""Per-event cost of the pure core and the pipeline, on a real captured payload.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/core_overhead.py

Prints the median microseconds per event over several repetitions for:
  (a) parse_litellm alone;
  (b) Pipeline.record_litellm into a backend that does nothing (core + pipeline);
  (c) Pipeline.record_litellm into the in-memory backend;
and the ratios b/a and c/a, measured in the same run so machine noise cancels out.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from timing import median_us, proxy_payload

from gatewaymetrics import Metric, Pipeline, Sample, parse_litellm
from gatewaymetrics.backends.memory import MemoryBackend


class NullBackend:
    name = "null"

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        pass

    def close(self) -> None:
        pass


def main(events: int = 2000) -> None:
    kwargs, response, _, _ = proxy_payload()
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
