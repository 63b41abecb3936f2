"""Several worker processes write one multiprocess directory; the exposition sums
counters exactly and shows one budget series per subject, even after a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gatewaymetrics.backends.prometheus import mark_process_dead
from tests.promtools import exposition_values, promtool_check

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _worker(
    directory: Path, events: int, first_spend: int, *, step: bool = False, litellm: bool = False
) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.mp_worker", str(events), str(first_spend)]
        + (["--step"] if step else []) + (["--litellm"] if litellm else []),
        cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE if step else subprocess.DEVNULL, stdout=subprocess.PIPE,
    )  # fmt: skip


def _aggregate(
    directory: Path,
) -> tuple[bytes, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    body = generate_latest(registry)
    return body, exposition_values(body.decode())


def test_four_workers_sum_exactly_and_a_killed_one_keeps_its_counts(tmp_path: Path) -> None:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    steady = [_worker(directory, 50, first, step=False) for first in (0, 100, 200)]
    for process in steady:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        assert out.splitlines()[-1] == "done 50"

    victim = _worker(directory, 1000, 500, step=True)
    assert victim.stdin is not None
    assert victim.stdout is not None
    for expected in range(1, 8):  # let it complete exactly 7 events, then kill it
        victim.stdin.write("go\n")
        victim.stdin.flush()
        assert victim.stdout.readline().strip() == f"done {expected}"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    mark_process_dead(victim.pid, str(directory))

    body, values = _aggregate(directory)
    identity = (("api_key", ""), ("api_key_alias", ""), ("model", "m"), ("operation", "other"),
                ("provider", "openai"), ("requested_model", "fast"), ("team", ""),
                ("team_alias", ""), ("user", ""))  # fmt: skip
    requests = (
        "llm_requests_total",
        tuple(sorted((*identity, ("error_type", ""), ("status", "success")))),
    )
    assert values[requests] == 157.0  # 3 x 50 + 7
    assert (
        values[("llm_tokens_total", tuple(sorted((*identity, ("token_type", "input")))))] == 1570.0
    )
    assert values[("llm_spend_usd_total", identity)] == 78.5
    assert values[("llm_request_duration_seconds_count", identity)] == 157.0
    budget = [key for key in values if key[0] == "llm_budget_spend_usd"]
    assert budget == [
        ("llm_budget_spend_usd", (("alias", "Team One"), ("scope", "team"), ("subject", "t1")))
    ]
    assert values[budget[0]] == 506.0  # the most recent write: the victim's 7th event
    assert not any(name == "pid" for key in values for name, _ in key[1])
    result = promtool_check(body)
    assert (result.returncode, result.stderr) == (0, "")


def test_workers_on_the_fast_path_sum_exactly_with_one_series_per_budget(tmp_path: Path) -> None:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    workers = [_worker(directory, 20, first, litellm=True) for first in (100, 0)]
    for process in workers:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        assert out.splitlines()[-2:] == ["done 20", "fast 19"]  # all but the first event
    body, values = _aggregate(directory)
    requests = [v for (name, _), v in values.items() if name == "llm_requests_total"]
    assert requests == [40.0]
    tokens = {dict(labels)["token_type"]: v for (name, labels), v in values.items()
              if name == "llm_tokens_total"}  # fmt: skip
    assert tokens == {"input": 400.0, "output": 800.0}
    spend = [v for (name, _), v in values.items() if name == "llm_spend_usd_total"]
    assert spend == [pytest.approx(40 * 1.35e-05, rel=1e-12)]
    budgets = sorted(dict(labels)["scope"] for (name, labels), _ in values.items()
                     if name == "llm_budget_spend_usd")  # fmt: skip
    assert budgets == ["api_key", "team", "user"]  # one series per subject, no pid label
    key_spend = [
        v for (name, labels), v in values.items()
        if name == "llm_budget_spend_usd" and dict(labels)["scope"] == "api_key"
    ]  # fmt: skip
    assert key_spend[0] in (119.0 + 1.35e-05, 19.0 + 1.35e-05)  # the most recent write
    result = promtool_check(body)
    assert (result.returncode, result.stderr) == (0, "")


_EXPOSE = """
import sys
from prometheus_client import CollectorRegistry
from gatewaymetrics.backends.prometheus import PrometheusBackend
backend = PrometheusBackend(registry=CollectorRegistry())
for _ in range(2):  # the second scrape logs nothing new
    body, _ = backend.exposition()
sys.stdout.write(body.decode())
sys.stderr.write(f"skipped {backend.multiprocess_collector.skipped}\\n")
"""


def test_a_partial_file_costs_that_file_not_the_scrape(tmp_path: Path) -> None:
    """Issue 12, point 13: an empty ``.db`` file (a worker between open and truncate)
    and one cut short (a worker killed mid-write) are skipped; the rest is exact."""
    directory = tmp_path / "multiproc"
    directory.mkdir()
    process = _worker(directory, 10, 0)
    process.communicate(timeout=120)
    assert process.returncode == 0
    (counters,) = sorted(directory.glob("counter_*.db"))
    (directory / "counter_99999.db").write_bytes(b"")  # 0 bytes
    cut = counters.read_bytes()
    used = int.from_bytes(cut[:4], "little")
    (directory / "histogram_99998.db").write_bytes(cut[: used - 20])  # cut mid-entry
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    result = subprocess.run(
        [sys.executable, "-c", _EXPOSE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    values = exposition_values(result.stdout)
    requests = [v for (name, _), v in values.items() if name == "llm_requests_total"]
    assert sum(requests) == 10.0  # the worker's ten calls, nothing from the partial files
    assert result.stderr.count("skipping the partial multiprocess file") == 2
    assert "skipped 4" in result.stderr  # two files, two scrapes
    check = promtool_check(result.stdout.encode())
    assert check.returncode == 0, check.stdout + check.stderr
