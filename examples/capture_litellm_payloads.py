"""Capture real LiteLLM callback payloads as JSON lines, for tests and demos.

Runs LiteLLM in-process with ``mock_response`` (no network, no API keys) and a
capturing ``CustomLogger`` registered in ``litellm.callbacks``.  Every
invocation of ``log_success_event``, ``log_failure_event``,
``async_log_success_event`` or ``async_log_failure_event`` is written as one
JSON object per line::

    {"scenario": str, "hook": str, "kwargs": {...}, "response_obj": ...,
     "start_time": "<ISO datetime>", "end_time": "<ISO datetime>"}

Only a subset of ``kwargs`` is kept (see ``KEPT_KWARGS``); the
``standard_logging_object`` is kept whole except ``messages``, ``response``,
``model_map_information`` and the free-text error fields (messages, tracebacks),
which are replaced by ``null``.  Exceptions are written as
``{"type": <class name>, "status_code": <int | None>}`` (never the message), and
any ``api_key`` entry is dropped wherever it appears.

Scenarios: ``completion_sync``, ``completion_async``, ``stream_sync``,
``stream_async``, ``rate_limit_failure_sync``, ``rate_limit_failure_async``,
``generic_failure``, ``embedding``, ``router_fallback``,
``router_fallback_async``, ``proxy_metadata`` (several calls carrying
proxy-style ``user_api_key_*`` metadata) and ``cache_hit``.  ``cache_hit`` is
skipped when the LiteLLM proxy's extra dependencies (``fastapi``, ``orjson``,
``soundfile``) are missing, because LiteLLM 1.110.2 imports proxy modules on
every cache lookup.

Stream-chunk hooks and router fallback hooks are only counted; the per-scenario
hook counts are printed to stdout at the end.

Run it from the repository root with the venv that has ``litellm`` installed::

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python examples/capture_litellm_payloads.py [OUT]

``OUT`` defaults to ``examples/litellm_payloads.jsonl`` next to this
script.  ``LITELLM_LOCAL_MODEL_COST_MAP=True`` keeps LiteLLM from fetching the
model cost map over the network at import time (the script sets it if unset).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

# Must be set before LiteLLM is imported, or the import fetches the cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.caching.caching import Cache
from litellm.integrations.custom_logger import CustomLogger
from litellm.router import Router
from litellm.types.caching import LiteLLMCacheType
from litellm.types.llms.openai import AllMessageValues, ChatCompletionUserMessage
from pydantic import BaseModel
from typing_extensions import override

DEFAULT_OUTPUT: Final = Path(__file__).resolve().parent / "litellm_payloads.jsonl"

KEPT_KWARGS: Final = (
    "model",
    "call_type",
    "stream",
    "response_cost",
    "exception",
    "litellm_call_id",
    "litellm_params",
    "standard_logging_object",
    "api_call_start_time",
    "completion_start_time",
    "cache_hit",
)
KEPT_LITELLM_PARAMS: Final = (
    "metadata",
    "proxy_server_request",
    "api_base",
    "custom_llm_provider",
    "model_info",
)
DROPPED_SLO_FIELDS: Final = ("messages", "response", "model_map_information", "error_str")
#: Free text that can quote a request, a credential or local paths: nulled.
NULLED_TEXT: Final = {
    "error_information": ("error_message", "traceback"),
    "response_cost_failure_debug_info": ("error_str", "traceback_str"),
}
SECRET_KEYS: Final = frozenset({"api_key"})

#: Seconds to wait after each scenario so that LiteLLM's background logging runs.
FLUSH_SECONDS: Final = 1.0

MESSAGES: Final[list[AllMessageValues]] = [
    ChatCompletionUserMessage(role="user", content="Say hello")
]

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def to_jsonable(value: object) -> JsonValue:
    """Convert ``value`` recursively into JSON-compatible data.

    Datetimes become ISO strings, pydantic models are dumped, exceptions become
    ``{"type", "status_code"}`` and other unknown objects become their type name.
    Mapping keys named ``api_key`` are dropped at every depth.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, BaseException):
        status_code = getattr(value, "status_code", None)
        return {
            "type": type(value).__name__,
            "status_code": status_code if isinstance(status_code, int) else None,
        }
    if isinstance(value, BaseModel):
        try:
            dumped: object = value.model_dump()
        except Exception:  # some LiteLLM models do not dump cleanly
            return type(value).__name__
        return to_jsonable(dumped)
    if isinstance(value, Mapping):
        return {
            str(key): to_jsonable(item)
            for key, item in value.items()
            if str(key) not in SECRET_KEYS
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    return type(value).__name__


def select_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the callback kwargs a metrics library cares about."""
    selected: dict[str, Any] = {key: kwargs[key] for key in KEPT_KWARGS if key in kwargs}
    litellm_params = selected.get("litellm_params")
    if isinstance(litellm_params, Mapping):
        selected["litellm_params"] = {
            key: litellm_params[key] for key in KEPT_LITELLM_PARAMS if key in litellm_params
        }
        metadata = selected["litellm_params"].get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("previous_models"), list):
            selected["litellm_params"]["metadata"] = {
                **metadata,
                "previous_models": [
                    {k: None if k == "exception_string" else v for k, v in m.items()}
                    if isinstance(m, Mapping)
                    else m
                    for m in metadata["previous_models"]
                ],
            }
    slo = selected.get("standard_logging_object")
    if isinstance(slo, Mapping):
        slo = dict(slo)
        for field in DROPPED_SLO_FIELDS:
            if field in slo:
                slo[field] = None
        for section, fields in NULLED_TEXT.items():
            if isinstance(slo.get(section), Mapping):
                slo[section] = {k: None if k in fields else v for k, v in slo[section].items()}
        selected["standard_logging_object"] = slo
    return selected


class CapturingLogger(CustomLogger):
    """Record every success/failure hook invocation and count all hooks."""

    def __init__(self) -> None:
        """Start with no records, attributing hooks to the ``unset`` scenario."""
        super().__init__()
        self.scenario = "unset"
        self.records: list[dict[str, JsonValue]] = []
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def _record(
        self,
        hook: str,
        kwargs: Mapping[str, Any],
        response_obj: object,
        start_time: object,
        end_time: object,
    ) -> None:
        self.counts[self.scenario][hook] += 1
        self.records.append(
            {
                "scenario": self.scenario,
                "hook": hook,
                "kwargs": to_jsonable(select_kwargs(kwargs)),
                "response_obj": to_jsonable(response_obj),
                "start_time": to_jsonable(start_time),
                "end_time": to_jsonable(end_time),
            }
        )

    @override
    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        self._record("log_success_event", kwargs, response_obj, start_time, end_time)

    @override
    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        self._record("log_failure_event", kwargs, response_obj, start_time, end_time)

    @override
    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        self._record("async_log_success_event", kwargs, response_obj, start_time, end_time)

    @override
    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        self._record("async_log_failure_event", kwargs, response_obj, start_time, end_time)

    # Counted only: stream chunks and router fallbacks are not written out.
    @override
    def log_stream_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        del kwargs, response_obj, start_time, end_time
        self.counts[self.scenario]["log_stream_event"] += 1

    @override
    async def async_log_stream_event(
        self, kwargs: dict[str, Any], response_obj: object, start_time: object, end_time: object
    ) -> None:
        del kwargs, response_obj, start_time, end_time
        self.counts[self.scenario]["async_log_stream_event"] += 1

    @override
    async def log_success_fallback_event(
        self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
    ) -> None:
        del original_model_group, kwargs, original_exception
        self.counts[self.scenario]["log_success_fallback_event"] += 1

    @override
    async def log_failure_fallback_event(
        self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
    ) -> None:
        del original_model_group, kwargs, original_exception
        self.counts[self.scenario]["log_failure_fallback_event"] += 1


def proxy_metadata(
    *, key: str, alias: str, team: str, user: str, email: str, spend: float
) -> dict[str, object]:
    """Build request metadata shaped like the one the LiteLLM proxy attaches."""
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    return {
        "user_api_key": key_hash,
        "user_api_key_hash": key_hash,
        "user_api_key_alias": alias,
        "user_api_key_team_id": f"team-{team}",
        "user_api_key_team_alias": team,
        "user_api_key_user_id": user,
        "user_api_key_user_email": email,
        "user_api_key_org_id": "org-acme",
        "user_api_key_end_user_id": f"end-user-{user}",
        "user_api_key_spend": spend,
        "user_api_key_max_budget": 10.0,
        "user_api_key_team_spend": 3.5,
        "user_api_key_team_max_budget": 50.0,
        "user_api_key_user_spend": 0.75,
        "user_api_key_user_max_budget": 5.0,
        "user_api_key_budget_reset_at": "2026-01-01T00:00:00+00:00",
    }


#: (model, custom_llm_provider, metadata) of each ``proxy_metadata`` call.  The
#: 1.110.2 cost map has no ``claude-3-5-sonnet-20240620``, so that call logs a
#: zero cost with ``response_cost_failure_debug_info``; the others are priced.
PROXY_CALLS: Final[list[tuple[str, str | None, dict[str, object]]]] = [
    (
        "gpt-4o-mini",
        None,
        proxy_metadata(
            key="sk-demo-1",
            alias="search-prod",
            team="search",
            user="alice",
            email="alice@example.com",
            spend=1.25,
        ),
    ),
    (
        "gpt-4o",
        None,
        proxy_metadata(
            key="sk-demo-1",
            alias="search-prod",
            team="search",
            user="alice",
            email="alice@example.com",
            spend=1.25,
        ),
    ),
    (
        "claude-3-5-sonnet-20240620",
        "anthropic",
        proxy_metadata(
            key="sk-demo-2",
            alias="support-bot",
            team="support",
            user="bob",
            email="bob@example.com",
            spend=4.0,
        ),
    ),
    (
        "gpt-4o-mini",
        None,
        proxy_metadata(
            key="sk-demo-2",
            alias="support-bot",
            team="support",
            user="bob",
            email="bob@example.com",
            spend=4.0,
        ),
    ),
    (
        "claude-sonnet-4-5-20250929",
        "anthropic",
        proxy_metadata(
            key="sk-demo-3",
            alias="search-batch",
            team="search",
            user="carol",
            email="carol@example.com",
            spend=0.2,
        ),
    ),
]


def run_sync(logger: CapturingLogger, scenario: str, call: Callable[[], object]) -> None:
    """Run one synchronous scenario, swallowing the (expected) exceptions."""
    logger.scenario = scenario
    try:
        call()
    except Exception as exc:  # failure scenarios raise on purpose
        print(f"{scenario}: raised {type(exc).__name__}", file=sys.stderr)
    time.sleep(FLUSH_SECONDS)


async def run_async(logger: CapturingLogger, scenario: str, call: Callable[[], Any]) -> None:
    """Run one asynchronous scenario, swallowing the (expected) exceptions."""
    logger.scenario = scenario
    try:
        await call()
    except Exception as exc:  # failure scenarios raise on purpose
        print(f"{scenario}: raised {type(exc).__name__}", file=sys.stderr)
    await asyncio.sleep(FLUSH_SECONDS)


def consume_sync_stream() -> None:
    """Stream a mock completion synchronously and drain it."""
    stream = litellm.completion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="Hello there, streamed",
        stream=True,
        stream_options={"include_usage": True},
    )
    for _chunk in stream:
        pass


async def consume_async_stream() -> None:
    """Stream a mock completion asynchronously and drain it."""
    stream = await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="Hello there, streamed",
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _chunk in stream:
        pass


def make_fallback_router() -> Router:
    """Router whose ``primary`` group always fails and falls back to ``backup``."""
    router: Router = Router(
        model_list=[
            {
                "model_name": "primary",
                "litellm_params": {
                    "model": "gpt-4o-mini",
                    "mock_response": "litellm.InternalServerError",
                },
            },
            {
                "model_name": "backup",
                "litellm_params": {"model": "gpt-4o", "mock_response": "Hello from backup"},
            },
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )
    return router


def cache_is_usable() -> bool:
    """Whether LiteLLM's cache lookup can run here.

    In LiteLLM 1.110.2 every cache lookup imports proxy modules, which need the
    proxy's extra dependencies (``fastapi``, ``orjson``, ``soundfile``, ...).
    """
    try:
        import litellm.llms.anthropic.messages.native.response_cache  # noqa: F401
    except ImportError as exc:
        print(f"cache_hit: skipped, cache lookup needs {exc.name!r}", file=sys.stderr)
        return False
    return True


def cache_hit() -> None:
    """Make the same cached call twice; the second one is served from the cache."""
    litellm.cache = Cache(type=LiteLLMCacheType.LOCAL)
    try:
        for _ in range(2):
            litellm.completion(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Cache me"}],
                mock_response="Cached hello",
                caching=True,
            )
            time.sleep(FLUSH_SECONDS)
    finally:
        litellm.cache = None


async def run_async_scenarios(logger: CapturingLogger) -> None:
    """Run the scenarios that need an event loop."""
    await run_async(
        logger,
        "completion_async",
        lambda: litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there"
        ),
    )
    await run_async(logger, "stream_async", consume_async_stream)
    await run_async(
        logger,
        "rate_limit_failure_async",
        lambda: litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="litellm.RateLimitError"
        ),
    )
    await run_async(
        logger,
        "router_fallback_async",
        lambda: make_fallback_router().acompletion(model="primary", messages=MESSAGES),
    )
    for model, provider, metadata in PROXY_CALLS:
        await run_async(
            logger,
            "proxy_metadata",
            functools.partial(
                litellm.acompletion,
                model=model,
                custom_llm_provider=provider,
                messages=MESSAGES,
                mock_response=f"Hello from {model}",
                metadata=metadata,
            ),
        )


def main(argv: list[str]) -> int:
    """Run every scenario and write the captured hook payloads as JSON lines."""
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    logger = CapturingLogger()
    litellm.callbacks = [logger]

    run_sync(
        logger,
        "completion_sync",
        lambda: litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="Hello there"
        ),
    )
    run_sync(logger, "stream_sync", consume_sync_stream)
    run_sync(
        logger,
        "rate_limit_failure_sync",
        lambda: litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="litellm.RateLimitError"
        ),
    )
    run_sync(
        logger,
        "generic_failure",
        lambda: litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("boom")
        ),
    )
    run_sync(
        logger,
        "embedding",
        lambda: litellm.embedding(
            model="text-embedding-3-small", input=["hi"], mock_response=[0.1, 0.2]
        ),
    )
    run_sync(
        logger,
        "router_fallback",
        # Router.completion is annotated with plain dict messages, unlike acompletion.
        lambda: make_fallback_router().completion(
            model="primary", messages=[{"role": "user", "content": "Say hello"}]
        ),
    )
    if cache_is_usable():
        run_sync(logger, "cache_hit", cache_hit)
    asyncio.run(run_async_scenarios(logger))
    logger.scenario = "done"

    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as handle:
        for record in logger.records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    print(f"wrote {len(logger.records)} records to {output}")
    for scenario, counts in logger.counts.items():
        print(f"  {scenario}: {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
