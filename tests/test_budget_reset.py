"""When a budget resets (issue 13, item 2): ``llm_budget_reset_timestamp_seconds`` on
both paths, and under ``naming = "litellm"`` LiteLLM's
``litellm_{api_key,team,user,org,customer}_budget_remaining_hours_metric``, the hours
from the write (an injected wall clock) to the reset.

The gauge follows the budget book's one rule (``core/budget.py``'s ``supersedes``): a
late event writes nothing, a renamed alias removes the old series, an unknown reset
time never makes a series."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from gatewaymetrics import GatewayMetricsError, Pipeline, Settings
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.core.budget import supersedes
from gatewaymetrics.core.naming import Export
from gatewaymetrics.core.records import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    Principal,
    Status,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"
_LINES = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
PROXY = next(p for p in _LINES if p["scenario"] == "proxy_metadata")
KEY = PROXY["kwargs"]["standard_logging_object"]["metadata"]["user_api_key_hash"]
#: The captured payload's key budget resets at 2026-01-01T00:00:00+00:00.
KEY_RESET = 1_767_225_600.0
RESET = "llm_budget_reset_timestamp_seconds"
#: The fixed "now" of every pipeline here: 2025-12-31T12:00:00+00:00.
NOW = 1_767_182_400.0


def now() -> float:
    return NOW


def proxy_event(**meta: object) -> dict[str, Any]:
    """A fresh copy of the captured proxy-style payload's kwargs, metadata changed."""
    kwargs: dict[str, Any] = copy.deepcopy(PROXY["kwargs"])
    kwargs["standard_logging_object"]["metadata"].update(meta)
    kwargs["litellm_params"]["metadata"].update(meta)
    return kwargs


def prometheus(settings: Settings | None = None, *, fast: bool) -> tuple[Pipeline, Any]:
    registry = CollectorRegistry()
    backend = PrometheusBackend(registry=registry, multiprocess=False)
    return Pipeline([backend], settings, fast_path=fast, wall_clock=now), registry


def gauges(registry: CollectorRegistry, prefix: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every series of the families starting with ``prefix``: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith(prefix)
    }


def record(pipeline: Pipeline, *events: dict[str, Any]) -> None:
    for kwargs in events:
        pipeline.record_litellm(kwargs, PROXY["response_obj"], failed=False)


