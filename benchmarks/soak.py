"""The standing soak: a million unique callers and hostile payloads through the adapter.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/soak.py [--events N]
    make soak [EVENTS=N]                        # the same, on the installed package
    PYTHONPATH=src .venv/bin/python benchmarks/soak.py --events 20000   # the working tree

What runs is what a LiteLLM proxy runs: ``GatewayMetricsLogger(pipeline)`` and its
``async_log_success_event`` / ``async_log_failure_event`` hooks (one thread in four uses
the sync hooks, as SDK users do), ``pipeline`` built by ``build_pipeline`` from
``GATEWAYMETRICS_*`` variables (:data:`ENVIRONMENT`): Prometheus (no own server) and
StatsD over UDP into the reference daemon (node ``.tools/statsd/.../stats.js`` on free
127.0.0.1 ports, stopped at the end; when node or the daemon is missing, StatsD goes
into a local UDP socket that a thread drains, and the output says so). Default labels
and series cap, plus the opt-in ``api_base`` label and one custom label
(``app = requester_metadata.app``), so that planted secrets and huge label values reach
label rendering.

Events (``--events``, default 1 000 000; built by ``soak_payloads.py``), taken by
``--threads`` recording threads (default 4, each awaiting the hooks on its own event
loop) from one shared counter:

* every event is its own caller: its own call id, API key (a sha256 fingerprint, as the
  proxy passes it), key alias, user, end user and e-mail, so identities churn and every
  identity metric runs at its series cap;
* one in 20 is a rate-limit failure (429); the others succeed;
* team budgets: :data:`TEAMS` shared teams whose spend grows with the event number, so
  the recording threads send increasing spends for the same subjects, out of order;
* one in :data:`HOSTILE_EVERY` is hostile (:data:`HOSTILE`, in turn: huge, NaN, infinite
  and ``"1e400"`` costs and spends, ``10**400`` and 4 400-digit token counts, ``"²"``, str
  subclasses, a str-Enum, datetimes whose ``timestamp()`` raises, planted secrets in
  ``api_base`` (``\\@``, userinfo, query), headers, metadata and the key itself, invalid
  keys on 401/400 failures, control characters, wrong types), with a team of its own so
  hostile spends never touch the shared teams;
* ``--heavy`` events (default: each of :data:`HEAVY` once, evenly spread) are the costly
  ones: a cost of ``"1e1000000000"`` and 10 MB label values.

Meanwhile a reader thread reads every ``llm_budget_spend_usd`` series from the registry
(``registry.collect()``, up to that family) again and again (each read followed by a
pause four times as long, so reading takes at most a fifth of the time), a scraper
renders the whole exposition ``--scrape-every`` seconds after its previous scrape
ended (as Prometheus would, default 15), and resident memory (VmRSS) is sampled
every ``events / 20`` events.

Printed, and returned by :func:`main` as a :class:`Result`:

* **events**: hook calls made (each event is one call).
* **exceptions escaped**: hook calls that raised (every call is wrapped).
* **events lost**: events sent minus the sum of ``llm_requests_total`` over the
  registry after the run. Every event, hostile or not, is one call and must count as
  one request (a field that cannot be read costs the field, never the event); an event
  the pipeline dropped and counted in ``gatewaymetrics_events_dropped_total`` is still
  lost, and the line says how many of the lost were at least counted as dropped.
* **budget regressions**: spend values read that were lower than the highest value the
  same series (same scope, subject and alias) showed in an earlier read. The soak never
  changes a budget's reset time or limit, so every period is the same: any decrease is a
  regression. Non-finite values read are counted apart.
* resident memory over time (a table); the worst single-call latency (the maximum of
  per-call ``perf_counter_ns``, and the slowest calls with their kinds; a call waiting
  for the GIL behind another thread, or for a garbage collection, counts, as it would in
  a gateway), percentiles, and the longest garbage collection (what start-up made is
  frozen first, ``gc.freeze()``, as in a preloading server's workers);
* scrape time and size at the cap: the text exposition rendered once after the run
  (seconds, bytes, lines, resident memory before and after), with the pipeline's
  series cap; and the scrapes made during the run;
* planted secrets found in the exposition, the StatsD daemon's series, a log record or
  a repr; non-finite sample values (``+Inf``, ``-Inf``, ``NaN``, other than the
  ``le="+Inf"`` bucket label) in the exposition; log records by level; StatsD figures.

Exit status 1 when exceptions escaped, events were lost, a reader saw a regression, a
secret leaked or the exposition holds a non-finite value; else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak_payloads import HEAVY, HOSTILE, HOSTILE_EVERY, PLANTED, Plan, Template

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent
STATS_JS = ROOT / ".tools" / "statsd" / "node_modules" / "statsd" / "stats.js"
HOST = "127.0.0.1"

#: The pipeline's configuration, as a proxy operator would set it.
ENVIRONMENT = {
    "GATEWAYMETRICS_BACKENDS": "prometheus,statsd",
    "GATEWAYMETRICS_PROMETHEUS_PORT": "0",
    "GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "false",
    "GATEWAYMETRICS_STATSD_HOST": HOST,
    "GATEWAYMETRICS_STATSD_PROTOCOL": "udp",
    "GATEWAYMETRICS_LABELS_OPT_IN": "api_base",
    "GATEWAYMETRICS_LABELS_CUSTOM": "app=requester_metadata.app",
}
DEFAULT_EVENTS = 1_000_000
#: The reader's cycle: a read, then a pause this many times as long minus one.
READER_PAUSE = 5


# --- StatsD: the reference daemon, or a drained socket ---------------------------------


class StatsdSink:
    """Where StatsD goes: the reference daemon (node stats.js) on free 127.0.0.1 ports,
    as tests/statsd_daemon.py runs it, or a local UDP socket drained by a thread."""

    def __init__(self) -> None:
        self.port = 0
        self.mgmt_port = 0
        self.daemon: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.packets = 0
        self.lines = 0
        self.requests = 0.0
        self.leaks = 0
        self.note = ""

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not STATS_JS.is_file():
            missing = "node is not on PATH" if node is None else f"{STATS_JS} is missing"
            self.note = f"no StatsD daemon ({missing}; `make statsd` installs it): "
            self.note += "StatsD went into a local UDP socket, drained by a thread"
            self._drain()
            return
        for attempt in range(3):  # a free port can be taken before node binds it
            try:
                self._daemon(node)
                return
            except RuntimeError:
                self.stop()
                if attempt == 2:
                    raise

    def _daemon(self, node: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind((HOST, 0))
            tcp.bind((HOST, 0))
            self.port, self.mgmt_port = udp.getsockname()[1], tcp.getsockname()[1]
        self._workdir = tempfile.TemporaryDirectory(prefix="gm-soak-statsd-")
        config = Path(self._workdir.name) / "config.js"
        config.write_text(
            json.dumps(
                {
                    "servers": [{"server": "./servers/udp", "address": HOST, "port": self.port}],
                    "mgmt_address": HOST,
                    "mgmt_port": self.mgmt_port,
                    "flushInterval": 3_600_000,
                    "backends": [],
                    "deleteIdleStats": False,
                    "automaticConfigReload": False,
                }
            ),
            encoding="utf-8",
        )
        log = open(Path(self._workdir.name) / "statsd.log", "wb")  # noqa: SIM115  # node keeps it
        self.daemon = subprocess.Popen(
            [node, str(STATS_JS), str(config)],
            cwd=STATS_JS.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if self.command("health", until=b"\n").strip() == "health: up":
                    break
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the StatsD daemon did not start")
            time.sleep(0.05)
        self.note = f"StatsD: the reference daemon (node {STATS_JS.relative_to(ROOT)}), UDP"

    def command(self, command: str, *, until: bytes = b"END\n\n") -> str:
        """One management console command; its answer without ``until``."""
        with socket.create_connection((HOST, self.mgmt_port), timeout=30) as sock:
            sock.sendall(command.encode("ascii") + b"\n")
            buffer = b""
            while not buffer.endswith(until):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError(f"statsd closed the console during {command!r}")
                buffer += chunk
        return buffer[: -len(until)].decode("utf-8", "replace")

    def _drain(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._socket.bind((HOST, 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._read, name="statsd-drain", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            try:
                packet = self._socket.recv(65536).decode("utf-8", "replace")
            except TimeoutError:
                continue
            except OSError:
                return
            self.packets += 1
            for line in packet.split("\n"):
                self.lines += 1
                if any(secret in line.lower() for secret in PLANTED):
                    self.leaks += 1
                name, _, rest = line.partition(":")
                if name.split(",")[0].split(";")[0] == "llm.requests":
                    with contextlib.suppress(ValueError):
                        self.requests += float(rest.split("|")[0])

    def settle(self) -> list[str]:
        """Let the sink take what was sent; lines describing what it received."""
        if self.daemon is None:
            time.sleep(0.5)
            return [
                f"StatsD sink: {self.packets} packets, {self.lines} lines, "
                f"{self.requests:.0f} request increments; "
                f"lines with a planted secret: {self.leaks}"
            ]
        received, still = -1.0, 0
        while still < 3:  # until the daemon's line count stands still
            time.sleep(0.3)
            now = float(_number(self.command("counters"), "statsd.metrics_received"))
            still, received = (still + 1, now) if now == received else (0, now)
        counters = self.command("counters")
        self.requests = sum(
            float(value)
            for value in re.findall(r"'?llm\.requests(?:;[^':]*)?'?: ([-0-9.e+]+)", counters)
        )
        self.leaks = sum(
            text.lower().count(secret)
            for text in (counters, self.command("gauges"))
            for secret in PLANTED
        )
        bad = _number(self.command("stats", until=b"END\n\n"), "bad_lines_seen")
        return [
            f"StatsD daemon: {received:.0f} lines received, {bad} bad lines, "
            f"{self.requests:.0f} request increments (UDP: a datagram the busy daemon "
            f"did not read in time is dropped by the kernel; not counted as lost); "
            f"planted secrets in its counters and gauges: {self.leaks}"
        ]

    def stop(self) -> None:
        self._stop.set()
        if self.daemon is not None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
            self.daemon = None
        if self._thread is not None:
            self._thread.join()
        if self._socket is not None:
            self._socket.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def _number(text: str, name: str) -> str:
    found = re.search(re.escape(name) + r"'?: ([-0-9.e+]+)", text)
    return found.group(1) if found else "?"


# --- measuring -----------------------------------------------------------------------------


def resident_kib(field_name: str = "VmRSS") -> int:
    """A memory figure of this process from /proc/self/status, in KiB (0 if absent)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


