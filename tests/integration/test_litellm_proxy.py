"""A real LiteLLM proxy process with our module-level logger in its config, driven
over HTTP on 127.0.0.1; the test scrapes our own /metrics and checks exact values."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gatewaymetrics.core.secrets import fingerprint
from tests.conftest import require_module
from tests.integration.test_litellm_real import HOW
from tests.promtools import exposition_values, free_port, http_get, promtool_check

pytestmark = pytest.mark.integration

require_module("litellm", HOW)
require_module("fastapi", "install the LiteLLM proxy's dependencies: make test does")

MASTER_KEY = "sk-gm-test-7f3c9a1e5b2d4c6f8a0b"  # not a default key: the proxy refuses those
CONFIG = f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: gpt-4o-mini, mock_response: "Hello from the proxy", api_key: sk-fake}}
  - model_name: failing-model
    litellm_params:
      {{model: gpt-4o-mini, mock_response: "litellm.RateLimitError", api_key: sk-fake}}
  - model_name: primary
    litellm_params:
      {{model: gpt-4o-mini, mock_response: "litellm.InternalServerError", api_key: sk-fake}}
  - model_name: backup
    litellm_params: {{model: gpt-4o, mock_response: "Hello from backup", api_key: sk-fake}}
router_settings:
  fallbacks: [{{"primary": ["backup"]}}]
  num_retries: 0
general_settings:
  master_key: {MASTER_KEY}
litellm_settings:
  callbacks: ["gatewaymetrics.adapters.litellm.proxy_logger"]
"""


class Proxy:
    def __init__(self, port: int, metrics_port: int, log: Path) -> None:
        self.port = port
        self.metrics_port = metrics_port
        self.log = log

    def chat(self, model: str, *, key: str | None = MASTER_KEY, stream: bool = False) -> int:
        messages = [{"role": "user", "content": "Say hello"}]
        body = json.dumps({"model": model, "stream": stream, "messages": messages}).encode()
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/chat/completions", data=body, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            error.read()
            return int(error.code)

    def metrics(self) -> bytes:
        return http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def wait_for_requests(
        self, total: float, timeout: float = 30.0, family: str = "llm_requests_total"
    ) -> dict[Any, float]:
        deadline = time.monotonic() + timeout
        values: dict[Any, float] = {}
        while time.monotonic() < deadline:
            try:
                values = exposition_values(self.metrics().decode())
            except OSError:
                values = {}
            if sum(v for k, v in values.items() if k[0] == family) >= total:
                time.sleep(0.5)  # a double count would show up now
                return exposition_values(self.metrics().decode())
            time.sleep(0.2)
        raise AssertionError(
            f"fewer than {total} requests within {timeout} s:\n{self.log.read_text()[-3000:]}"
        )


