"""The own /metrics server (issue 12, point 14), against the real server over loopback:
credentials, TLS, bounded threads, half-open connections closed after the timeout."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import socket
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

from gatewaymetrics import GatewayMetricsError, Pipeline
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.testing import call_event

TOKEN = "s3cret-token-for-tests"


def _backend() -> tuple[Pipeline, PrometheusBackend]:
    backend = PrometheusBackend(registry=CollectorRegistry(), multiprocess=False)
    pipeline = Pipeline([backend])
    pipeline.record(call_event(model="m"))
    return pipeline, backend


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock``: the read ends (b"" or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _get(url: str, headers: dict[str, str] | None = None, **kwargs: object) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30, **kwargs) as response:  # type: ignore[arg-type]
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def test_a_bearer_token_is_required_when_configured(caplog: pytest.LogCaptureFixture) -> None:
    pipeline, backend = _backend()
    _, port = backend.serve(port=0, bearer_token=TOKEN)
    url = f"http://127.0.0.1:{port}/metrics"
    status, body = _get(url, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert b"llm_requests_total{" in body
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                   {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
        assert _get(url, header)[0] == 401
    request = urllib.request.Request(url)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    pipeline.close()
    assert TOKEN not in caplog.text


def test_basic_auth_is_required_when_configured() -> None:
    pipeline, backend = _backend()
    _, port = backend.serve(port=0, basic_auth=("prometheus", "pässword"))
    url = f"http://127.0.0.1:{port}/metrics"
    good = base64.b64encode("prometheus:pässword".encode()).decode()
    bad = base64.b64encode(b"prometheus:password").decode()
    assert _get(url, {"Authorization": f"Basic {good}"})[0] == 200
    assert _get(url, {"Authorization": f"basic {good}"})[0] == 200  # the scheme's case
    assert _get(url, {"Authorization": f"Basic {bad}"})[0] == 401
    assert _get(url)[0] == 401
    pipeline.close()


def test_either_credential_when_both_are_configured() -> None:
    pipeline, backend = _backend()
    _, port = backend.serve(port=0, bearer_token=TOKEN, basic_auth=("u", "p"))
    url = f"http://127.0.0.1:{port}/metrics"
    basic = base64.b64encode(b"u:p").decode()
    assert _get(url, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert _get(url, {"Authorization": f"Basic {basic}"})[0] == 200
    assert _get(url, {"Authorization": f"Bearer {basic}"})[0] == 401
    pipeline.close()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"bearer_token": ""}, "prometheus.bearer_token"),
        ({"bearer_token": "two words"}, "prometheus.bearer_token"),
        ({"basic_auth": ("", "p")}, "prometheus.basic_auth_user"),
        ({"basic_auth": ("a:b", "p")}, "prometheus.basic_auth_user"),
        ({"basic_auth": ("u", "")}, "prometheus.basic_auth_password"),
        ({"tls_keyfile": "/nonexistent.key"}, "prometheus.tls_cert_file"),
        ({"tls_certfile": "/nonexistent.pem"}, "prometheus.tls_cert_file"),
    ],
)
def test_bad_credentials_or_tls_files_are_refused(kwargs: dict[str, object], key: str) -> None:
    pipeline, backend = _backend()
    with pytest.raises(GatewayMetricsError) as info:
        backend.serve(port=0, **kwargs)  # type: ignore[arg-type]
    assert info.value.key == key
    assert "two words" not in str(info.value)
    pipeline.close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_with_a_verified_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    pipeline, backend = _backend()
    _, port = backend.serve(
        port=0, bearer_token=TOKEN, tls_certfile=str(cert), tls_keyfile=str(key)
    )
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/metrics"
    status, body = _get(url, {"Authorization": f"Bearer {TOKEN}"}, context=context)
    assert status == 200
    assert b"llm_requests_total{" in body
    assert _get(url, context=context)[0] == 401
    with pytest.raises((urllib.error.URLError, ConnectionResetError)):  # plain HTTP: no answer
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30)
    pipeline.close()


def test_half_open_connections_hold_no_thread_and_are_closed_after_the_timeout() -> None:
    pipeline, backend = _backend()
    before = threading.active_count()
    _, port = backend.serve(port=0, workers=2, timeout=0.5)
    started = threading.active_count() - before
    assert started == 3  # the waiting thread and two workers, for good
    idle = []
    for _ in range(200):  # connect, send nothing
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=30))
    assert threading.active_count() - before == started
    # A normal scrape meanwhile: the idle ones hold no worker.
    status, body = _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert b"llm_requests_total{" in body
    assert threading.active_count() - before == started
    for sock in idle:  # the server closes each: the read ends with b"" (or a reset)
        assert _closed_by_server(sock)
        sock.close()
    pipeline.close()
    assert threading.active_count() == before


def test_a_connection_beyond_the_limit_replaces_the_longest_idle_one() -> None:
    pipeline, backend = _backend()
    _, port = backend.serve(port=0, workers=1, timeout=60)
    (server,) = backend._servers
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(64)]
    late = socket.create_connection(("127.0.0.1", port), timeout=30)
    assert _closed_by_server(idle[0])  # the first, idle the longest, was closed
    late.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    assert late.recv(12) == b"HTTP/1.0 200"
    late.close()
    for sock in idle:
        sock.close()
    assert server.open_connections <= 64
    pipeline.close()
    assert server.open_connections == 0


def test_a_request_cut_short_frees_its_worker_after_the_timeout() -> None:
    pipeline, backend = _backend()
    _, port = backend.serve(port=0, workers=1, timeout=0.5)
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    assert _closed_by_server(slow)
    assert _get(f"http://127.0.0.1:{port}/metrics")[0] == 200  # the one worker is free
    slow.close()
    pipeline.close()
