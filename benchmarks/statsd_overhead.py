"""Per-event cost of the StatsD path against the floor, and packets per event.

    make statsd   # once: the reference daemon into .tools/statsd
    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/statsd_overhead.py

One process, one realistic event (a LiteLLM 1.110.2 proxy-style success with key, team,
user and budgets, parsed once from examples/litellm_payloads.jsonl), UDP to the
reference StatsD daemon on 127.0.0.1, medians over several repetitions:

  (a) Pipeline.record(event) with the StatsD backend (dogstatsd dialect): what the
      event's thread pays (since the sender thread: format, buffer, wake; the send
      itself happens on the backend's own thread, which shares the GIL);
  (b) the same over TCP (only where the backend sends off the event path: the old one
      reconnected on every event, 250 ms each);
  (c) the floor: the same pre-formatted lines sent with the statsd client, one send per
      line, as its API (incr, gauge, timing) sends them;
  (d) a lower floor: the same packets (lines already joined as (a) joins them) sent with
      the statsd client: the bare syscalls.

Prints (a)/(c) (target <= 1.5), (a)/(d), the packets one event takes (target 1), and
the packets the backend dropped because its buffer was full (counted by the daemon as
gatewaymetrics.backend_errors; target 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import statsd
from timing import REPEATS, median_us, proxy_payload

from gatewaymetrics import Pipeline, parse_litellm
from gatewaymetrics.backends.statsd import StatsdBackend

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.statsd_daemon import statsd_daemon  # noqa: E402  # the harness starts the daemon


class Recording:
    """A transport that keeps the packets of the last event."""

    def __init__(self) -> None:
        self.packets: list[str] = []

    def send(self, packet: str) -> None:
        self.packets.append(packet)

    def close(self) -> None:
        pass


def main(events: int = 2000) -> None:
    kwargs, response, _, _ = proxy_payload()
    event = parse_litellm(kwargs, response, failed=False)

    recording = Recording()
    probe = StatsdBackend(client=recording, max_packet_size=8192)
    Pipeline([probe]).record(event)
    _flush(probe)
    packets = recording.packets
    line_count = sum(packet.count("\n") + 1 for packet in packets)

    with statsd_daemon() as daemon:
        backend = StatsdBackend.connect("127.0.0.1", daemon.port)
        pipeline = Pipeline([backend])
        client = statsd.StatsClient("127.0.0.1", daemon.port, maxudpsize=8192)

        each_line = [line for packet in packets for line in packet.split("\n")]

        def floor_lines() -> None:
            for line in each_line:
                client._send(line)

        def floor_packets() -> None:
            for packet in packets:
                client._send(packet)

        a = median_us(lambda: pipeline.record(event), events)
        _flush(backend)
        c = median_us(floor_lines, events)
        d = median_us(floor_packets, events)
        errors = daemon.counters().get("gatewaymetrics.backend_errors;backend=statsd", 0.0)
        print(f"event: LiteLLM proxy-style success; {line_count} lines in {len(packets)} packet(s)")
        print(f"medians of {REPEATS} repetitions of {events} events, UDP to the reference daemon")
        print(f"(a) Pipeline.record -> StatsD backend   {a:8.1f} us/event")
        print(f"(c) floor: same lines, one send each    {c:8.1f} us/event")
        print(f"(d) same packets, statsd client         {d:8.1f} us/event")
        print(f"(a)/(c) = {a / c:.2f}   (target <= 1.5)")
        print(f"(a)/(d) = {a / d:.2f}")
        print(f"packets per event: {len(packets)}   (target 1)")
        print(f"packets dropped, buffer full (UDP): {errors:.0f}   (target 0)")
        pipeline.close()

    if hasattr(StatsdBackend, "flush"):  # the old backend blocked 250 ms per TCP event
        with statsd_daemon(tcp=True) as daemon:
            backend = StatsdBackend.connect("127.0.0.1", daemon.port, "tcp")
            pipeline = Pipeline([backend])
            b = median_us(lambda: pipeline.record(event), events)
            _flush(backend)
            errors = daemon.counters().get("gatewaymetrics.backend_errors;backend=statsd", 0.0)
            print(f"(b) the same over TCP                   {b:8.1f} us/event")
            print(f"packets dropped, buffer full (TCP): {errors:.0f}   (target 0)")
            pipeline.close()


def _flush(backend: StatsdBackend) -> None:
    """Wait for the sender thread (where there is one) to send what is buffered."""
    flush = getattr(backend, "flush", None)
    if flush is not None:
        flush(30)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
