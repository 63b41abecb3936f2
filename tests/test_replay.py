from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gatewaymetrics.replay import BadLine, Payload, read_payloads, replay
from gatewaymetrics.testing import memory_pipeline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "litellm_payloads.jsonl"


def test_read_payloads_reports_bad_lines_with_their_numbers() -> None:
    lines = [
        json.dumps({"kwargs": {"model": "m"}, "hook": "async_log_failure_event"}),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"kwargs": {"model": "n"}, "hook": "log_success_event", "end_time": "x"}),
    ]
    items = list(read_payloads(lines))
    assert items == [
        Payload(line=1, kwargs={"model": "m"}, response_obj=None, start_time=None,
                end_time=None, failed=True),
        BadLine(line=3, reason="not JSON (JSONDecodeError)"),
        BadLine(line=4, reason='not an object with a "kwargs" key'),
        Payload(line=5, kwargs={"model": "n"}, response_obj=None, start_time=None,
                end_time="x", failed=False),
    ]  # fmt: skip


def test_replay_records_good_lines_and_skips_bad_ones() -> None:
    recorder = memory_pipeline()
    good = json.dumps({"kwargs": {"model": "m"}, "hook": "log_success_event"})
    recorded, bad = replay([good, "oops", good], recorder.pipeline)
    assert (recorded, bad) == (2, [BadLine(line=2, reason="not JSON (JSONDecodeError)")])
    assert recorder.backend.sum("llm_requests_total", model="m") == 2.0


def test_the_shipped_examples_replay_exactly() -> None:
    recorder = memory_pipeline()
    with EXAMPLES.open(encoding="utf-8") as lines:
        recorded, bad = replay(lines, recorder.pipeline)
    assert (recorded, bad) == (19, [])
    backend = recorder.backend
    assert backend.sum("llm_requests_total") == 19.0
    assert backend.sum("llm_requests_total", status="failure") == 5.0
    assert backend.sum("llm_requests_total", error_type="rate_limited") == 2.0
    assert backend.sum("llm_requests_total", error_type="provider_error") == 3.0
    assert backend.sum("llm_unpriced_requests_total") == 1.0
    assert backend.sum("llm_cache_hits_total") == 1.0
    assert backend.sum("gatewaymetrics_input_problems_total") == 0.0
    assert backend.histogram("llm_time_to_first_token_seconds").count == 2


def test_the_command_prints_the_summary_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gatewaymetrics", "replay", str(EXAMPLES)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0] == f"Replayed 19 payloads from {EXAMPLES}"
    rows = {line.split()[0]: line.split()[1:6] for line in lines if line.startswith("gpt-4o-mini ")}
    assert rows == {"gpt-4o-mini": ["10", "30.0%", "68", "108", "0.0000750"]}
    assert lines[2] == "19 requests, 5 failed, 366 tokens, 0.0010802 USD"
    assert "Budgets" in lines
    assert result.stderr == ""


def test_the_command_fails_cleanly_on_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "gatewaymetrics", "replay", str(missing)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"gatewaymetrics: invalid FILE: '{missing}'; "
        "allowed: a readable file (No such file or directory)\n"
    )


def test_replay_without_identity_labels() -> None:
    """GATEWAYMETRICS_LABELS_IDENTITY= (empty) means no identity labels: validation
    accepted it, and replay then failed with a ValueError in its summary."""
    import os

    result = subprocess.run(
        [sys.executable, "-m", "gatewaymetrics", "replay", str(EXAMPLES)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "GATEWAYMETRICS_LABELS_IDENTITY": "",
             "GATEWAYMETRICS_BACKENDS": "memory"},
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[2] == "19 requests, 5 failed, 366 tokens, 0.0010802 USD"
    assert lines[7].split() == [
        "(none)", "19", "26.3%", "138", "228", "0.0010802", "1", "0.007", "0.672", "0.010", "1.216"
    ]  # fmt: skip


def test_the_summary_leaves_out_what_a_metric_does_not_carry() -> None:
    from gatewaymetrics import LabelSettings, Settings
    from gatewaymetrics.summary import render_summary

    recorder = memory_pipeline(
        Settings(labels=LabelSettings(exclude={"tokens": ["requested_model"]}))
    )
    with EXAMPLES.open(encoding="utf-8") as lines:
        replay(lines, recorder.pipeline)
    rows = [line.split() for line in render_summary(recorder.backend, recorder.pipeline.plan)
            .splitlines() if line.startswith("gpt-4o-mini ")]  # fmt: skip
    assert rows == [["gpt-4o-mini", "10", "30.0%", "-", "-", "0.0000750", "0", *rows[0][7:]]]
