"""LiteLLM's own ``PrometheusLogger`` on real events: the reference side of the naming diff.

:func:`run_scenario` drives real LiteLLM (1.110.2, ``mock_response``: no network)
through the events a gateway sees (:data:`STEPS`: SDK sync, async, stream, failure,
rate limit, Router fallback, proxy metadata with budgets, cache hit) with LiteLLM's
``litellm.integrations.prometheus.PrometheusLogger`` and any extra callback objects
the caller passes (for the diff test: our ``GatewayMetricsLogger``) registered side by
side in ``litellm.callbacks``, so every callback sees the very same events. It returns
the parsed exposition of LiteLLM's logger::

    {family_name: {"type": "counter", "labels": [sorted label names],
                   "samples": [(sample_name, {label: value}, value), ...]}}

Every family the logger declares is there, also the ones this scenario leaves without
samples (their label names come from the metric objects: the text has none).

Isolation: ``PrometheusLogger`` creates its metrics on prometheus_client's global
``REGISTRY`` (it passes no ``registry=``). Each run makes a new logger and moves
exactly the collectors its construction added from the global registry to a fresh
``CollectorRegistry``; the metric objects keep writing to themselves, so nothing of a
run is left in the global registry and runs never collide ("Duplicated timeseries").
That keeps the run in-process, so the extra callbacks can be live objects.

Waiting: LiteLLM delivers sync hooks from a thread pool and async hooks from tasks on
the event loop, one callback after the other in ``litellm.callbacks`` order. A
recording callback placed last tells when every callback before it has had an event;
each step states the hooks it expects there, and a step whose hooks differ (LiteLLM
changed) raises :class:`ScenarioError` instead of returning a partial result.

LiteLLM's logger implements only the async hooks (``async_log_success_event``,
``async_log_failure_event``, the router's fallback hooks, and the proxy-only
``async_post_call_failure_hook``): the ``sync`` step reaches the extra callbacks
through ``log_success_event`` and LiteLLM's logger not at all. The proxy-only hook is
fired by the proxy's request handler, never by the SDK, so
``litellm_proxy_failed_requests_metric`` gets no samples here (see
/work/notes/litellm_families.md).

All of LiteLLM's global state this touches (its callback lists, ``litellm.cache``) is
restored afterwards. Not thread-safe: one run at a time per process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypedDict

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__all__ = [
    "KEY_HASH",
    "STEPS",
    "Families",
    "Family",
    "Reference",
    "ScenarioError",
    "Step",
    "hook_recorder",
    "isolated_prometheus_logger",
    "parse_exposition",
    "proxy_request_metadata",
    "run_reference",
    "run_scenario",
]

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "Say hello"}]
#: What the Router's fallback deployment answers (its tokens are in the figures).
BACKUP_ANSWER = "Hello from backup"

#: How long a step may take to deliver its hooks before it is reported as broken (a
#: guard against a hang, not a measurement: a step takes milliseconds).
WAIT_S = 30.0
POLL_S = 0.005


#: The virtual key of the ``proxy_budgets`` step: the proxy logs the key's sha256
#: (``hash_token``) as ``user_api_key_hash``; this is sha256("sk-gatewaymetrics-ref").
RAW_KEY = "sk-gatewaymetrics-ref"
KEY_HASH = "48cf817ff2f2e029c86328f02586a21b6d33ab88b8b076558fd3d93543849c91"
#: Key budget reset time (the proxy writes it as ISO text into the metadata).
KEY_RESET_AT = datetime(2031, 1, 1, tzinfo=UTC)


class Family(TypedDict):
    """One metric family of LiteLLM's registry, as parsed from its exposition."""

    type: str
    labels: list[str]
    samples: list[tuple[str, dict[str, str], float]]


Families = dict[str, Family]


class ScenarioError(RuntimeError):
    """A step did not deliver the hooks it expects (LiteLLM behaves differently)."""


