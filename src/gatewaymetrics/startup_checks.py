"""Checks of the machine a configuration is about to run on: what ``build_pipeline``
needs from it besides valid values (a multiprocess directory to write into, an address
to listen on, TLS files that load). ``gatewaymetrics.config.validate`` runs them, and
so ``check-config`` and ``build_pipeline`` do. Each failure is a
:class:`~gatewaymetrics.errors.GatewayMetricsError` naming the key that was given.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import tempfile

from gatewaymetrics.errors import GatewayMetricsError

__all__ = [
    "MULTIPROC_ENV",
    "address_taken",
    "check_listen",
    "check_multiprocess_dir",
    "check_tls",
    "listen_error",
    "listener",
    "tls_context",
]

#: prometheus_client's variable naming the multiprocess directory (read once, when it
#: is imported; this module does not import it, so configuration can set it first).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def check_multiprocess_dir(path: str | None, *, key: str = "prometheus.multiprocess_dir") -> None:
    """Refuse a multiprocess directory the workers could not write (missing, not a
    directory, read-only): :class:`GatewayMetricsError` naming ``key``. Checked by
    creating and removing a file in it, so it is the truth for the running user (root
    included, whom permission bits do not stop)."""
    allowed = "a writable directory"
    if not path or not os.path.isdir(path):
        raise GatewayMetricsError(key, path, f"{allowed} (it does not exist or is not a directory)")
    try:
        handle, probe = tempfile.mkstemp(prefix=".gatewaymetrics-check-", dir=path)
    except OSError as exc:
        raise GatewayMetricsError(key, path, f"{allowed} ({exc.strerror})") from None
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def listen_error(exc: OSError, host: str, port: int, *, prefix: str) -> GatewayMetricsError:
    """Why a server could not listen on ``host:port``, named by the key at fault
    (``{prefix}.host`` or ``{prefix}.port``)."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        return GatewayMetricsError(
            f"{prefix}.host", host, f"a host name or address that resolves ({reason})"
        )
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return GatewayMetricsError(f"{prefix}.host", host, f"an address of this machine ({reason})")
    return GatewayMetricsError(f"{prefix}.port", port, f"a free port ({reason})")


def address_taken(exc: OSError) -> bool:
    """Whether a server could not listen because another one already does."""
    return exc.errno == errno.EADDRINUSE


def listener(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (the first address ``host`` resolves to,
    ``SO_REUSEADDR``), non-blocking: how the own ``/metrics`` server listens, and so
    what :func:`check_listen` tries. Raises :class:`OSError`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def check_listen(host: str, port: int, *, prefix: str, shared: bool) -> None:
    """Listen on ``host:port`` as the server would (:func:`listener`), then close.
    ``shared``: another worker already listening there is fine (it serves the shared
    multiprocess files)."""
    try:
        listener(host, port).close()
    except OSError as exc:
        if not (shared and address_taken(exc)):
            raise listen_error(exc, host, port, prefix=prefix) from None


def _no_password() -> bytes:
    return b""  # an encrypted key fails to load instead of prompting on a terminal


def tls_context(cert_file: str, key_file: str | None, *, prefix: str) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 at least) from a PEM certificate chain and its
    unencrypted key (``{prefix}.tls_cert_file``, ``{prefix}.tls_key_file``; the key
    may be in the certificate file). Every failure names the key at fault."""
    files = [(f"{prefix}.tls_cert_file", cert_file)]
    if key_file is not None:
        files.append((f"{prefix}.tls_key_file", key_file))
    for key, path in files:
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise GatewayMetricsError(key, path, "a readable PEM file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_password)
    except OSError as exc:  # ssl.SSLError is one
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise GatewayMetricsError(
            f"{prefix}.tls_cert_file", cert_file,
            f"a PEM certificate chain whose unencrypted private key is {prefix}.tls_key_file "
            f"(ssl: {reason})",
        ) from None  # fmt: skip
    return context


def check_tls(cert_file: str, key_file: str | None, *, prefix: str) -> None:
    """The certificate chain and its key load, as the server loads them."""
    tls_context(cert_file, key_file, prefix=prefix)
