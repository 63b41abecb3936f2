"""LiteLLM's own ``PrometheusLogger`` and ours (``naming = "litellm"``) on the same real
events: every difference in family names, label names, label values and totals must
be on the documented list, the table "Documented differences" of
docs/migrating-from-litellm.md (the one place it lives: this test reads it), and every
row of that table must still be found.

The events (``tests/litellm_reference.py``): async call, stream, failure, rate limit,
Router fallback, proxy metadata with budgets, cache miss and hit; the SDK's sync call
apart, since LiteLLM's logger has no sync hook (``test_sync_calls_are_counted``).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import require_module

HOW = "install it with: make test (or pip install 'gatewaymetrics[litellm]')"
litellm: Any = require_module("litellm", HOW)

# after the skip checks
from prometheus_client import CollectorRegistry  # noqa: E402

from gatewaymetrics import Pipeline, Settings  # noqa: E402
from gatewaymetrics.adapters.litellm import GatewayMetricsLogger  # noqa: E402
from gatewaymetrics.backends.prometheus import PrometheusBackend, family_name  # noqa: E402
from gatewaymetrics.core.litellm_names import LITELLM  # noqa: E402
from tests import litellm_reference as reference  # noqa: E402
from tests.promtools import promtool_check  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning"),
]

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-litellm.md"
_SKIPPED = ("_created", "_bucket", "_sum")


class Difference(NamedTuple):
    kind: str  # missing-family, extra-family, missing-label, extra-label, none-value,
    #            value, total
    family: str
    label: str = ""


class Row(NamedTuple):
    kind: str
    family: str
    label: str
    why: str

    def covers(self, difference: Difference) -> bool:
        return (
            self.kind == difference.kind
            and fnmatch.fnmatchcase(difference.family, self.family)
            and fnmatch.fnmatchcase(difference.label, self.label or "")
        )


def documented() -> list[Row]:
    """The rows of the doc's "Documented differences" table."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Documented differences", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("kind", "") or set(cells[0]) <= {"-", ":"}:
            continue
        kind, family, label = (cell.replace("`", "") for cell in cells[:3])
        rows.append(Row(kind, family, label, cells[3]))
    return rows


def _counted(family: reference.Family) -> list[tuple[str, dict[str, str], float]]:
    return [s for s in family["samples"] if not s[0].endswith(_SKIPPED)]


def _total(family: reference.Family) -> float:
    return sum(value for _, _, value in _counted(family))


def _values(family: reference.Family, label: str) -> set[str]:
    return {labels[label] for _, labels, _ in family["samples"] if label in labels}


def differences(theirs: reference.Families, ours: reference.Families) -> Iterator[Difference]:
    """What tells our families from LiteLLM's, family by family."""
    for name in sorted(set(theirs) | set(ours)):
        mine, other = ours.get(name), theirs.get(name)
        in_theirs = other is not None and bool(_counted(other))
        in_ours = mine is not None and bool(_counted(mine))
        if not in_theirs and not in_ours:
            continue
        if not in_ours:
            yield Difference("missing-family", name)
            continue
        if not in_theirs:
            yield Difference("extra-family", name)
            continue
        assert mine is not None
        assert other is not None
        for label in sorted(set(other["labels"]) - set(mine["labels"])):
            yield Difference("missing-label", name, label)
        for label in sorted(set(mine["labels"]) - set(other["labels"])):
            yield Difference("extra-label", name, label)
        for label in sorted(set(other["labels"]) & set(mine["labels"])):
            theirs_values, our_values = _values(other, label), _values(mine, label)
            if "None" in theirs_values and "None" not in our_values:
                yield Difference("none-value", name, label)
                theirs_values = {"" if v == "None" else v for v in theirs_values}
            if theirs_values != our_values:
                yield Difference("value", name, label)
        # (hours until a reset are read from the clock when written: microseconds apart)
        if not math.isclose(_total(other), _total(mine), rel_tol=1e-9):
            yield Difference("total", name)


class Run(NamedTuple):
    theirs: reference.Families
    ours: reference.Families
    pipeline: Pipeline
    backend: PrometheusBackend


def _run(steps: list[str]) -> Run:
    backend = PrometheusBackend(registry=CollectorRegistry(), multiprocess=False)
    pipeline = Pipeline([backend], Settings(naming="litellm"))
    theirs = reference.run_scenario([GatewayMetricsLogger(pipeline)], steps=steps)
    body, _ = backend.exposition()
    names = {family_name(m.spec): sorted(m.label_names) for m in pipeline.plan.exported}
    return Run(theirs, reference.parse_exposition(body.decode(), names), pipeline, backend)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    result = _run([step.name for step in reference.STEPS if step.name != "sync"])
    yield result
    result.pipeline.close()


