"""Requests per second through a real LiteLLM proxy, under three callback configurations.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/proxy_throughput.py
        [--requests 300] [--rounds 7] [--concurrency 8] [--warmup 200] [--no-control]
        [--json] [--quiet] [--logs DIR]

Proxy processes (``python -m litellm.proxy.proxy_cli --config ... --num_workers 1`` on
free 127.0.0.1 ports, no database), one model answered by ``mock_response`` (no
network), each with one callback in ``litellm_settings``:

  noop                a ``CustomLogger`` whose hooks return at once (the baseline: with
                      any callback at all LiteLLM builds its logging payload);
  gatewaymetrics      ``gatewaymetrics.adapters.litellm.proxy_logger`` (as installed in
                      the venv), its Prometheus backend serving /metrics on its own port;
  litellm-prometheus  LiteLLM's own ``prometheus`` callback (/metrics on the proxy);
  noop-control        a second noop process (not with --no-control): how far it strays
                      from the first is the noise of the run, printed beside the figures.

LiteLLM 1.110.2 refuses to start without a master key, so each run makes a random one
and every request carries it. Each proxy is warmed up; then in each of the interleaved
rounds every proxy in turn (the order rotates) gets the same number of chat completions
(a short message, a ``user``, request ``metadata``) over ``--concurrency`` keep-alive
connections from a minimal HTTP/1.1 client on asyncio, cheap next to the proxy (both
costs are printed; the client and the proxies share the machine's cores, so other load
on the machine shows in the noise). After each round the script waits for the proxy to
go idle, its deferred logging done, and records requests/second and the proxy's CPU
time per request (logging included).

Prints per configuration the median, min and max requests/second and the ratio to the
noop median (target: gatewaymetrics >= 99%), the same ratio by CPU time, checks that
gatewaymetrics counted every request exactly (``llm_requests_total`` summed on its
/metrics) and shows LiteLLM's request counters. Exits 1 if a request failed or a count
is off, 2 if a proxy did not start; the throughput figures pass or fail nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.machinery import EXTENSION_SUFFIXES
from importlib.metadata import version
from pathlib import Path
from typing import Any

NOOP, GATEWAYMETRICS, LITELLM_PROMETHEUS = "noop", "gatewaymetrics", "litellm-prometheus"
#: A second noop proxy process: how far it strays from the first is this run's noise.
CONTROL = "noop-control"
CALLBACKS = {
    NOOP: "noop_callback.noop_logger",
    GATEWAYMETRICS: "gatewaymetrics.adapters.litellm.proxy_logger",
    LITELLM_PROMETHEUS: "prometheus",
    CONTROL: "noop_callback.noop_logger",
}
TARGET = 0.99  # of the noop throughput, for gatewaymetrics

MODEL = "bench-model"
REPLY = "Hello from the benchmark proxy"
MASTER_KEY = "sk-bench-" + secrets.token_hex(16)  # sent with every request, never printed
NOOP_MODULE = '''\
"""A callback that does nothing (written by benchmarks/proxy_throughput.py)."""

from litellm.integrations.custom_logger import CustomLogger


class NoopLogger(CustomLogger):
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        return None

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        return None

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        return None

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        return None


noop_logger = NoopLogger()
'''
BODY = json.dumps(
    {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
        "user": "bench-user",
        "metadata": {"tags": ["benchmark"], "app": "proxy-throughput"},
    }
).encode()
#: Not passed on to the proxies: LiteLLM wipes a given multiprocess directory, and the
#: run wants no database and its own key.
DROPPED_ENV = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "DATABASE_URL")
START_TIMEOUT = 240.0  # seconds for all the proxies to answer /health/liveliness
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proxy_config(callback: str) -> str:
    """The proxy's config.yaml: the one mock model, the master key, the one callback."""
    return f"""\
model_list:
  - model_name: {MODEL}
    litellm_params: {{model: gpt-4o-mini, mock_response: "{REPLY}", api_key: sk-fake}}
general_settings:
  master_key: {MASTER_KEY}
litellm_settings:
  callbacks: ["{callback}"]
"""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free on 127.0.0.1 a moment ago."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def http_get(url: str, timeout: float = 10.0) -> str:
    """GET with the master key (LiteLLM's /metrics wants it; other servers ignore it)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # loopback only
        return bytes(response.read()).decode()


def counter_sums(exposition: str, prefix: str) -> dict[str, float]:
    """Per sample name starting with ``prefix`` and ending in ``_total``, the sum of its
    samples over all label sets, from a Prometheus text exposition."""
    sums: dict[str, float] = {}
    for line in exposition.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name.startswith(prefix) and name.endswith("_total"):
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


class Pinning:
    """Which CPUs the client and the proxies run on (empty: wherever the kernel likes).
    With two or more CPUs the client gets the first and the proxies the others, so the
    client never competes with the proxy it measures."""

    def __init__(self) -> None:
        self.client: set[int] = set()
        self.proxy: set[int] = set()


PINNING = Pinning()


def _pin_proxy() -> None:  # in the child, before exec: every thread inherits it
    os.sched_setaffinity(0, PINNING.proxy)


class Proxy:
    """One LiteLLM proxy process on 127.0.0.1, in its own session and directory."""

    def __init__(self, name: str, directory: Path, port: int, metrics_port: int) -> None:
        self.name = name
        self.directory = directory
        self.port = port
        self.metrics_port = metrics_port  # gatewaymetrics' own /metrics server
        self.log = directory / "proxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "config.yaml").write_text(proxy_config(CALLBACKS[self.name]))
        if CALLBACKS[self.name] == CALLBACKS[NOOP]:
            (self.directory / "noop_callback.py").write_text(NOOP_MODULE)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("GATEWAYMETRICS_") and key not in DROPPED_ENV
        }
        path = [str(self.directory), *filter(None, [env.get("PYTHONPATH")])]
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=os.pathsep.join(path))
        if self.name == GATEWAYMETRICS:
            env["GATEWAYMETRICS_BACKENDS"] = "prometheus"
            env["GATEWAYMETRICS_PROMETHEUS_HOST"] = "127.0.0.1"
            env["GATEWAYMETRICS_PROMETHEUS_PORT"] = str(self.metrics_port)
        args = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", "config.yaml",
                "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", "1"]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args, cwd=self.directory, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_pin_proxy if PINNING.proxy else None,
            )  # fmt: skip

    def wait_ready(self, deadline: float) -> None:
        """Poll ``/health/liveliness`` until it answers; raise with the log's tail if the
        process exits or ``deadline`` (a ``time.monotonic()`` value) passes first."""
        assert self.process is not None
        while True:
            try:
                http_get(f"http://127.0.0.1:{self.port}/health/liveliness", timeout=2)
                return
            except OSError:
                code = self.process.poll()
                if code is not None or time.monotonic() > deadline:
                    state = f"exited ({code})" if code is not None else "did not become ready"
                    raise RuntimeError(
                        f"the {self.name} proxy {state}; its log ends:\n{self.tail()}"
                    ) from None
                time.sleep(0.25)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the proxy process so far, all its threads."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def settle(self, window: float = 0.1, busy: float = 0.05, limit: float = 15.0) -> None:
        """Wait (at most ``limit`` seconds) until the proxy used less than ``busy`` of a
        core in each of two ``window``s running: its deferred logging is then done."""
        deadline = time.monotonic() + limit
        quiet, before = 0, self.cpu_seconds()
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(window)
            now = self.cpu_seconds()
            quiet = quiet + 1 if now - before < busy * window else 0
            before = now

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def terminate(self) -> None:
        """Ask the proxy (its whole process group) to stop."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> None:
        """Wait for the proxy to stop; kill its process group after ``timeout`` seconds."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def running(names: Sequence[str], root: Path) -> Iterator[dict[str, Proxy]]:
    """The proxies, started together and ready; every one stopped on the way out."""
    ports = free_ports(2 * len(names))
    proxies = {
        name: Proxy(name, root / name, ports[2 * i], ports[2 * i + 1])
        for i, name in enumerate(names)
    }
    try:
        for proxy in proxies.values():
            proxy.start()
        deadline = time.monotonic() + START_TIMEOUT
        for proxy in proxies.values():
            proxy.wait_ready(deadline)
        yield proxies
    finally:
        for proxy in proxies.values():
            proxy.terminate()
        for proxy in proxies.values():
            proxy.stop()


# -- the client -------------------------------------------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request; its status, body and whether the server closes the connection."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = -1, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if chunked:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        return status, b"".join(parts), close
    if length >= 0:
        return status, await reader.readexactly(length), close
    return status, await reader.read(), True


async def _connection(
    port: int, request: bytes, remaining: list[int], errors: Counter[str]
) -> None:
    """One keep-alive connection sending requests while any remain to be sent."""
    reply = REPLY.encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while remaining[0] > 0:
            remaining[0] -= 1
            try:
                status, body, close = await _exchange(reader, writer, request)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors[f"{type(exc).__name__}: {exc}"] += 1
                close = True
            else:
                if status != 200 or reply not in body:
                    errors[f"HTTP {status}: {body[:300].decode(errors='replace')}"] += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _load(port: int, requests: int, concurrency: int, errors: Counter[str]) -> float:
    request = (
        f"POST /chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {MASTER_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    remaining = [requests]
    start = time.perf_counter()
    async with asyncio.timeout(60 + requests):  # a stuck proxy fails the run, never hangs it
        await asyncio.gather(
            *(_connection(port, request, remaining, errors) for _ in range(concurrency))
        )
    return time.perf_counter() - start


def load(port: int, requests: int, concurrency: int, errors: Counter[str]) -> tuple[float, float]:
    """Send ``requests`` chat completions over ``concurrency`` connections: the wall-clock
    seconds they took and the client's own CPU seconds. Failures are counted in ``errors``."""
    gc.collect()
    gc.disable()
    try:
        cpu = time.process_time()
        seconds = asyncio.run(_load(port, requests, concurrency, errors))
        return seconds, time.process_time() - cpu
    except OSError as exc:  # refused, reset, or the round's time limit (TimeoutError)
        raise RuntimeError(f"the client gave up: {type(exc).__name__}: {exc}") from None
    finally:
        gc.enable()


