"""The promises, probed where users enter: ``GatewayMetricsLogger``'s hooks.

Hostile LiteLLM payloads (the captured proxy-style event with one to four fields
replaced by what an attacker or a bug could send) go through the adapter into two
pipelines at once: the general path (memory, Prometheus and StatsD into a transport
that keeps its packets) and the fast path (Prometheus alone). Each payload is sent
three times: a clean event of the same caller first, then the hostile one twice
(its own call ids), through the sync or the async hooks, as a success or a failure.

1. no hook raises;
2. no sample value is non-finite or beyond float range: not in memory, not in either
   Prometheus exposition, not in a StatsD packet;
3. a planted secret (in ``api_base`` with ``\\@`` and userinfo tricks, in metadata,
   headers, an exception's message, the API key itself) appears in no label value, no
   exposition, no StatsD packet, no log record and no repr;
4. every event is counted: ``llm_requests_total`` sums to the number of events sent,
   in every backend.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import enum
import json
import logging
import math
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

from gatewaymetrics import LabelSettings, Pipeline, Settings, parse_litellm
from gatewaymetrics.backends.memory import HistogramValue, MemoryBackend
from gatewaymetrics.backends.otel import OtelBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.backends.statsd import StatsdBackend
from tests.conftest import require_module
from tests.strategies import Odd, hostile_text

adapter = require_module("gatewaymetrics.adapters.litellm", "pip install 'gatewaymetrics[litellm]'")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"
_LINES = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
PROXY = next(p for p in _LINES if p["scenario"] == "proxy_metadata")
#: The default labels, plus api_base (where URL secrets would show) and a custom label.
SETTINGS = Settings(
    labels=LabelSettings(opt_in=("api_base",), custom={"app": "requester_metadata.app"})
)
#: LiteLLM's names, with every label a LiteLLM family can carry turned on.
LITELLM_NAMED = Settings(
    naming="litellm",
    labels=LabelSettings(opt_in=("end_user", "user_email", "client_ip", "user_agent", "route")),
)
EVENTS = 3  # a clean event, then the hostile one twice
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- hostile values ----------------------------------------------------------------------


class OddStr(str):
    """A str subclass (pydantic and LiteLLM hand such values over)."""


class Flavour(str, enum.Enum):  # noqa: UP042  # LiteLLM's enums are (str, Enum): str() differs
    GPT = "gpt-4o-mini"


class BadTime(dt.datetime):
    """A datetime whose ``timestamp()`` raises."""

    def timestamp(self) -> float:
        raise OverflowError("timestamp out of range")


BAD_TIME = BadTime(2026, 11, 27, 6, 55, 41)

numbers = st.one_of(
    st.floats(),
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 1e300, 0.5]),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([10**400, -(10**400), 10**4400, 2**64, 3 * 2**1023]),
    st.sampled_from([Decimal("1e400"), Decimal("-1e400"), Decimal("NaN"), Decimal("sNaN"),
                     Decimal("Infinity"), Decimal("-Infinity"), Decimal("1e-400")]),
    st.sampled_from(["1e400", "-1e400", "1e308", "1e309", "NaN", "nan", "Infinity", "-inf",
                     "²", "١٢", "1_000", " 12 ", "0x10", "1e99999", "12abc", ""]),
)  # fmt: skip
texts = st.one_of(
    hostile_text,
    st.text(max_size=20).map(OddStr),
    st.just(Flavour.GPT),
    st.just("x" * 100_000),
)
anything = st.one_of(
    numbers,
    texts,
    st.none(),
    st.booleans(),
    st.just(BAD_TIME),
    st.datetimes(),
    st.builds(Odd, st.integers()),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)

_SLO: tuple[str, ...] = ("standard_logging_object",)
_META = (*_SLO, "metadata")
_LEGACY = ("litellm_params", "metadata")
_HIDDEN = (*_SLO, "hidden_params")


def _meta(key: str) -> tuple[tuple[str, ...], ...]:
    return ((*_META, key), (*_LEGACY, key))


#: Where a hostile value is planted: name -> (the paths it is written to, its kind).
PLACES: dict[str, tuple[tuple[tuple[str, ...], ...], st.SearchStrategy[Any]]] = {
    "cost": (((*_SLO, "response_cost"), ("response_cost",)), numbers),
    "prompt_tokens": (((*_SLO, "prompt_tokens"),), numbers),
    "completion_tokens": (((*_SLO, "completion_tokens"),), numbers),
    "key_spend": (_meta("user_api_key_spend"), numbers),
    "key_limit": (_meta("user_api_key_max_budget"), numbers),
    "team_spend": (_meta("user_api_key_team_spend"), numbers),
    "team_limit": (_meta("user_api_key_team_max_budget"), numbers),
    "user_spend": (_meta("user_api_key_user_spend"), numbers),
    "reset_at": (_meta("user_api_key_budget_reset_at"), anything),
    "started": (((*_SLO, "startTime"),), anything),
    "ended": (((*_SLO, "endTime"),), anything),
    "first_token": (((*_SLO, "completionStartTime"),), anything),
    "upstream_started": ((("api_call_start_time",),), anything),
    "model": (((*_SLO, "model"), ("model",)), texts),
    "model_group": (((*_SLO, "model_group"),), texts),
    "provider": (((*_SLO, "custom_llm_provider"),), texts),
    "call_type": (((*_SLO, "call_type"),), texts),
    "api_base": (((*_HIDDEN, "api_base"),), texts),
    "user": (_meta("user_api_key_user_id"), texts),
    "team": (_meta("user_api_key_team_id"), texts),
    "team_alias": (_meta("user_api_key_team_alias"), texts),
    "key_alias": (_meta("user_api_key_alias"), texts),
    "key": (_meta("user_api_key_hash"), texts),
    "app": (((*_META, "requester_metadata"),), st.builds(lambda v: {"app": v}, anything)),
    "ratelimit": (((*_HIDDEN, "additional_headers"),),
                  st.builds(lambda v: {"x-ratelimit-remaining-requests": v}, anything)),
    "cached_tokens": (((*_META, "usage_object"),),
                      st.builds(lambda v: {"prompt_tokens_details": {"cached_tokens": v}},
                                anything)),
    "anything": (((*_SLO, "stream"), (*_SLO, "cache_hit")), anything),
}  # fmt: skip


@attrs.frozen
class Payload:
    """How to build one hostile event: values planted at paths, its outcome and hook."""

    plants: tuple[tuple[tuple[str, ...], Any], ...]
    failed: bool
    sync: bool
    status: Any = None
    exception: Any = None

    def kwargs(self, call_id: str) -> dict[str, Any]:
        kwargs = proxy_kwargs(call_id)
        for path, value in self.plants:
            _put(kwargs, path, value)
        if self.failed:
            kwargs["exception"] = (
                self.exception
                if self.exception is not None
                else {"status_code": self.status, "type": "AuthenticationError"}
            )
            kwargs["standard_logging_object"]["status"] = "failure"
        return kwargs


def proxy_kwargs(call_id: str) -> dict[str, Any]:
    """A fresh copy of the captured proxy-style success event, with its own call id."""
    kwargs: dict[str, Any] = copy.deepcopy(PROXY["kwargs"])
    slo = kwargs["standard_logging_object"]
    slo["litellm_call_id"] = slo["id"] = kwargs["litellm_call_id"] = call_id
    return kwargs


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        inner = target.get(key)
        if not isinstance(inner, dict):
            return  # an earlier plant replaced the container: nothing to plant into
        target = inner
    target[path[-1]] = value


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    names = draw(st.lists(st.sampled_from(sorted(PLACES)), min_size=1, max_size=4, unique=True))
    plants = []
    for name in names:
        paths, values = PLACES[name]
        value = draw(values)
        plants += [(path, value) for path in paths]
    return Payload(
        plants=tuple(plants),
        failed=draw(st.booleans()),
        sync=draw(st.booleans()),
        status=draw(st.sampled_from([401, 400, 429, 500, "401", 10**400, None, "²"])),
    )


def planted(failed: bool = False, **values: Any) -> Payload:
    """A payload with ``values`` at the PLACES of those names (explicit examples)."""
    plants = tuple((path, value) for name, value in values.items() for path in PLACES[name][0])
    return Payload(plants=plants, failed=failed, sync=False, status=401)


#: Payloads that broke a promise when the suite was written (issue 12), always tried.
KNOWN = {
    "cost 1e308 (+Inf spend counter)": planted(cost=1e308),
    "cost '1e400'": planted(cost="1e400"),
    "spend and limit '1e400'": planted(key_spend="1e400", key_limit="1e400"),
    "tokens 10**400": planted(prompt_tokens=10**400, completion_tokens=10**400),
    "tokens of 4400 digits": planted(prompt_tokens=10**4400),
    "str subclass model": planted(model=OddStr("gpt-4o-mini"), team=OddStr("team-search")),
    "str-Enum model": planted(model=Flavour.GPT),
    "timestamp() raises": planted(started=BAD_TIME, ended=BAD_TIME, upstream_started=BAD_TIME),
    "'²' tokens": planted(prompt_tokens="²"),
    "401 with a guessed key": planted(failed=True, key="sk-guess-0123456789"),
}


def known(test: Callable[..., None]) -> Callable[..., None]:
    """``test`` tried on every :data:`KNOWN` payload before Hypothesis' own."""
    for payload in KNOWN.values():
        test = example(payload)(test)
    return test