class Step(NamedTuple):
    """One event (or a few) of the scenario.

    ``hooks``: the hooks, sorted, the last callback receives for it; ``run``: drives
    LiteLLM (a coroutine function for async steps, run on a fresh event loop that
    stays open until the hooks arrived)."""

    name: str
    description: str
    hooks: tuple[str, ...]
    run: Callable[[], object]
    is_async: bool


class Reference(NamedTuple):
    """What one run produced: LiteLLM's families, its exposition text, and the hooks
    the last callback saw, per step."""

    families: Families
    exposition: str
    hooks: dict[str, tuple[str, ...]]


# -- LiteLLM, imported on first use (so collecting this module stays cheap) -------------


def _litellm() -> Any:
    import litellm

    return litellm


def hook_recorder(name: str = "HookRecorder") -> Any:
    """A callback that records which hooks fired (``.hooks``): the scenario's last one,
    and an extra callback a test can pass. LiteLLM keeps one callback per class name,
    so each recorder of a run needs a ``name`` of its own."""
    from litellm.integrations.custom_logger import CustomLogger

    class HookRecorder(CustomLogger):  # type: ignore[misc]  # LiteLLM is untyped here
        def __init__(self) -> None:
            super().__init__()
            self.hooks: list[str] = []

        def log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.hooks.append("log_success_event")

        def log_failure_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.hooks.append("log_failure_event")

        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.hooks.append("async_log_success_event")

        async def async_log_failure_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.hooks.append("async_log_failure_event")

        async def log_success_fallback_event(
            self, original_model_group: Any, kwargs: Any, original_exception: Any
        ) -> None:
            self.hooks.append("log_success_fallback_event")

        async def log_failure_fallback_event(
            self, original_model_group: Any, kwargs: Any, original_exception: Any
        ) -> None:
            self.hooks.append("log_failure_fallback_event")

    HookRecorder.__name__ = HookRecorder.__qualname__ = name
    return HookRecorder()


@contextmanager
def isolated_prometheus_logger() -> Iterator[tuple[Any, Any]]:
    """A new LiteLLM ``PrometheusLogger`` and the fresh ``CollectorRegistry`` holding
    (only) its metrics: the collectors its construction registered globally are moved
    there at once, so the global registry is as it was."""
    from litellm.integrations.prometheus import PrometheusLogger
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.registry import Collector

    before: set[Collector] = set(REGISTRY._collector_to_names)  # no public list
    try:
        logger = PrometheusLogger()
    finally:
        added = set(REGISTRY._collector_to_names) - before
        for collector in added:
            REGISTRY.unregister(collector)
    registry = CollectorRegistry()
    for collector in added:
        registry.register(collector)
    yield logger, registry


# -- the steps ----------------------------------------------------------------------------


def proxy_request_metadata() -> dict[str, object]:
    """Request metadata exactly as the LiteLLM proxy writes it after authenticating a
    virtual key (``LiteLLMProxyRequestSetup.get_sanitized_user_information_from_key``
    on a ``UserAPIKeyAuth``, plus the ``user_api_key`` entry the proxy adds): key,
    team, user, org and end user, with spends and budgets."""
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.proxy.litellm_pre_call_utils import LiteLLMProxyRequestSetup

    auth = UserAPIKeyAuth(
        api_key=RAW_KEY,  # the model hashes it, as the proxy's auth does
        key_alias="search-prod",
        spend=1.25,
        max_budget=10.0,
        budget_reset_at=KEY_RESET_AT,
        team_id="team-search",
        team_alias="search",
        team_spend=3.5,
        team_max_budget=50.0,
        user_id="alice",
        user_email="alice@example.com",
        user_spend=0.75,
        user_max_budget=None,  # unlimited
        org_id="org-acme",
        organization_alias="acme",
        end_user_id="customer-7",
        request_route="/chat/completions",
    )
    metadata = dict(LiteLLMProxyRequestSetup.get_sanitized_user_information_from_key(auth))
    metadata["user_api_key"] = LiteLLMProxyRequestSetup.get_logged_api_key(auth)
    return metadata


def _sync_completion() -> None:
    _litellm().completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there")


