"""Per-event cost of the installed Prometheus path, against LiteLLM's logger and the floor.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/prometheus_overhead.py
        [EVENTS] [--pure | --both | --wheel PATH ...] [--naming litellm]

Measures gatewaymetrics as ``pip install`` gives it, never the source tree: started from
the project venv, the script builds the project's wheel (``pip wheel --no-deps``, with
build isolation: what ``pip install .`` builds, compiled modules included when the
build hook makes them), installs it into a fresh venv that borrows every other package
from the project venv (installed_wheel.py), and runs itself again there with
``--inside``, which first prints which gatewaymetrics runs (its file, the wheel's tag,
whether each hot module is compiled) and refuses the one in ``src/``. ``--pure`` builds
with ``GATEWAYMETRICS_PURE_BUILD=1`` (the pure build); ``--both`` runs the default and
the pure build one after the other; ``--wheel PATH`` (repeatable) runs given wheels.

One process per wheel, one realistic payload (a LiteLLM 1.110.2 success event captured
with proxy-style metadata: key, team, user, budgets; examples/litellm_payloads.jsonl),
taken fresh for every event as a gateway would hand it over (timing.proxy_stream: own
call id, tokens, cost, times, growing budget spends; datetimes and a ModelResponse, as
LiteLLM passes them in-process). Medians of interleaved rounds, in microseconds per
event, with the cost of taking the next payload subtracted from (a) and (b):

  (a) gatewaymetrics: ``GatewayMetricsLogger(pipeline).async_log_success_event``,
      awaited once per event by one coroutine per round (the event loop's start-up is
      not timed), ``pipeline`` built as users build it: ``build_pipeline`` with the
      Prometheus backend (a fresh registry, no own HTTP server);
  (b) LiteLLM's PrometheusLogger.async_log_success_event on the same events, awaited the
      same way (needs the LiteLLM proxy's dependencies, prisma included; otherwise its
      lazy imports fail on every event and its figure is inflated, so the script says so);
  (c) the floor: the very same series updates (the samples (a) makes) applied directly
      to pre-resolved prometheus_client children.

Prints (b)/(a) (target >= 100) and (a)/(c) (target <= 1.5), checks that the pipeline
counted exactly one request per event sent (else exit status 1: the adapter drops
repeated call ids, and a benchmark of dropped events would time nothing), then the
scrape time and the resident memory of 10 000 active series (also on the installed
wheel, through the adapter). A run takes a few minutes, building the wheel included.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installed_wheel import add_build_options, chosen_builds, provenance, relaunch
from timing import Batch, Payload, interleaved_batches_us, proxy_payload, proxy_stream, timed_loop

if TYPE_CHECKING:  # gatewaymetrics is imported at run time only inside the fresh venv
    from prometheus_client import CollectorRegistry

    from gatewaymetrics import Metric, Pipeline, Sample, Settings

#: Rounds of interleaved timing: more than the other benchmarks, as (b)/(a) and (a)/(c)
#: are the figures that matter here and a shared machine's spells move single rounds.
ROUNDS = 15
#: What the pipeline is configured with: Prometheus only, no own /metrics server, one
#: process (whatever PROMETHEUS_MULTIPROC_DIR says).
ENVIRONMENT = {
    "GATEWAYMETRICS_BACKENDS": "prometheus",
    "GATEWAYMETRICS_PROMETHEUS_PORT": "0",
    "GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "false",
}

Update = tuple[Callable[[float], None], float]


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
    kwargs: dict[str, Any],
    response: Any,
    start_time: Any = None,
    end_time: Any = None,
    settings: Settings | None = None,
) -> list[Update]:
    """The exact updates (a) makes for this payload, on ``prometheus_client`` children
    resolved once, values converted once."""
    from prometheus_client import CollectorRegistry

    from gatewaymetrics import MetricKind, Pipeline
    from gatewaymetrics.backends.prometheus import client_metric

    recorder = Recorder()
    Pipeline([recorder], settings).record_litellm(
        kwargs, response, start_time, end_time, failed=False
    )
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


def user_pipeline(**environment: str) -> Pipeline:
    """A pipeline built the way the adapter builds one: :func:`build_pipeline` from
    ``GATEWAYMETRICS_*`` variables (:data:`ENVIRONMENT` and ``environment``)."""
    from gatewaymetrics.config import build_pipeline, load_config

    return build_pipeline(load_config(environ={**ENVIRONMENT, **environment}))


def registry_of(pipeline: Pipeline) -> CollectorRegistry:
    """The registry of the pipeline's (one) Prometheus backend."""
    from gatewaymetrics.backends.prometheus import PrometheusBackend

    (backend,) = pipeline.backends
    assert isinstance(backend, PrometheusBackend)
    return backend.registry