# --- planted secrets -----------------------------------------------------------------------

#: URLs whose host, by the URL standard (WHATWG: a backslash ends the authority of an
#: http(s) URL), is api.example.com: the secret is never part of the origin.
_URLS = (
    "https://api.example.com\\@{s}/v1",
    "https://api.example.com\\\\@{s}",
    "https://api.example.com:443\\@{s}/",
    "https://api.example.com/\\@{s}",
    "https://{s}@api.example.com/v1",
    "https://user:{s}@api.example.com/v1",
    "https://api.example.com/v1?api_key={s}",
    "https://api.example.com/{s}/v1",
    "https://api.example.com#{s}",
    "//{s}@api.example.com",
)


def _secret_plants(secret: str) -> dict[str, tuple[tuple[tuple[str, ...], Any], ...]]:
    return {
        "headers": (((*_HIDDEN, "additional_headers"),
                     {"authorization": f"Bearer {secret}", "x-api-key": secret}),),
        "metadata": (((*_META, "spend_logs_metadata"), {"token": secret}),
                     ((*_META, "requester_custom_headers"), {"authorization": f"Bearer {secret}"}),
                     ((*_META, "user_api_key_auth_metadata"), {"api_key": secret}),
                     ((*_META, "requester_metadata"), {"app": "ok", "note": secret})),
        "key": tuple((path, secret) for path in _meta("user_api_key_hash")),
        "bearer key": (*((path, None) for path in _meta("user_api_key_hash")),
                       ((*_LEGACY, "user_api_key"), f"Bearer {secret}")),
        "error text": (((*_SLO, "error_str"), f"Incorrect API key provided: {secret}"),
                       ((*_SLO, "error_information"),
                        {"error_class": "AuthenticationError", "error_code": "401",
                         "error_message": f"Incorrect API key provided: {secret}"})),
    }  # fmt: skip


