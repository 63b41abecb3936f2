"""The StatsD backend against the reference daemon (npm statsd 0.9.0), read through its
management port."""

from __future__ import annotations

import os
import socket
import threading
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    LabelSettings,
    Pipeline,
    Principal,
    Settings,
    Status,
    TokenUsage,
)
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.statsd import StatsdBackend
from tests.statsd_daemon import StatsdDaemon, statsd_daemon
from tests.strategies import hostile_text

pytestmark = pytest.mark.integration
SETTINGS = Settings(labels=LabelSettings(identity=("model", "team")))


def _success(**fields: Any) -> CallEvent:
    base: dict[str, Any] = {
        "provider": "openai",
        "requested_model": "fast",
        "model": "gpt-4o",
        "principal": Principal(team_id="t1"),
        "tokens": TokenUsage(input=10, output=5),
        "cost_usd": Decimal("0.25"),
        "started_at": 100.0,
        "ended_at": 101.5,
    }
    base.update(fields)
    return CallEvent(call=CallRecord(**base))


def _sequence() -> list[CallEvent]:
    budget = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias="Team One",
                            limit_usd=Decimal(10), spend_usd=Decimal("12.5"))  # fmt: skip
    failure = _success(
        status=Status.FAILURE,
        error=ErrorInfo(category=ErrorCategory.RATE_LIMITED, status_code=429),
        tokens=TokenUsage(),
        cost_usd=None,
        ended_at=101.0,
        ratelimit_remaining_requests=7,
    )
    return [_success(), _success(), CallEvent(call=_success().call, budgets=(budget,)), failure]


def _ours(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("statsd.")}


def _expected(p: str) -> tuple[dict[str, float], dict[str, float], dict[str, list[float]]]:
    m = "model=gpt-4o;team=t1"
    counters = {
        f"{p}.requests;{m};status=success": 3.0,
        f"{p}.requests;{m};status=failure;error_type=rate_limited": 1.0,
        f"{p}.tokens;{m};token_type=input": 30.0,
        f"{p}.tokens;{m};token_type=output": 15.0,
        f"{p}.spend_usd;{m}": 0.75,
    }
    budget = "scope=team;subject=t1;alias=Team_One"
    gauges = {
        f"{p}.budget_limit_usd;{budget}": 10.0,
        f"{p}.budget_spend_usd;{budget}": 12.5,
        f"{p}.budget_remaining_usd;{budget}": -2.5,
        f"{p}.ratelimit_remaining_requests;provider=openai;requested_model=fast;model=gpt-4o": 7.0,
    }
    timers = {f"{p}.request_duration;{m}": [1500.0, 1500.0, 1500.0, 1000.0]}
    return counters, gauges, timers


def _settled(daemon: StatsdDaemon, counters: dict[str, float]) -> None:
    daemon.wait_for(lambda: _ours(daemon.counters()) == counters, timeout=10)


@pytest.mark.parametrize("dialect", ["dogstatsd", "graphite"])
def test_exact_values_in_the_daemon(dialect: str) -> None:
    with statsd_daemon() as daemon:
        prefix = dialect[:3]
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, dialect=dialect, prefix=prefix)  # type: ignore[arg-type]
        pipeline = Pipeline([backend], SETTINGS)
        for event in _sequence():
            pipeline.record(event)
        counters, gauges, timers = _expected(prefix)
        _settled(daemon, counters)
        assert _ours(daemon.counters()) == counters
        assert _ours(daemon.gauges()) == gauges
        assert _ours(daemon.timers()) == timers
        assert daemon.bad_lines_seen() == 0
        # One apply, one packet: 4 events, 4 packets (budgets go with their call).
        assert daemon.counters()["statsd.packets_received"] == 4.0
        pipeline.close()


def test_small_packets_split_between_lines_only() -> None:
    with statsd_daemon() as daemon:
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, dialect="graphite",
                                        prefix="s", max_packet_size=200)  # fmt: skip
        pipeline = Pipeline([backend], SETTINGS)
        for event in _sequence():
            pipeline.record(event)
        counters, gauges, timers = _expected("s")
        _settled(daemon, counters)
        assert (_ours(daemon.gauges()), _ours(daemon.timers())) == (gauges, timers)
        assert daemon.bad_lines_seen() == 0
        assert daemon.counters()["statsd.packets_received"] > 4.0


