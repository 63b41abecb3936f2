"""A scrape at the default limits: size, lines, time, memory, and how long it stalls
recording.

    LITELLM_LOCAL_MODEL_COST_MAP=True PYTHONPATH=src .venv/bin/python benchmarks/scrape.py
        [CALLS] [--width N] [--rounds N]

Builds the pipeline users run (``gatewaymetrics.config.build_pipeline``, default
settings, the Prometheus backend, no own server at build time) and records CALLS calls
(default 1 000), each from a caller of its own and feeding every call metric (stream,
upstream time, cached and reasoning tokens, cost, cache hit, rate limits, a key
budget): every metric runs into the default series budget. ``--width N`` makes every
label value N characters long (the default length cap is 128), the worst case for
size. Then, best and worst of ``--rounds`` (default 5):

- the exposition in the Prometheus text format and in OpenMetrics (what Prometheus
  asks for): bytes, lines, seconds;
- an HTTP scrape of the real ``/metrics`` (``PrometheusBackend.serve``, loopback);
- the same HTTP scrape of an empty pipeline, and the ratio of the two;
- the worst stall of recording during scrapes: a thread records calls of a known
  caller back to back, timing each, while the main thread scrapes over HTTP; compared
  with the worst call of the same thread with no scrape running;
- the longest the store's lock is held during one scrape (what recording can wait
  for; the rest of a stall is the interpreter's lock, which a scrape in the same
  process shares with recording, and the operating system's scheduling);
- the peak resident memory of the process.

Prints which gatewaymetrics it measured (PYTHONPATH=src: the source tree; without it
the installed wheel).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from decimal import Decimal

import attrs

import gatewaymetrics
from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    Operation,
    Pipeline,
    Principal,
    TokenUsage,
)
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.config import Config, PrometheusConfig, build_pipeline

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def full_call(index: int, width: int = 0) -> CallEvent:
    """A call feeding every call metric, budgets and rate limits, from caller ``index``."""

    def text(name: str) -> str:
        value = f"{name}-{index}"
        return (value * (1 + width // len(value)))[:width] if width else value

    key = hashlib.sha256(str(index).encode()).hexdigest()
    call = CallRecord(
        operation=Operation.CHAT, provider=text("openai"), requested_model=text("gpt"),
        model=text("gpt-4o"),
        principal=Principal(api_key=key, api_key_alias=text("alias"), team_id=text("team"),
                            team_alias=text("squad"), user_id=text("user")),
        tokens=TokenUsage(input=10, output=20, cached_input=3, reasoning=4),
        cost_usd=Decimal("0.01"), started_at=1000.0, ended_at=1001.5, first_token_at=1000.2,
        upstream_started_at=1000.1, stream=True, cache_hit=True,
        ratelimit_remaining_requests=5, ratelimit_remaining_tokens=100,
    )  # fmt: skip
    budget = BudgetSnapshot(
        scope=BudgetScope.API_KEY, subject=key, limit_usd=Decimal(10), spend_usd=Decimal(1)
    )
    return CallEvent(call=call, budgets=(budget,))


def pipeline_with(
    calls: int, width: int, naming: str = "native"
) -> tuple[Pipeline, PrometheusBackend]:
    config = Config(prometheus=PrometheusConfig(port=0))
    config = attrs.evolve(config, settings=attrs.evolve(config.settings, naming=naming))
    pipeline = build_pipeline(config)
    for index in range(calls):
        pipeline.record(full_call(index, width))
    (backend,) = pipeline.backends
    assert isinstance(backend, PrometheusBackend)
    return pipeline, backend


def timed(action: Callable[[], bytes], rounds: int) -> tuple[float, float, bytes]:
    """(best, worst) seconds of ``rounds`` runs, and the last result."""
    times, result = [], b""
    for _ in range(rounds):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), max(times), result


def http_scrape(port: int) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    request.add_header("Accept", OPENMETRICS)
    with urllib.request.urlopen(request, timeout=120) as response:  # loopback only
        body: bytes = response.read()
        return body


def worst_stall(pipeline: Pipeline, during: Callable[[], object] | None, seconds: float) -> float:
    """The longest single ``record`` call of a recorder thread (one known caller) while
    ``during`` runs in a loop on this thread (or for ``seconds`` with nothing running)."""
    event = full_call(0)
    worst = 0.0
    stop = threading.Event()

    def record() -> None:
        nonlocal worst
        while not stop.is_set():
            start = time.perf_counter()
            pipeline.record(event)
            worst = max(worst, time.perf_counter() - start)

    recorder = threading.Thread(target=record)
    recorder.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if during is None:
            time.sleep(0.05)
        else:
            during()
    stop.set()
    recorder.join()
    return worst


class TimedLock:
    """A lock that remembers the longest time it was held."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since = 0.0
        self.longest = 0.0

    def __enter__(self) -> None:
        self._lock.acquire()
        self._since = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.longest = max(self.longest, time.perf_counter() - self._since)
        self._lock.release()


def longest_lock_hold(backend: PrometheusBackend) -> float:
    """The longest the store's lock is held during one scrape (OpenMetrics)."""
    store = backend._store
    assert store is not None
    lock, store.lock = store.lock, TimedLock()  # type: ignore[assignment]  # same protocol
    try:
        backend.exposition(OPENMETRICS)
        return store.lock.longest  # type: ignore[attr-defined, no-any-return]
    finally:
        store.lock = lock


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("calls", nargs="?", type=int, default=1000)
    parser.add_argument("--width", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"gatewaymetrics from {gatewaymetrics.__file__}")

    start = time.perf_counter()
    pipeline, backend = pipeline_with(args.calls, args.width)
    values = f"of {args.width} characters" if args.width else "short"
    print(f"{args.calls} callers recorded in {time.perf_counter() - start:.1f} s"
          f" (label values {values})")  # fmt: skip
    for name, accept in (("text", None), ("openmetrics", OPENMETRICS)):
        best, worst, body = timed(lambda a=accept: backend.exposition(a)[0], args.rounds)  # type: ignore[misc]
        lines = body.count(b"\n")
        print(f"exposition {name:11}: {len(body) / 1e6:6.2f} MB, {lines:7} lines,"
              f" {best:.3f} to {worst:.3f} s")  # fmt: skip

    empty_pipeline, empty_backend = pipeline_with(0, 0)
    _, empty_port = empty_backend.serve(port=0)
    empty_best, _, empty_body = timed(lambda: http_scrape(empty_port), args.rounds)
    _, port = backend.serve(port=0)
    best, worst, body = timed(lambda: http_scrape(port), args.rounds)
    print(f"HTTP scrape at the cap   : {len(body) / 1e6:6.2f} MB, {best:.3f} to {worst:.3f} s;"
          f" empty: {len(empty_body)} bytes, {empty_best * 1e3:.2f} ms;"
          f" ratio {best / empty_best:.0f}")  # fmt: skip

    hold = longest_lock_hold(backend)
    print(f"longest hold of the store's lock during a scrape: {hold * 1e3:.2f} ms")
    quiet = worst_stall(pipeline, None, 2.0)
    busy = worst_stall(pipeline, lambda: http_scrape(port), 4.0)
    print(f"worst record() call: {busy * 1e3:.2f} ms during scrapes,"
          f" {quiet * 1e3:.2f} ms without (ratio {busy / quiet:.1f})")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB")
    empty_pipeline.close()
    pipeline.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
