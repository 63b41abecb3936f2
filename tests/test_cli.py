"""The ``gatewaymetrics`` command, run as a subprocess as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaymetrics.summary import histogram_quantile
from tests.conftest import require_module
from tests.integration.test_litellm_real import HOW
from tests.promtools import exposition_values, free_port, http_get
from tests.test_replay import EXAMPLES

COMMAND = [sys.executable, "-m", "gatewaymetrics"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "GATEWAYMETRICS_PROMETHEUS_PORT": "0", **(env or {})},
    )  # fmt: skip


def test_replay_reports_bad_lines_by_number_and_records_the_rest(tmp_path: Path) -> None:
    good = EXAMPLES.read_text(encoding="utf-8").splitlines()[:3]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good[0], "{broken", good[1], "[1, 2]", good[2]]) + "\n")
    result = run("replay", str(path))
    assert result.returncode == 0
    assert result.stderr == (
        f"gatewaymetrics: {path}:2: skipped, not JSON (JSONDecodeError)\n"
        f'gatewaymetrics: {path}:4: skipped, not an object with a "kwargs" key\n'
    )
    assert result.stdout.splitlines()[0] == f"Replayed 3 payloads from {path}"
    assert result.stdout.splitlines()[2] == "3 requests, 1 failed, 43 tokens, 0.0000172 USD"


def test_replay_prints_the_exposition() -> None:
    result = run("replay", str(EXAMPLES), "--exposition")
    assert result.returncode == 0
    values = exposition_values(result.stdout)
    assert sum(v for k, v in values.items() if k[0] == "llm_requests_total") == 19.0


def test_a_missing_file_is_a_one_line_error() -> None:
    result = run("replay", "/nonexistent/payloads.jsonl")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "gatewaymetrics: invalid FILE: '/nonexistent/payloads.jsonl'; "
        "allowed: a readable file (No such file or directory)\n"
    )


def test_usage_errors_exit_2_without_a_traceback() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "gatewaymetrics: argument command: invalid choice: 'frobnicate'"
    )
    assert "Traceback" not in result.stderr
    assert run("demo", "--calls", "0").stderr == "gatewaymetrics: --calls must be at least 1\n"


def test_check_config_prints_the_effective_settings_and_catalog(tmp_path: Path) -> None:
    path = tmp_path / "gm.toml"
    path.write_text('backends = ["statsd"]\n[statsd]\ndialect = "graphite"\n', encoding="utf-8")
    result = run("check-config", str(path))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "backends = ['statsd']"
    assert "statsd = {host = '127.0.0.1', port = 8125, protocol = 'udp', dialect = 'graphite', " \
        "prefix = 'llm'}" in lines  # fmt: skip
    assert "  llm_requests_total counter [provider, requested_model, model, operation, team, " \
        "team_alias, api_key, api_key_alias, user, status, error_type]" in lines  # fmt: skip


def test_check_config_on_a_bad_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[statsd]\nport = "eighty"\n', encoding="utf-8")
    result = run("check-config", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "gatewaymetrics: invalid statsd.port: 'eighty'; allowed: an integer from 1 to 65535\n"
    )


def test_a_bad_environment_variable_is_a_config_error() -> None:
    result = run("replay", str(EXAMPLES), env={"GATEWAYMETRICS_STATSD_DIALECT": "datadog"})
    assert result.returncode == 2
    assert result.stderr.startswith(
        "gatewaymetrics: invalid GATEWAYMETRICS_STATSD_DIALECT (statsd.dialect): 'datadog'; "
        "allowed: "
    )


def test_serve_answers_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen([*COMMAND, "serve", "--port", str(port)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ})  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert (
            line == f"Serving http://127.0.0.1:{port}/metrics for this process; Ctrl-C to stop.\n"
        )
        assert b"# TYPE llm_requests_total counter" in http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.mark.integration
def test_demo_summary_equals_a_scrape_of_its_own_metrics() -> None:
    require_module("litellm", HOW)
    port = free_port()
    env = {**os.environ, "GATEWAYMETRICS_PROMETHEUS_PORT": str(port),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip
    process = subprocess.Popen(
        [*COMMAND, "demo", "--calls", "40", "--serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        summary = []
        for line in process.stdout:
            summary.append(line.rstrip("\n"))
            if line.startswith("Serving"):
                break
        values = exposition_values(http_get(f"http://127.0.0.1:{port}/metrics").decode())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert f"Metrics: http://127.0.0.1:{port}/metrics" in summary

    def total(name: str, **match: str) -> float:
        return sum(
            v
            for (n, labels), v in values.items()
            if n == name and all(dict(labels).get(k) == x for k, x in match.items())
        )

    requests, failed = total("llm_requests_total"), total("llm_requests_total", status="failure")
    tokens, spend = total("llm_tokens_total"), total("llm_spend_usd_total")
    assert summary[0] == f"{requests:.0f} requests, {failed:.0f} failed, {tokens:.0f} tokens, " \
        f"{spend:.7f} USD"  # fmt: skip
    assert requests >= 40.0  # every call, plus the fallbacks' second attempts
    rows = {
        line.split()[0]: line.split()
        for line in summary[4:]
        if line and line[0].isalpha() and len(line.split()) == 11
    }
    assert rows, summary
    for model, row in rows.items():
        assert row[1] == f"{total('llm_requests_total', requested_model=model):.0f}"
        by_bound: dict[float, float] = {}
        for (name, labels), value in values.items():
            found = dict(labels)
            if name == "llm_request_duration_seconds_bucket" and found["requested_model"] == model:
                bound = float(found["le"])
                by_bound[bound] = by_bound.get(bound, 0.0) + value
        p50 = histogram_quantile(0.5, sorted(by_bound.items()))
        assert row[7] == ("-" if p50 is None else f"{p50:.3f}"), (model, row)


def test_demo_payload_file_is_json_lines() -> None:
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) >= {"kwargs", "hook"}


# -- issue 12: check-config refuses what build_pipeline refuses; flags are checked -------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GATEWAYMETRICS_BACKENDS": "statsd", "GATEWAYMETRICS_STATSD_TIMEOUT": "120"},
         "invalid GATEWAYMETRICS_STATSD_TIMEOUT (statsd.timeout): 120; allowed: seconds: "
         "a number more than 0, at most 60"),
        ({"GATEWAYMETRICS_BACKENDS": "statsd", "GATEWAYMETRICS_STATSD_PREFIX": "1bad"},
         "invalid GATEWAYMETRICS_STATSD_PREFIX (statsd.prefix): '1bad'; allowed: empty, "
         "or dotted identifiers"),
        ({"GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "true"},
         "invalid prometheus.multiprocess_dir: None; allowed: a directory when "
         "prometheus.multiprocess is true"),
        ({"GATEWAYMETRICS_PROMETHEUS_PORT": "9464",
          "GATEWAYMETRICS_PROMETHEUS_HOST": "no-such-host.invalid"},
         "invalid prometheus.host (GATEWAYMETRICS_PROMETHEUS_HOST): 'no-such-host.invalid'; "
         "allowed: a host name or address that resolves"),
    ],
)  # fmt: skip
def test_check_config_refuses_what_build_pipeline_refuses(
    environ: dict[str, str], message: str
) -> None:
    checked = run("check-config", env=environ)
    assert (checked.returncode, checked.stdout) == (2, "")
    assert checked.stderr.startswith(f"gatewaymetrics: {message}")
    # replay builds the pipeline without a server; serve builds the server
    command = ["serve"] if "HOST" in str(environ) else ["replay", str(EXAMPLES)]
    built = run(*command, env=environ)
    assert (built.returncode, built.stderr) == (2, checked.stderr)


def test_check_config_refuses_a_port_in_use() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("check-config", env={"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"gatewaymetrics: invalid prometheus.port (GATEWAYMETRICS_PROMETHEUS_PORT): {port}; "
        "allowed: a free port (Address already in use)\n"
    )


def test_check_config_on_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'prefix = "caf\xe9_"\n')
    result = run("check-config", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"gatewaymetrics: invalid config file: '{path}'; "
        "allowed: a UTF-8 TOML file (byte 13 is not UTF-8)\n"
    )


def test_serve_checks_its_port_flag() -> None:
    result = run("serve", "--port", "70000")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "gatewaymetrics: invalid --port: 70000; allowed: an integer from 0 to 65535\n"
    )
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"gatewaymetrics: invalid --port: {port}; allowed: a free port (Address already in use)\n"
    )


def test_documented_variables_leave_the_metrics_on() -> None:
    result = run("replay", str(EXAMPLES),
                 env={"GATEWAYMETRICS_PURE": "1", "GATEWAYMETRICS_PURE_BUILD": "1"})  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"Replayed 19 payloads from {EXAMPLES}"


# -- issue 13: first-hour frictions ------------------------------------------------------


@pytest.mark.parametrize("args", [["check-config"], ["replay", str(EXAMPLES)]])
def test_output_to_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    """``gatewaymetrics check-config | head -1``: the reader is gone before the first
    write (here from the start, so the test does not race the writer)."""
    read, write = os.pipe()
    os.close(read)
    try:
        source = str(Path(__file__).parents[1] / "src")  # this tree, not an installed copy
        process = subprocess.run(
            [*COMMAND, *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": source, "GATEWAYMETRICS_PROMETHEUS_PORT": "0"},
        )  # fmt: skip
    finally:
        os.close(write)
    assert "BrokenPipeError" not in process.stderr
    assert "Traceback" not in process.stderr
    assert (process.returncode, process.stderr) == (0, "")


def test_replay_starts_no_server_so_a_busy_port_does_not_matter(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "one.jsonl"
    path.write_text(EXAMPLES.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run("replay", str(path), env={"GATEWAYMETRICS_PROMETHEUS_PORT": port})
        exposition = run("replay", str(path), "--exposition",
                         env={"GATEWAYMETRICS_PROMETHEUS_PORT": port})  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"Replayed 1 payloads from {path}"
    assert (exposition.returncode, exposition.stderr) == (0, "")
    assert "# TYPE llm_requests_total counter" in exposition.stdout


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from gatewaymetrics.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _entries(text: str) -> dict[str, str]:
    """Each argument in a ``--help`` text and its help (same line or the next ones)."""
    entries: dict[str, str] = {}
    section, name = False, None
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section = line in ("options:", "positional arguments:")
            continue
        if not section or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 2:
            name, _, rest = line.strip().partition("  ")
            entries[name] = rest.strip()
        elif name is not None and indent > 2 and not line.strip().startswith("{"):
            entries[name] = f"{entries[name]} {line.strip()}".strip()
    return entries


def test_help_describes_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    assert "``" not in top
    for command in ("demo", "replay", "serve", "check-config"):
        text = _help(capsys, command)
        assert "``" not in text
        _, _, rest = text.partition("\n\n")
        description = rest.split("\n\n")[0]
        assert not description.endswith(":"), (command, text)  # a description, not a section
        entries = _entries(text)
        assert entries, text
        for name, help_text in entries.items():
            assert help_text, (command, name, text)
            if name.startswith("--") and " " in name:  # an option taking a value
                assert "default:" in help_text, (command, name, text)


def test_check_config_explains_naming() -> None:
    result = run("check-config")
    assert result.returncode == 0
    assert (
        "naming = 'native'  # native: gatewaymetrics' names; litellm: LiteLLM's PrometheusLogger"
        " names" in result.stdout.splitlines()
    )


@pytest.mark.integration
def test_demo_explains_its_request_count_and_shows_no_url_without_serve() -> None:
    require_module("litellm", HOW)
    import socket

    with socket.socket() as busy:  # no server starts, so a busy port does not matter
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("demo", "--calls", "30", env={
            "GATEWAYMETRICS_PROMETHEUS_PORT": str(busy.getsockname()[1]),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    requests = int(lines[0].split()[0])
    assert requests > 30  # the seeded mix has fallbacks
    extra = requests - 30
    assert f"{requests} requests from 30 calls: {extra} more attempt{'s' if extra > 1 else ''} " \
        "on a fallback deployment (each attempt is a request)" in lines  # fmt: skip
    assert not any("http://" in line for line in lines)
    assert lines[-1] == "Metrics: not served (gatewaymetrics demo --serve keeps /metrics up)"


def test_serve_help_says_it_needs_a_multiprocess_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = " ".join(_help(capsys, "serve").split())
    assert "records nothing itself" in text
    assert "PROMETHEUS_MULTIPROC_DIR" in text
    assert "Without one it shows only HELP and TYPE lines." in text


def test_replay_under_litellm_names_summarises_and_exposes_litellms_families() -> None:
    env = {"GATEWAYMETRICS_NAMING": "litellm"}
    native = run("replay", str(EXAMPLES))
    named = run("replay", str(EXAMPLES), env=env)
    assert (native.returncode, named.returncode) == (0, 0)
    # the summary reads the catalog's own metrics (latency quantiles differ: the
    # buckets are LiteLLM's)
    assert (
        named.stdout.splitlines()[0]
        == native.stdout.splitlines()[0]
        == (f"Replayed 19 payloads from {EXAMPLES}")
    )
    budgets = [line for line in native.stdout.splitlines() if line.startswith(("team ", "user "))]
    assert len(budgets) == 5
    assert budgets == [
        line for line in named.stdout.splitlines() if line.startswith(("team ", "user "))
    ]
    exposition = run("replay", str(EXAMPLES), "--exposition", env=env)
    assert exposition.returncode == 0
    families = {
        line.split()[2] for line in exposition.stdout.splitlines() if line.startswith("# TYPE")
    }
    assert "litellm_proxy_total_requests_metric_total" in families
    assert "litellm_remaining_team_budget_metric" in families
    assert not any(name.startswith("llm_requests") for name in families)