async def _async_completion() -> None:
    await _litellm().acompletion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there"
    )


async def _stream() -> None:
    stream = await _litellm().acompletion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there", stream=True
    )
    async for _chunk in stream:
        pass


async def _expect(call: Awaitable[object], error: type[BaseException]) -> None:
    try:
        await call
    except error:
        return
    raise ScenarioError(f"expected {error.__name__}, the call succeeded")


async def _failure() -> None:
    litellm = _litellm()
    bad_request = litellm.BadRequestError(
        message="mock bad request", model="gpt-4o-mini", llm_provider="openai"
    )
    await _expect(
        litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response=bad_request),
        litellm.BadRequestError,
    )


async def _rate_limit() -> None:
    litellm = _litellm()
    await _expect(
        litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="litellm.RateLimitError"
        ),
        litellm.RateLimitError,
    )


async def _router_fallback() -> None:
    from gatewaymetrics.adapters.litellm_driver import fallback_router

    router = fallback_router(BACKUP_ANSWER)
    await router.acompletion(model="primary", messages=MESSAGES)


async def _proxy_budgets() -> None:
    await _litellm().acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="Hello there",
        metadata=proxy_request_metadata(),
    )


async def _cache_hit() -> None:
    litellm = _litellm()
    from litellm.caching.caching import Cache

    cache = Cache(type="local")
    litellm.cache = cache
    messages = [{"role": "user", "content": "Say hello, cached"}]
    await litellm.acompletion(model="gpt-4o-mini", messages=messages, mock_response="Hello there")
    # LiteLLM writes the cache from a background task: the second call hits once the
    # entry is there.
    deadline = time.monotonic() + WAIT_S
    while not cache.cache.cache_dict and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
    response = await litellm.acompletion(
        model="gpt-4o-mini", messages=messages, mock_response="Hello there"
    )
    if response._hidden_params.get("cache_hit") is not True:  # LiteLLM's own flag
        raise ScenarioError("the second call of step 'cache_hit' did not hit the cache")


_S, _F = "async_log_success_event", "async_log_failure_event"

#: The scenario, in order.
STEPS: tuple[Step, ...] = (
    Step("sync", "litellm.completion (SDK, sync)", ("log_success_event",), _sync_completion,
         is_async=False),
    Step("async", "litellm.acompletion", (_S,), _async_completion, is_async=True),
    Step("stream", "acompletion(stream=True), consumed", (_S,), _stream, is_async=True),
    Step("failure", "acompletion raising BadRequestError (400)", (_F,), _failure,
         is_async=True),
    Step("rate_limit", "acompletion raising RateLimitError (429)", (_F,), _rate_limit,
         is_async=True),
    Step("router_fallback",
         "Router: deployment 'primary' fails (InternalServerError 500), 'backup' succeeds",
         tuple(sorted((_F, _S, "log_success_fallback_event"))), _router_fallback,
         is_async=True),
    Step("proxy_budgets", "acompletion with the proxy's virtual-key metadata and budgets",
         (_S,), _proxy_budgets, is_async=True),
    Step("cache_hit", "Cache(type='local'), the same acompletion twice (miss, then hit)",
         (_S, _S), _cache_hit, is_async=True),
)  # fmt: skip


# -- running ------------------------------------------------------------------------------


def _missing(recorder: Any, step: Step, seen_before: int) -> bool:
    return len(recorder.hooks) - seen_before < len(step.hooks)


def _run_step(step: Step, recorder: Any) -> tuple[str, ...]:
    seen_before = len(recorder.hooks)
    deadline = time.monotonic() + WAIT_S
    if step.is_async:

        async def main() -> None:
            await step.run()  # type: ignore[misc]  # an async step's run is a coroutine function
            while _missing(recorder, step, seen_before) and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)

        asyncio.run(main())
    else:
        step.run()
        while _missing(recorder, step, seen_before) and time.monotonic() < deadline:
            time.sleep(POLL_S)
    seen = tuple(sorted(recorder.hooks[seen_before:]))
    if seen != step.hooks:
        raise ScenarioError(f"step {step.name!r}: expected hooks {step.hooks}, got {seen}")
    return seen