# -- the run ----------------------------------------------------------------------------


def requests_counted(port: int, expected: int, timeout: float = 30.0) -> float | None:
    """``llm_requests_total`` summed on gatewaymetrics' /metrics once it reaches
    ``expected`` or ``timeout`` passes, read again half a second later (so that a
    double count shows); None if nothing answers there."""
    url = f"http://127.0.0.1:{port}/metrics"

    def total() -> float | None:
        try:
            return counter_sums(http_get(url), "llm_").get("llm_requests_total", 0.0)
        except OSError:
            return None

    deadline = time.monotonic() + timeout
    while ((count := total()) is None or count < expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    return total()


def litellm_counters(port: int) -> dict[str, float]:
    """LiteLLM's request counters on the proxy's /metrics, each summed; none if it fails."""
    try:
        sums = counter_sums(http_get(f"http://127.0.0.1:{port}/metrics/"), "litellm_")
    except OSError:
        return {}
    return {name: value for name, value in sorted(sums.items()) if "request" in name}


def log_findings(proxy: Proxy) -> list[str]:
    """Lines of the proxy's log that look like trouble: tracebacks, errors, exceptions,
    and anything naming gatewaymetrics but the start-up echo of the callback's name."""
    found = []
    for line in proxy.log.read_text(errors="replace").splitlines():
        lowered = line.lower()
        if any(word in lowered for word in ("traceback", "error", "exception")) or (
            "gatewaymetrics" in lowered and CALLBACKS[GATEWAYMETRICS] not in line
        ):
            found.append(line.rstrip())
    return found


def gatewaymetrics_origin() -> str:
    """Which gatewaymetrics the proxy imports (the venv's, unless PYTHONPATH says
    otherwise), and how many of its modules are compiled; without importing it."""
    spec = importlib.util.find_spec("gatewaymetrics")
    if spec is None or spec.origin is None:
        return "NOT INSTALLED"
    package = Path(spec.origin).parent
    compiled = [p for p in package.rglob("*") if p.name.endswith(tuple(EXTENSION_SUFFIXES))]
    return f"{version('gatewaymetrics')} from {package}, {len(compiled)} compiled module(s)"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace, proxies: dict[str, Proxy]) -> dict[str, Any]:
    """Warm every proxy up, then run the interleaved rounds; the raw figures."""
    names = list(proxies)
    errors: dict[str, Counter[str]] = {name: Counter() for name in names}
    rps: dict[str, list[float]] = {name: [] for name in names}
    cpu_us: dict[str, list[float]] = {name: [] for name in names}
    client_us: list[float] = []

    def timed(proxy: Proxy, requests: int) -> tuple[float, float, float]:
        """Wall-clock, client CPU and proxy CPU seconds (its deferred work included)."""
        cpu = proxy.cpu_seconds()
        try:
            seconds, client = load(proxy.port, requests, args.concurrency, errors[proxy.name])
        except RuntimeError as exc:
            log = f"the {proxy.name} proxy's log ends:\n{proxy.tail()}"
            raise RuntimeError(f"{exc}\n{log}") from None
        proxy.settle()
        return seconds, client, proxy.cpu_seconds() - cpu

    for proxy in proxies.values():
        timed(proxy, args.warmup)
    for index in range(args.rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            seconds, client, cpu = timed(proxies[name], args.requests)
            rps[name].append(args.requests / seconds)
            cpu_us[name].append(cpu / args.requests * 1e6)
            client_us.append(client / args.requests * 1e6)
        if not args.quiet:
            figures = ", ".join(f"{name} {rps[name][-1]:.1f}" for name in names)
            progress(f"round {index + 1}/{args.rounds}: {figures} req/s")
    return {"errors": errors, "rps": rps, "cpu_us": cpu_us, "client_us": client_us}


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Start the proxies, measure, check the counts; the result as JSON-ready data."""
    began, load_before, origin = time.monotonic(), os.getloadavg()[0], gatewaymetrics_origin()
    expected = args.warmup + args.rounds * args.requests
    names = [name for name in CALLBACKS if name != CONTROL or not args.no_control]
    with running(names, root) as proxies:
        if not args.quiet:
            ports = ", ".join(f"{p.name} on :{p.port}" for p in proxies.values())
            progress(f"proxies ready after {time.monotonic() - began:.0f} s: {ports}")
        raw = measure(args, proxies)
        counted = requests_counted(proxies[GATEWAYMETRICS].metrics_port, expected)
        litellm = litellm_counters(proxies[LITELLM_PROMETHEUS].port)
    noop = statistics.median(raw["rps"][NOOP])
    noop_cpu = statistics.median(raw["cpu_us"][NOOP])
    configurations = {}
    for name, proxy in proxies.items():
        rps, errors, found = raw["rps"][name], raw["errors"][name], log_findings(proxy)
        configurations[name] = {
            "median_rps": round(statistics.median(rps), 1),
            "min_rps": round(min(rps), 1),
            "max_rps": round(max(rps), 1),
            "of_noop": round(statistics.median(rps) / noop, 4),
            # Each round's throughput over the noop's in the same round, the median of
            # those: a slow spell of the machine touches both sides of a pair alike.
            "paired_of_noop": round(
                statistics.median(r / n for r, n in zip(rps, raw["rps"][NOOP], strict=True)), 4
            ),
            "rps": [round(r, 1) for r in rps],
            "proxy_cpu_us_per_request": round(statistics.median(raw["cpu_us"][name])),
            "cpu_us": [round(us) for us in raw["cpu_us"][name]],
            "cpu_of_noop": round(noop_cpu / statistics.median(raw["cpu_us"][name]), 4),
            "errors": sum(errors.values()),
            "error_kinds": dict(errors.most_common(5)),
            "log_findings": found[:20],
            "log_findings_count": len(found),
        }
    return {
        "litellm": version("litellm"),
        "gatewaymetrics": origin,
        "cores": os.cpu_count(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "requests": args.requests,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "seconds": round(time.monotonic() - began),
        "client_cpu_us_per_request": round(statistics.median(raw["client_us"])),
        "configurations": configurations,
        "gatewaymetrics_requests_counted": counted,
        "expected_count": expected,
        "pinning": (
            f"client on CPU {sorted(PINNING.client)}, proxies on CPU {sorted(PINNING.proxy)}"
            if PINNING.proxy
            else "none"
        ),
        "litellm_request_counters": litellm,
    }


def report(result: dict[str, Any]) -> None:
    configs = result["configurations"]
    print(
        f"LiteLLM {result['litellm']} proxy, 1 worker, mock_response, no database; "
        f"{result['cores']} cores shared by the client and the proxies (load average "
        f"{result['load_average'][0]} before, {result['load_average'][1]} after)\n"
        f"gatewaymetrics {result['gatewaymetrics']}\n"
        f"{result['concurrency']} keep-alive connections from 127.0.0.1; warm-up "
        f"{result['warmup']} requests each, then {result['rounds']} interleaved rounds of "
        f"{result['requests']} requests; {result['seconds']} s in all"
    )
    print(f"pinning: {result['pinning']}")
    print(f"{'configuration':<20}{'median req/s':>13}{'min':>8}{'max':>8}{'of noop':>9}"
          f"{'paired':>8}{'proxy CPU us/req':>18}{'of noop':>9}{'errors':>8}")  # fmt: skip
    for name, c in configs.items():
        print(
            f"{name:<20}{c['median_rps']:>13.1f}{c['min_rps']:>8.1f}{c['max_rps']:>8.1f}"
            f"{c['of_noop']:>9.1%}{c['paired_of_noop']:>8.1%}"
            f"{c['proxy_cpu_us_per_request']:>18}{c['cpu_of_noop']:>9.1%}{c['errors']:>8}"
        )
    print(
        f"(paired: the median over rounds of this one's throughput over the noop's in the "
        f"same round; CPU 'of noop': noop's CPU per request over this one's, the "
        f"throughput share a saturated core would keep)\nclient CPU: "
        f"{result['client_cpu_us_per_request']} us/request"
    )
    gm, lp = configs[GATEWAYMETRICS], configs[LITELLM_PROMETHEUS]
    print(
        f"gatewaymetrics keeps {gm['of_noop']:.1%} of the noop throughput (target >= "
        f"{TARGET:.0%}; paired {gm['paired_of_noop']:.1%}; by CPU {gm['cpu_of_noop']:.1%}); "
        f"LiteLLM's prometheus callback keeps {lp['of_noop']:.1%} (paired "
        f"{lp['paired_of_noop']:.1%}; by CPU {lp['cpu_of_noop']:.1%})"
    )
    if CONTROL in configs:
        control = configs[CONTROL]
        print(
            f"noise: a second noop process keeps {control['of_noop']:.1%} of the first's "
            f"throughput (paired {control['paired_of_noop']:.1%}; by CPU "
            f"{control['cpu_of_noop']:.1%}); this run does not resolve smaller differences"
        )
    counted, expected = result["gatewaymetrics_requests_counted"], result["expected_count"]
    print(
        f"gatewaymetrics /metrics: llm_requests_total summed = "
        f"{'no answer' if counted is None else f'{counted:.0f}'}, expected "
        f"{result['warmup']} + {result['rounds']} x {result['requests']} = {expected}: "
        + ("exact" if counted == expected else "WRONG")
    )
    counters = result["litellm_request_counters"]
    shown = ", ".join(f"{k} = {v:.0f}" for k, v in counters.items()) or "NONE"
    print(f"LiteLLM /metrics request counters, summed: {shown} (expected {expected})")
    for name, c in configs.items():
        for kind, count in c["error_kinds"].items():
            print(f"{name}: {count} x {kind}")
        if c["log_findings_count"]:
            print(f"{name} proxy log: {c['log_findings_count']} line(s) look like trouble:")
            print("\n".join(f"  {line}" for line in c["log_findings"][:5]))


def void(result: dict[str, Any]) -> bool:
    """Whether the run proves nothing: a request failed, or gatewaymetrics or LiteLLM's
    callback (none of its request counters) missed or double counted a request."""
    expected = result["expected_count"]
    return (
        any(c["errors"] for c in result["configurations"].values())
        or result["gatewaymetrics_requests_counted"] != expected
        or expected not in result["litellm_request_counters"].values()
    )


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=positive, default=300, help="per round and proxy")
    parser.add_argument("--rounds", type=positive, default=7)
    parser.add_argument("--concurrency", type=positive, default=8, help="client connections")
    parser.add_argument("--warmup", type=positive, default=200, help="requests per proxy first")
    parser.add_argument("--no-control", action="store_true", help="no second noop proxy")
    parser.add_argument("--no-pin", action="store_true", help="no CPU pinning")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--logs", type=Path, help="keep the proxies' configs and logs here")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        PINNING.client, PINNING.proxy = {cpus[0]}, set(cpus[1:])
        os.sched_setaffinity(0, PINNING.client)
    # A plain `kill` of the benchmark stops the proxies too (`running` cleans up).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with ExitStack() as stack:
            root = args.logs or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            result = run(args, root)
    except RuntimeError as exc:
        progress(str(exc))
        return 2
    except KeyboardInterrupt:
        progress("interrupted; the proxies are stopped")
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return 1 if void(result) else 0


if __name__ == "__main__":
    sys.exit(main())
