"""The shipped dashboard and rules, tested (issue 13, item 3): ``promtool check rules``
and ``promtool test rules`` on deploy/prometheus, the Grafana dashboard's shape, and a
real Prometheus that scrapes two pipelines fed by real LiteLLM calls (``mock_response``,
no network) and evaluates every PromQL expression of the dashboard, of the rules and of
docs/operations.md: each must parse and return at least one series with a number.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type stubs
from prometheus_client import CollectorRegistry

from gatewaymetrics import Metric, Pipeline, Sample, Settings
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.testing import call_event
from tests.conftest import require_module
from tests.integration.test_litellm_real import CALLBACK_LISTS, HOW
from tests.promtools import (
    PrometheusServer,
    exposition_values,
    prometheus_server,
    require_binary,
)

pytestmark = [
    pytest.mark.integration,
    # LiteLLM's own pydantic models warn about ReadOnly TypedDict items at first use.
    pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning"),
]

litellm: Any = require_module("litellm", HOW)
adapter: Any = require_module("gatewaymetrics.adapters.litellm", HOW)
driver: Any = require_module("gatewaymetrics.adapters.litellm_driver", HOW)
demo: Any = require_module("gatewaymetrics.demo", HOW)

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus"
RULE_FILES = ("recording_rules.yml", "alerting_rules.yml")
DASHBOARD = ROOT / "deploy" / "grafana" / "gatewaymetrics.json"
OPERATIONS = ROOT / "docs" / "operations.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

#: Grafana's variables, as the dashboard's "All" choice and a short range resolve them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$model": ".*",
    "$team": ".*",
    "$api_key": ".*",
}
#: A trailing threshold (``> 0.05``, ``< 0.1 >= 0``): stripped, so that the left side,
#: which must return series on any traffic, is what is evaluated.
THRESHOLD = re.compile(r"(\s*(?:[<>]=?|==|!=)\s*-?[0-9.]+)+\s*$")
LABEL_VALUES = re.compile(r"^label_values\((?P<metric>[^,]+),\s*(?P<label>\w+)\)$")
PROMQL_BLOCK = re.compile(r"^```promql\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
DEMO_CALLS = 40  # the seeded demo mix: chats, streams, embeddings, failures, fallbacks
MESSAGES = [{"role": "user", "content": "Summarise the gateway metrics in one line."}]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rules(kind: str) -> list[dict[str, Any]]:
    """Every rule of kind ``record`` or ``alert`` in the rule files, in file order."""
    found: list[dict[str, Any]] = []
    for name in RULE_FILES:
        document = yaml.safe_load((RULES_DIR / name).read_text(encoding="utf-8"))
        for group in document["groups"]:
            found.extend(rule for rule in group["rules"] if kind in rule)
    return found


def _dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def _targets() -> list[tuple[str, str]]:
    """(panel title and target, expr) for every target of every panel of the dashboard."""
    return [
        (f"{panel['title']!r} {target['refId']}", target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", ())
    ]


# -- promtool -----------------------------------------------------------------------


def test_promtool_check_rules_finds_every_rule() -> None:
    result = _promtool("check", "rules", *RULE_FILES)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "Checking recording_rules.yml\n  SUCCESS: 7 rules found\n\n"
        "Checking alerting_rules.yml\n  SUCCESS: 9 rules found\n\n"
    )


def test_promtool_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "rules_test.yml")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "Unit Testing:  rules_test.yml\n  SUCCESS\n\n",
        "",
    )


def test_every_alert_fires_in_a_unit_test_and_stays_quiet_in_another() -> None:
    tests = yaml.safe_load((RULES_DIR / "rules_test.yml").read_text(encoding="utf-8"))
    assert tests["rule_files"] == list(RULE_FILES)
    firing: dict[str, set[str]] = {}
    quiet: dict[str, set[str]] = {}
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            into = firing if check["exp_alerts"] else quiet
            into.setdefault(check["alertname"], set()).add(case["name"])
            for alert in check["exp_alerts"]:  # exact labels and annotations, always
                assert set(alert) == {"exp_labels", "exp_annotations"}
                assert set(alert["exp_annotations"]) == {"summary", "description"}
    alerts = [rule["alert"] for rule in _rules("alert")]
    assert sorted(firing) == sorted(quiet) == sorted(alerts)
    for name in alerts:
        assert quiet[name] - firing[name], f"{name} is quiet only where it also fires"
    # Every recorded series is checked by value somewhere.
    checked = {
        re.split(r"[{\s]", check["expr"])[0]
        for case in tests["tests"]
        for check in case.get("promql_expr_test", ())
    }
    assert checked == {rule["record"] for rule in _rules("record")}


def test_every_alert_states_its_threshold_and_has_a_severity() -> None:
    for rule in _rules("alert"):
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert "threshold" in rule["annotations"]["description"], rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]


# -- the dashboard ----------------------------------------------------------------------


def test_the_dashboard_is_importable_with_a_datasource_variable() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("model", "team", "api_key"):
        assert variables[name]["datasource"] == DATASOURCE
        assert variables[name]["allValue"] == ".*"
        assert LABEL_VALUES.match(variables[name]["query"]["query"]), name
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        if panel["type"] == "row":
            assert "targets" not in panel
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    # No two panels overlap on Grafana's 24-column grid.
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


def test_every_alert_is_explained_in_the_operations_guide() -> None:
    guide = OPERATIONS.read_text(encoding="utf-8")
    for rule in _rules("alert"):
        assert f"`{rule['alert']}`" in guide, rule["alert"]


# -- every expression against a real Prometheus -------------------------------------


def _inline_recorded(expr: str, recorded: dict[str, str]) -> str:
    """``expr`` with each recorded series replaced by its rule's expression: the alerts
    are evaluated as the rules would feed them, without loading rules into the server."""
    for name, definition in recorded.items():
        expr = re.sub(rf"(?<![\w:]){re.escape(name)}(?![\w:])", f"({definition.strip()})", expr)
    return expr


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every expression the dashboard, the rules and the operations
    guide hold, ready to evaluate."""
    found: list[tuple[str, str]] = []
    for title, expr in _targets():
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        found.append((f"dashboard panel {title}", expr))
    for variable in _dashboard()["templating"]["list"][1:]:
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match is not None, variable["name"]
        found.append(
            (
                f"dashboard variable {variable['name']}",
                f"count by ({match['label']}) ({match['metric']})",
            )
        )
    recorded = {rule["record"]: rule["expr"] for rule in _rules("record")}
    for name, expr in recorded.items():
        found.append((f"recording rule {name}", expr))
    for rule in _rules("alert"):
        left = THRESHOLD.sub("", rule["expr"].strip())
        assert left != rule["expr"].strip(), f"{rule['alert']}: no threshold to strip"
        found.append((f"alert {rule['alert']}", _inline_recorded(left, recorded)))
    guide = OPERATIONS.read_text(encoding="utf-8")
    blocks = list(PROMQL_BLOCK.finditer(guide))
    assert len(blocks) == guide.count("```promql"), "a promql fence the pattern misses"
    for block in blocks:
        line = guide.count("\n", 0, block.start()) + 1
        found.append((f"docs/operations.md:{line}", _inline_recorded(block["body"], recorded)))
    return found


