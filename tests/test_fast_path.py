"""The pipeline's fast path: when it runs, what it binds, and that it keeps the
general path's promises (exact under threads, isolated backends, bounded memory).
tests/test_fast_path_equivalence.py proves it records what the general path records."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gatewaymetrics import Pipeline
from gatewaymetrics import fast_path as fast_path_module
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from tests.promtools import exposition_values

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"
_LINES = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
PROXY = next(p for p in _LINES if p["scenario"] == "proxy_metadata")
KEY = PROXY["kwargs"]["standard_logging_object"]["metadata"]["user_api_key_hash"]
IDENTITY = (("api_key", KEY), ("api_key_alias", "search-prod"), ("model", "gpt-4o-mini"),
            ("operation", "chat"), ("provider", "openai"), ("requested_model", "gpt-4o-mini"),
            ("team", "team-search"), ("team_alias", "search"), ("user", "alice"))  # fmt: skip
REQUESTS = ("llm_requests_total", tuple(sorted((*IDENTITY, ("error_type", ""),
                                                ("status", "success")))))  # fmt: skip


def exact(*amounts: float) -> float:
    """The sum of the amounts the floats stand for (their decimal text), as a gauge
    keeps it: the budget arithmetic of both paths (core/budget.py)."""
    return float(sum((Decimal(repr(amount)) for amount in amounts), Decimal(0)))


def proxy_event(**meta: object) -> dict[str, Any]:
    """A fresh copy of the captured proxy-style payload's kwargs, metadata changed."""
    kwargs: dict[str, Any] = copy.deepcopy(PROXY["kwargs"])
    kwargs["standard_logging_object"]["metadata"].update(meta)
    kwargs["litellm_params"]["metadata"].update(meta)
    return kwargs


def _prometheus(**kwargs: Any) -> tuple[Pipeline, PrometheusBackend]:
    backend = PrometheusBackend(registry=CollectorRegistry())
    return Pipeline([backend], **kwargs), backend


def _values(backend: PrometheusBackend) -> dict[Any, float]:
    return {
        key: value
        for key, value in exposition_values(backend.exposition()[0].decode()).items()
        if not key[0].endswith("_created")
    }


def _record(pipeline: Pipeline, events: Iterable[dict[str, Any]]) -> None:
    for kwargs in events:
        pipeline.record_litellm(kwargs, PROXY["response_obj"], failed=False)


def test_the_first_event_of_an_identity_is_learnt_the_next_are_fast() -> None:
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event(user_api_key_spend=1.0 + i) for i in range(5)])
    assert pipeline.fast_events == 4
    values = _values(backend)
    assert values[REQUESTS] == 5.0
    budget = (("alias", "search-prod"), ("scope", "api_key"), ("subject", KEY))
    assert values[("llm_budget_spend_usd", budget)] == exact(5.0, 1.35e-05)
    assert values[("llm_budget_remaining_usd", budget)] == exact(10.0, -5.0, -1.35e-05)


def test_memory_backends_keep_the_general_path() -> None:
    memory = MemoryBackend()
    prometheus = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([memory, prometheus])
    _record(pipeline, [proxy_event() for _ in range(3)])
    assert pipeline.fast_events == 0  # exact Decimal money needs the records
    assert memory.sum("llm_requests_total") == 3.0


def test_two_prometheus_backends_both_get_every_fast_event() -> None:
    first = PrometheusBackend(registry=CollectorRegistry())
    second = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([first, second])
    _record(pipeline, [proxy_event(user_api_key_spend=1.0 + i) for i in range(4)])
    assert pipeline.fast_events == 3
    assert _values(first) == _values(second)
    assert _values(first)[REQUESTS] == 4.0


class Failing(PrometheusBackend):
    """A binding backend whose bound updates fail."""

    def apply_bound(self, updates: Iterable[tuple[Any, Any]]) -> None:
        raise OSError("disk full")


def test_a_failing_backend_is_counted_and_the_others_still_get_the_event() -> None:
    failing = Failing(registry=CollectorRegistry(), name="failing")
    healthy = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([failing, healthy])
    _record(pipeline, [proxy_event(user_api_key_spend=1.0 + i) for i in range(3)])
    values = _values(healthy)
    assert values[REQUESTS] == 3.0
    errors = ("gatewaymetrics_backend_errors_total", (("backend", "failing"),))
    # one write per fast event (its call's metrics and budgets together, under the
    # book's lock), for the two fast events; the first went the general way
    assert values[errors] == 2.0


def test_an_unlimited_budget_has_no_limit_series_on_the_fast_path_either() -> None:
    pipeline, backend = _prometheus()
    team = (("alias", "search"), ("scope", "team"), ("subject", "team-search"))
    _record(pipeline, [proxy_event(user_api_key_team_max_budget=50.0)])
    assert _values(backend)[("llm_budget_limit_usd", team)] == 50.0
    _record(pipeline, [proxy_event(user_api_key_team_max_budget=None,
                                   user_api_key_team_spend=4.0 + i) for i in range(3)])  # fmt: skip
    values = _values(backend)
    assert ("llm_budget_limit_usd", team) not in values
    assert ("llm_budget_remaining_usd", team) not in values
    assert values[("llm_budget_spend_usd", team)] == exact(6.0, 1.35e-05)
    _record(pipeline, [proxy_event(user_api_key_team_max_budget=60.0,
                                   user_api_key_team_spend=7.0)])  # fmt: skip
    values = _values(backend)
    assert values[("llm_budget_limit_usd", team)] == 60.0
    assert values[("llm_budget_remaining_usd", team)] == exact(60.0, -7.0, -1.35e-05)
    assert pipeline.fast_events == 4  # all but the first: every series was admitted by it


