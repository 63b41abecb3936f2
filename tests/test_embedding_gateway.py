"""The core embedded in another gateway: examples/gateway/app.py driven over HTTP.

One scenario (keys of two teams, chats and embeddings, a priced and an unpriced model,
an upstream failure, a rate limit, a malformed body, unknown and missing keys, a key
that spends past its budget and is then refused) runs twice: once with the app's own
Prometheus pipeline, read back by scraping ``/metrics``, once with a ``MemoryBackend``
pipeline injected into ``create_app``. Both must give the same exact numbers, which
are worked out by hand from the price table below. A fake clock, advanced only by the
upstream, makes every duration exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from examples.gateway.app import (
    CHAT_PATH,
    EMBEDDINGS_PATH,
    Account,
    Price,
    Upstream,
    create_app,
    stub_upstream,
)
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gatewaymetrics import Pipeline, fingerprint
from gatewaymetrics.backends.memory import MemoryBackend

ALICE = "sk-test-alice-0001"
BOB = "sk-test-bob-0002"
CAROL = "sk-test-carol-0003"
UNKNOWN = "sk-test-unknown-9999"
RAW_KEYS = (ALICE, BOB, CAROL, UNKNOWN)

KEYS = {
    ALICE: Account(team="team-a", user="alice", budget_usd=Decimal("1.00"), alias="alice-laptop"),
    BOB: Account(team="team-a", user="bob"),  # unlimited
    CAROL: Account(team="team-b", user="carol", budget_usd=Decimal("0.001"), alias="carol-ci"),
}
PRICES = {
    "chat-small": Price(input_per_1k=Decimal("0.50"), output_per_1k=Decimal("1.50")),
    "embed-small": Price(input_per_1k=Decimal("0.02")),
}
# The stub answers every chat with five words: five completion tokens.
LATENCY = {CHAT_PATH: 0.25, EMBEDDINGS_PATH: 0.125}  # binary fractions: exact float sums


def fp(raw: str) -> str:
    digest = fingerprint(raw)
    assert digest is not None
    return digest


class FakeClock:
    """Epoch seconds that move only when the upstream says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def timed_upstream(clock: FakeClock) -> Upstream:
    """The stub upstream, taking ``LATENCY`` on the fake clock (failures too)."""

    async def upstream(path: str, body: dict[str, Any], headers: Mapping[str, str]) -> Any:
        clock.now += LATENCY[path]
        return await stub_upstream(path, body, headers)

    return upstream


def chat(*contents: str, model: str = "chat-small") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": c} for c in contents]}


def auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def drive(client: TestClient) -> None:
    """The scenario; every answer's status is checked on the way."""
    steps: list[tuple[str, dict[str, str], object, int]] = [
        # 1. alice, chat-small: 3 + 5 tokens, 3 * 0.0005 + 5 * 0.0015 = 0.0090
        (CHAT_PATH, auth(ALICE), chat("one two three"), 200),
        # 2. alice, embed-small: 3 tokens, 3 * 0.00002 = 0.00006
        (
            EMBEDDINGS_PATH,
            auth(ALICE),
            {"model": "embed-small", "input": ["alpha beta", "gamma"]},
            200,
        ),
        # 3. bob, chat-small: 7 + 5 tokens, 0.0035 + 0.0075 = 0.0110
        (CHAT_PATH, auth(BOB), chat("be brief", "what is two plus two"), 200),
        # 4. bob, a model without a price: 2 + 5 tokens, unpriced
        (CHAT_PATH, auth(BOB), chat("hi there", model="mystery-model"), 200),
        # 5. bob, embed-small, a single string: 4 tokens, 0.00008
        (EMBEDDINGS_PATH, auth(BOB), {"model": "embed-small", "input": "one two three four"}, 200),
        # 6. bob, the upstream fails (503): the gateway answers 502
        (CHAT_PATH, auth(BOB), chat("hello", model="broken"), 502),
        # 7. alice, the upstream rate-limits
        (CHAT_PATH, {**auth(ALICE), "x-simulate": "rate-limit"}, chat("hello"), 429),
        # 8. bob, no model: refused before the upstream
        (CHAT_PATH, auth(BOB), {"messages": []}, 400),
        # 9., 10. an unknown key, no key
        (CHAT_PATH, auth(UNKNOWN), chat("hello"), 401),
        (EMBEDDINGS_PATH, {}, {"model": "embed-small", "input": "hello"}, 401),
        # 11. carol, chat-small: 4 + 5 tokens, 0.0020 + 0.0075 = 0.0095, past her 0.001
        (CHAT_PATH, auth(CAROL), chat("a b c d"), 200),
        # 12. carol again: over budget, refused before the upstream
        (CHAT_PATH, auth(CAROL), chat("again"), 429),
    ]
    for path, headers, body, status in steps:
        response = client.post(path, headers=headers, json=body)
        assert response.status_code == status, (path, body, response.text)
    # 13. alice repeats call 1 (the same series twice: a float doubling stays exact)
    answer = client.post(CHAT_PATH, headers=auth(ALICE), json=chat("one two three"))
    assert answer.status_code == 200
    assert answer.json()["model"] == "chat-small"
    assert answer.json()["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


# (metric, labels, exact value) after the scenario. Sums over every series that has
# these labels; for histograms the _count and _sum of the matching series.
EXPECTED: list[tuple[str, dict[str, str], Decimal]] = [
    # requests by outcome and team
    ("llm_requests_total", {}, Decimal(13)),
    ("llm_requests_total", {"status": "success", "error_type": "", "team": "team-a"}, Decimal(6)),
    ("llm_requests_total", {"status": "success", "error_type": "", "team": "team-b"}, Decimal(1)),
    (
        "llm_requests_total",
        {"status": "failure", "error_type": "provider_error", "team": "team-a"},
        Decimal(1),
    ),
    (
        "llm_requests_total",
        {"status": "failure", "error_type": "rate_limited", "team": "team-a"},
        Decimal(1),
    ),
    (
        "llm_requests_total",
        {"status": "failure", "error_type": "bad_request", "team": "team-a"},
        Decimal(1),
    ),
    # unknown and missing keys: no team, no key fingerprint, no model
    (
        "llm_requests_total",
        {"status": "failure", "error_type": "auth", "team": "", "api_key": "", "model": ""},
        Decimal(2),
    ),
    (
        "llm_requests_total",
        {"status": "failure", "error_type": "budget_exceeded", "team": "team-b"},
        Decimal(1),
    ),
    ("llm_requests_total", {"operation": "embeddings"}, Decimal(3)),
    ("llm_requests_total", {"provider": "stub", "requested_model": "broken"}, Decimal(1)),
    # tokens: team-a input 3 + 3 + 7 + 2 + 4 + 3, output 5 + 5 + 5 + 5; team-b 4 and 5
    ("llm_tokens_total", {"team": "team-a", "token_type": "input"}, Decimal(22)),
    ("llm_tokens_total", {"team": "team-a", "token_type": "output"}, Decimal(20)),
    ("llm_tokens_total", {"team": "team-b", "token_type": "input"}, Decimal(4)),
    ("llm_tokens_total", {"team": "team-b", "token_type": "output"}, Decimal(5)),
    ("llm_tokens_total", {"model": "embed-small", "token_type": "input"}, Decimal(7)),
    ("llm_tokens_total", {"model": "embed-small", "token_type": "output"}, Decimal(0)),
    # spend: known costs only, exact sums of the price table
    ("llm_spend_usd_total", {}, Decimal("0.03864")),
    ("llm_spend_usd_total", {"team": "team-a"}, Decimal("0.02914")),
    ("llm_spend_usd_total", {"team": "team-b"}, Decimal("0.0095")),
    ("llm_spend_usd_total", {"api_key": fp(ALICE)}, Decimal("0.01806")),
    ("llm_spend_usd_total", {"api_key": fp(BOB)}, Decimal("0.01108")),
    ("llm_spend_usd_total", {"user": "bob", "model": "embed-small"}, Decimal("0.00008")),
    ("llm_spend_usd_total", {"model": "mystery-model"}, Decimal(0)),
    ("llm_unpriced_requests_total", {}, Decimal(1)),
    ("llm_unpriced_requests_total", {"user": "bob", "model": "mystery-model"}, Decimal(1)),
    # budgets: spend after each key's last call
    ("llm_budget_spend_usd", {"scope": "api_key", "subject": fp(ALICE)}, Decimal("0.01806")),
    ("llm_budget_limit_usd", {"subject": fp(ALICE), "alias": "alice-laptop"}, Decimal("1.00")),
    ("llm_budget_remaining_usd", {"subject": fp(ALICE)}, Decimal("0.98194")),
    ("llm_budget_spend_usd", {"subject": fp(BOB), "alias": ""}, Decimal("0.01108")),
    ("llm_budget_spend_usd", {"subject": fp(CAROL), "alias": "carol-ci"}, Decimal("0.0095")),
    ("llm_budget_limit_usd", {"subject": fp(CAROL)}, Decimal("0.001")),
    ("llm_budget_remaining_usd", {"subject": fp(CAROL)}, Decimal("-0.0085")),
    # durations: 0.25 per chat and 0.125 per embedding that reached the upstream; 0 for
    # the four refused before it
    ("llm_request_duration_seconds_count", {}, Decimal(13)),
    ("llm_request_duration_seconds_sum", {}, Decimal("2.0")),
    ("llm_request_duration_seconds_count", {"operation": "embeddings"}, Decimal(3)),
    ("llm_request_duration_seconds_sum", {"operation": "embeddings"}, Decimal("0.25")),
    ("llm_upstream_duration_seconds_count", {}, Decimal(9)),
    ("llm_upstream_duration_seconds_sum", {}, Decimal("2.0")),
    ("llm_upstream_duration_seconds_count", {"team": "team-b"}, Decimal(1)),
]
# Series that must not exist.
ABSENT: list[tuple[str, dict[str, str]]] = [
    ("llm_budget_limit_usd", {"subject": fp(BOB)}),  # unlimited: no limit series
    ("llm_budget_remaining_usd", {"subject": fp(BOB)}),  # and no remaining, never +Inf
    ("llm_budget_spend_usd", {"subject": fp(UNKNOWN)}),  # unknown keys have no budget
    ("llm_requests_total", {"api_key": fp(UNKNOWN)}),  # nor a series of their own
    ("gatewaymetrics_events_dropped_total", {}),
    ("gatewaymetrics_input_problems_total", {}),
    ("gatewaymetrics_series_overflow_total", {}),
    ("gatewaymetrics_backend_errors_total", {}),
]

Reader = Callable[[str, dict[str, str]], list[Decimal]]


def check(read: Reader) -> None:
    for name, labels, expected in EXPECTED:
        assert sum(read(name, labels), Decimal(0)) == expected, (name, labels)
    for name, labels in ABSENT:
        assert read(name, labels) == [], (name, labels)


# -- through Prometheus -------------------------------------------------------------------


def scrape(client: TestClient) -> tuple[str, Reader]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def read(name: str, labels: dict[str, str]) -> list[Decimal]:
        # Prometheus holds floats; each spend series here got one increment (or a
        # doubling), so its float is the nearest to the exact value and its shortest
        # repr is that value's digits: summing those in Decimal is exact.
        matching = [
            s
            for s in samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return [Decimal(repr(s.value)) for s in matching]

    return text, read


def test_prometheus_scrape_gives_exact_numbers_and_no_raw_key() -> None:
    clock = FakeClock()
    app = create_app(upstream=timed_upstream(clock), clock=clock, keys=KEYS, prices=PRICES)
    with TestClient(app) as client:
        drive(client)
        text, read = scrape(client)
    check(read)
    for raw in RAW_KEYS:
        assert raw not in text
    assert "sk-" not in text
    assert f'api_key="{fp(ALICE)}"' in text
    assert f'subject="{fp(CAROL)}"' in text
    assert "None" not in text
    assert "Inf" not in text.replace('le="+Inf"', "")


def test_metrics_are_the_prometheus_backends_exposition_and_need_no_redirect() -> None:
    app = create_app(keys=KEYS, prices=PRICES)
    with TestClient(app) as client:
        assert client.post(CHAT_PATH, headers=auth(BOB), json=chat("hi")).status_code == 200
        response = client.get("/metrics", follow_redirects=False)
        assert response.status_code == 200
        openmetrics = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.endswith("# EOF\n")
    assert 'llm_requests_total{api_key="' in response.text


# -- through an injected MemoryBackend pipeline -----------------------------------------------


def memory_reader(backend: MemoryBackend) -> Reader:
    def read(name: str, labels: dict[str, str]) -> list[Decimal]:
        for suffix in ("_count", "_sum"):
            if name.endswith(suffix) and name.removesuffix(suffix).endswith("_seconds"):
                histogram = name.removesuffix(suffix)
                if not _matches(backend, histogram, labels):
                    return []
                merged = backend.histogram(histogram, **labels)
                return [Decimal(merged.count) if suffix == "_count" else merged.sum]
        if not _matches(backend, name, labels):
            return []
        return [backend.exact_sum(name, **labels)]

    return read


def _matches(backend: MemoryBackend, name: str, labels: Mapping[str, str]) -> bool:
    """Whether any series of ``name`` has these labels (a label name it lacks fails)."""
    unknown = set(labels) - set(backend.metric(name).label_names)
    assert not unknown, (name, unknown)
    return any(
        all(series.get(k) == v for k, v in labels.items()) for series in backend.series(name)
    )


def test_injected_memory_pipeline_gives_the_same_exact_numbers() -> None:
    clock = FakeClock()
    backend = MemoryBackend()
    pipeline = Pipeline([backend])
    app = create_app(
        pipeline=pipeline, upstream=timed_upstream(clock), clock=clock, keys=KEYS, prices=PRICES
    )
    with TestClient(app) as client:
        drive(client)
        assert client.get("/metrics").status_code == 404  # no Prometheus backend, no route
    check(memory_reader(backend))
    # the memory backend's own queries, for the reader of this test
    assert backend.exact_sum("llm_spend_usd_total", team="team-a") == Decimal("0.02914")
    assert backend.sum("llm_requests_total", status="failure", error_type="auth") == 2
    assert backend.exact(
        "llm_budget_remaining_usd", scope="api_key", subject=fp(CAROL), alias="carol-ci"
    ) == Decimal("-0.0085")
    assert backend.series("llm_budget_limit_usd") == [
        {"scope": "api_key", "subject": s, "alias": a}
        for s, a in sorted([(fp(ALICE), "alice-laptop"), (fp(CAROL), "carol-ci")])
    ]
    assert backend.histogram("llm_request_duration_seconds").count == 13
    # the injected pipeline belongs to the caller: the app's shutdown leaves it open
    pipeline.record_fallback("a", "b", succeeded=True)
    assert backend.sum("llm_fallbacks_total") == 1


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {ALICE}", 200),
        (f"bearer   {ALICE}", 200),
        (f"Basic {ALICE}", 401),
        (ALICE, 401),
        ("Bearer ", 401),
        (f"Bearer {fp(ALICE)}", 401),  # a fingerprint is not a key
    ],
)
def test_only_a_bearer_key_authenticates(header: str, status: int) -> None:
    backend = MemoryBackend()
    app = create_app(pipeline=Pipeline([backend]), keys=KEYS, prices=PRICES)
    with TestClient(app) as client:
        response = client.post(CHAT_PATH, headers={"Authorization": header}, json=chat("hi"))
    assert response.status_code == status
    team = "team-a" if status == 200 else ""
    assert backend.sum("llm_requests_total", team=team) == 1


