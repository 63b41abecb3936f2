"""The StatsD backend: one event, one flush, in the dialect your collector speaks.

The only module that imports the ``statsd`` package, which is the transport (UDP
``StatsClient``, TCP ``TCPStatsClient``). Dialects: ``dogstatsd`` (``name:1|c|#k:v``,
the default; Datadog agent, Telegraf), ``graphite`` (``name;k=v:1|c``; statsd-exporter,
the reference daemon), ``influx`` (``name,k=v:1|c``) and ``plain`` (no tags).

Names come from the catalog without the Prometheus-only parts and dotted:
``llm_requests_total`` -> ``llm.requests``, ``llm_request_duration_seconds`` ->
``llm.request_duration`` (a timer in milliseconds). Counters are ``|c`` (spend is a
counter of US dollars), durations ``|ms``, budgets and rate limits ``|g`` (absolute;
negative values sent as ``0`` then the value, which StatsD needs).

Failures never reach the gateway and never block it for long: a TCP connect or send
is bounded by ``timeout``; after a failure the backend waits ``retry_after`` seconds
before it tries to connect again (events meanwhile are dropped and counted); DNS is
resolved when connecting, not at start-up. Each failed event raises inside ``apply``
so the pipeline counts it in ``gatewaymetrics_backend_errors_total{backend="statsd"}``.
UDP is fire-and-forget: a missing daemon cannot be noticed there.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

from gatewaymetrics.backends.statsd_lines import (
    DIALECTS,
    Dialect,
    format_number,
    pack,
    series_parts,
)
from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.samples import Metric, Sample
from gatewaymetrics.errors import GatewayMetricsError

try:
    import statsd
    from statsd.client.base import StatsClientBase
    from statsd.client.stream import StreamClientBase
except ImportError as exc:  # pragma: no cover - exercised by the import test
    raise ImportError(
        "the StatsD backend needs the statsd package: pip install 'gatewaymetrics[statsd]'"
    ) from exc

__all__ = ["StatsdBackend", "Transport", "statsd_name"]

Protocol_ = Literal["udp", "tcp"]
_Kind = Literal["c", "g", "ms"]
_Series = tuple[str, str, _Kind, float]  # head, suffix, kind, scale (0: none)
_MAX_CACHED_SERIES = 200_000
_KIND_CODES: dict[MetricKind, _Kind] = {
    MetricKind.COUNTER: "c",
    MetricKind.GAUGE: "g",
    MetricKind.HISTOGRAM: "ms",
}


@runtime_checkable
class Transport(Protocol):
    """Sends one packet (newline-separated lines); raises when it could not."""

    def send(self, packet: str) -> None: ...

    def close(self) -> None: ...


class _ClientTransport:
    """A ``statsd`` client as a transport: made lazily by ``factory`` (so DNS is looked
    up when connecting, not at start-up), dropped after a failure and made again once
    ``retry_after`` seconds have passed."""

    def __init__(
        self,
        factory: Callable[[], StatsClientBase],
        *,
        retry_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._retry_after = retry_after
        self._clock = clock
        self._client: StatsClientBase | None = None
        self._next_attempt = 0.0
        self._lock = threading.Lock()  # one packet at a time on a stream socket

    def send(self, packet: str) -> None:
        with self._lock:
            client = self._client
            if client is None:
                if self._clock() < self._next_attempt:
                    raise ConnectionError("statsd unreachable; waiting before the next attempt")
                try:
                    client = self._client = self._factory()
                except Exception:
                    self._next_attempt = self._clock() + self._retry_after
                    raise
            if _peer_closed(client):
                client.close()  # the daemon restarted: reconnect now, lose nothing
            try:
                # The statsd package's one raw-send method: we do our own lines and
                # packets, since its public API has no tags.
                client._send(packet)
            except Exception:
                self._drop(client)
                raise

    def _drop(self, client: StatsClientBase) -> None:
        if isinstance(client, StreamClientBase):
            client.close()  # TCP: reconnects on the next send
            self._client = None
            self._next_attempt = self._clock() + self._retry_after

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                close = getattr(client, "close", None)
                if close is not None:
                    close()


def _peer_closed(client: StatsClientBase) -> bool:
    """Whether a stream client's peer has hung up (a restarted daemon). Sending on such
    a socket succeeds once and loses the data; a non-blocking peek tells in advance."""
    if not isinstance(client, StreamClientBase):
        return False
    sock = getattr(client, "_sock", None)
    if sock is None:
        return False
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"")
    except BlockingIOError:
        return False  # open and quiet: the normal case
    except OSError:
        return True


def statsd_name(metric: Metric, prefix: str) -> str:
    """``llm_requests_total`` -> ``llm.requests``; histograms lose ``_seconds`` (they
    are timers in milliseconds); self-observation metrics keep ``gatewaymetrics``."""
    base = metric.spec.base or metric.name
    base = base.removesuffix("_total")
    if metric.kind is MetricKind.HISTOGRAM:
        base = base.removesuffix("_seconds")
    head = "gatewaymetrics" if metric.spec.self_metric else prefix
    return f"{head}.{base}" if head else base


class StatsdBackend:
    """Samples into StatsD lines, one flush per event.

    ``client``: a ``statsd`` client (``StatsClient``, ``TCPStatsClient``) or any
    :class:`Transport`. ``max_packet_size``: split point for UDP packets (default: the
    client's ``maxudpsize``, else 512; lines are never split). Use :meth:`connect` to
    build one from a host and port.
    """

    def __init__(
        self,
        *,
        client: StatsClientBase | Transport,
        dialect: Dialect = "dogstatsd",
        prefix: str = "llm",
        name: str = "statsd",
        max_packet_size: int | None = None,
        retry_after: float = 1.0,
    ) -> None:
        if dialect not in DIALECTS:
            raise GatewayMetricsError("statsd.dialect", dialect, DIALECTS)
        if prefix and not all(part.isidentifier() for part in prefix.split(".")):
            raise GatewayMetricsError(
                "statsd.prefix", prefix, "dotted identifiers, e.g. llm or gw.llm"
            )
        if isinstance(client, Transport):
            self._transport: Transport = client
            default_size = 512
        else:
            ready = client
            self._transport = _ClientTransport(lambda: ready, retry_after=retry_after)
            default_size = getattr(client, "_maxudpsize", None) or 512
            if isinstance(client, StreamClientBase):
                default_size = 64 * 1024
        size = max_packet_size if max_packet_size is not None else default_size
        if type(size) is not int or size < 64:
            raise GatewayMetricsError("statsd.max_packet_size", size, "an int >= 64 (bytes)")
        self.name = name
        self.dialect: Dialect = dialect
        self.prefix = prefix
        self.max_packet_size = size
        self._formats: dict[Metric, tuple[str, _Kind, float]] = {}
        self._series: dict[tuple[Metric, tuple[str, ...]], _Series] = {}

    @classmethod
    def connect(
        cls,
        host: str = "127.0.0.1",
        port: int = 8125,
        protocol: Protocol_ = "udp",
        *,
        timeout: float = 0.25,
        retry_after: float = 1.0,
        dialect: Dialect = "dogstatsd",
        prefix: str = "llm",
        max_packet_size: int = 8192,
        name: str = "statsd",
    ) -> StatsdBackend:
        """A backend sending to ``host:port`` over UDP or TCP. Nothing is resolved or
        connected until the first event, so a missing daemon never fails start-up.
        ``max_packet_size`` defaults to 8192 bytes, what the Datadog agent reads per
        datagram by default (statsd-exporter, Telegraf and the reference daemon read up
        to 64 KiB); across a network with a 1500-byte MTU, 1432 avoids IP fragments."""
        if protocol not in ("udp", "tcp"):
            raise GatewayMetricsError("statsd.protocol", protocol, ("tcp", "udp"))
        if not 0 < timeout <= 60:
            raise GatewayMetricsError("statsd.timeout", timeout, "seconds, more than 0, at most 60")
        factory: Callable[[], StatsClientBase]
        if protocol == "udp":
            factory = lambda: statsd.StatsClient(host, port, maxudpsize=max_packet_size)  # noqa: E731
        else:
            factory = lambda: statsd.TCPStatsClient(host, port, timeout=timeout)  # noqa: E731
        transport = _ClientTransport(factory, retry_after=retry_after)
        return cls(
            client=transport,
            dialect=dialect,
            prefix=prefix,
            name=name,
            max_packet_size=max_packet_size if protocol == "udp" else 64 * 1024,
            retry_after=retry_after,
        )

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        for metric in metrics:
            scale = 1000.0 if metric.kind is MetricKind.HISTOGRAM else 0.0  # 0: as it is
            self._formats[metric] = (
                statsd_name(metric, self.prefix),
                _KIND_CODES[metric.kind],
                scale,
            )

    def apply(self, samples: Sequence[Sample]) -> None:
        lines: list[str] = []
        series = self._series
        for sample in samples:
            metric, labels, value = sample
            if value is None:  # StatsD cannot remove a gauge; nothing to send
                continue
            parts = series.get((metric, labels))
            if parts is None:
                parts = self._prepare(metric, labels)
            head, suffix, kind, scale = parts
            number = format_number(float(value) * scale if scale else value)
            # series_lines' rule, inlined on the hot path: a signed gauge is a change.
            if kind == "g" and number[0] == "-":
                lines.append(f"{head}:0|g{suffix}")
            lines.append(f"{head}:{number}|{kind}{suffix}")
        if not lines:
            return
        packet = "\n".join(lines)
        if len(packet) <= self.max_packet_size:  # the usual case: one event, one packet
            self._transport.send(packet)
            return
        for packet in pack(lines, self.max_packet_size):
            self._transport.send(packet)

    def _prepare(self, metric: Metric, labels: tuple[str, ...]) -> _Series:
        """Name and tags of a series, sanitised once. The pipeline's series cap bounds
        this cache; used without a pipeline, it is cleared when it grows past a limit."""
        name, kind, scale = self._formats[metric]
        tags = (
            tuple(zip(metric.label_names, labels, strict=True)) if self.dialect != "plain" else ()
        )
        head, suffix = series_parts(name, tags, self.dialect)
        if len(self._series) >= _MAX_CACHED_SERIES:
            self._series.clear()
        parts = self._series[(metric, labels)] = (head, suffix, kind, scale)
        return parts

    def close(self) -> None:
        self._transport.close()
