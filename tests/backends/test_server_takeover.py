"""A second pipeline in one process asking for the same ``host:port`` takes over the
running ``/metrics`` server (issue 13, item 5: the SDK snippet re-run in a notebook
cell); a port held by anything else still fails naming GATEWAYMETRICS_PROMETHEUS_PORT.
Real servers over loopback."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from gatewaymetrics import GatewayMetricsError, Pipeline
from gatewaymetrics.backends.metrics_server import serving
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.config import PrometheusConfig, serve_metrics
from gatewaymetrics.testing import call_event


def _backend(model: str) -> PrometheusBackend:
    """A Prometheus backend whose metrics name ``model`` (one call recorded)."""
    backend = PrometheusBackend(registry=CollectorRegistry(), multiprocess=False)
    Pipeline([backend]).record(call_event(model=model))
    return backend


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


@pytest.fixture
def foreign_port() -> Iterator[int]:
    """A port another listener (not a /metrics server of ours) holds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_a_second_server_on_the_same_port_takes_over() -> None:
    first, second = _backend("first-model"), _backend("second-model")
    try:
        host, port = first.serve(port=0)
        assert 'model="first-model"' in _get(port)
        assert serving("127.0.0.1", port) is not None
        assert second.serve(host="127.0.0.1", port=port) == (host, port)
        body = _get(port)
        assert 'model="second-model"' in body
        assert 'model="first-model"' not in body
        # The earlier pipeline closing later does not stop the newer one's server.
        first.close()
        assert 'model="second-model"' in _get(port)
    finally:
        first.close()
        second.close()
    assert serving("127.0.0.1", port) is None
    with pytest.raises(urllib.error.URLError):
        _get(port)


def test_a_takeover_with_bad_options_leaves_the_running_server_alone() -> None:
    first, second = _backend("first-model"), _backend("second-model")
    try:
        _, port = first.serve(port=0)
        with pytest.raises(GatewayMetricsError, match="bearer"):
            second.serve(port=port, bearer_token="")
        assert 'model="first-model"' in _get(port)
    finally:
        first.close()
        second.close()


def test_a_port_held_by_another_listener_still_names_the_variable(foreign_port: int) -> None:
    backend = _backend("m")
    try:
        assert serving("127.0.0.1", foreign_port) is None
        with pytest.raises(GatewayMetricsError) as raised:
            serve_metrics(backend, PrometheusConfig(port=foreign_port))
        assert str(raised.value).startswith(
            f"invalid prometheus.port (GATEWAYMETRICS_PROMETHEUS_PORT): {foreign_port}; "
            "allowed: a free port (Address already in use)"
        )
    finally:
        backend.close()


def test_port_zero_never_takes_over() -> None:
    first, second = _backend("first-model"), _backend("second-model")
    try:
        _, first_port = first.serve(port=0)
        _, second_port = second.serve(port=0)
        assert first_port != second_port
        assert 'model="first-model"' in _get(first_port)
        assert 'model="second-model"' in _get(second_port)
        assert serving("127.0.0.1", 0) is None
    finally:
        first.close()
        second.close()


def test_build_pipeline_twice_on_one_port_serves_the_second() -> None:
    """A notebook cell run twice: the second pipeline's build takes the port over."""
    from gatewaymetrics.config import build_pipeline, load_config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}
    first = build_pipeline(load_config(environ=env))
    first.record(call_event(model="first-model"))
    second = build_pipeline(load_config(environ=env))
    second.record(call_event(model="second-model"))
    try:
        body = _get(port)
        assert 'model="second-model"' in body
        assert 'model="first-model"' not in body
        first.close()
        assert 'model="second-model"' in _get(port)
    finally:
        first.close()
        second.close()