def requests_counted(pipeline: Pipeline) -> float:
    """The sum of the pipeline's request counters, as its registry exposes them (under
    a naming that exports requests as other families, the one that counts them all)."""
    requests = pipeline.plan.metrics["requests"]
    routes = (pipeline.plan.routes or {}).get(requests)
    if routes is None:
        name = requests.name
    else:
        name = next(route.metric.name for route in routes if not route.when) + "_total"
    return sum(
        sample.value
        for family in registry_of(pipeline).collect()
        for sample in family.samples
        if sample.name == name
    )


class Awaited:
    """Events awaited one after the other by one coroutine, timed inside it (the event
    loop's start-up is not): ``hook`` on each payload ``following`` gives."""

    def __init__(
        self,
        hook: Callable[[dict[str, Any], Any, Any, Any], Coroutine[Any, Any, object]],
        following: Callable[[], Payload],
        *,
        copy_kwargs: bool = False,
    ) -> None:
        self._hook = hook
        self._following = following
        self._copy = copy_kwargs
        self._loop = asyncio.new_event_loop()
        #: How many events have been handed to ``hook``.
        self.sent = 0

    async def _events(self, events: int) -> float:
        hook, following = self._hook, self._following
        start = time.perf_counter()
        if self._copy:  # the hook may annotate kwargs; keep the ring's copies pristine
            for _ in range(events):
                kwargs, response, start_time, end_time = following()
                await hook(copy.copy(kwargs), response, start_time, end_time)
        else:
            for _ in range(events):
                kwargs, response, start_time, end_time = following()
                await hook(kwargs, response, start_time, end_time)
        return time.perf_counter() - start

    def batch(self, events: int) -> float:
        self.sent += events
        return self._loop.run_until_complete(self._events(events))

    def close(self) -> None:
        self._loop.close()


def ours(following: Callable[[], Payload]) -> tuple[Awaited, Pipeline]:
    """(a): the adapter's async success hook into a pipeline built as users build it."""
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger

    pipeline = user_pipeline()
    logger = GatewayMetricsLogger(pipeline)
    return Awaited(logger.async_log_success_event, following), pipeline


def litellm_logger(following: Callable[[], Payload]) -> tuple[Awaited | None, str]:
    """(b): LiteLLM's own Prometheus logger, or None and why not."""
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
        logger = PrometheusLogger()  # type: ignore[no-untyped-call]  # untyped upstream
    except Exception as exc:
        return None, f"PrometheusLogger() failed: {type(exc).__name__}: {exc}"
    theirs = Awaited(logger.async_log_success_event, following, copy_kwargs=True)
    theirs.batch(1)
    note = "" if not failures else f"; LiteLLM logged errors: {failures[0]}"
    return theirs, note


def resident_kib() -> int:
    """The resident set size now (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def series_cost(series: int = 10_000) -> tuple[float, float, float]:
    """Scrape time (ms) and resident memory (MiB) of ``series`` active series, recorded
    through the adapter's success hook; and how many series the registry exposes."""
    from prometheus_client import generate_latest

    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger

    gc.collect()
    before = resident_kib()
    pipeline = user_pipeline(GATEWAYMETRICS_SERIES_CAP=str(series))
    logger = GatewayMetricsLogger(pipeline)
    kwargs, _, _, _ = proxy_payload()
    slo = kwargs["standard_logging_object"]
    # One llm_requests_total series per user and nothing else: no tokens, a known zero
    # cost, no timings. Each its own call (the adapter drops a repeated call id).
    for index in range(series):
        call_id = f"series-{index}"
        variant = dict(kwargs, api_call_start_time=None, litellm_params={}, litellm_call_id=call_id)
        metadata = {"user_api_key_user_id": f"user-{index}",
                    "user_api_key_hash": slo["metadata"]["user_api_key_hash"]}  # fmt: skip
        variant["standard_logging_object"] = dict(
            slo, metadata=metadata, prompt_tokens=0, completion_tokens=0, response_cost=0.0,
            startTime=None, endTime=None, completionStartTime=None, hidden_params={},
            litellm_call_id=call_id, id=call_id,
        )  # fmt: skip
        logger.log_success_event(variant, None, None, None)
    registry = registry_of(pipeline)
    count = requests_counted(pipeline)
    start = time.perf_counter()
    scrapes = 5
    for _ in range(scrapes):
        generate_latest(registry)
    scrape_ms = (time.perf_counter() - start) / scrapes * 1e3
    gc.collect()
    after = resident_kib()
    return scrape_ms, (after - before) / 1024, count