class Logs(logging.Handler):
    """Counts the records of the ``gatewaymetrics`` logger and the planted secrets in them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.levels: Counter[str] = Counter()
        self.leaks = 0
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.levels[record.levelname] += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1])
        if any(secret in text.lower() for secret in PLANTED):
            self.leaks += 1
        self.first.setdefault(record.levelname, text[:200])


class GcPauses:
    """A ``gc.callbacks`` entry: how many collections of the oldest generation ran
    during the run, and the longest collection of any generation."""

    def __init__(self) -> None:
        self.full = 0
        self.worst_ns = 0
        self.worst_generation = 0
        self._began = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter_ns()
            return
        took = time.perf_counter_ns() - self._began
        self.full += info["generation"] == 2
        if took > self.worst_ns:
            self.worst_ns, self.worst_generation = took, info["generation"]


@dataclass
class Worker:
    """What one recording thread saw."""

    latencies: array[int] = field(default_factory=lambda: array("q"))
    slowest: list[tuple[int, str]] = field(default_factory=list)
    exceptions: Counter[str] = field(default_factory=Counter)
    sent: int = 0


@dataclass
class Reader:
    """The concurrent reader of the budget spend gauges."""

    reads: int = 0
    compared: int = 0
    regressions: int = 0
    nonfinite: int = 0
    examples: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Result:
    """The soak's figures (see the module docstring for each definition)."""

    events: int
    requested: int
    exceptions: int
    exception_types: dict[str, int]
    lost: int
    requests_counted: float
    dropped: float
    backend_errors: float
    input_problems: float
    series_overflow: float
    regressions: int
    reads: int
    nonfinite_reads: int
    worst_latency_ns: int
    worst_latency_kind: str
    memory: tuple[tuple[int, float, int], ...]  # (events, seconds, VmRSS KiB)
    scrape_seconds: float
    scrape_bytes: int
    scrape_lines: int
    series_cap: int
    nonfinite_samples: int
    secrets_leaked: int
    statsd: str
    seconds: float

    @property
    def status(self) -> int:
        """The exit status: 1 when a promise broke, else 0."""
        broken = (
            self.exceptions,
            self.lost,
            self.regressions,
            self.secrets_leaked,
            self.nonfinite_samples,
            self.requested - self.events,
        )
        return 1 if any(broken) else 0


