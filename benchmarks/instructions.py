"""CPU instructions per event of (a) and (c), free of the machine's timing noise.

    make bench-instructions      (valgrind must be installed: apt-get install valgrind)

Runs each of (a) gatewaymetrics into Prometheus and (c) the floor (see
prometheus_overhead.py) under ``valgrind --tool=cachegrind`` twice, with no events
and with ``EVENTS``, and prints the difference per event, with taking the next payload
subtracted from (a) as the timing benchmark does. LiteLLM is not imported (its
import under valgrind takes minutes), so the response stays a dict.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EVENTS = 1000
HERE = Path(__file__).resolve().parent


def run(what: str, events: int) -> None:
    """The measured process: ``what`` is "a", "c" or "step"."""
    sys.modules["litellm"] = None  # type: ignore[assignment]  # blocks the import
    from prometheus_client import CollectorRegistry
    from prometheus_overhead import floor_updates
    from timing import proxy_stream

    from gatewaymetrics import Pipeline
    from gatewaymetrics.backends.prometheus import PrometheusBackend

    following = proxy_stream()
    pipeline = Pipeline([PrometheusBackend(registry=CollectorRegistry())])
    for _ in range(20):
        pipeline.record_litellm(*following(), failed=False)
    kwargs, response, _, _ = following()
    updates = floor_updates(kwargs, response)
    for _ in range(events):
        if what == "a":
            pipeline.record_litellm(*following(), failed=False)
        elif what == "c":
            for update, amount in updates:
                update(amount)
        else:
            following()


def instructions(what: str, events: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, what, str(events)],
        capture_output=True, text=True, check=True, env=os.environ,
    ).stderr  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{out[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    per_event = {
        what: (instructions(what, EVENTS) - instructions(what, 0)) / EVENTS
        for what in ("a", "c", "step")
    }
    a, c = per_event["a"] - per_event["step"], per_event["c"]
    print(f"instructions per event: (a) {a:,.0f}  (c) {c:,.0f}  (a)/(c) = {a / c:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        sys.path.insert(0, str(HERE))
        run(sys.argv[1], int(sys.argv[2]))
    else:
        main()