def test_every_difference_is_documented(run: Run) -> None:
    rows = documented()
    found = list(differences(run.theirs, run.ours))
    undocumented = [d for d in found if not any(row.covers(d) for row in rows)]
    assert undocumented == []
    stale = [row for row in rows if not any(row.covers(d) for d in found)]
    assert stale == []
    assert len(found) == 187
    assert len(rows) == 30


def test_the_families_litellm_fills_from_a_callback_are_ours_too(run: Run) -> None:
    exported = {export.name for exports in LITELLM.exports.values() for export in exports}
    assert exported <= set(run.theirs)  # every name is one of LiteLLM's 83 families
    assert len(run.theirs) == 83
    assert len(exported) == 46
    theirs = {name for name, family in run.theirs.items() if _counted(family)}
    ours = {name for name, family in run.ours.items() if _counted(family)}
    shared = sorted(theirs & ours)
    assert len(shared) == 23
    assert sorted(theirs - ours) == [
        "litellm_active_users",  # the proxy's database
        "litellm_check_batch_cost_jobs_polled",  # a proxy job
        "litellm_check_batch_cost_last_run_timestamp",
        "litellm_deployment_latency_per_output_token",  # another quantity: see the doc
        "litellm_deployment_state",  # the router's cooldown: LiteLLM's own class only
        "litellm_overhead_with_guardrails_latency_metric",
        "litellm_remaining_api_key_requests_for_model",  # the proxy's own rate limiter
        "litellm_remaining_api_key_tokens_for_model",
        "litellm_remaining_user_budget_metric",  # unlimited: LiteLLM +Inf, ours no series
        "litellm_teams_count",
        "litellm_total_users",
    ]


def test_values_agree_where_both_count(run: Run) -> None:
    """The same events give the same numbers: tokens, spend, cache, budgets."""
    for name in (
        "litellm_input_tokens_metric",
        "litellm_output_tokens_metric",
        "litellm_total_tokens_metric",
        "litellm_cache_hits_metric",
        "litellm_cache_misses_metric",
        "litellm_cached_tokens_metric",
        "litellm_requests_metric",
        "litellm_remaining_api_key_budget_metric",
        "litellm_remaining_team_budget_metric",
        "litellm_team_max_budget_metric",
    ):
        assert _total(run.ours[name]) == pytest.approx(_total(run.theirs[name]), rel=1e-12), name
    key = {"hashed_api_key": reference.KEY_HASH}
    ours = [
        value
        for _, labels, value in _counted(run.ours["litellm_proxy_total_requests_metric"])
        if labels["hashed_api_key"] == key["hashed_api_key"]
    ]
    assert ours == [1.0]


def _lint(exposition: bytes) -> set[str]:
    result = promtool_check(exposition)
    assert result.returncode in (0, 3), result.stderr  # 3: lint problems, parsed fine
    return set(result.stderr.splitlines())


def test_the_litellm_named_exposition_passes_promtool(run: Run) -> None:
    """promtool parses it, and finds no problem in it that LiteLLM's own exposition of
    the same families does not have (LiteLLM's hours gauges are not in base units)."""
    body, _ = run.backend.exposition()
    problems = _lint(body)
    assert problems == {
        'litellm_api_key_budget_remaining_hours_metric use base unit "seconds" instead of "hours"'
    }
    theirs = reference.run_reference(steps=["proxy_budgets"]).exposition.encode()
    assert problems <= _lint(theirs)


def test_the_litellm_named_openmetrics_exposition_parses(run: Run) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    body, content_type = run.backend.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert "litellm_proxy_total_requests_metric" in names
    assert "litellm_remaining_team_budget_metric" in names


def test_sync_calls_are_counted() -> None:
    """LiteLLM's logger has only async hooks: a sync SDK call is counted by ours only."""
    result = _run(["sync"])
    try:
        theirs = result.theirs.get("litellm_proxy_total_requests_metric")
        assert theirs is not None
        assert _counted(theirs) == []
        assert _total(result.ours["litellm_proxy_total_requests_metric"]) == 1.0
        assert _total(result.ours["litellm_total_tokens_metric"]) > 0
    finally:
        result.pipeline.close()