SECRET = "QWERTY1234567890abcdef"


def _api_base(url: str) -> tuple[tuple[tuple[str, ...], Any], ...]:
    return tuple((path, url) for path in ((*_HIDDEN, "api_base"), (*_SLO, "api_base"),
                                          ("litellm_params", "api_base")))  # fmt: skip


@st.composite
def secret_payloads(draw: st.DrawFn) -> tuple[str, Payload]:
    body = draw(st.text(string.ascii_letters + string.digits, min_size=12, max_size=30))
    secret = f"sk-proj-{SECRET}{body}"
    elsewhere = _secret_plants(secret)
    places = draw(st.lists(st.sampled_from(["api_base", *elsewhere]), min_size=1, max_size=3,
                           unique=True))  # fmt: skip
    plants: list[tuple[tuple[str, ...], Any]] = []
    for place in places:
        if place == "api_base":
            plants += _api_base(draw(st.sampled_from(_URLS)).format(s=secret))
        else:
            plants += elsewhere[place]
    failed = draw(st.booleans())
    exception = ValueError(f"AuthenticationError: Incorrect API key provided: {secret}")
    return secret, Payload(
        plants=tuple(plants),
        failed=failed,
        sync=draw(st.booleans()),
        status=401,
        exception=exception if draw(st.booleans()) else None,
    )