def test_memory_and_statsd_agree_on_counter_totals() -> None:
    with statsd_daemon() as daemon:
        memory = MemoryBackend()
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, dialect="graphite")
        pipeline = Pipeline([memory, backend], SETTINGS)
        events = _sequence() * 5
        for event in events:
            pipeline.record(event)
        counters, _, _ = _expected("llm")
        counters = {k: v * 5 for k, v in counters.items()}
        _settled(daemon, counters)
        for name in ("requests", "tokens", "spend_usd"):
            daemon_total = sum(v for k, v in _ours(daemon.counters()).items()
                               if k.split(";")[0] == f"llm.{name}")  # fmt: skip
            memory_name = {"requests": "llm_requests_total", "tokens": "llm_tokens_total",
                           "spend_usd": "llm_spend_usd_total"}[name]  # fmt: skip
            assert daemon_total == pytest.approx(memory.sum(memory_name), rel=1e-12)
        assert memory.sum("llm_requests_total") == 20.0


@pytest.fixture(scope="module")
def shared_daemon() -> Any:
    with statsd_daemon() as daemon:
        yield daemon


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_text, min_size=4, max_size=4),
       st.sampled_from(["dogstatsd", "graphite", "influx"]))  # fmt: skip
def test_hostile_label_values_never_make_a_bad_line(
    shared_daemon: StatsdDaemon, hostile: list[str], dialect: str
) -> None:
    backend = StatsdBackend.connect("127.0.0.1", shared_daemon.port, dialect=dialect, prefix="h")  # type: ignore[arg-type]
    pipeline = Pipeline([backend], Settings(labels=LabelSettings(opt_in=["end_user"])))
    before = shared_daemon.metrics_received()
    budget = BudgetSnapshot(
        scope=BudgetScope.END_USER,
        subject=hostile[3] or "x",
        alias=hostile[0],
        limit_usd=Decimal(1),
        spend_usd=Decimal(2),
    )
    pipeline.record(
        CallEvent(
            call=_success(model=hostile[0], requested_model=hostile[1],
                          principal=Principal(team_id=hostile[2], end_user=hostile[3]),
                          ratelimit_remaining_tokens=5).call,
            budgets=(budget,),
        )
    )  # fmt: skip
    shared_daemon.wait_for(lambda: shared_daemon.metrics_received() > before, timeout=10)
    assert shared_daemon.bad_lines_seen() == 0
    known = {"h.requests", "h.tokens", "h.spend_usd", "h.request_duration",
             "h.budget_limit_usd", "h.budget_spend_usd", "h.budget_remaining_usd",
             "h.ratelimit_remaining_tokens"}  # fmt: skip
    for values in (shared_daemon.counters(), shared_daemon.gauges(), shared_daemon.timers()):
        for key in _ours(values):
            head = key.split(";")[0] if dialect != "influx" else key.split(",")[0]
            assert any(key.startswith(name) for name in known) or head in known, key
    pipeline.close()


def test_tcp_survives_a_daemon_restart_and_loses_nothing() -> None:
    with statsd_daemon(tcp=True) as daemon:
        memory = MemoryBackend()
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, "tcp", dialect="graphite",
                                        retry_after=0.01)  # fmt: skip
        pipeline = Pipeline([memory, backend], SETTINGS)
        key = "llm.requests;model=gpt-4o;team=t1;status=success"
        for _ in range(3):
            pipeline.record(_success())
        daemon.wait_for(lambda: daemon.counters().get(key) == 3.0, timeout=10)
        daemon.restart()
        for _ in range(5):
            pipeline.record(_success())  # never raises
        daemon.wait_for(lambda: daemon.counters().get(key) == 5.0, timeout=10)
        assert backend.flush(10)
        assert memory.sum("gatewaymetrics_backend_errors_total") == 0.0
        assert daemon.bad_lines_seen() == 0
        pipeline.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("host", "protocol"),
    [("127.0.0.1", "tcp"), ("statsd.invalid", "tcp"), ("statsd.invalid", "udp")],
)
def test_no_daemon_never_raises_and_counts_every_event(host: str, protocol: str) -> None:
    memory = MemoryBackend()
    backend = StatsdBackend.connect(host, _closed_port(), protocol, timeout=0.5, retry_after=0.01)  # type: ignore[arg-type]
    pipeline = Pipeline([memory, backend], SETTINGS)
    for _ in range(25):
        pipeline.record(_success())
    assert memory.sum("llm_requests_total") == 25.0
    # Each packet is tried once, off the event path, and each loss is counted once;
    # the error counts sent to StatsD itself are lost too but never counted.
    assert backend.flush(30)
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 25.0
    pipeline.close()