def _families(registry: Any, names: set[str]) -> Iterator[Any]:
    """The samples named ``names`` in the registry, stopping after the last family
    that holds one of them (later families are not collected)."""
    left = set(names)
    for family in registry.collect():
        found = {sample.name for sample in family.samples} & left
        yield from (sample for sample in family.samples if sample.name in names)
        left -= found
        if not left:
            return


def _read_budgets(registry: Any, spend_name: str, stop: threading.Event, out: Reader) -> None:
    last: dict[tuple[tuple[str, str], ...], float] = {}
    while True:  # one read at least, and one after the recorders have finished
        done = stop.is_set()
        began = time.perf_counter()
        try:
            samples = list(_families(registry, {spend_name}))
        except Exception as exc:  # a reader that fails is a finding, not a crash
            out.errors[type(exc).__name__] += 1
            if done or stop.wait(0.01):
                return
            continue
        # At most a fifth of the time: reads get slower as the registry fills, and the
        # recorders are what the soak measures.
        pause = (time.perf_counter() - began) * (READER_PAUSE - 1)
        out.reads += 1
        for sample in samples:
            value = sample.value
            if not math.isfinite(value):
                out.nonfinite += 1
                continue
            key = tuple(sorted(sample.labels.items()))
            before = last.get(key)
            if before is not None:
                out.compared += 1
                if value < before:
                    out.regressions += 1
                    if len(out.examples) < 5:
                        out.examples.append(f"{dict(key)}: {before!r} -> {value!r}")
            if before is None or value > before:
                last[key] = value
        if done:
            return
        stop.wait(max(pause, 0.001))