@pytest.mark.parametrize("raw", ["0" * 64, f"Bearer {ALICE}", f" {ALICE}"])
def test_a_key_that_fingerprint_would_not_hash_is_refused(raw: str) -> None:
    # fingerprint() keeps 64-hex values and strips "Bearer " and spaces: such a key
    # would be shown as it is, or share its fingerprint with another one.
    with pytest.raises(ValueError, match="api key"):
        create_app(pipeline=Pipeline([MemoryBackend()]), keys={raw: KEYS[BOB]})


@pytest.mark.parametrize(
    ("exception", "status", "error_type"),
    [
        (TimeoutError(), 504, "timeout"),
        (ConnectionRefusedError(), 502, "other"),
        (RuntimeError("boom sk-test-bob-0002"), 502, "other"),
    ],
)
def test_any_upstream_exception_is_a_recorded_failure(
    exception: Exception, status: int, error_type: str
) -> None:
    async def failing(path: str, body: dict[str, Any], headers: Mapping[str, str]) -> Any:
        raise exception

    backend = MemoryBackend()
    app = create_app(pipeline=Pipeline([backend]), upstream=failing, keys=KEYS, prices=PRICES)
    with TestClient(app) as client:
        response = client.post(CHAT_PATH, headers=auth(BOB), json=chat("hi"))
    assert response.status_code == status
    assert "boom" not in response.text
    assert backend.sum("llm_requests_total", status="failure", error_type=error_type) == 1
    assert backend.sum("llm_requests_total", model="chat-small", user="bob") == 1
    assert backend.series("llm_spend_usd_total") == []
    assert backend.exact(
        "llm_budget_spend_usd", scope="api_key", subject=fp(BOB), alias=""
    ) == Decimal(0)
