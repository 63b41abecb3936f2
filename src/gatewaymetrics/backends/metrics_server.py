"""The own ``/metrics`` HTTP server: bounded threads, timeouts, optional credentials
and TLS. Standard library only; what it serves comes from a ``render`` callable (the
Prometheus backend's :meth:`exposition`).

- **Bounded.** One thread waits on the listening socket and on every connection that
  has not sent its request yet (a selector: an idle connection costs no thread);
  ``workers`` threads answer requests that arrived. At most ``max_connections``
  connections are open at once: a new one beyond that takes the place of the one
  that has waited longest without sending anything (or is closed at once when every
  open one is being answered). A
  connection that has not sent its request within ``timeout`` seconds is closed; a
  worker's socket reads and writes time out after ``timeout`` too (a client that
  sends half a request holds one worker for that long, at most).
- **Credentials.** ``bearer_token`` (``Authorization: Bearer <token>``) and/or
  ``basic_auth`` (user, password): a request without matching credentials gets
  ``401`` with ``WWW-Authenticate``. Compared in constant time
  (:func:`hmac.compare_digest`); never logged.
- **TLS.** ``tls_certfile`` (PEM, the key too unless ``tls_keyfile``): the server
  speaks HTTPS only; the handshake runs on a worker, under the same timeout.
- **Take-over.** A new server for the address a server of this same process listens
  on (a second pipeline for the same ``host:port``: the SDK snippet run twice in a
  notebook) stops that server and listens there itself, once its own options are
  checked: the newest pipeline is served, the old one no longer is. Only this
  process's servers are taken over (:func:`serving`); a port held by another process
  fails as before.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hmac
import logging
import os
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from gatewaymetrics import startup_checks
from gatewaymetrics.backends.server_options import (
    check_basic_auth_password,
    check_basic_auth_user,
    check_bearer_token,
)
from gatewaymetrics.errors import GatewayMetricsError

__all__ = ["MetricsServer", "Render", "serving"]

log = logging.getLogger("gatewaymetrics")

#: What the server serves: the ``Accept`` header in, (body, content type) out.
Render = Callable[[str | None], tuple[bytes, str]]

_PATHS = ("/", "/metrics")

#: This process's listening servers, by the address they listen on: (pid, server).
#: The pid keeps a forked worker from taking over the server it inherited.
_running: dict[tuple[str, int], tuple[int, MetricsServer]] = {}
_running_lock = threading.Lock()


def _bind_address(host: str, port: int) -> tuple[str, int] | None:
    """The (address, port) :func:`startup_checks.listener` would bind for ``host:port``
    (resolved the same way), or None when ``host`` does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None
    address = infos[0][4]
    return str(address[0]), int(address[1])


def serving(host: str, port: int) -> MetricsServer | None:
    """This process's own server listening where ``host:port`` binds, if any (never for
    ``port=0``, which asks for a free port): a new server there takes it over."""
    if port == 0:
        return None
    address = _bind_address(host, port)
    with _running_lock:
        found = _running.get(address) if address is not None else None
    return found[1] if found is not None and found[0] == os.getpid() else None