@contextmanager
def _litellm_state() -> Iterator[Any]:
    """LiteLLM's callback lists emptied and ``litellm.cache`` kept; both restored."""
    from gatewaymetrics.adapters.litellm_driver import CALLBACK_LISTS

    litellm = _litellm()
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    saved_cache = litellm.cache
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    try:
        yield litellm
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        litellm.cache = saved_cache


def run_reference(
    extra_callbacks: Sequence[object] = (), *, steps: Sequence[str] | None = None
) -> Reference:
    """Run the scenario (all of :data:`STEPS`, or the named ones, in :data:`STEPS`
    order) with LiteLLM's ``PrometheusLogger`` first in ``litellm.callbacks``, then
    ``extra_callbacks`` in the order given, then the hook recorder; return what
    LiteLLM's logger exposes afterwards."""
    known = {step.name for step in STEPS}
    wanted = known if steps is None else set(steps)
    if unknown := sorted(wanted - known):
        raise ValueError(f"unknown steps {unknown}; allowed: {[step.name for step in STEPS]}")
    from prometheus_client import generate_latest

    hooks: dict[str, tuple[str, ...]] = {}
    with isolated_prometheus_logger() as (logger, registry), _litellm_state() as litellm:
        recorder = hook_recorder()
        litellm.callbacks = [logger, *extra_callbacks, recorder]
        for step in STEPS:
            if step.name in wanted:
                hooks[step.name] = _run_step(step, recorder)
        exposition = generate_latest(registry).decode()
        label_names = _label_names(registry)
    return Reference(parse_exposition(exposition, label_names), exposition, hooks)


def run_scenario(
    extra_callbacks: Sequence[object] = (), *, steps: Sequence[str] | None = None
) -> Families:
    """The families of LiteLLM's ``PrometheusLogger`` after the scenario (see
    :func:`run_reference`), ``{name: {"type", "labels", "samples"}}``. Samples include
    the ``_created`` ones and the histograms' ``_bucket``/``_sum``/``_count``; label
    values are as LiteLLM writes them (a missing value is the text ``"None"``)."""
    return run_reference(extra_callbacks, steps=steps).families


# -- parsing ------------------------------------------------------------------------------


def _label_names(registry: Any) -> dict[str, list[str]]:
    """Family name -> the label names its metric object declares."""
    names: dict[str, list[str]] = {}
    for collector in registry._collector_to_names:  # no public list
        name = getattr(collector, "_name", None)
        labelnames = getattr(collector, "_labelnames", None)
        if isinstance(name, str) and labelnames is not None:
            names[name] = sorted(labelnames)
    return names


def parse_exposition(text: str, label_names: Mapping[str, Sequence[str]] | None = None) -> Families:
    """Prometheus text exposition -> families (``prometheus_client.parser``), keyed by
    family name (a counter's without ``_total``, as prometheus_client names it). The
    text format writes a counter's or histogram's ``_created`` series as a gauge family
    of its own; those samples are folded into the family they belong to, so there is
    one family per metric. A family's ``labels`` are ``label_names[family]`` if given,
    else every label name its samples carry except ``le``."""
    from prometheus_client.parser import text_string_to_metric_families

    families: Families = {}
    for family in text_string_to_metric_families(text):
        samples = [(s.name, dict(s.labels), float(s.value)) for s in family.samples]
        from_samples = {name for _, labels, _ in samples for name in labels} - {"le"}
        declared = (label_names or {}).get(family.name)
        families[family.name] = Family(
            type=family.type,
            labels=sorted(declared) if declared is not None else sorted(from_samples),
            samples=samples,
        )
    for name in [name for name in families if name.endswith("_created")]:
        owner = families.get(name.removesuffix("_created"))
        if owner is not None and owner["type"] in {"counter", "histogram", "summary"}:
            owner["samples"].extend(families.pop(name)["samples"])
    return families
