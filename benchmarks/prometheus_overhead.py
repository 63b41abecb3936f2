"""Per-event cost of the Prometheus path, against LiteLLM's own logger and the floor.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/prometheus_overhead.py

One process, one realistic payload (a LiteLLM 1.110.2 success event captured with
proxy-style metadata: key, team, user, budgets; examples/litellm_payloads.jsonl), taken
fresh for every event as a gateway would hand it over (timing.proxy_stream: own call id,
tokens, cost, times, growing budget spends; datetimes and a ModelResponse, as LiteLLM
passes them in-process). Medians of interleaved rounds, in microseconds per event:

  (a) gatewaymetrics: Pipeline.record_litellm into the Prometheus backend;
  (b) LiteLLM's PrometheusLogger.async_log_success_event on the same kwargs (needs the
      LiteLLM proxy's dependencies, prisma included; otherwise its lazy imports fail
      on every event and its figure is inflated, so the script says so);
  (c) the floor: the very same series updates (the samples (a) makes) applied directly
      to pre-resolved prometheus_client children.

Prints (b)/(a) (target >= 100) and (a)/(c) (target <= 2), then the scrape time and the
resident memory of 10 000 active series.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from timing import Payload, interleaved_us, proxy_payload, proxy_stream

from gatewaymetrics import Metric, Pipeline, Sample, Settings
from gatewaymetrics.backends.prometheus import PrometheusBackend, client_metric
from gatewaymetrics.core.catalog import MetricKind

#: Rounds of interleaved timing: more than the other benchmarks, as (b)/(a) and (a)/(c)
#: are the figures that matter here and a shared machine's spells move single rounds.
ROUNDS = 15


class Recorder:
    """A backend that keeps the samples of the last event (to build the floor)."""

    name = "recorder"

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)

    def close(self) -> None:
        pass


def floor_updates(
    kwargs: dict[str, Any], response: Any
) -> list[tuple[Callable[[float], None], float]]:
    """The exact updates (a) makes, on ``prometheus_client`` children resolved once,
    values converted once."""
    recorder = Recorder()
    Pipeline([recorder]).record_litellm(kwargs, response, failed=False)
    registry = CollectorRegistry()
    wrappers: dict[Metric, Any] = {}
    updates = []
    for metric, labels, value in recorder.samples:
        assert value is not None
        spec = metric.spec
        if metric not in wrappers:
            wrappers[metric] = client_metric(metric, registry)
        child = wrappers[metric].labels(*labels)
        update = (
            child.inc if spec.kind is MetricKind.COUNTER
            else child.set if spec.kind is MetricKind.GAUGE
            else child.observe
        )  # fmt: skip
        amount = float(value)
        updates.append((update, amount))
    return updates


def litellm_logger(
    following: Callable[[], Payload],
) -> tuple[Callable[[], object] | None, str]:
    """LiteLLM's own Prometheus logger, or None and why not."""
    try:
        from litellm.integrations.prometheus import PrometheusLogger
    except Exception as exc:  # report, do not crash the benchmark
        return None, f"cannot import LiteLLM's PrometheusLogger: {type(exc).__name__}: {exc}"
    failures: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING or "rror" in record.getMessage():
                failures.append(record.getMessage()[:160])

    for name in ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router"):
        logging.getLogger(name).addHandler(Catch())
    try:
        logger = PrometheusLogger()
    except Exception as exc:
        return None, f"PrometheusLogger() failed: {type(exc).__name__}: {exc}"
    loop = asyncio.new_event_loop()

    def run() -> object:
        kwargs, response, start, end = following()
        fresh = copy.copy(kwargs)  # the logger may annotate kwargs; keep ours pristine
        return loop.run_until_complete(logger.async_log_success_event(fresh, response, start, end))

    run()
    note = "" if not failures else f"; LiteLLM logged errors: {failures[0]}"
    return run, note


def resident_kib() -> int:
    """The resident set size now (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def series_cost(series: int = 10_000) -> tuple[float, float, int]:
    """Scrape time (ms) and resident memory (MiB) of ``series`` active series."""
    gc.collect()
    before = resident_kib()
    backend = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([backend], Settings(series_cap=series))
    kwargs, _, _, _ = proxy_payload()
    slo = kwargs["standard_logging_object"]
    # One llm_requests_total series per user and nothing else: no tokens, a known zero
    # cost, no timings.
    for index in range(series):
        variant = dict(kwargs, api_call_start_time=None, litellm_params={})
        metadata = {"user_api_key_user_id": f"user-{index}",
                    "user_api_key_hash": slo["metadata"]["user_api_key_hash"]}  # fmt: skip
        variant["standard_logging_object"] = dict(
            slo, metadata=metadata, prompt_tokens=0, completion_tokens=0, response_cost=0.0,
            startTime=None, endTime=None, completionStartTime=None, hidden_params={},
        )  # fmt: skip
        pipeline.record_litellm(variant, None, failed=False)
    count = sum(
        1
        for family in backend.registry.collect()
        if family.name == "llm_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    start = time.perf_counter()
    scrapes = 5
    for _ in range(scrapes):
        generate_latest(backend.registry)
    scrape_ms = (time.perf_counter() - start) / scrapes * 1e3
    gc.collect()
    after = resident_kib()
    return scrape_ms, (after - before) / 1024, count


def main(events: int = 2000) -> None:
    kwargs, response, _, _ = proxy_payload()
    backend = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([backend])
    following = proxy_stream()

    def ours() -> None:
        pipeline.record_litellm(*following(), failed=False)

    updates = floor_updates(kwargs, response)

    def floor() -> None:
        for update, amount in updates:
            update(amount)

    def baseline() -> None:
        following()  # what taking the next payload costs (a and b pay it too)

    ours()
    runs = {"a": (ours, events), "c": (floor, events), "0": (baseline, events)}
    theirs, note = litellm_logger(following)
    if theirs is not None:
        runs["b"] = (theirs, max(events // 10, 50))
    medians = interleaved_us(runs, ROUNDS)
    step = medians["0"]
    a, c = medians["a"] - step, medians["c"]
    b = medians["b"] - step if "b" in medians else None

    print("payload: LiteLLM 1.110.2 proxy-style success events, fresh copies with their own "
          "ids, tokens, costs, times and growing spends; "
          f"{len(updates)} series updates each")  # fmt: skip
    print(f"medians of {ROUNDS} interleaved rounds of {events} events (LiteLLM's: a tenth "
          f"as many); taking the next payload ({step:.2f} us) is subtracted")  # fmt: skip
    print(f"(a) gatewaymetrics record_litellm -> Prometheus  {a:9.1f} us/event")
    if b is not None:
        print(f"(b) LiteLLM PrometheusLogger                     {b:9.1f} us/event{note}")
    else:
        print(f"(b) LiteLLM PrometheusLogger                     unavailable ({note})")
    print(f"(c) floor: the same updates on resolved children {c:9.1f} us/event")
    if b is not None:
        print(f"(b)/(a) = {b / a:6.1f}   (target >= 100)")
    print(f"(a)/(c) = {a / c:6.2f}   (target <= 2)")
    scrape_ms, rss_mib, count = series_cost()
    print(f"{count} active series (plus their _created samples): scrape {scrape_ms:.1f} ms, "
          f"resident memory +{rss_mib:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
