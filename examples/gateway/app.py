"""A small OpenAI-compatible gateway that embeds the gatewaymetrics core.

Not LiteLLM: this gateway authenticates, prices and forwards calls itself, and for every
request (success, upstream failure, refusal) builds a ``CallRecord`` and a
``BudgetSnapshot`` and hands them to ``Pipeline.record``. ``/metrics`` serves the
Prometheus backend. The walk-through is docs/embedding.md.

Run it from the repository root (``--factory``: nothing is built at import time)::

    .venv/bin/uvicorn examples.gateway.app:create_app --factory --port 8080

    curl -s localhost:8080/v1/chat/completions -H 'Authorization: Bearer sk-demo-alice' \\
        -d '{"model": "chat-small", "messages": [{"role": "user", "content": "hi there"}]}'
    curl -s localhost:8080/metrics | grep '^llm_'

Endpoints: ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` (forwarded to an
injected async upstream; the default is :func:`stub_upstream`, deterministic, no
network) and ``GET /metrics``. Keys, spend and prices live in memory, per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Pipeline,
    Principal,
    Status,
    TokenUsage,
    fingerprint,
)
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.core.error_taxonomy import classify

__all__ = [
    "CHAT_PATH",
    "DEMO_KEYS",
    "DEMO_PRICES",
    "EMBEDDINGS_PATH",
    "PROVIDER",
    "STUB_REPLY",
    "Account",
    "Clock",
    "Price",
    "RateLimitError",
    "Upstream",
    "UpstreamError",
    "create_app",
    "stub_upstream",
]

log = logging.getLogger("examples.gateway")

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
#: The ``provider`` label of every call this gateway forwards.
PROVIDER = "stub"
#: What the stub upstream answers to every chat: five words, five completion tokens.
STUB_REPLY = "Hello from the stub upstream."

JSON = dict[str, Any]
#: The upstream: (path, JSON body, forwarded headers) -> the JSON answer. Raises
#: :class:`UpstreamError` for an error status; any other exception is a failure too.
Upstream = Callable[[str, JSON, Mapping[str, str]], Awaitable[JSON]]
#: Epoch seconds, like ``time.time``.
Clock = Callable[[], float]


@dataclass(frozen=True, kw_only=True)
class Account:
    """What an api key stands for. ``budget_usd=None`` is an unlimited budget."""

    team: str
    user: str
    budget_usd: Decimal | None = None
    alias: str | None = None


@dataclass(frozen=True, kw_only=True)
class Price:
    """US dollars per 1000 tokens."""

    input_per_1k: Decimal
    output_per_1k: Decimal = Decimal(0)


#: Used when ``create_app`` gets no ``keys``: demo keys for a local run.
DEMO_KEYS: Mapping[str, Account] = {
    "sk-demo-alice": Account(
        team="team-a", user="alice", budget_usd=Decimal("1.00"), alias="alice-laptop"
    ),
    "sk-demo-bob": Account(team="team-a", user="bob"),
}

#: Used when ``create_app`` gets no ``prices``. Any other model is unpriced (cost None).
DEMO_PRICES: Mapping[str, Price] = {
    "chat-small": Price(input_per_1k=Decimal("0.50"), output_per_1k=Decimal("1.50")),
    "embed-small": Price(input_per_1k=Decimal("0.02")),
}


# -- the stub upstream ------------------------------------------------------------------


class UpstreamError(Exception):
    """The upstream answered with an error status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimitError(UpstreamError):
    """The upstream answered 429. (The class name is one ``classify`` knows.)"""

    def __init__(self, message: str = "rate limit reached") -> None:
        super().__init__(429, message)


def _words(texts: Iterable[object]) -> int:
    return sum(len(text.split()) for text in texts if isinstance(text, str))


async def stub_upstream(path: str, body: JSON, headers: Mapping[str, str]) -> JSON:
    """A deterministic OpenAI look-alike: a token is a word; the model is echoed.

    Model ``broken`` raises an :class:`UpstreamError` (503); the header
    ``x-simulate: rate-limit`` raises a :class:`RateLimitError` (429).
    """
    model = body.get("model")
    if headers.get("x-simulate") == "rate-limit":
        raise RateLimitError()
    if model == "broken":
        raise UpstreamError(503, "the stub upstream is down for this model")
    if path == CHAT_PATH:
        messages = body.get("messages")
        contents = [m.get("content") for m in messages or () if isinstance(m, dict)]
        prompt, completion = _words(contents), _words([STUB_REPLY])
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": STUB_REPLY},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    raw = body.get("input")
    inputs: list[object] = [raw] if isinstance(raw, str) else list(raw or ())
    prompt = _words(inputs)
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.0, 0.5, 1.0]}
            for i in range(len(inputs))
        ],
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }


# -- the gateway ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Key:
    """A known key, held by its fingerprint: the raw key is not kept."""

    fingerprint: str
    account: Account

    @property
    def principal(self) -> Principal:
        return Principal(
            api_key=self.fingerprint,
            api_key_alias=self.account.alias,
            team_id=self.account.team,
            user_id=self.account.user,
        )


@dataclass(kw_only=True)
class _Call:
    """What one request has established so far."""

    operation: Operation
    started_at: float
    call_id: str
    key: _Key | None = None
    requested_model: str | None = None
    upstream_started_at: float | None = None


# Never forwarded upstream: our credentials and the client's connection headers.
_NOT_FORWARDED = frozenset({"authorization", "cookie", "host", "content-length"})


def _bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _sha256(token: str) -> str:
    """The key's fingerprint: for every key the table accepts, ``fingerprint(key)``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _count(value: object) -> int:
    """A token count from the upstream's JSON; anything but a non-negative int is 0."""
    return value if type(value) is int and value >= 0 else 0


def _tokens(answer: JSON) -> TokenUsage:
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return TokenUsage()
    return TokenUsage(
        input=_count(usage.get("prompt_tokens")), output=_count(usage.get("completion_tokens"))
    )


def _cost(price: Price | None, tokens: TokenUsage) -> Decimal | None:
    """Exact cost in USD; None (unpriced) for a model without a price."""
    if price is None:
        return None
    return (tokens.input * price.input_per_1k + tokens.output * price.output_per_1k) / 1000


def _valid(operation: Operation, body: JSON) -> bool:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return False
    if operation is Operation.CHAT:
        return isinstance(body.get("messages"), list)
    raw = body.get("input")
    return isinstance(raw, str) or (isinstance(raw, list) and all(isinstance(x, str) for x in raw))