def test_a_late_event_never_moves_a_budget_back_on_the_fast_path() -> None:
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event(user_api_key_spend=s) for s in (1.0, 3.0, 2.0)])
    budget = (("alias", "search-prod"), ("scope", "api_key"), ("subject", KEY))
    assert _values(backend)[("llm_budget_spend_usd", budget)] == exact(3.0, 1.35e-05)
    assert pipeline.fast_events == 2


def test_many_threads_lose_nothing_on_the_fast_path() -> None:
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event()])  # learn the identity

    def work(index: int) -> None:
        _record(pipeline, [proxy_event(user_api_key_spend=1.0 + index + i / 1000)
                           for i in range(200)])  # fmt: skip

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = _values(backend)
    assert values[REQUESTS] == 1601.0
    assert pipeline.fast_events == 1600
    spend = ("llm_spend_usd_total", IDENTITY)
    assert values[spend] == pytest.approx(1601 * 1.35e-05, rel=1e-12)
    budget = (("alias", "search-prod"), ("scope", "api_key"), ("subject", KEY))
    newest = exact(1.0 + 7 + 199 / 1000, 1.35e-05)
    assert values[("llm_budget_spend_usd", budget)] == newest


def test_the_identity_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_path_module, "IDENTITY_CACHE", 4)
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event(user_api_key_user_id=f"user-{i}") for i in range(10)])
    assert pipeline.fast_identities <= 4
    _record(pipeline, [proxy_event(user_api_key_user_id="user-9")])  # still remembered
    assert pipeline.fast_events == 1
    total = sum(v for (name, _), v in _values(backend).items() if name == "llm_requests_total")
    assert total == 11.0


def test_a_closed_pipeline_drops_fast_events_too() -> None:
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event()])
    pipeline.close()
    _record(pipeline, [proxy_event()])
    values = _values(backend)
    assert values[REQUESTS] == 1.0
    assert values[("gatewaymetrics_events_dropped_total", (("reason", "closed"),))] == 1.0


def test_a_time_the_parser_would_report_sends_the_event_the_general_way() -> None:
    pipeline, backend = _prometheus()
    ok = proxy_event()
    ok["api_call_start_time"] = datetime(2026, 11, 27, 6, 55, 56)  # naive, as LiteLLM passes it
    early = proxy_event()
    early["api_call_start_time"] = datetime(1960, 1, 1)  # before 1970: reported
    _record(pipeline, [ok, copy.deepcopy(ok), early])
    assert pipeline.fast_events == 1  # the second; the third went the general way
    values = _values(backend)
    assert values[REQUESTS] == 3.0
    problem = ("gatewaymetrics_input_problems_total", (("field", "upstream_started_at"),))
    assert values[problem] == 1.0


def _budget_lines(backend: PrometheusBackend) -> list[str]:
    text = backend.exposition()[0].decode()
    return [line for line in text.splitlines() if line.startswith("llm_budget_") and KEY in line]


def test_a_renamed_alias_leaves_one_series_per_budget_on_the_fast_path() -> None:
    pipeline, backend = _prometheus()
    _record(pipeline, [proxy_event(user_api_key_spend=1.0), proxy_event(user_api_key_spend=2.0)])
    renamed = {"user_api_key_alias": "search-renamed"}
    _record(pipeline, [proxy_event(user_api_key_spend=3.0, **renamed),  # learnt: general
                       proxy_event(user_api_key_spend=4.0, **renamed)])  # fmt: skip
    assert pipeline.fast_events == 2
    spend, left = exact(4.0, 1.35e-05), exact(10.0, -4.0, -1.35e-05)
    series = f'alias="search-renamed",scope="api_key",subject="{KEY}"'
    assert _budget_lines(backend) == [
        f"llm_budget_limit_usd{{{series}}} 10.0",
        f"llm_budget_spend_usd{{{series}}} {spend!r}",
        f"llm_budget_remaining_usd{{{series}}} {left!r}",
        f"llm_budget_reset_timestamp_seconds{{{series}}} 1.7672256e+09",
    ]
    # the old name back, by its identity's bound series: renamed on the fast path
    _record(pipeline, [proxy_event(user_api_key_spend=5.0)])
    assert pipeline.fast_events == 3
    spend, left = exact(5.0, 1.35e-05), exact(10.0, -5.0, -1.35e-05)
    series = f'alias="search-prod",scope="api_key",subject="{KEY}"'
    assert _budget_lines(backend) == [
        f"llm_budget_limit_usd{{{series}}} 10.0",
        f"llm_budget_spend_usd{{{series}}} {spend!r}",
        f"llm_budget_remaining_usd{{{series}}} {left!r}",
        f"llm_budget_reset_timestamp_seconds{{{series}}} 1.7672256e+09",
    ]
    _record(pipeline, [proxy_event(user_api_key_spend=4.5, **renamed)])  # late: nothing
    assert _budget_lines(backend)[1] == f"llm_budget_spend_usd{{{series}}} {spend!r}"
