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

No network I/O on the event's thread. ``apply`` formats the event's lines and appends
the packet to a bounded in-memory buffer (``buffer_size`` packets), then wakes the
backend's one sender thread; it never resolves a name, connects, sends or waits. The
sender thread resolves the host (when it makes its client), connects (TCP), sends, and
after a failure closes the client and waits ``retry_after`` seconds before the next
attempt; packets arriving meanwhile wait in the buffer and go out in order once the
daemon answers again. A connect or send is bounded by ``timeout`` (TCP).

Nothing reaches the gateway and every loss is counted in
``gatewaymetrics_backend_errors_total{backend="statsd"}``: a packet the sender could
not deliver is reported to the pipeline through the error sink it attaches
(:meth:`StatsdBackend.report_errors_to`); a packet refused because the buffer is full
(a daemon down or slower than the events) and a sample whose value no daemon can read
(NaN, an infinity, beyond float64: skipped, the rest of the event is sent) make
``apply`` raise, which the pipeline counts. Packets carrying only gatewaymetrics' own
metrics are not counted when lost, so an error count can never feed itself. UDP is
fire-and-forget: past name resolution, a missing daemon cannot be noticed there.
:meth:`StatsdBackend.close` sends what is buffered, waiting at most ``close_timeout``.
"""

from __future__ import annotations

import os
import socket
import weakref
from collections.abc import Callable, Sequence
from typing import Literal

from gatewaymetrics.backends.packet_sender import (
    BufferFull,
    ErrorSink,
    PacketSender,
    SenderClosed,
    Transport,
)
from gatewaymetrics.backends.statsd_lines import (
    Dialect,
    ValueOutOfRange,
    format_number,
    pack,
    series_parts,
)
from gatewaymetrics.backends.statsd_options import (
    Protocol_,
    check_dialect,
    check_max_packet_size,
    check_prefix,
    check_protocol,
    check_retry_after,
    check_timeout,
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

__all__ = [
    "BufferFull",
    "SenderClosed",
    "StatsdBackend",
    "Transport",
    "ValueOutOfRange",
    "statsd_name",
]

_Kind = Literal["c", "g", "ms"]
# head, suffix, kind, scale (0: none), whether the metric is gatewaymetrics' own
_Series = tuple[str, str, _Kind, float, bool]
_MAX_CACHED_SERIES = 200_000
_KIND_CODES: dict[MetricKind, _Kind] = {
    MetricKind.COUNTER: "c",
    MetricKind.GAUGE: "g",
    MetricKind.HISTOGRAM: "ms",
}


class _ClientTransport:
    """A ``statsd`` client as a transport, used by the sender thread only. ``factory``
    makes the client when the first packet is sent (so a name is resolved there, off
    the event path, and never at start-up); after a failure the client is closed and,
    when ``fresh``, made again (and the name resolved again) on the next send. A client
    that is not ``fresh`` (one the user passed) stays theirs: :meth:`close` closes a TCP
    client's connection (it reconnects if used again), not a UDP client's socket, so a
    forked child, which closes its copy, can go on using it."""

    def __init__(self, factory: Callable[[], StatsClientBase], *, fresh: bool) -> None:
        self._factory = factory
        self._fresh = fresh
        self._client: StatsClientBase | None = None

    def send(self, packet: str) -> None:
        client = self._client
        if client is None:
            client = self._client = self._factory()
        elif _peer_closed(client):
            client.close()  # the daemon restarted: reconnect now (in _send), lose nothing
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
        if self._fresh:
            self._client = None

    def close(self) -> None:
        client = self._client
        if client is None:
            return
        if self._fresh:
            self._client = None
            client.close()
        elif isinstance(client, StreamClientBase):
            client.close()


def _peer_closed(client: StatsClientBase) -> bool:
    """Whether a stream client's peer has hung up (a restarted daemon). Sending on such
    a socket succeeds once and loses the data; a non-blocking peek tells in advance.

    The socket is made non-blocking for the peek: on a socket with a timeout, Python
    waits for readability first, and a StatsD daemon never writes back, so a peek
    there would wait the whole timeout and end in ``TimeoutError`` (an ``OSError``)."""
    if not isinstance(client, StreamClientBase):
        return False
    sock = getattr(client, "_sock", None)
    if sock is None:
        return False
    try:
        timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            return bool(sock.recv(1, socket.MSG_PEEK) == b"")
        finally:
            sock.settimeout(timeout)
    except BlockingIOError:
        return False  # open and quiet: the normal case
    except OSError:
        return True  # reset by the peer, or no longer a socket


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
    """Samples into StatsD lines, one packet per event, sent by a background thread.

    ``client``: a ``statsd`` client (``StatsClient``, ``TCPStatsClient``) or any
    :class:`Transport`; either is used by the sender thread only. ``max_packet_size``:
    split point for UDP packets (default: the client's ``maxudpsize``, else 512; lines
    are never split). ``retry_after``: seconds the sender waits after a failed send
    before the next attempt. ``buffer_size``: packets held while the sender is behind;
    beyond it ``apply`` drops the packet and raises :class:`BufferFull`.
    ``close_timeout``: how long :meth:`close` may take to send what is buffered. Use
    :meth:`connect` to build one from a host and port.
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
        buffer_size: int = 4096,
        close_timeout: float = 1.0,
    ) -> None:
        check_dialect(dialect)
        check_prefix(prefix)
        check_retry_after(retry_after)
        if type(buffer_size) is not int or buffer_size < 1:
            raise GatewayMetricsError("statsd.buffer_size", buffer_size, "an int >= 1 (packets)")
        if not 0 <= close_timeout <= 60:  # NaN fails too
            raise GatewayMetricsError(
                "statsd.close_timeout", close_timeout, "seconds, at least 0, at most 60"
            )
        if isinstance(client, Transport):
            self._transport: Transport = client
            default_size = 512
        else:
            ready = client
            self._transport = _ClientTransport(lambda: ready, fresh=False)
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
        self.buffer_size = buffer_size
        self._close_timeout = close_timeout
        self._formats: dict[Metric, tuple[str, _Kind, float, bool]] = {}
        self._series: dict[tuple[Metric, tuple[str, ...]], _Series] = {}
        sender = self._sender = PacketSender(
            self._transport,
            capacity=buffer_size,
            retry_after=retry_after,
            name=f"gatewaymetrics-{name}-sender",
        )
        self._queue, self._wake = sender.queue, sender.wake  # apply's two touches
        # An unclosed backend, once collected, stops its thread (which holds the
        # sender, not the backend); after fork() the child starts its own thread.
        weakref.finalize(self, sender.close, close_timeout, wait=False)
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

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
        buffer_size: int = 4096,
        close_timeout: float = 1.0,
    ) -> StatsdBackend:
        """A backend sending to ``host:port`` over UDP or TCP. Nothing is resolved or
        connected until the sender thread sends the first packet, so a missing daemon
        or an unresolvable name never fails start-up and never delays an event.
        ``max_packet_size`` defaults to 8192 bytes, what the Datadog agent reads per
        datagram by default (statsd-exporter, Telegraf and the reference daemon read up
        to 64 KiB); across a network with a 1500-byte MTU, 1432 avoids IP fragments."""
        check_protocol(protocol)
        check_timeout(timeout)
        check_max_packet_size(max_packet_size)
        factory: Callable[[], StatsClientBase]
        if protocol == "udp":
            factory = lambda: statsd.StatsClient(host, port, maxudpsize=max_packet_size)  # noqa: E731
        else:
            factory = lambda: statsd.TCPStatsClient(host, port, timeout=timeout)  # noqa: E731
        transport = _ClientTransport(factory, fresh=True)
        return cls(
            client=transport,
            dialect=dialect,
            prefix=prefix,
            name=name,
            max_packet_size=max_packet_size if protocol == "udp" else 64 * 1024,
            retry_after=retry_after,
            buffer_size=buffer_size,
            close_timeout=close_timeout,
        )

    # -- the Backend protocol -------------------------------------------------------

    def declare(self, metrics: Sequence[Metric]) -> None:
        for metric in metrics:
            scale = 1000.0 if metric.kind is MetricKind.HISTOGRAM else 0.0  # 0: as it is
            self._formats[metric] = (
                statsd_name(metric, self.prefix),
                _KIND_CODES[metric.kind],
                scale,
                metric.spec.self_metric,
            )

    def apply(self, samples: Sequence[Sample]) -> None:
        """Format one event's lines and buffer them as one packet (split only past
        ``max_packet_size``); never touches the network. Raises (after buffering the
        rest) :class:`BufferFull` or :class:`SenderClosed` when the packet was
        dropped, :class:`ValueOutOfRange` when a sample's value was skipped."""
        lines: list[str] = []
        series = self._series
        counted = False  # whether the packet's loss counts: it carries a non-own metric
        skipped = 0
        for sample in samples:
            metric, labels, value = sample
            if value is None:  # StatsD cannot remove a gauge; nothing to send
                continue
            parts = series.get((metric, labels))
            if parts is None:
                parts = self._prepare(metric, labels)
            head, suffix, kind, scale, own = parts
            try:
                number = format_number(float(value) * scale if scale else value)
            except (ArithmeticError, ValueError):  # NaN, an infinity, beyond float64
                skipped += 1
                continue
            # series_lines' rule, inlined on the hot path: a signed gauge is a change.
            if kind == "g" and number[0] == "-":
                lines.append(f"{head}:0|g{suffix}")
            lines.append(f"{head}:{number}|{kind}{suffix}")
            if not own:
                counted = True
        if lines:
            packet = "\n".join(lines)
            queue = self._queue
            # The usual case: one event, one packet, room in the buffer.
            if len(packet) <= self.max_packet_size and len(queue) < self._sender.capacity:
                queue.append((packet, counted))
                wake = self._wake
                if not wake.is_set():
                    wake.set()
            else:  # split, or refused (and raised) when full or closed
                self._sender.offer(pack(lines, self.max_packet_size), counted)
        if skipped:
            raise ValueOutOfRange(f"{skipped} sample(s) skipped: NaN, infinite or beyond float64")

    def _prepare(self, metric: Metric, labels: tuple[str, ...]) -> _Series:
        """Name and tags of a series, sanitised once. The pipeline's series cap bounds
        this cache; used without a pipeline, it is cleared when it grows past a limit."""
        name, kind, scale, own = self._formats[metric]
        tags = (
            tuple(zip(metric.label_names, labels, strict=True)) if self.dialect != "plain" else ()
        )
        head, suffix = series_parts(name, tags, self.dialect)
        if len(self._series) >= _MAX_CACHED_SERIES:
            self._series.clear()
        parts = self._series[(metric, labels)] = (head, suffix, kind, scale, own)
        return parts

    def close(self) -> None:
        """Refuse further packets, send what is buffered (for at most
        ``close_timeout`` seconds; what is left then is dropped and reported), stop the
        sender thread and close the transport. Idempotent."""
        self._sender.close(self._close_timeout)

    # -- delivery, off the event path -------------------------------------------------

    def report_errors_to(self, sink: ErrorSink) -> None:
        """Where the sender thread reports packets it could not deliver: ``sink(error
        type name, count)``, called from the sender thread. A pipeline attaches its
        own, which counts them in ``gatewaymetrics_backend_errors_total``."""
        self._sender.sink = sink

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every buffered packet was sent or dropped, at most ``timeout``
        seconds (None: no limit); whether it was. For tests, benchmarks and shutdown
        code; never call it on a gateway's event path."""
        return self._sender.flush(timeout)

    @property
    def packets_lost(self) -> int:
        """Packets the sender thread could not deliver so far, counted or not."""
        return self._sender.lost


def _restart_in_child(ref: weakref.ref[StatsdBackend]) -> None:
    backend = ref()
    if backend is not None:
        sender = backend._sender
        sender.restart_in_child()
        backend._wake = sender.wake