def _scrape_periodically(
    backend: Any, every: float, stop: threading.Event, out: list[tuple[float, int]]
) -> None:
    while not stop.wait(every):  # the next scrape starts ``every`` s after one ended
        start = time.perf_counter()
        body, _ = backend.exposition()
        out.append((time.perf_counter() - start, len(body)))


def _hooks(logger: Any, sync: bool) -> tuple[Callable[..., Any], Callable[..., Any]]:
    if sync:
        return logger.log_success_event, logger.log_failure_event
    return logger.async_log_success_event, logger.async_log_failure_event


def _record(
    logger: Any,
    plan: Plan,
    events: int,
    ticket: Iterator[int],
    worker: Worker,
    sample_every: int,
    memory: list[tuple[int, float, int]],
    started: float,
    sync: bool,
) -> None:
    """One recording thread: take event numbers until ``events``, call the hook for
    each, time it, catch anything it raises."""
    success, failure = _hooks(logger, sync)
    latencies, exceptions, slowest = worker.latencies, worker.exceptions, worker.slowest
    floor = 0  # the fastest of the slowest kept: cheap test before sorting

    async def run() -> None:
        nonlocal floor
        for i in ticket:
            if i >= events:
                return
            event = plan.event(i)
            hook = failure if event.failed else success
            begin = time.perf_counter_ns()
            try:
                if sync:
                    hook(event.kwargs, event.response, event.start, event.end)
                else:
                    await hook(event.kwargs, event.response, event.start, event.end)
            except Exception as exc:  # an escaped exception is what the soak counts
                exceptions[type(exc).__name__] += 1
            took = time.perf_counter_ns() - begin
            latencies.append(took)
            worker.sent += 1
            if took > floor:
                slowest.append((took, event.kind))
                slowest.sort(reverse=True)
                del slowest[5:]
                floor = slowest[-1][0] if len(slowest) == 5 else 0
            if i % sample_every == 0:
                memory.append((i, time.perf_counter() - started, resident_kib()))

    asyncio.run(run())