def _error(status_code: int, kind: str, message: str) -> JSONResponse:
    """An OpenAI-shaped error answer."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status_code}}, status_code=status_code
    )


_ANSWER_FOR: Mapping[ErrorCategory, tuple[int, str]] = {
    ErrorCategory.RATE_LIMITED: (429, "rate_limit_error"),
    ErrorCategory.TIMEOUT: (504, "timeout"),
}


class _Gateway:
    """The request handlers and the per-process state: keys, prices, spend."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        upstream: Upstream,
        clock: Clock,
        keys: Mapping[str, Account],
        prices: Mapping[str, Price],
    ) -> None:
        self._pipeline = pipeline
        self._upstream = upstream
        self._clock = clock
        self._prices = dict(prices)
        self._keys: dict[str, _Key] = {}
        for raw, account in keys.items():
            digest = _sha256(raw)
            # fingerprint() keeps a 64-hex value as it is and strips "Bearer " and white
            # space: such a key would show up verbatim in /metrics. Refuse it here.
            if fingerprint(raw) != digest:
                raise ValueError("an api key must not be 64 hex chars, nor padded or prefixed")
            self._keys[digest] = _Key(fingerprint=digest, account=account)
        self._spend: dict[str, Decimal] = dict.fromkeys(self._keys, Decimal(0))

    def _now(self) -> float:
        return float(self._clock())  # records take floats only: an int clock would raise

    async def chat_completions(self, request: Request) -> Response:
        return await self._forward(request, Operation.CHAT, CHAT_PATH)

    async def embeddings(self, request: Request) -> Response:
        return await self._forward(request, Operation.EMBEDDINGS, EMBEDDINGS_PATH)

    async def _forward(self, request: Request, operation: Operation, path: str) -> Response:
        call = _Call(operation=operation, started_at=self._now(), call_id=uuid.uuid4().hex)

        token = _bearer(request.headers.get("authorization"))
        # Look up by our own sha256, not by fingerprint(): fingerprint() passes a 64-hex
        # token through unchanged, so a client sending a fingerprint it scraped from
        # /metrics would be taken for the key's owner.
        key = self._keys.get(_sha256(token)) if token else None
        if key is None:  # no series for the fingerprints of keys we do not know
            self._record(call, error=ErrorInfo(category=ErrorCategory.AUTH, status_code=401))
            return _error(401, "invalid_request_error", "Invalid API key.")
        call.key = key

        body: object = None
        with contextlib.suppress(ValueError):  # not JSON: a bad request
            body = await request.json()
        if not isinstance(body, dict) or not _valid(operation, body):
            self._record(call, error=ErrorInfo(category=ErrorCategory.BAD_REQUEST, status_code=400))
            return _error(400, "invalid_request_error", "Malformed request body.")
        call.requested_model = body["model"]

        limit = key.account.budget_usd
        if limit is not None and self._spend[key.fingerprint] >= limit:
            error = ErrorInfo(category=ErrorCategory.BUDGET_EXCEEDED, status_code=429)
            self._record(call, error=error)
            return _error(429, "budget_exceeded", "This key has spent its budget.")

        headers = {k: v for k, v in request.headers.items() if k not in _NOT_FORWARDED}
        call.upstream_started_at = self._now()
        try:
            answer = await self._upstream(path, body, headers)
        except asyncio.CancelledError:  # the client went away
            error = ErrorInfo(category=ErrorCategory.CANCELLED, exception_type="CancelledError")
            self._record(call, model=call.requested_model, error=error)
            raise
        except Exception as exc:
            status_code = exc.status_code if isinstance(exc, UpstreamError) else None
            category = classify(type(exc).__name__, status_code)
            error = ErrorInfo(
                category=category, status_code=status_code, exception_type=type(exc).__name__
            )
            self._record(call, model=call.requested_model, error=error)
            answer_code, kind = _ANSWER_FOR.get(category, (502, "upstream_error"))
            return _error(answer_code, kind, "The upstream failed.")

        model = answer.get("model")
        served = model if isinstance(model, str) and model else call.requested_model
        tokens = _tokens(answer)
        cost = _cost(self._prices.get(served or ""), tokens)
        if cost is not None:
            self._spend[key.fingerprint] += cost
        self._record(call, model=served, tokens=tokens, cost_usd=cost)
        return JSONResponse(answer)

    def _record(
        self,
        call: _Call,
        *,
        model: str | None = None,
        tokens: TokenUsage | None = None,
        cost_usd: Decimal | None = None,
        error: ErrorInfo | None = None,
    ) -> None:
        """One ``CallEvent`` per request: the call and the key's budget after it.

        ``Pipeline.record`` never raises, but building the records can (they validate
        their fields): a metrics bug must not fail the request, so it is logged.
        """
        try:
            key = call.key
            record = CallRecord(
                call_id=call.call_id,
                operation=call.operation,
                status=Status.SUCCESS if error is None else Status.FAILURE,
                provider=PROVIDER,
                requested_model=call.requested_model,
                model=model,
                principal=key.principal if key is not None else Principal(),
                tokens=tokens if tokens is not None else TokenUsage(),
                cost_usd=cost_usd,
                started_at=call.started_at,
                upstream_started_at=call.upstream_started_at,
                ended_at=self._now(),
                error=error,
            )
            budgets: tuple[BudgetSnapshot, ...] = ()
            if key is not None:
                budgets = (
                    BudgetSnapshot(
                        scope=BudgetScope.API_KEY,
                        subject=key.fingerprint,
                        alias=key.account.alias,
                        limit_usd=key.account.budget_usd,
                        spend_usd=self._spend[key.fingerprint],
                    ),
                )
            self._pipeline.record(CallEvent(call=record, budgets=budgets))
        except Exception as exc:
            log.error("gateway: could not build the call's records: %s", type(exc).__name__)


def _metrics_endpoint(backend: PrometheusBackend) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        body, content_type = backend.exposition(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type})

    return metrics


def create_app(
    *,
    pipeline: Pipeline | None = None,
    upstream: Upstream | None = None,
    clock: Clock = time.time,
    keys: Mapping[str, Account] | None = None,
    prices: Mapping[str, Price] | None = None,
) -> Starlette:
    """The gateway. Every part is injected; the defaults are a Prometheus pipeline on a
    fresh registry (closed at shutdown), :func:`stub_upstream`, the wall clock,
    :data:`DEMO_KEYS` (raw key -> account) and :data:`DEMO_PRICES`.

    ``GET /metrics`` exists when the pipeline has a :class:`PrometheusBackend`.
    """
    owned = pipeline is None
    active = (
        pipeline
        if pipeline is not None
        else Pipeline([PrometheusBackend(registry=CollectorRegistry())])
    )
    gateway = _Gateway(
        pipeline=active,
        upstream=upstream if upstream is not None else stub_upstream,
        clock=clock,
        keys=keys if keys is not None else DEMO_KEYS,
        prices=prices if prices is not None else DEMO_PRICES,
    )
    routes = [
        Route(CHAT_PATH, gateway.chat_completions, methods=["POST"]),
        Route(EMBEDDINGS_PATH, gateway.embeddings, methods=["POST"]),
    ]
    prometheus = [b for b in active.backends if isinstance(b, PrometheusBackend)]
    if prometheus:
        # A route, not ``Mount("/metrics", backend.asgi_app())``: a mount answers
        # ``/metrics`` with a redirect to ``/metrics/``.
        routes.append(Route("/metrics", _metrics_endpoint(prometheus[0]), methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                active.close()

    return Starlette(routes=routes, lifespan=lifespan)