class FlakyBackend:
    """A backend that raises on its next ``fail_next`` writes, then records nothing."""

    name = "flaky"

    def __init__(self) -> None:
        self.fail_next = 0

    def declare(self, metrics: Sequence[Metric]) -> None:
        pass

    def apply(self, samples: Sequence[Sample]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("disk full")

    def close(self) -> None:
        pass


@pytest.fixture
def callbacks() -> Iterator[None]:
    """LiteLLM's callback lists and cache, restored after the test."""
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    saved_cache = litellm.cache
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        litellm.cache = saved_cache


def _total(backend: PrometheusBackend, family: str) -> float:
    values = exposition_values(backend.exposition()[0].decode("utf-8"))
    return sum(v for (name, _), v in values.items() if name == family)


def _wait_scraped(server: PrometheusServer, backend: PrometheusBackend, family: str) -> None:
    """Wait until Prometheus holds the backend's current total of ``family`` (LiteLLM may
    still be logging: the total is read again on every look)."""
    assert backend.address is not None  # serving
    query = f'sum({family}{{instance="127.0.0.1:{backend.address[1]}"}})'
    deadline = time.monotonic() + 30
    while True:
        total = _total(backend, family)
        result = server.query(query)
        if result and float(result[0]["value"][1]) == total:
            return
        assert time.monotonic() < deadline, (query, result, total)
        time.sleep(0.25)


async def _extra_calls(logger: Any) -> None:
    """What the demo mix lacks: provider rate-limit headers with cached and reasoning
    tokens, an unpriced model, and a response-cache hit."""
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    litellm.callbacks = [logger]
    with_headers = litellm.ModelResponse(
        model="gpt-4o",
        choices=[{"message": {"role": "assistant", "content": "Headers attached."}}],
        usage={
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 40},
            "completion_tokens_details": {"reasoning_tokens": 20},
        },
    )
    with_headers._hidden_params = {
        "additional_headers": {
            "x-ratelimit-remaining-requests": "99",
            "x-ratelimit-remaining-tokens": "12000",
        }
    }
    await litellm.acompletion(model="gpt-4o", messages=MESSAGES, mock_response=with_headers)
    await litellm.acompletion(
        model="openai/gm-unpriced-model", messages=MESSAGES, mock_response="No price known."
    )
    litellm.cache = litellm.Cache(type="local")
    try:
        for _ in range(2):  # a miss, then (once the async cache write is done) a hit
            await litellm.acompletion(
                model="gpt-4o-mini", messages=MESSAGES, mock_response="Cached.", caching=True
            )
            await asyncio.sleep(0.5)
    finally:
        litellm.cache = None