def _sums(registry: Any, names: set[str]) -> Counter[str]:
    """The sum of each named sample over the registry, in one pass."""
    sums: Counter[str] = Counter(dict.fromkeys(names, 0.0))
    for sample in _families(registry, names):
        sums[sample.name] += sample.value
    return sums


_NONFINITE = re.compile(r" (?:[+-]Inf|NaN)$")


def _percentile(values: list[int], fraction: float) -> int:
    return values[min(len(values) - 1, int(len(values) * fraction))] if values else 0


def soak(options: argparse.Namespace) -> Result:
    import gatewaymetrics
    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.backends.prometheus import PrometheusBackend
    from gatewaymetrics.config import build_pipeline, load_config

    print(
        f"gatewaymetrics {gatewaymetrics.__version__} from "
        f"{Path(gatewaymetrics.__file__ or '?').parent}"
    )
    events = options.events
    sink = StatsdSink()
    sink.start()
    logs = Logs()
    gm_log = logging.getLogger("gatewaymetrics")
    saved = gm_log.propagate, gm_log.level
    gm_log.addHandler(logs)
    gm_log.propagate, gm_log.level = False, logging.DEBUG
    try:
        environ = {**ENVIRONMENT, "GATEWAYMETRICS_STATSD_PORT": str(sink.port)}
        pipeline = build_pipeline(load_config(environ=environ))
        (backend,) = (b for b in pipeline.backends if isinstance(b, PrometheusBackend))
        registry = backend.registry
        logger = GatewayMetricsLogger(pipeline)
        metrics = pipeline.plan.metrics
        names = {
            key: metrics[key].name
            for key in (
                "requests",
                "events_dropped",
                "backend_errors",
                "input_problems",
                "series_overflow",
                "budget_spend",
            )
        }
        print(f"pipeline: build_pipeline(load_config(environ={environ!r}))")
        print(sink.note)
        plan = Plan(Template(), events, options.heavy)
        # What start-up made (LiteLLM's modules above all) is never garbage: frozen, as a
        # preloading server's workers have it, so collections scan what the run made.
        gc.collect()
        gc.freeze()
        pauses = GcPauses()
        gc.callbacks.append(pauses)
        print(
            f"events: {events:,} through GatewayMetricsLogger's hooks from {options.threads} "
            f"threads; 1 in {HOSTILE_EVERY} hostile ({len(HOSTILE)} kinds in turn), "
            f"{len(plan.heavy)} heavy ({', '.join(n for n, _ in plan.heavy.values())})"
        )

        stop = threading.Event()
        reader = Reader()
        scrapes: list[tuple[float, int]] = []
        helpers = [
            threading.Thread(
                target=_read_budgets,
                name="budget-reader",
                args=(registry, names["budget_spend"], stop, reader),
            ),
            threading.Thread(
                target=_scrape_periodically,
                name="scraper",
                args=(backend, options.scrape_every, stop, scrapes),
            ),
        ]
        ticket = itertools.count()  # next() on a count is atomic under the GIL
        workers = [Worker() for _ in range(options.threads)]
        memory: list[tuple[int, float, int]] = []
        sample_every = max(events // 20, 1)
        started = time.perf_counter()
        memory.append((0, 0.0, resident_kib()))
        recorders = [
            threading.Thread(
                target=_record,
                name=f"recorder-{k}",
                args=(
                    logger,
                    plan,
                    events,
                    ticket,
                    worker,
                    sample_every,
                    memory,
                    started,
                    k % 4 == 3,
                ),
            )
            for k, worker in enumerate(workers)
        ]
        for thread in helpers + recorders:
            thread.start()
        for thread in recorders:
            thread.join()
        seconds = time.perf_counter() - started
        memory.append((events, seconds, resident_kib()))
        stop.set()
        for thread in helpers:
            thread.join()

        sums = _sums(registry, {names[key] for key in names if key != "budget_spend"})
        counted, dropped, backend_errors, problems, overflow = (
            sums[names[key]]
            for key in (
                "requests",
                "events_dropped",
                "backend_errors",
                "input_problems",
                "series_overflow",
            )
        )
        statsd_lines = sink.settle()

        rss_before, hwm_before = resident_kib(), resident_kib("VmHWM")
        scrape_start = time.perf_counter()
        body, _ = backend.exposition()
        scrape_seconds = time.perf_counter() - scrape_start
        rss_after, hwm_after = resident_kib(), resident_kib("VmHWM")
        text = body.decode("utf-8", "replace")
        lines = text.count("\n")
        nonfinite = [
            line
            for line in text.splitlines()
            if not line.startswith("#") and _NONFINITE.search(line)
        ]
        lowered = text.lower()
        leaked = sum(lowered.count(secret) for secret in PLANTED)
        reprs = f"{pipeline!r} {logger!r} {[repr(b) for b in pipeline.backends]}".lower()
        leaked += sum(reprs.count(secret) for secret in PLANTED) + logs.leaks + sink.leaks
        pipeline.close()
    finally:
        with contextlib.suppress(NameError, ValueError):  # if it was registered
            gc.callbacks.remove(pauses)
        gc.unfreeze()
        gm_log.removeHandler(logs)
        gm_log.propagate, gm_log.level = saved
        sink.stop()

    sent = sum(worker.sent for worker in workers)
    exception_types: Counter[str] = Counter()
    for worker in workers:
        exception_types.update(worker.exceptions)
    latencies = sorted(itertools.chain.from_iterable(worker.latencies for worker in workers))
    slowest = sorted(itertools.chain.from_iterable(w.slowest for w in workers), reverse=True)
    worst_ns, worst_kind = slowest[0] if slowest else (0, "")
    lost = sent - round(counted)
    result = Result(
        events=sent,
        requested=events,
        exceptions=sum(exception_types.values()),
        exception_types=dict(exception_types),
        lost=lost,
        requests_counted=counted,
        dropped=dropped,
        backend_errors=backend_errors,
        input_problems=problems,
        series_overflow=overflow,
        regressions=reader.regressions,
        reads=reader.reads,
        nonfinite_reads=reader.nonfinite,
        worst_latency_ns=worst_ns,
        worst_latency_kind=worst_kind,
        memory=tuple(sorted(memory)),
        scrape_seconds=scrape_seconds,
        scrape_bytes=len(body),
        scrape_lines=lines,
        series_cap=pipeline.settings.series_cap,
        nonfinite_samples=len(nonfinite),
        secrets_leaked=leaked,
        statsd=" ".join(statsd_lines),
        seconds=seconds,
    )

    ms = 1e-6
    print()
    print(
        f"events:                 {sent:,} of {events:,} in {seconds:.1f} s "
        f"({sent / seconds:,.0f} events/s)"
    )
    print(
        f"exceptions escaped:     {result.exceptions}"
        + (f" {dict(exception_types)}" if exception_types else "")
    )
    print(
        f"events lost:            {lost:,} (requests counted {counted:,.0f}; of the lost, "
        f"counted as dropped: {min(dropped, max(lost, 0)):,.0f})"
    )
    print(
        f"  dropped {dropped:,.0f}, backend errors {backend_errors:,.0f}, input problems "
        f"{problems:,.0f}, series overflow {overflow:,.0f}"
    )
    print(
        f"budget regressions:     {reader.regressions:,} in {reader.reads:,} reads of every "
        f"spend series ({reader.compared:,} values compared, {reader.nonfinite:,} "
        f"non-finite){' reader errors: ' + str(dict(reader.errors)) if reader.errors else ''}"
    )
    for example in reader.examples:
        print(f"  {example}")
    print(
        f"worst single call:      {worst_ns * ms:,.1f} ms ({worst_kind}); p50 "
        f"{_percentile(latencies, 0.5) / 1e3:,.1f} us, p99 "
        f"{_percentile(latencies, 0.99) / 1e3:,.1f} us, p99.9 "
        f"{_percentile(latencies, 0.999) / 1e3:,.1f} us"
    )
    for took, kind in slowest[1:5]:
        print(f"  then {took * ms:,.1f} ms ({kind})")
    print(
        f"  garbage collection during the run: {pauses.full} full collections, the longest "
        f"collection {pauses.worst_ns * ms:,.1f} ms (generation {pauses.worst_generation}); "
        f"a call it interrupts waits for it"
    )
    print("resident memory:")
    print("  events        seconds   VmRSS MiB")
    for count, at, kib in result.memory:
        print(f"  {count:>10,}  {at:>9.1f}  {kib / 1024:>10.1f}")
    print(
        f"scrape at the cap:      {scrape_seconds:.2f} s, {len(body) / 1e6:.1f} MB, "
        f"{lines:,} lines; VmRSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB, "
        f"peak {hwm_before / 1024:.0f} -> {hwm_after / 1024:.0f} MiB; series cap "
        f"{result.series_cap:,}"
    )
    if scrapes:
        print(
            f"  during the run: {len(scrapes)} scrapes, slowest "
            f"{max(s for s, _ in scrapes):.2f} s, largest {max(b for _, b in scrapes) / 1e6:.1f} MB"
        )
    print(
        f"non-finite samples:     {len(nonfinite)}"
        + (f" (e.g. {nonfinite[0][:160]})" if nonfinite else "")
    )
    print(f"planted secrets found:  {leaked} (exposition, StatsD, log records, reprs)")
    print(f"log records:            {dict(logs.levels) or 'none'}")
    for level, text in logs.first.items():
        print(f"  first {level}: {text}")
    for line in statsd_lines:
        print(line)
    print("FAILED: a promise broke" if result.status else "OK: every promise held")
    return result


def main(argv: Sequence[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=DEFAULT_EVENTS,
        help=f"events to send (default {DEFAULT_EVENTS:,})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="recording threads (default 4; every fourth uses the sync hooks)",
    )
    parser.add_argument(
        "--heavy",
        type=int,
        default=len(HEAVY),
        help=f"heavy hostile events, spread over the run (default {len(HEAVY)})",
    )
    parser.add_argument(
        "--scrape-every",
        type=float,
        default=15.0,
        help="seconds between full scrapes during the run (default 15)",
    )
    options = parser.parse_args(argv)
    if options.events < 1 or options.threads < 1 or options.heavy < 0:
        parser.error("--events and --threads must be at least 1, --heavy at least 0")
    return soak(options)


if __name__ == "__main__":
    sys.exit(main().status)