def measure(events: int) -> int:
    """The benchmark on the gatewaymetrics this process imports; its exit status."""
    for line in provenance():
        print(line)
    following = proxy_stream()
    a_run, pipeline = ours(following)
    a_run.batch(10)  # the first event of an identity takes the general path
    updates = floor_updates(*following(), settings=pipeline.settings)

    def floor(events: int) -> float:
        start = time.perf_counter()
        for _ in range(events):
            for update, amount in updates:
                update(amount)
        return time.perf_counter() - start

    baseline = timed_loop(following)  # taking the next payload ((a) and (b) pay it too)

    runs: dict[str, tuple[Batch, int]] = {
        "a": (a_run.batch, events), "c": (floor, events), "0": (baseline, events),
    }  # fmt: skip
    b_run, note = litellm_logger(following)
    if b_run is not None:
        runs["b"] = (b_run.batch, max(events // 10, 50))
    medians = interleaved_batches_us(runs, ROUNDS)
    a_run.close()
    if b_run is not None:
        b_run.close()
    step = medians["0"]
    a, c = medians["a"] - step, medians["c"]
    b = medians["b"] - step if "b" in medians else None

    print("pipeline: build_pipeline(load_config(environ=" + repr(ENVIRONMENT) + ")), events "
          "through GatewayMetricsLogger(pipeline).async_log_success_event")  # fmt: skip
    print("payload: LiteLLM 1.110.2 proxy-style success events, fresh copies with their own "
          "ids, tokens, costs, times and growing spends; "
          f"{len(updates)} series updates each")  # fmt: skip
    print(f"medians of {ROUNDS} interleaved rounds of {events} events (LiteLLM's: a tenth "
          f"as many), each round one coroutine awaiting the hook per event; taking the "
          f"next payload ({step:.2f} us) is subtracted")  # fmt: skip
    print(f"(a) gatewaymetrics adapter -> Prometheus         {a:9.1f} us/event")
    if b is not None:
        print(f"(b) LiteLLM PrometheusLogger                     {b:9.1f} us/event{note}")
    else:
        print(f"(b) LiteLLM PrometheusLogger                     unavailable ({note})")
    print(f"(c) floor: the same updates on resolved children {c:9.1f} us/event")
    if b is not None:
        print(f"(b)/(a) = {b / a:6.1f}   (target >= 100: {'met' if b / a >= 100 else 'MISSED'})")
    print(f"(a)/(c) = {a / c:6.2f}   (target <= 1.5: {'met' if a / c <= 1.5 else 'MISSED'})")

    counted = requests_counted(pipeline)
    fast_note = f", {pipeline.fast_events} of them by the fast path"
    print(f"check: {a_run.sent} events sent to (a), {counted:.0f} requests counted{fast_note}")
    if counted != a_run.sent:
        print("FAILED: the pipeline did not count one request per event (dropped as "
              "duplicates, or not recorded): (a) is not a measurement of recording")  # fmt: skip
        return 1

    scrape_ms, rss_mib, count = series_cost()
    print(f"{count:.0f} active series (plus their _created samples), recorded through the "
          f"adapter: scrape {scrape_ms:.1f} ms, resident memory +{rss_mib:.1f} MiB")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("events", nargs="?", type=int, default=2000,
                        help="events per round for (a) and (c) (default 2000)")  # fmt: skip
    parser.add_argument("--naming", choices=("native", "litellm"), default="native",
                        help="the pipeline's naming (default native)")  # fmt: skip
    add_build_options(parser)
    options = parser.parse_args(argv)
    ENVIRONMENT["GATEWAYMETRICS_NAMING"] = options.naming
    if options.inside:
        return measure(options.events)
    arguments = [str(options.events), "--naming", options.naming]
    return relaunch(Path(__file__).resolve(), arguments, chosen_builds(options))


if __name__ == "__main__":
    sys.exit(main())