class _Handler(BaseHTTPRequestHandler):
    """One request; the server's settings are on ``self.server``-like ``owner``."""

    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive
    owner: MetricsServer

    def do_GET(self) -> None:
        owner = self.owner
        if not owner.authorized(self.headers.get("Authorization")):
            self.send_response(401)
            for challenge in owner.challenges:
                self.send_header("WWW-Authenticate", challenge)
            self._body(b"unauthorized\n", "text/plain; charset=utf-8")
            return
        if self.path.split("?", 1)[0] not in _PATHS:
            self.send_response(404)
            self._body(b"not found: try /metrics\n", "text/plain; charset=utf-8")
            return
        try:
            body, content_type = owner.render(self.headers.get("Accept"))
        except Exception:  # an exposition that fails answers 500; the server stays up
            log.exception("gatewaymetrics: the /metrics exposition failed")
            self.send_response(500)
            self._body(b"the exposition failed; see the gateway's log\n", "text/plain")
            return
        self.send_response(200)
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, compresslevel=1)
            self.send_header("Content-Encoding", "gzip")
        self._body(body, content_type)

    def _body(self, body: bytes, content_type: str) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a scrape every few seconds is not news (and headers are never logged)."""


class MetricsServer:
    """Serves ``render`` over HTTP(S) on ``host:port`` (``port=0``: a free one) until
    :meth:`close`. Raises :class:`OSError` when the address cannot be bound and
    :class:`GatewayMetricsError` for bad credentials or TLS files (names the key)."""

    def __init__(
        self,
        host: str,
        port: int,
        render: Render,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        tls_certfile: str | None = None,
        tls_keyfile: str | None = None,
        workers: int = 4,
        timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        self.render = render
        self.timeout = timeout
        self._expected, self.challenges = _credentials(bearer_token, basic_auth)
        self._tls = _tls_context(tls_certfile, tls_keyfile)
        if type(workers) is not int or workers < 1:
            raise GatewayMetricsError("workers", workers, "an int >= 1")
        if type(max_connections) is not int or max_connections < workers:
            raise GatewayMetricsError("max_connections", max_connections, "an int >= workers")
        self._max_connections = max_connections
        previous = serving(host, port)
        if previous is not None:  # this process's own server: take over its address
            previous.close()
            log.info("gatewaymetrics: /metrics on %s:%s now serves the newest pipeline", host, port)
        listener = startup_checks.listener(host, port)
        self._listener = listener
        self.server_address: tuple[str, int] = listener.getsockname()[:2]
        #: Connections open now: waiting for their request, queued or being answered.
        self.open_connections = 0
        self._count_lock = threading.Lock()
        self._ready: queue.SimpleQueue[socket.socket | None] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        handler = type("Handler", (_Handler,), {"owner": self, "timeout": timeout})
        self._handler: type[_Handler] = handler
        self._threads = [threading.Thread(target=self._wait, name="gm-metrics-wait", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"gm-metrics-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()
        with _running_lock:
            _running[self.server_address] = (os.getpid(), self)

    # -- credentials ------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the configured credentials
        (always, when none are configured). Constant time in the credential."""
        if not self._expected:
            return True
        given = (header or "").strip().encode("utf-8", "surrogateescape")
        scheme, _, credential = given.partition(b" ")
        matched = False
        for expected_scheme, expected in self._expected:
            same_scheme = scheme.lower() == expected_scheme
            # compare_digest on every configured credential: no early exit to time.
            matched |= hmac.compare_digest(credential.strip(), expected) and same_scheme
        return matched

    # -- the threads ------------------------------------------------------------------

    def _wait(self) -> None:
        """Accept connections and wait for their requests, without a thread each."""
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        deadlines: dict[socket.socket, float] = {}
        try:
            while not self._closed:
                now = time.monotonic()
                timeout = min(deadlines.values(), default=now + 1.0) - now
                for key, _ in selector.select(max(0.0, timeout)):
                    sock = key.fileobj
                    if sock is self._wake_r:
                        continue
                    if sock is self._listener:
                        self._accept(selector, deadlines)
                    else:
                        assert isinstance(sock, socket.socket)
                        selector.unregister(sock)
                        del deadlines[sock]
                        self._ready.put(sock)  # the request (or a TLS hello) arrived
                now = time.monotonic()
                for sock in [s for s, deadline in deadlines.items() if deadline <= now]:
                    selector.unregister(sock)
                    del deadlines[sock]
                    self._drop(sock)  # sent nothing in time: a half-open connection
        finally:
            for sock in deadlines:
                self._drop(sock)
            selector.close()

    def _accept(
        self, selector: selectors.BaseSelector, deadlines: dict[socket.socket, float]
    ) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. too many open files: try again on the next wake-up
                return
            with self._count_lock:
                full = self.open_connections >= self._max_connections
                if not full:
                    self.open_connections += 1
            if full and deadlines:
                # Make room by closing the connection that has waited longest without
                # sending anything: idle connections never lock out a real scrape.
                oldest = next(iter(deadlines))  # insertion order: the earliest deadline
                selector.unregister(oldest)
                del deadlines[oldest]
                with self._count_lock:
                    self.open_connections += 1  # the new one takes the oldest's place
                self._drop(oldest)
            elif full:  # every open connection is being answered: come back later
                sock.close()
                continue
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            deadlines[sock] = time.monotonic() + self.timeout

    def _work(self) -> None:
        while True:
            sock = self._ready.get()
            if sock is None:
                return
            conn: socket.socket = sock
            try:
                sock.setblocking(True)
                sock.settimeout(self.timeout)
                if self._tls is not None:
                    conn = self._tls.wrap_socket(sock, server_side=True)
                self._handler(conn, conn.getpeername(), None)  # type: ignore[arg-type]  # no socketserver
            except Exception as exc:  # a client that times out or talks nonsense
                log.debug("gatewaymetrics: /metrics connection ended: %s", type(exc).__name__)
            finally:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_WR)  # the answer is sent before the close
                if conn is not sock:
                    conn.close()
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        try:
            sock.close()
        finally:
            with self._count_lock:
                self.open_connections -= 1

    # -- stopping ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving: the listening socket closes, the threads end."""
        if self._closed:
            return
        self._closed = True
        with _running_lock:
            if _running.get(self.server_address, (0, None))[1] is self:
                del _running[self.server_address]
        self._wake_w.send(b"x")
        for _ in self._threads[1:]:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
        while not self._ready.empty():  # requests that arrived as the workers stopped
            sock = self._ready.get()
            if sock is not None:
                self._drop(sock)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()


def _credentials(
    bearer_token: str | None, basic_auth: tuple[str, str] | None
) -> tuple[tuple[tuple[bytes, bytes], ...], tuple[str, ...]]:
    """(scheme, credential) pairs to accept, and the 401 challenges."""
    expected: list[tuple[bytes, bytes]] = []
    challenges: list[str] = []
    if bearer_token is not None:
        bearer_token = check_bearer_token(bearer_token)
        expected.append((b"bearer", bearer_token.encode("utf-8")))
        challenges.append('Bearer realm="metrics"')
    if basic_auth is not None:
        pair = basic_auth if isinstance(basic_auth, tuple) and len(basic_auth) == 2 else ("", "")
        user = check_basic_auth_user(pair[0])
        password = check_basic_auth_password(pair[1])
        token = base64.b64encode(f"{user}:{password}".encode())
        expected.append((b"basic", token))
        challenges.append('Basic realm="metrics", charset="UTF-8"')
    return tuple(expected), tuple(challenges)


def _tls_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    if certfile is None:
        if keyfile is not None:
            raise GatewayMetricsError(
                "prometheus.tls_cert_file", None, "a PEM certificate file when a key file is given"
            )
        return None
    return startup_checks.tls_context(certfile, keyfile, prefix="prometheus")