# --- the pipelines the payloads go through -----------------------------------------------


class Packets:
    """A StatsD transport that keeps every packet (the backend's ``Transport``)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, packet: str) -> None:
        self.sent.append(packet)

    def close(self) -> None:
        pass


@attrs.define
class Run:
    """One payload through both paths: what came out, and what a hook raised."""

    memory: MemoryBackend
    packets: Packets
    general: Pipeline
    fast: Pipeline
    raised: list[str]
    expositions: list[str]
    #: The exposition of a third pipeline, under LiteLLM's names (general and fast path),
    #: and the OpenTelemetry points of its OTel backend.
    named: str
    otel: list[tuple[str, dict[str, object], float]]
    logs: list[str]
    reprs: list[str]


class _Keep(logging.Handler):
    def __init__(self, out: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.out = out
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.out.append(self.format(record))


@contextmanager
def kept_logs() -> Iterator[list[str]]:
    """Every record of the ``gatewaymetrics`` logger, formatted (tracebacks included)."""
    out: list[str] = []
    handler = _Keep(out)
    logger = logging.getLogger("gatewaymetrics")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _repr(thing: object) -> str:
    """``repr(thing)``; what it raised instead (a repr is checked for secrets only)."""
    try:
        return repr(thing)
    except Exception as exc:
        return f"<repr raised {type(exc).__name__}>"


def _call(hook: Callable[..., Any], sync: bool, *args: Any) -> None:
    if sync:
        hook(*args)
    else:
        asyncio.run(hook(*args))


def run(payload: Payload) -> Run:
    memory, packets = MemoryBackend(), Packets()
    general_prometheus = PrometheusBackend(registry=CollectorRegistry())
    general = Pipeline([memory, general_prometheus, StatsdBackend(client=packets)], SETTINGS)
    fast_prometheus = PrometheusBackend(registry=CollectorRegistry())
    fast = Pipeline([fast_prometheus], SETTINGS)
    named_prometheus = PrometheusBackend(registry=CollectorRegistry())
    reader = InMemoryMetricReader()
    otel = OtelBackend(meter_provider=MeterProvider(metric_readers=[reader]))
    named = Pipeline([named_prometheus, otel], LITELLM_NAMED)
    response = PROXY["response_obj"]
    start = dt.datetime.fromisoformat(PROXY["start_time"])
    end = dt.datetime.fromisoformat(PROXY["end_time"])
    raised: list[str] = []
    reprs: list[str] = []
    with kept_logs() as logs:
        for pipeline in (general, fast, named):
            logger = adapter.GatewayMetricsLogger(pipeline)
            events = [(proxy_kwargs("clean"), False, False)] + [
                (payload.kwargs(f"hostile-{n}"), payload.failed, payload.sync) for n in (1, 2)
            ]
            for kwargs, failed, sync in events:
                if failed:
                    hook = logger.log_failure_event if sync else logger.async_log_failure_event
                else:
                    hook = logger.log_success_event if sync else logger.async_log_success_event
                try:
                    _call(hook, sync, kwargs, None if failed else response, start, end)
                except Exception as exc:  # what the property says never happens
                    raised.append(f"{type(exc).__name__}: {exc}")
            reprs += [_repr(logger), _repr(pipeline), *map(_repr, pipeline.backends)]
        event = parse_litellm(payload.kwargs("parsed"), response, start, end, failed=payload.failed)
        reprs.append(_repr(event))
        general.close()
        fast.close()
        named.close()
        expositions = [b.exposition()[0].decode() for b in (general_prometheus, fast_prometheus)]
    return Run(memory=memory, packets=packets, general=general, fast=fast, raised=raised,
               expositions=expositions, named=named_prometheus.exposition()[0].decode(),
               otel=_otel_points(reader), logs=logs, reprs=reprs)  # fmt: skip


def _otel_points(reader: InMemoryMetricReader) -> list[tuple[str, dict[str, object], float]]:
    """Every OpenTelemetry point: (name, attributes, value or histogram sum)."""
    data = reader.get_metrics_data()
    points = []
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    value = point.sum if value is None else value  # a histogram's sum
                    points.append((metric.name, dict(point.attributes), float(value)))
    return points


def _samples(exposition: str) -> Iterator[tuple[str, str]]:
    """(series, value text) of every sample line."""
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            yield series, value


def _requests(exposition: str) -> float:
    return sum(float(v) for s, v in _samples(exposition) if s.startswith("llm_requests_total"))


def _finite(value: object) -> bool:
    if isinstance(value, HistogramValue):
        return _finite(value.sum)
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]  # Decimal or float
    except (OverflowError, ValueError):
        return False


def nonfinite(result: Run) -> list[str]:
    """Every sample that is not a finite float64: memory, expositions, StatsD lines."""
    bad = [f"memory {s.name}{dict(s.labels)} = {s.value!r}"
           for s in result.memory.snapshot().series if not _finite(s.value)]  # fmt: skip
    bad += [f"otel {name}{attributes} = {value!r}" for name, attributes, value in result.otel
            if not math.isfinite(value)]  # fmt: skip
    for exposition in (*result.expositions, result.named):
        bad += [f"{series} {value}" for series, value in _samples(exposition)
                if not _finite(value)]  # fmt: skip
    for packet in result.packets.sent:
        for line in packet.split("\n"):
            value = line.partition("|")[0].rpartition(":")[2]  # name:value|type|#tags
            if not _finite(value):
                bad.append(f"statsd {line[:200]}")
    return bad


def label_values(result: Run) -> list[str]:
    return [value for s in result.memory.snapshot().series for _, value in s.labels]


# --- the properties ------------------------------------------------------------------------


@PROPERTY
@known
@given(payloads())
def test_no_hostile_payload_makes_a_hook_raise(payload: Payload) -> None:
    assert run(payload).raised == []


@PROPERTY
@known
@given(payloads())
def test_no_payload_yields_a_nonfinite_value(payload: Payload) -> None:
    assert nonfinite(run(payload)) == []


@PROPERTY
@example(
    (
        f"sk-proj-{SECRET}",
        Payload(plants=_api_base(f"https://api.example.com\\@sk-proj-{SECRET}/v1"), failed=False,
                sync=False),
    )
)  # fmt: skip
@given(secret_payloads())
def test_a_planted_secret_appears_nowhere(planted: tuple[str, Payload]) -> None:
    secret, payload = planted
    result = run(payload)
    needle = secret.lower().removeprefix("sk-proj-")
    places = {
        "label values": label_values(result),
        "expositions": [*result.expositions, result.named],
        "otel attributes": [repr(attributes) for _, attributes, _ in result.otel],
        "statsd packets": result.packets.sent,
        "log records": result.logs,
        "reprs": result.reprs,
    }
    found = {where: [text[:300] for text in texts if needle in text.lower()]
             for where, texts in places.items()}  # fmt: skip
    assert {where: hits for where, hits in found.items() if hits} == {}


@PROPERTY
@known
@given(payloads())
def test_every_event_is_counted(payload: Payload) -> None:
    result = run(payload)
    assert result.memory.sum("llm_requests_total") == EVENTS
    assert [_requests(exposition) for exposition in result.expositions] == [EVENTS, EVENTS]
    total = "litellm_proxy_total_requests_metric_total"
    assert sum(float(v) for s, v in _samples(result.named) if s.startswith(total)) == EVENTS
    assert sum(v for name, _, v in result.otel if name == "gatewaymetrics.requests") == EVENTS