def test_udp_to_a_silent_port_never_raises() -> None:
    memory = MemoryBackend()
    backend = StatsdBackend.connect("127.0.0.1", _closed_port(), "udp")
    pipeline = Pipeline([memory, backend], SETTINGS)
    for _ in range(25):
        pipeline.record(_success())
    # UDP is fire-and-forget: nothing to notice, nothing raised, nothing blocked.
    assert memory.sum("llm_requests_total") == 25.0
    assert backend.flush(10)
    assert memory.sum("gatewaymetrics_backend_errors_total") == 0.0


# -- point 1 and 2 of issue 12: no network on the event path -------------------------------


def test_tcp_keeps_one_connection_for_many_events() -> None:
    """A healthy TCP daemon sees one connection, not one per event (the old peek on a
    socket with a timeout waited the timeout, read it as "peer closed", reconnected)."""
    with statsd_daemon(tcp=True) as daemon:
        memory = MemoryBackend()
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, "tcp", dialect="graphite",
                                        timeout=0.25)  # fmt: skip
        pipeline = Pipeline([memory, backend], SETTINGS)
        key = "llm.requests;model=gpt-4o;team=t1;status=success"
        for _ in range(20):
            pipeline.record(_success())
        daemon.wait_for(lambda: daemon.counters().get(key) == 20.0, timeout=20)
        assert daemon.client_connections() == 1
        assert backend.flush(10)
        assert daemon.counters()[key] == 20.0
        assert memory.sum("gatewaymetrics_backend_errors_total") == 0.0
        assert daemon.bad_lines_seen() == 0
        pipeline.close()


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_a_slow_resolver_never_delays_an_event(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved on the sender thread: the events return while the resolver
    is still blocked, and are delivered once it answers."""
    real_getaddrinfo = socket.getaddrinfo
    release = threading.Event()
    order: list[str] = []

    def slow_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "statsd.test":
            return real_getaddrinfo(host, *args, **kwargs)
        release.wait(timeout=5)  # the old code waits here, on the event's thread
        order.append("resolved")
        return real_getaddrinfo("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    with statsd_daemon(tcp=protocol == "tcp") as daemon:
        memory = MemoryBackend()
        backend = StatsdBackend.connect("statsd.test", daemon.port, protocol,  # type: ignore[arg-type]
                                        dialect="graphite")  # fmt: skip
        pipeline = Pipeline([memory, backend], SETTINGS)
        for _ in range(3):
            pipeline.record(_success())
        order.append("recorded")
        release.set()
        key = "llm.requests;model=gpt-4o;team=t1;status=success"
        daemon.wait_for(lambda: daemon.counters().get(key) == 3.0, timeout=10)
        assert order == ["recorded", "resolved"]
        assert backend.flush(10)
        assert memory.sum("gatewaymetrics_backend_errors_total") == 0.0
        pipeline.close()


def test_a_forked_child_sends_with_its_own_thread() -> None:
    """After fork() the parent's sender thread does not exist in the child: the child
    starts its own, so a pipeline built before forking workers still delivers."""
    with statsd_daemon() as daemon:
        backend = StatsdBackend.connect("127.0.0.1", daemon.port, dialect="graphite")
        pipeline = Pipeline([backend], SETTINGS)
        pipeline.record(_success())
        assert backend.flush(10)
        pid = os.fork()
        if pid == 0:  # the child: record, wait for delivery, report by exit status
            code = 1
            try:
                pipeline.record(_success())
                code = 0 if backend.flush(10) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        pipeline.record(_success())
        key = "llm.requests;model=gpt-4o;team=t1;status=success"
        daemon.wait_for(lambda: daemon.counters().get(key) == 3.0, timeout=10)
        pipeline.close()
