"""The StatsD backend's delivery: events only buffer, a sender thread sends; the TCP
peer check never waits; unsendable values are skipped and counted (issue 12, points 1,
2, 4 and 5). The daemon's side is in tests/integration/test_statsd_backend.py."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from decimal import Decimal
from typing import Any

import pytest
import statsd
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import CallEvent, CallRecord, Pipeline, Principal, Settings, TokenUsage
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.statsd import (
    BufferFull,
    SenderClosed,
    StatsdBackend,
    ValueOutOfRange,
    _peer_closed,
)
from gatewaymetrics.backends.statsd_lines import MAX_NUMBER_LENGTH, MAX_TAG_VALUE, format_number
from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.samples import Sample
from gatewaymetrics.fan_out import FanOut
from tests.backends.test_statsd_lines import LINE, any_number


class Recording:
    """A transport that keeps every packet; ``gate``, when given, holds each send until
    it is set (a slow daemon), and ``entered`` tells that a send has begun."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.packets: list[str] = []
        self.gate = gate
        self.entered = threading.Event()
        self.closed = False

    def send(self, packet: str) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(timeout=10)
        self.packets.append(packet)

    def close(self) -> None:
        self.closed = True


def _event() -> CallEvent:
    call = CallRecord(provider="openai", model="gpt-4o", principal=Principal(team_id="t1"),
                      tokens=TokenUsage(input=10, output=5), cost_usd=Decimal("0.25"),
                      started_at=100.0, ended_at=101.5)  # fmt: skip
    return CallEvent(call=call)


# -- point 1: the TCP peer check ---------------------------------------------------------------


