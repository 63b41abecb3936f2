"""Fan-out: failures are counted exactly and logged at most once per interval, by
exception type only (issue 12, point 2: the WARNING flood per failed event, from a dead
StatsD daemon or an unwritable Prometheus multiprocess directory)."""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import CallRecord, Principal, Settings, TokenUsage
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.statsd import StatsdBackend
from gatewaymetrics.core.measure import measure_call
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.fan_out import FanOut, LogLimiter

SECRET = "sk-proj-QWERTYUIOPASDFGHJKL1234"


class Clock:
    """An injected monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Unwritable:
    """Fails every event as a multiprocess directory that cannot be written does, with
    a message that quotes what it was given."""

    name = "prometheus"

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        raise PermissionError(f"[Errno 13] Permission denied: '/var/mp/{SECRET}.db'")

    def close(self) -> None:
        pass


def _fan_out(backends: list[object], clock: Clock) -> tuple[FanOut, list[Sample]]:
    plan = Plan.build(Settings())
    fan_out = FanOut(backends, plan, clock=clock)  # type: ignore[arg-type]
    fan_out.declare(tuple(plan.metrics.values()))
    call = CallRecord(provider="openai", model="gpt-4o", principal=Principal(team_id="t1"),
                      tokens=TokenUsage(input=10, output=5), cost_usd=Decimal("0.25"),
                      started_at=100.0, ended_at=101.5)  # fmt: skip
    return fan_out, measure_call(call, plan)


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_statsd_daemon_logs_once_per_interval_and_counts_every_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    memory = MemoryBackend()
    statsd = StatsdBackend.connect("127.0.0.1", _closed_port(), "tcp", retry_after=0.001)
    fan_out, samples = _fan_out([memory, statsd], clock)
    caplog.set_level(logging.WARNING, logger="gatewaymetrics")
    for _ in range(40):
        fan_out.apply(samples)
    assert statsd.flush(30)
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 40.0
    assert _lines(caplog, "backend statsd failed") == [
        "gatewaymetrics: backend statsd failed: ConnectionRefusedError; 1 failure(s) since"
        " the last line about it (logged at most once per 60 s)"
    ]
    clock.now += 60.0
    fan_out.apply(samples)
    assert statsd.flush(30)
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 41.0
    assert _lines(caplog, "backend statsd failed")[1:] == [
        "gatewaymetrics: backend statsd failed: ConnectionRefusedError; 40 failure(s) since"
        " the last line about it (logged at most once per 60 s)"
    ]
    fan_out.close()


def test_an_unwritable_backend_logs_once_per_interval_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    memory = MemoryBackend()
    fan_out, samples = _fan_out([memory, Unwritable()], clock)
    caplog.set_level(logging.WARNING, logger="gatewaymetrics")
    for _ in range(100):
        fan_out.apply(samples)
    clock.now += 59.5
    fan_out.apply(samples)
    assert len(_lines(caplog, "backend prometheus failed")) == 1
    clock.now += 0.5
    fan_out.apply(samples)
    assert _lines(caplog, "backend prometheus failed") == [
        "gatewaymetrics: backend prometheus failed: PermissionError; 1 failure(s) since the"
        " last line about it (logged at most once per 60 s)",
        "gatewaymetrics: backend prometheus failed: PermissionError; 101 failure(s) since the"
        " last line about it (logged at most once per 60 s)",
    ]
    assert memory.value("gatewaymetrics_backend_errors_total", backend="prometheus") == 102.0
    assert SECRET not in caplog.text
    assert "Permission denied" not in caplog.text


def test_dropped_events_log_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    memory = MemoryBackend()
    fan_out, _ = _fan_out([memory], clock)
    caplog.set_level(logging.WARNING, logger="gatewaymetrics")
    for _ in range(50):
        fan_out.drop("internal_error", ValueError(SECRET))
    assert memory.value("gatewaymetrics_events_dropped_total", reason="internal_error") == 50.0
    assert _lines(caplog, "event dropped") == [
        "gatewaymetrics: event dropped (internal_error): ValueError; 1 time(s) since the last"
        " line about it (logged at most once per 60 s)"
    ]
    assert SECRET not in caplog.text


def test_each_backend_and_error_type_has_its_own_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    memory = MemoryBackend()
    fan_out, _ = _fan_out([memory], clock)
    caplog.set_level(logging.WARNING, logger="gatewaymetrics")
    statsd, prometheus = MemoryBackend(name="statsd"), MemoryBackend(name="prometheus")
    for _ in range(3):
        fan_out.report(statsd, "ConnectionRefusedError", 2)
        fan_out.report(statsd, "gaierror", 1)
        fan_out.report(prometheus, "ConnectionRefusedError", 1)
    assert [m.split(";")[0] for m in _lines(caplog, "failed")] == [
        "gatewaymetrics: backend statsd failed: ConnectionRefusedError",
        "gatewaymetrics: backend statsd failed: gaierror",
        "gatewaymetrics: backend prometheus failed: ConnectionRefusedError",
    ]
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 9.0
    assert memory.value("gatewaymetrics_backend_errors_total", backend="prometheus") == 3.0


@given(st.lists(st.tuples(st.floats(0, 100), st.sampled_from("ab"), st.integers(1, 5)),
                max_size=60))  # fmt: skip
def test_the_limiter_logs_the_first_then_once_per_interval_and_loses_no_count(
    steps: list[tuple[float, str, int]],
) -> None:
    clock = Clock()
    limiter = LogLimiter(clock, 60.0)
    admitted: dict[str, list[float]] = {"a": [], "b": []}
    reported = {"a": 0, "b": 0}
    occurred = {"a": 0, "b": 0}
    for delay, key, count in steps:
        clock.now += delay
        occurred[key] += count
        times = limiter.admit((key,), count)
        if times:
            admitted[key].append(clock.now)
            reported[key] += times
    for key, moments in admitted.items():
        if occurred[key]:
            assert moments, "the first occurrence of a key is always logged"
        # (the limiter's own float arithmetic: b - a may round to just under 60)
        assert all(b >= a + 60.0 for a, b in itertools.pairwise(moments))
        clock.now += 60.0
        reported[key] += limiter.admit((key,), 0)  # what is held back comes out next
        assert reported[key] == occurred[key]