def key_series(alias: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (RESET, (("alias", alias), ("scope", "api_key"), ("subject", KEY)))


# -- native: both paths ------------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False])
def test_both_paths_write_the_reset_time_and_none_when_unknown(fast: bool) -> None:
    pipeline, registry = prometheus(fast=fast)
    record(pipeline, *(proxy_event(user_api_key_spend=1.0 + i) for i in range(3)))
    assert pipeline.fast_events == (2 if fast else 0)
    # the key's budget has a reset time; the team's and the user's have none: no series
    assert gauges(registry, RESET) == {key_series("search-prod"): KEY_RESET}
    assert datetime.fromtimestamp(KEY_RESET, UTC).isoformat() == "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize("fast", [True, False])
def test_a_reset_time_that_appears_later_is_written_on_both_paths(fast: bool) -> None:
    pipeline, registry = prometheus(fast=fast)
    record(pipeline, proxy_event(user_api_key_budget_reset_at=None, user_api_key_spend=1.0))
    record(pipeline, proxy_event(user_api_key_budget_reset_at=None, user_api_key_spend=2.0))
    assert gauges(registry, RESET) == {}
    # a reset time appears (a later period): written, by the fast path once admitted
    record(pipeline, proxy_event(user_api_key_spend=0.5), proxy_event(user_api_key_spend=0.75))
    assert gauges(registry, RESET) == {key_series("search-prod"): KEY_RESET}
    assert pipeline.fast_events == (2 if fast else 0)
    spend = gauges(registry, "llm_budget_spend_usd")
    # a reading without one is late for that period: nothing moves
    record(pipeline, proxy_event(user_api_key_budget_reset_at=None, user_api_key_spend=9.0))
    assert gauges(registry, RESET) == {key_series("search-prod"): KEY_RESET}
    assert gauges(registry, "llm_budget_spend_usd") == spend


@pytest.mark.parametrize("fast", [True, False])
def test_a_late_event_of_an_earlier_period_does_not_move_it(fast: bool) -> None:
    pipeline, registry = prometheus(fast=fast)
    record(pipeline, proxy_event(user_api_key_spend=1.0), proxy_event(user_api_key_spend=2.0))
    earlier = proxy_event(
        user_api_key_spend=7.0, user_api_key_budget_reset_at="2025-12-01T00:00:00Z"
    )
    record(pipeline, earlier)
    assert gauges(registry, RESET) == {key_series("search-prod"): KEY_RESET}
    later = proxy_event(user_api_key_spend=0.1, user_api_key_budget_reset_at="2026-02-01T00:00:00Z")
    record(pipeline, later)
    assert gauges(registry, RESET) == {key_series("search-prod"): 1_769_904_000.0}


@pytest.mark.parametrize("fast", [True, False])
def test_a_renamed_alias_removes_the_old_reset_series(fast: bool) -> None:
    pipeline, registry = prometheus(fast=fast)
    record(pipeline, proxy_event(user_api_key_spend=1.0), proxy_event(user_api_key_spend=2.0))
    renamed = {"user_api_key_alias": "search-renamed"}
    record(pipeline, proxy_event(user_api_key_spend=3.0, **renamed))
    record(pipeline, proxy_event(user_api_key_spend=4.0, **renamed))
    assert gauges(registry, RESET) == {key_series("search-renamed"): KEY_RESET}
    # the old name back (on the fast path: by its identity's bound series)
    record(pipeline, proxy_event(user_api_key_spend=5.0))
    assert gauges(registry, RESET) == {key_series("search-prod"): KEY_RESET}
    assert pipeline.fast_events == (3 if fast else 0)


# -- litellm naming: hours until the reset, from the injected wall clock --------------------

_SCOPES = (
    (BudgetScope.API_KEY, "c" * 64, "key-alias", "litellm_api_key_budget_remaining_hours_metric",
     {"hashed_api_key": "c" * 64, "api_key_alias": "key-alias"}),
    (BudgetScope.TEAM, "t1", "Team One", "litellm_team_budget_remaining_hours_metric",
     {"team": "t1", "team_alias": "Team One"}),
    (BudgetScope.USER, "alice", None, "litellm_user_budget_remaining_hours_metric",
     {"user": "alice"}),
    (BudgetScope.ORG, "org-1", "Acme", "litellm_org_budget_remaining_hours_metric",
     {"org_id": "org-1", "org_alias": "Acme"}),
    (BudgetScope.END_USER, "eu-1", None, "litellm_customer_budget_remaining_hours_metric",
     {"end_user": "eu-1"}),
)  # fmt: skip


def _event(*snapshots: BudgetSnapshot) -> CallEvent:
    call = CallRecord(status=Status.SUCCESS, principal=Principal(api_key="c" * 64))
    return CallEvent(call=call, budgets=snapshots)


def _memory(clock: Any = now) -> tuple[Pipeline, MemoryBackend]:
    backend = MemoryBackend()
    return Pipeline([backend], Settings(naming="litellm"), wall_clock=clock), backend


def test_litellm_hours_per_scope_family_with_litellms_labels() -> None:
    pipeline, memory = _memory()
    resets = [NOW + 3600 * hours for hours in (1.5, 24, 0.25, 720, -2)]
    pipeline.record(
        _event(
            *(
                BudgetSnapshot(
                    scope=scope,
                    subject=subject,
                    alias=alias,
                    spend_usd=Decimal("1"),
                    reset_at=reset,
                )
                for (scope, subject, alias, _, _), reset in zip(_SCOPES, resets, strict=True)
            )
        )
    )
    for (_, _, _, family, labels), reset in zip(_SCOPES, resets, strict=True):
        assert memory.series(family) == [labels]
        assert memory.value(family, **labels) == (reset - NOW) / 3600
    assert memory.value("litellm_team_budget_remaining_hours_metric", team="t1",
                        team_alias="Team One") == 24.0  # fmt: skip
    assert memory.metric("litellm_team_budget_remaining_hours_metric").spec.help == (
        "Remaining days for team budget to be reset"  # LiteLLM's text, verbatim
    )
    assert memory.metric("litellm_customer_budget_remaining_hours_metric").spec.help == (
        "Remaining hours for customer (end user) budget to be reset"
    )
    # no native reset family under litellm naming: the hours replace it
    assert RESET not in {metric.name for metric in pipeline.plan.exported}


def test_litellm_hours_are_computed_when_written_and_follow_the_budget_rule() -> None:
    clock = [NOW]
    pipeline, memory = _memory(lambda: clock[0])
    family = "litellm_team_budget_remaining_hours_metric"
    labels = {"team": "t1", "team_alias": "Team One"}

    def team(spend: str, reset: float | None, alias: str = "Team One") -> CallEvent:
        return _event(BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias=alias,
                                     spend_usd=Decimal(spend), reset_at=reset))  # fmt: skip

    pipeline.record(team("1", NOW + 7200))
    assert memory.value(family, **labels) == 2.0
    clock[0] = NOW + 1800
    pipeline.record(team("2", NOW + 7200))
    assert memory.value(family, **labels) == 1.5
    # a late event of an earlier period: nothing written
    pipeline.record(team("9", NOW + 60))
    assert memory.value(family, **labels) == 1.5
    # an unknown reset time in the same period: no series written, the old one stays
    pipeline.record(team("3", None))
    assert memory.value(family, **labels) == 1.5
    # a renamed alias: the old series removed (a removal is not transformed)
    pipeline.record(team("4", NOW + 7200, alias="Team 1"))
    assert memory.series(family) == [{"team": "t1", "team_alias": "Team 1"}]
    assert memory.value(family, team="t1", team_alias="Team 1") == 1.5