def test_a_quiet_healthy_peer_is_not_taken_for_a_closed_one() -> None:
    """A StatsD daemon never writes back; peeking its socket must neither wait for data
    (the old peek waited the client's whole timeout) nor read the wait as a hang-up."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = statsd.TCPStatsClient("127.0.0.1", server.getsockname()[1], timeout=2.0)
        client.connect()
        peer, _ = server.accept()
        try:
            assert _peer_closed(client) is False
            assert client._sock.gettimeout() == 2.0  # left as it was
            peer.close()  # the daemon restarts
            assert _peer_closed(client) is True
        finally:
            client.close()


# -- point 2: nothing on the event's thread waits ------------------------------------------------


def test_a_slow_daemon_never_holds_an_event_and_overflow_is_counted() -> None:
    gate = threading.Event()
    transport = Recording(gate)
    memory = MemoryBackend()
    backend = StatsdBackend(client=transport, buffer_size=2, close_timeout=10)
    pipeline = Pipeline([memory, backend], Settings())
    for _ in range(5):
        pipeline.record(_event())  # returns although the first send is held
    assert transport.packets == []  # nothing was sent: every event returned first
    # Two packets fit the buffer (one of them being sent); three were dropped, counted.
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 3.0
    requests = pipeline.plan.metrics["requests"]
    with pytest.raises(BufferFull):
        backend.apply([Sample(requests, ("x",) * len(requests.label_names), 1)])
    gate.set()
    assert backend.flush(10)
    assert len(transport.packets) == 2
    assert all(p.startswith("llm.requests:1|c|#") for p in transport.packets)
    pipeline.close()


def test_close_sends_what_is_buffered() -> None:
    transport = Recording()
    backend = StatsdBackend(client=transport, close_timeout=10)
    pipeline = Pipeline([backend], Settings())
    for _ in range(5):
        pipeline.record(_event())
    pipeline.close()
    assert len(transport.packets) == 5
    assert transport.closed
    requests = pipeline.plan.metrics["requests"]
    with pytest.raises(SenderClosed):
        backend.apply([Sample(requests, ("x",) * len(requests.label_names), 1)])


def test_close_drops_what_its_deadline_leaves_and_counts_it() -> None:
    gate = threading.Event()
    transport = Recording(gate)
    memory = MemoryBackend()
    backend = StatsdBackend(client=transport, close_timeout=0)
    pipeline = Pipeline([memory, backend], Settings())
    for _ in range(4):
        pipeline.record(_event())
    assert transport.entered.wait(10)  # the first packet is being sent, three wait
    backend.close()  # returns at its deadline although a send is still held
    gate.set()
    assert backend.flush(10)
    assert len(transport.packets) == 1
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 3.0
    assert backend.packets_lost == 3
    pipeline.close()


def test_a_failing_transport_costs_each_packet_once_and_waits_between_attempts() -> None:
    class Refusing:
        def send(self, packet: str) -> None:
            raise ConnectionRefusedError(f"refused {packet}")

        def close(self) -> None:
            pass

    memory = MemoryBackend()
    backend = StatsdBackend(client=Refusing(), retry_after=0.001)
    pipeline = Pipeline([memory, backend], Settings())
    for _ in range(10):
        pipeline.record(_event())
    assert backend.flush(10)
    assert memory.value("gatewaymetrics_backend_errors_total", backend="statsd") == 10.0
    # The error counts went to StatsD too, and were lost there too, uncounted.
    assert backend.packets_lost >= 10
    pipeline.close()


# -- points 4 and 5: no Infinity, NaN or huge number in a packet --------------------------------


@given(st.lists(any_number, min_size=1, max_size=6), st.sampled_from(sorted(LINE)))
def test_packets_hold_only_readable_bounded_numbers(values: list[Any], dialect: str) -> None:
    transport = Recording()
    backend = StatsdBackend(client=transport, dialect=dialect, max_packet_size=8192)  # type: ignore[arg-type]
    plan = Plan.build(Settings())
    backend.declare(tuple(plan.metrics.values()))
    metrics = [plan.metrics[key] for key in ("requests", "request_duration", "budget_spend")]
    samples = [
        Sample(metric, ("x",) * len(metric.label_names), value)
        for value in values
        for metric in metrics
    ]
    expected = skipped = 0  # lines: one per sendable sample, two for a negative gauge
    for sample in samples:
        scaled = sample.value
        if sample.metric.kind is MetricKind.HISTOGRAM:
            with contextlib.suppress(OverflowError, ValueError):  # beyond float64, sNaN
                scaled = float(scaled) * 1000.0  # type: ignore[arg-type]
        try:
            text = format_number(scaled)  # type: ignore[arg-type]
        except (ValueOutOfRange, OverflowError):
            skipped += 1
            continue
        negative_gauge = sample.metric.kind is MetricKind.GAUGE and text.startswith("-")
        expected += 2 if negative_gauge else 1
    try:
        backend.apply(samples)
        refused = False
    except ValueOutOfRange:
        refused = True
    assert backend.flush(10)
    lines = [line for packet in transport.packets for line in packet.split("\n")]
    longest = MAX_NUMBER_LENGTH + 120 + 20 * (MAX_TAG_VALUE + 20)
    for line in lines:
        assert LINE[dialect].fullmatch(line), line
        assert len(line) <= longest
        assert not re.search(r"inf|nan", line, re.IGNORECASE)
    # A skipped sample costs itself only; apply raises once, after buffering the rest.
    assert len(lines) == expected
    assert refused == (skipped > 0)
    backend.close()


@pytest.mark.parametrize(
    "bad", [Decimal("1e1000000000"), Decimal("NaN"), float("inf"), float("nan"), 10**400]
)
def test_an_unsendable_value_costs_that_sample_and_is_counted_once(bad: Any) -> None:
    transport = Recording()
    backend = StatsdBackend(client=transport, dialect="graphite")
    plan = Plan.build(Settings())
    fan_out = FanOut([backend], plan)
    fan_out.declare(tuple(plan.metrics.values()))
    spend, requests = plan.metrics["spend"], plan.metrics["requests"]
    samples = [
        Sample(requests, ("x",) * len(requests.label_names), 1),
        Sample(spend, ("x",) * len(spend.label_names), bad),
    ]
    with pytest.raises(ValueOutOfRange):
        backend.apply(samples)  # the rest of the event is buffered first
    fan_out.apply(samples)  # what the pipeline does: counted once, never raised
    assert backend.flush(10)
    request_line = "llm.requests;" + ";".join(f"{n}=x" for n in requests.label_names) + ":1|c"
    assert transport.packets == [
        request_line,
        request_line,
        "gatewaymetrics.backend_errors;backend=statsd:1|c",
    ]
    backend.close()
