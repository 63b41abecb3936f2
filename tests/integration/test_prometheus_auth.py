"""A real Prometheus server scrapes the own /metrics server over HTTPS with a bearer
token (issue 12, point 14): the series arrive; without the token the target is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gatewaymetrics import Pipeline
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.testing import call_event
from tests.backends.test_metrics_server import self_signed
from tests.promtools import prometheus_server

pytestmark = pytest.mark.integration
TOKEN = "scrape-token-0123456789"


def test_prometheus_scrapes_over_tls_with_a_bearer_token(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    backend = PrometheusBackend(registry=CollectorRegistry(), multiprocess=False)
    pipeline = Pipeline([backend])
    for _ in range(7):
        pipeline.record(call_event(model="m"))
    _, port = backend.serve(
        port=0, bearer_token=TOKEN, tls_certfile=str(cert), tls_keyfile=str(key)
    )
    tls = f"    scheme: https\n    tls_config: {{ca_file: '{cert}'}}\n"
    target = f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    job = (
        f"  - job_name: authorized\n{tls}{target}"
        f"    authorization: {{credentials: '{TOKEN}'}}\n"
        f"  - job_name: anonymous\n{tls}{target}"
    )
    with prometheus_server(jobs=job) as prometheus:
        prometheus.wait_for('sum(llm_requests_total{job="authorized"})', 7.0)
        prometheus.wait_for('up{job="authorized"}', 1.0)
        prometheus.wait_for('up{job="anonymous"}', 0.0)  # 401: the target is down
        assert prometheus.query('llm_requests_total{job="anonymous"}') == []
    pipeline.close()
