"""Packets sent off the event path: a bounded buffer and one sender thread.

An event's thread only appends a packet to :attr:`PacketSender.queue` (a ``deque``,
thread-safe for one-ended appends and pops) and sets :attr:`PacketSender.wake`; it never
resolves a name, connects, sends or waits. The sender thread sends the packets in order
through a :class:`Transport`; when a send fails it drops that packet, reports it to the
error sink (``sink(exception type name, 1)``) and waits ``retry_after`` seconds before
the next attempt, while later packets wait in the buffer. :meth:`PacketSender.close`
sends what is left until a deadline, drops and reports the rest, and closes the
transport.

Each packet carries whether its loss counts: one that holds only gatewaymetrics' own
metrics (an error count on its way out) is not reported when lost, so that a count of
errors can never make errors of its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["BufferFull", "ErrorSink", "PacketSender", "SenderClosed", "Transport"]

#: Where a sender reports packets it could not deliver: exception type name, count.
ErrorSink = Callable[[str, int], None]


class BufferFull(Exception):
    """A packet was refused: ``capacity`` packets are waiting already (the daemon is
    down, or slower than the events). Dropped; the pipeline counts it."""


class SenderClosed(Exception):
    """A packet offered after ``close``, or still buffered when the close deadline
    passed: dropped."""


@runtime_checkable
class Transport(Protocol):
    """Sends one packet (newline-separated lines); raises when it could not. Called
    from the sender thread only (one packet at a time, never on an event's thread), so
    it may block, up to its own timeout."""

    def send(self, packet: str) -> None: ...

    def close(self) -> None: ...


class PacketSender:
    """A buffer of ``(packet, counted)`` and the daemon thread that empties it through
    ``transport``. Events append to :attr:`queue` while ``len(queue) < capacity`` and
    then set :attr:`wake` unless it is set already; that is all they do."""

    def __init__(
        self, transport: Transport, *, capacity: int, retry_after: float, name: str
    ) -> None:
        self.transport = transport
        self.capacity = capacity  # 0 once closing: nothing more is accepted
        self.retry_after = retry_after
        self.name = name
        self.sink: ErrorSink | None = None
        #: Packets the thread could not deliver, counted or not (for introspection).
        self.lost = 0
        self.queue: deque[tuple[str, bool]] = deque()
        self._start()

    def _start(self) -> None:
        self.wake = threading.Event()  # packets are waiting
        self._stop = threading.Event()  # send what is left until the deadline, then end
        self._idle = threading.Condition()  # notified when the queue is empty
        self._busy = False  # the thread is handling packets (sending, reporting a loss)
        self._flush_waiters = 0
        self._deadline = 0.0
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    # -- the event side ---------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self._stop.is_set()

    def offer(self, packets: list[str], counted: bool) -> None:
        """Buffer what fits of ``packets`` and wake the thread (the event path's slow
        branch); raise :class:`BufferFull` or :class:`SenderClosed` if any was dropped."""
        queue = self.queue
        room = self.capacity - len(queue)
        for packet in packets[: max(room, 0)]:
            queue.append((packet, counted))
        self.wake.set()
        if len(packets) > room:
            if self._stop.is_set():
                raise SenderClosed("closed; packet dropped")
            raise BufferFull(f"{self.capacity} packets waiting; packet dropped")

    # -- control ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every buffered packet was sent or dropped, at most ``timeout``
        seconds (None: no limit); whether it was. Never call it on an event path."""
        idle = self._idle
        with idle:
            self._flush_waiters += 1
            try:
                return idle.wait_for(lambda: not self.queue and not self._busy, timeout)
            finally:
                self._flush_waiters -= 1

    def close(self, timeout: float, *, wait: bool = True) -> None:
        """Accept nothing more; send what is buffered for at most ``timeout`` seconds
        (a failure no longer waits ``retry_after``), then drop and report the rest and
        close the transport. ``wait``: join the thread (at most ``timeout``). Idempotent."""
        if not self._stop.is_set():
            self.capacity = 0
            self._deadline = time.monotonic() + timeout
            self._stop.set()
            self.wake.set()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(max(self._deadline - time.monotonic(), 0.0) + 0.1)

    def restart_in_child(self) -> None:
        """After ``fork()``, in the child, where the parent's thread does not exist:
        forget the parent's packets (the parent sends them), close the child's copy of
        the transport (the parent's connection stays open) and start a thread here."""
        if self._stop.is_set():
            return
        self.queue.clear()
        with contextlib.suppress(Exception):  # a socket the child cannot close is no loss
            self.transport.close()
        self._start()

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        queue, wake, stop = self.queue, self.wake, self._stop
        while True:
            wake.wait()
            wake.clear()  # before draining: a packet appended from now on sets it again
            self._busy = True
            while queue:
                if stop.is_set() and time.monotonic() > self._deadline:
                    break
                packet, counted = queue[0]  # leaves the queue once handled (flush)
                try:
                    self.transport.send(packet)
                except Exception as exc:  # the daemon is away, slow or unresolvable
                    queue.popleft()
                    self._report(type(exc).__name__, 1, counted)
                    stop.wait(self.retry_after)  # close() cuts the wait short
                else:
                    queue.popleft()
            if stop.is_set():
                self._finish()
                return
            self._notify_idle()

    def _finish(self) -> None:
        """The thread's last act: drop what the deadline left, close the transport."""
        left = counted = 0
        while self.queue:
            _, weight = self.queue.popleft()
            left += 1
            counted += weight
        if left:
            self._report(SenderClosed.__name__, counted, True)
            self.lost += left - counted
        with contextlib.suppress(Exception):  # nothing more can be done
            self.transport.close()
        self._notify_idle()

    def _report(self, error: str, count: int, counted: bool) -> None:
        self.lost += count
        sink = self.sink
        if counted and count and sink is not None:
            with contextlib.suppress(Exception):  # best effort; the thread must live on
                sink(error, count)

    def _notify_idle(self) -> None:
        """The queue is empty and every loss reported: wake :meth:`flush` waiters."""
        self._busy = False
        if self._flush_waiters:
            with self._idle:
                self._idle.notify_all()
