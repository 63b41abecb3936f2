"""Real Prometheus parts for tests: ``promtool check metrics`` and a Prometheus server
started on 127.0.0.1 (free ports, temporary data directory), stopped by its user."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gatewaymetrics.backends.memory import HistogramValue, MemorySnapshot

HOW = "install Debian's prometheus package (make test does: apt-get install prometheus)"


def require_binary(name: str) -> str:
    """The path of a real binary, or skip (fail under CI=true) saying how to get it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not on PATH; {HOW}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return path


def promtool_check(exposition: bytes) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on a Prometheus text exposition."""
    return subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=exposition.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
        body: bytes = response.read()
        return body


class PrometheusServer:
    """A running Prometheus server scraping one target every second."""

    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        payload = json.loads(http_get(url))
        assert payload["status"] == "success", payload
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def scalar(self, promql: str) -> float:
        """The single value a query returns (fails if there is not exactly one)."""
        result = self.query(promql)
        assert len(result) == 1, (promql, result)
        return float(result[0]["value"][1])

    def wait_for(self, promql: str, expected: float, timeout: float = 30.0) -> float:
        """Poll until the query's single value equals ``expected`` (scrapes are async)."""
        deadline = time.monotonic() + timeout
        value = math.nan
        while time.monotonic() < deadline:
            result = self.query(promql)
            if len(result) == 1:
                value = float(result[0]["value"][1])
                if value == expected:
                    return value
            time.sleep(0.25)
        raise AssertionError(f"{promql} = {value}, expected {expected} within {timeout} s")


@contextmanager
def prometheus_server(
    target_port: int | None = None, *, interval: str = "1s", jobs: str | None = None
) -> Iterator[PrometheusServer]:
    """Start ``prometheus`` on 127.0.0.1 scraping 127.0.0.1:target_port (or the scrape
    ``jobs`` given as YAML list items); stop it after."""
    binary = require_binary("prometheus")
    port = free_port()
    if jobs is None:
        jobs = (
            "  - job_name: gatewaymetrics\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
    with tempfile.TemporaryDirectory(prefix="gm-prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {interval}\n"
            f"  evaluation_interval: {interval}\n"
            "scrape_configs:\n" + jobs,
            encoding="utf-8",
        )
        log = (Path(tmp) / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={Path(tmp) / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http_get(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.close()
                        output = (Path(tmp) / "prometheus.log").read_text(errors="replace")
                        raise RuntimeError(f"prometheus did not start:\n{output}") from None
                    time.sleep(0.2)
            yield PrometheusServer(port, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def exposition_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition: (sample name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def memory_as_samples(
    snapshot: MemorySnapshot,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A memory snapshot in the sample names Prometheus exposes (``_bucket``, ``le``,
    ``_count``, ``_sum``), so both backends can be compared series by series."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for series in snapshot.series:
        labels = tuple(sorted(series.labels))
        value = series.value
        if isinstance(value, HistogramValue):
            base = series.name
            for bound, count in value.buckets:
                le = "+Inf" if math.isinf(bound) else repr(float(bound))
                out[(f"{base}_bucket", tuple(sorted((*labels, ("le", le)))))] = float(count)
            out[(f"{base}_count", labels)] = float(value.count)
            out[(f"{base}_sum", labels)] = float(value.sum)
        else:
            assert isinstance(value, Decimal)
            out[(series.name, labels)] = float(value)
    return out
