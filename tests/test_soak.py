"""benchmarks/soak.py at a tiny size: every promise it checks holds, exactly.

A functional test of the soak, not a timing one: 2 000 events (every hostile kind and
every heavy one among them) through the adapter from four threads into Prometheus and
the StatsD daemon, with the concurrent budget reader and scraper running.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import require_module

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

require_module("litellm", "pip install 'gatewaymetrics[litellm]' (make test installs it)")


def load_soak(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/soak.py as a module (it imports its sibling soak_payloads)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("soak", BENCHMARKS / "soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "soak", module)
    spec.loader.exec_module(module)
    return module


def test_soak_keeps_every_promise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    soak = load_soak(monkeypatch)
    payloads = sys.modules["soak_payloads"]
    result = soak.main(["--events", "2000", "--threads", "4", "--scrape-every", "0.2"])
    out = capsys.readouterr().out
    # Every kind of payload was sent: 2 000 / 50 = 40 hostile events cover the 23 kinds.
    assert len(payloads.HOSTILE) <= 2000 // payloads.HOSTILE_EVERY
    assert len(payloads.HEAVY) == 4
    assert "4 heavy" in out
    assert (result.requested, result.events) == (2000, 2000)
    assert (result.exceptions, result.exception_types) == (0, {})
    assert (result.lost, result.requests_counted) == (0, 2000.0)
    assert result.regressions == 0
    assert result.reads >= 1
    assert result.secrets_leaked == 0
    assert result.nonfinite_samples == 0
    assert result.status == 0
    assert "OK: every promise held" in out
    assert [count for count, _, _ in result.memory][-1] == 2000
    assert result.scrape_bytes > 0
    assert result.scrape_lines > 0