@contextmanager
def litellm_proxy(
    tmp_path: Path, *, workers: int = 1, environment: dict[str, str] | None = None
) -> Iterator[Proxy]:
    """Start ``litellm --config`` on a free 127.0.0.1 port; stop it (and its workers)."""
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "GATEWAYMETRICS_PROMETHEUS_PORT": str(metrics_port), **(environment or {})}  # fmt: skip
    args = [str(Path(sys.executable).parent / "litellm"), "--config", "config.yaml",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    if workers > 1:
        multiproc = tmp_path / "multiproc"
        multiproc.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        args += ["--num_workers", str(workers)]
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    proxy = Proxy(port, metrics_port, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                http_get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the proxy did not start:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.25)
        yield proxy
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _requests(values: dict[Any, float], **match: str) -> float:
    return sum(
        v for (name, labels), v in values.items()
        if name == "llm_requests_total" and all(dict(labels).get(k) == x for k, x in match.items())
    )  # fmt: skip


def test_every_call_shape_through_a_running_proxy(tmp_path: Path) -> None:
    with litellm_proxy(tmp_path) as proxy:
        # /metrics is up once the proxy has loaded its callbacks, before any LLM call.
        assert b"# TYPE llm_requests_total counter" in proxy.metrics()
        assert proxy.chat("gpt-4o-mini") == 200
        assert proxy.chat("gpt-4o-mini") == 200
        assert proxy.chat("gpt-4o-mini", stream=True) == 200
        assert proxy.chat("failing-model") == 429
        assert proxy.chat("primary") == 200  # served by the fallback
        assert proxy.chat("gpt-4o-mini", key=None) == 401
        assert proxy.chat("gpt-4o-mini", key="sk-not-a-key") == 400  # no database to check it
        values = proxy.wait_for_requests(8)  # the fallback is two attempts
        body = proxy.metrics()

    # LiteLLM reports the master key as the hash of a fixed name, not of the key itself.
    master = fingerprint("litellm_proxy_master_key")
    assert _requests(values) == 8.0
    assert _requests(values, status="success", requested_model="gpt-4o-mini", api_key=master) == 3.0
    assert _requests(values, status="failure", error_type="rate_limited",
                     requested_model="failing-model") == 1.0  # fmt: skip
    assert _requests(values, status="failure", error_type="provider_error",
                     requested_model="primary", model="gpt-4o-mini") == 1.0  # fmt: skip
    assert _requests(values, status="success", requested_model="backup", model="gpt-4o") == 1.0
    assert _requests(values, status="failure", error_type="auth") == 2.0
    # A rejected key is never its own series (guessed keys cannot grow cardinality).
    assert _requests(values, error_type="auth", api_key="_rejected") == 1.0  # (no key: none)
    assert _requests(values, api_key=fingerprint("sk-not-a-key")) == 0
    fallback = ("llm_fallbacks_total", (("fallback_model", "backup"), ("outcome", "success"),
                                        ("requested_model", "primary")))  # fmt: skip
    assert values[fallback] == 1.0
    ttft = [v for (name, labels), v in values.items()
            if name == "llm_time_to_first_token_seconds_count"]  # fmt: skip
    assert ttft == [1.0]
    assert b"sk-not-a-key" not in body
    assert MASTER_KEY.encode() not in body
    result = promtool_check(body)
    assert (result.returncode, result.stderr) == (0, "")


def test_two_workers_count_exactly(tmp_path: Path) -> None:
    with litellm_proxy(tmp_path, workers=2) as proxy:
        for _ in range(12):
            assert proxy.chat("gpt-4o-mini") == 200
        for _ in range(3):
            assert proxy.chat("failing-model") == 429
        values = proxy.wait_for_requests(15)
        body = proxy.metrics()
    assert _requests(values, status="success") == 12.0
    assert _requests(values, status="failure", error_type="rate_limited") == 3.0
    assert b"pid=" not in body
    result = promtool_check(body)
    assert (result.returncode, result.stderr) == (0, "")


def _sum(values: dict[Any, float], family: str, **match: str) -> float:
    return sum(
        v for (name, labels), v in values.items()
        if name == family and all(dict(labels).get(k) == x for k, x in match.items())
    )  # fmt: skip


def test_litellm_names_through_a_running_proxy(tmp_path: Path) -> None:
    """``GATEWAYMETRICS_NAMING=litellm`` on a real proxy: LiteLLM's families and labels."""
    total = "litellm_proxy_total_requests_metric_total"
    with litellm_proxy(tmp_path, environment={"GATEWAYMETRICS_NAMING": "litellm"}) as proxy:
        assert b"# TYPE litellm_proxy_total_requests_metric_total counter" in proxy.metrics()
        assert proxy.chat("gpt-4o-mini") == 200
        assert proxy.chat("gpt-4o-mini", stream=True) == 200
        assert proxy.chat("failing-model") == 429
        assert proxy.chat("primary") == 200  # served by the fallback
        values = proxy.wait_for_requests(5, family=total)  # the fallback is two attempts
        body = proxy.metrics()
    master = fingerprint("litellm_proxy_master_key")
    assert _sum(values, total) == 5.0
    assert _sum(values, total, status_code="200", hashed_api_key=master) == 3.0
    assert _sum(values, total, requested_model="gpt-4o-mini", route="/chat/completions") == 2.0
    failed = "litellm_proxy_failed_requests_metric_total"
    assert _sum(values, failed, exception_status="429", exception_class="RateLimitError") == 1.0
    assert _sum(values, failed, exception_status="500", requested_model="primary") == 1.0
    fallbacks = "litellm_deployment_successful_fallbacks_total"
    assert _sum(values, fallbacks, requested_model="primary", fallback_model="backup") == 1.0
    assert _sum(values, "litellm_llm_api_time_to_first_token_metric_count") == 1.0
    assert _sum(values, "litellm_output_tokens_metric_total") > 0
    assert b"llm_requests_total" not in body
    assert b'"None"' not in body
    assert MASTER_KEY.encode() not in body
    result = promtool_check(body)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_running_proxy_exports_over_otlp_what_it_serves(tmp_path: Path) -> None:
    """Prometheus and the OTel backend in one proxy: the same counts, OTLP to a real
    receiver (HTTP/protobuf, the standard variables)."""
    from tests.otlp_receiver import Histogram, http_receiver

    with http_receiver() as receiver:
        environment = {
            "GATEWAYMETRICS_BACKENDS": "prometheus,otel",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "300",
            "OTEL_SERVICE_NAME": "proxy-under-test",
        }
        with litellm_proxy(tmp_path, environment=environment) as proxy:
            assert proxy.chat("gpt-4o-mini") == 200
            assert proxy.chat("gpt-4o-mini", stream=True) == 200
            assert proxy.chat("failing-model") == 429
            values = proxy.wait_for_requests(3)

            def requests() -> float:
                return sum(
                    value.count if isinstance(value, Histogram) else float(value)
                    for (name, _), value in receiver.totals().items()
                    if name == "gatewaymetrics.requests"
                )

            receiver.wait_for(lambda: requests() >= 3, timeout=30)
        assert _requests(values) == 3.0
        assert requests() == 3.0
        names = receiver.names()
        assert {"gen_ai.client.token.usage", "gen_ai.server.request.duration"} <= names
        assert receiver.resources()[0]["service.name"] == "proxy-under-test"
        assert receiver.errors() == []