def _one_round(
    server: PrometheusServer,
    gateway: PrometheusBackend,
    logger: Any,
    own: Pipeline,
    own_backend: PrometheusBackend,
    flaky: FlakyBackend,
) -> None:
    """One round of traffic, then wait until Prometheus has scraped all of it. Run twice,
    so every counter and bucket moves between two scrapes (rates are not zero)."""
    asyncio.run(driver.drive(demo.demo_calls(DEMO_CALLS), logger))
    asyncio.run(_extra_calls(logger))
    # The self-observation pipeline: capped at one series per metric.
    own.record_litellm(None)  # a bare call; "kwargs" is an input problem
    own.record(call_event(model="beyond-the-cap"))  # a second series: overflow
    own.record("not an event")  # type: ignore[arg-type]  # dropped, internal_error
    flaky.fail_next = 1
    own.record(call_event(model="beyond-the-cap"))  # flaky raises: a backend error
    _wait_scraped(server, gateway, "llm_requests_total")
    _wait_scraped(server, own_backend, "gatewaymetrics_events_dropped_total")


def test_every_expression_returns_series_from_a_real_prometheus(callbacks: None) -> None:
    found = expressions()
    gateway = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([gateway])
    own_backend = PrometheusBackend(registry=CollectorRegistry())
    flaky = FlakyBackend()
    own = Pipeline([own_backend, flaky], Settings(series_cap=1))
    try:
        _, gateway_port = gateway.serve(port=0)
        _, own_port = own_backend.serve(port=0)
        jobs = (
            "  - job_name: gateway\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{gateway_port}', "
            f"'127.0.0.1:{own_port}']}}]\n"
        )
        logger = adapter.GatewayMetricsLogger(pipeline)
        with prometheus_server(jobs=jobs) as server:
            server.wait_for('sum(up{job="gateway"})', 2.0)
            for _ in range(2):
                _one_round(server, gateway, logger, own, own_backend, flaky)
            failed = []
            counts = {}
            for where, expr in found:
                try:
                    result = server.query(expr)
                except (OSError, AssertionError) as exc:  # a 400: the expression does not parse
                    failed.append((where, expr, repr(exc)))
                    continue
                values = [float(r["value"][1]) for r in result]
                counts[where] = len(result)
                if not any(math.isfinite(v) for v in values):
                    failed.append((where, expr, repr(values)))
            assert failed == []
            print(f"\n{len(found)} expressions evaluated; series each:")
            for where, count in counts.items():
                print(f"  {count:3d}  {where}")
    finally:
        pipeline.close()
        own.close()
