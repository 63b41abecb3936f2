from __future__ import annotations

import asyncio
import gzip
import math
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    GatewayMetricsError,
    LabelSettings,
    Pipeline,
    Principal,
    Settings,
    Status,
    TokenUsage,
    fingerprint,
)
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend, check_multiprocess_dir
from gatewaymetrics.replay import replay
from tests.promtools import exposition_values, http_get, memory_as_samples, promtool_check
from tests.strategies import call_events, hostile_text
from tests.test_replay import EXAMPLES

KEY = fingerprint("sk-prom")


def _pipeline(settings: Settings | None = None) -> tuple[Pipeline, PrometheusBackend]:
    backend = PrometheusBackend(registry=CollectorRegistry())
    return Pipeline([backend], settings), backend


def _text(backend: PrometheusBackend) -> str:
    body, content_type = backend.exposition()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return body.decode("utf-8")


def _event(**fields: Any) -> CallEvent:
    base: dict[str, Any] = {
        "provider": "openai",
        "requested_model": "fast",
        "model": "gpt-4o-mini",
        "principal": Principal(api_key=KEY, team_id="t1", user_id="u1"),
        "tokens": TokenUsage(input=10, output=20),
        "cost_usd": Decimal("0.25"),
        "started_at": 100.0,
        "ended_at": 101.5,
    }
    base.update(fields)
    return CallEvent(call=CallRecord(**base))


def test_two_pipelines_side_by_side_and_a_shared_registry_is_refused() -> None:
    first, first_backend = _pipeline()
    second, second_backend = _pipeline()
    first.record(_event())
    second.record(_event())
    second.record(_event())
    series = ("llm_requests_total", (("api_key", KEY), ("api_key_alias", ""),
              ("error_type", ""), ("model", "gpt-4o-mini"), ("operation", "other"),
              ("provider", "openai"), ("requested_model", "fast"), ("status", "success"),
              ("team", "t1"), ("team_alias", ""), ("user", "u1")))  # fmt: skip
    assert exposition_values(_text(first_backend))[series] == 1.0
    assert exposition_values(_text(second_backend))[series] == 2.0
    with pytest.raises(GatewayMetricsError, match="Duplicated timeseries") as info:
        Pipeline([PrometheusBackend(registry=first_backend.registry)])
    assert info.value.key == "prometheus.registry"
    first.record(_event())  # the failed declaration left the first pipeline intact
    assert exposition_values(_text(first_backend))[series] == 2.0


def test_exposition_lines_are_exact() -> None:
    pipeline, backend = _pipeline(Settings(labels=LabelSettings(identity=("model",))))
    pipeline.record(_event(stream=True, first_token_at=100.25))
    pipeline.record(
        _event(status=Status.FAILURE, error=ErrorInfo(category=ErrorCategory.TIMEOUT),
               tokens=TokenUsage(), cost_usd=None)
    )  # fmt: skip
    values = exposition_values(_text(backend))
    m = (("model", "gpt-4o-mini"),)
    assert values[("llm_requests_total", (("error_type", ""), *m, ("status", "success")))] == 1.0
    assert (
        values[("llm_requests_total", (("error_type", "timeout"), *m, ("status", "failure")))]
        == 1.0
    )
    assert values[("llm_tokens_total", (*m, ("token_type", "input")))] == 10.0
    assert values[("llm_spend_usd_total", m)] == 0.25
    assert values[("llm_request_duration_seconds_count", m)] == 2.0
    assert values[("llm_request_duration_seconds_sum", m)] == 3.0
    assert values[("llm_request_duration_seconds_bucket", (("le", "1.28"), *m))] == 0.0
    assert values[("llm_request_duration_seconds_bucket", (("le", "2.56"), *m))] == 2.0
    assert values[("llm_time_to_first_token_seconds_bucket", (("le", "0.32"), *m))] == 1.0
    text = _text(backend)
    assert "# HELP llm_requests_total LLM calls, by outcome." in text
    assert "# TYPE llm_request_duration_seconds histogram" in text


def test_budget_gauges_follow_the_pipeline_and_never_hold_inf() -> None:
    pipeline, backend = _pipeline()
    labels = (("alias", "Team"), ("scope", "team"), ("subject", "t1"))

    def budget(spend: str, limit: str | None) -> CallEvent:
        snapshot = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias="Team",
                                  limit_usd=None if limit is None else Decimal(limit),
                                  spend_usd=Decimal(spend))  # fmt: skip
        return CallEvent(call=CallRecord(), budgets=(snapshot,))

    pipeline.record(budget("4", "10"))
    pipeline.record(budget("3", "10"))  # late: ignored
    values = exposition_values(_text(backend))
    assert values[("llm_budget_spend_usd", labels)] == 4.0
    assert values[("llm_budget_remaining_usd", labels)] == 6.0
    assert values[("llm_budget_limit_usd", labels)] == 10.0
    pipeline.record(budget("5", None))  # the limit was lifted: no limit, no remaining
    values = exposition_values(_text(backend))
    assert values[("llm_budget_spend_usd", labels)] == 5.0
    assert ("llm_budget_remaining_usd", labels) not in values
    assert ("llm_budget_limit_usd", labels) not in values
    pipeline.record(budget("12", "10"))  # over budget: negative, never clipped
    assert exposition_values(_text(backend))[("llm_budget_remaining_usd", labels)] == -2.0