def test_a_budget_without_a_reset_time_has_no_litellm_hours_series() -> None:
    pipeline, memory = _memory()
    pipeline.record(
        _event(BudgetSnapshot(scope=BudgetScope.USER, subject="alice", spend_usd=Decimal("1")))
    )
    assert memory.series("litellm_user_budget_remaining_hours_metric") == []
    assert memory.sum("llm_budget_spend_usd", scope="user", subject="alice") == 1.0


@pytest.mark.parametrize("fast", [True, False])
def test_litellm_hours_on_both_paths_of_a_payload(fast: bool) -> None:
    pipeline, registry = prometheus(Settings(naming="litellm"), fast=fast)
    record(pipeline, *(proxy_event(user_api_key_spend=1.0 + i) for i in range(3)))
    assert pipeline.fast_events == (2 if fast else 0)
    labels = (("api_key_alias", "search-prod"), ("hashed_api_key", KEY))
    hours = {
        key: value
        for key, value in gauges(registry, "litellm_").items()
        if key[0].endswith("_budget_remaining_hours_metric")
    }
    # the key's budget has a reset time (12 hours after NOW); the team's and user's none
    assert hours == {("litellm_api_key_budget_remaining_hours_metric", labels): 12.0}
    assert (KEY_RESET - NOW) / 3600 == 12.0


# -- the rule, for all sequences of readings ------------------------------------------------

_resets = st.sampled_from([None, NOW - 3600.0, NOW + 5400.0, NOW + 86_400.0, NOW + 0.1])
_spends = st.sampled_from(["0", "0.5", "1", "2.25", "7"])


@given(readings=st.lists(st.tuples(_spends, _resets), min_size=1, max_size=8))
def test_the_reset_gauge_is_the_last_accepted_readings(
    readings: list[tuple[str, float | None]],
) -> None:
    """For all sequences of one budget's readings: the native gauge holds the reset time
    of the last reading the book's rule accepted (no series while none had one), and the
    litellm family the hours from the fixed clock to it."""
    native = MemoryBackend()
    native_pipeline = Pipeline([native], wall_clock=now)
    litellm_pipeline, litellm = _memory()
    accepted: tuple[Decimal, float | None] | None = None
    for spend, reset in readings:
        event = _event(BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1",
                                      spend_usd=Decimal(spend), reset_at=reset))  # fmt: skip
        native_pipeline.record(event)
        litellm_pipeline.record(event)
        if accepted is None or supersedes(Decimal(spend), reset, *accepted):
            accepted = (Decimal(spend), reset)
    assert accepted is not None
    expected = accepted[1]
    family = "litellm_team_budget_remaining_hours_metric"
    if expected is None:
        assert native.series(RESET) == []
        assert litellm.series(family) == []
    else:
        assert native.value(RESET, scope="team", subject="t1", alias="") == expected
        assert litellm.value(family, team="t1", team_alias="") == (expected - NOW) / 3600


# -- the table's rule -------------------------------------------------------------------------


def test_an_unknown_transform_names_the_key_and_the_allowed_values() -> None:
    with pytest.raises(GatewayMetricsError) as info:
        Export(name="x_metric", help="x", transform="days_until")
    assert info.value.key == "exports.x_metric.transform"
    assert info.value.value == "'days_until'"
    assert info.value.allowed == '"" (the value as it is), hours_until'
    assert Export(name="x_metric", help="x", transform="hours_until").transform == "hours_until"


def test_a_transformed_export_of_a_gauge_group_is_transformed_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fan-out applies a transform wherever a bound handle leads, a gauge group's
    too (no shipped naming transforms one; a naming table may)."""
    from gatewaymetrics.core import catalog
    from gatewaymetrics.core.naming import NATIVE_NAMES, Naming

    export = Export(name="x_limit_in_hours_from_now", help="x", labels=(("who", "subject"),),
                    transform="hours_until")  # fmt: skip
    naming = Naming(names=NATIVE_NAMES, duration_buckets=(1.0,), per_token_buckets=(1.0,),
                    exports={"budget_limit": (export,)})  # fmt: skip
    monkeypatch.setitem(catalog.NAMINGS, "test", naming)
    values = {}
    for fast in (True, False):
        pipeline, registry = prometheus(Settings(naming="test"), fast=fast)
        record(pipeline, *(proxy_event(user_api_key_spend=1.0 + i) for i in range(3)))
        assert pipeline.fast_events == (2 if fast else 0)
        values[fast] = gauges(registry, "x_limit_in_hours_from_now")
    # the key's limit is 10.0, its team's 50.0, its user's 5.0: read as Unix times
    assert (
        values[True]
        == values[False]
        == {
            ("x_limit_in_hours_from_now", (("who", subject),)): (limit - NOW) / 3600
            for subject, limit in ((KEY, 10.0), ("team-search", 50.0), ("alice", 5.0))
        }
    )