@settings(max_examples=30)
@given(
    st.lists(call_events, min_size=1, max_size=20), st.lists(hostile_text, min_size=3, max_size=3)
)
def test_promtool_accepts_every_exposition(events: list[CallEvent], hostile: list[str]) -> None:
    pipeline, backend = _pipeline(
        Settings(labels=LabelSettings(opt_in=["end_user", "user_email", "api_base", "stream"]))
    )
    for event in events:
        pipeline.record(event)
    pipeline.record(
        _event(requested_model=hostile[0], principal=Principal(team_id=hostile[1],
               end_user=hostile[2], user_email='"quoted" \\ back\nslash'))
    )  # fmt: skip
    body, _ = backend.exposition()
    result = promtool_check(body)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    for value in exposition_values(body.decode()).values():
        assert math.isfinite(value)


def test_promtool_accepts_the_replayed_examples_with_10kb_labels() -> None:
    pipeline, backend = _pipeline(Settings(labels=LabelSettings(max_value_length=4096)))
    with EXAMPLES.open(encoding="utf-8") as lines:
        replay(lines, pipeline)
    pipeline.record(_event(requested_model="x" * 10_000, model="\u2028é🚀\x00\"'\\"))
    body, _ = backend.exposition()
    result = promtool_check(body)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_openmetrics_on_request_and_strictly_valid() -> None:
    pipeline, backend = _pipeline()
    with EXAMPLES.open(encoding="utf-8") as lines:
        replay(lines, pipeline)
    body, content_type = backend.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode("utf-8")
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}  # strict parser: raises if invalid
    assert families["llm_requests"].type == "counter"
    assert families["llm_spend_usd"].unit == "usd"
    total = sum(s.value for s in families["llm_requests"].samples if s.name == "llm_requests_total")
    assert total == 19.0


def test_memory_and_prometheus_agree_on_every_series() -> None:
    memory = MemoryBackend()
    prometheus = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([memory, prometheus], Settings(labels=LabelSettings(opt_in=["stream"])))
    with EXAMPLES.open(encoding="utf-8") as lines:
        replay(lines, pipeline)
    for index in range(40):  # more shapes: streams, failures, budgets, rate limits
        pipeline.record(
            _event(stream=index % 2 == 0, first_token_at=100.1, cost_usd=Decimal("0.1"),
                   ratelimit_remaining_requests=100 - index, cache_hit=index % 3 == 0,
                   tokens=TokenUsage(input=index, output=index + 2, cached_input=index // 2))
        )  # fmt: skip
    expected = memory_as_samples(memory.snapshot())
    exposed = {
        key: value
        for key, value in exposition_values(_text(prometheus)).items()
        if not key[0].endswith("_created")
    }
    assert exposed.keys() == expected.keys()
    for key, value in expected.items():
        # Prometheus keeps float64 sums; the memory backend exact Decimals.
        assert exposed[key] == pytest.approx(value, rel=1e-12, abs=0), key


def test_wsgi_app_negotiates_and_compresses() -> None:
    pipeline, backend = _pipeline()
    pipeline.record(_event())
    app = backend.wsgi_app()
    for accept, encoding, prefix in [
        ("text/plain", "", "text/plain; version=0.0.4"),
        ("application/openmetrics-text; version=1.0.0", "gzip", "application/openmetrics-text"),
    ]:
        environ: dict[str, Any] = {"HTTP_ACCEPT": accept, "HTTP_ACCEPT_ENCODING": encoding}
        setup_testing_defaults(environ)
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], captured: dict[str, Any] = captured
        ) -> None:
            captured.update(status=status, headers=dict(headers))

        body = b"".join(app(environ, start_response))
        assert captured["status"] == "200 OK"
        assert captured["headers"]["Content-Type"].startswith(prefix)
        if encoding == "gzip":
            body = gzip.decompress(body)
        assert b"llm_requests_total{" in body


def test_asgi_app_serves_the_metrics() -> None:
    pipeline, backend = _pipeline()
    pipeline.record(_event())
    app = backend.asgi_app()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/metrics", "query_string": b"",
             "headers": [(b"accept", b"text/plain")]}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b"llm_requests_total{" in body


def test_own_http_server_on_a_free_port_stops_on_close() -> None:
    pipeline, backend = _pipeline()
    pipeline.record(_event())
    host, port = backend.serve(port=0)
    assert host == "127.0.0.1"
    assert b"llm_requests_total{" in http_get(f"http://127.0.0.1:{port}/metrics")
    pipeline.close()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_multiprocess_needs_the_directory() -> None:
    with pytest.raises(GatewayMetricsError) as info:
        PrometheusBackend(registry=CollectorRegistry(), multiprocess=True)
    assert info.value.key == "prometheus.multiprocess_dir"
    assert "PROMETHEUS_MULTIPROC_DIR" in info.value.allowed


@pytest.mark.parametrize("kind", ["missing", "under a file", "a file", "read-only"])
def test_an_unusable_multiprocess_directory_is_refused_at_start_up(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, point 13: refused when the backend is made, not at every event."""
    regular = tmp_path / "file"
    regular.write_text("x")
    path = {
        "missing": str(tmp_path / "nowhere"),
        "under a file": str(regular / "multiproc"),
        "a file": str(regular),
        "read-only": "/proc/self",  # a directory nobody, root included, can add a file to
    }[kind]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", path)
    with pytest.raises(GatewayMetricsError) as info:
        PrometheusBackend(registry=CollectorRegistry(), multiprocess=True)
    assert info.value.key == "PROMETHEUS_MULTIPROC_DIR"
    assert info.value.value == repr(path)
    assert info.value.allowed.startswith("a writable directory (")
    with pytest.raises(GatewayMetricsError) as direct:
        check_multiprocess_dir(path)
    assert direct.value.key == "prometheus.multiprocess_dir"


def test_a_writable_multiprocess_directory_passes_and_stays_clean(tmp_path: Path) -> None:
    check_multiprocess_dir(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
