"""The promises hostile input must not break (issue 12, points 4 to 8 and 11).

- No finite input yields a non-finite value: whatever numbers a payload holds, every
  value a backend holds is finite and within float range.
- A field that cannot be read costs that field: one problem on it; the rest of the
  event is recorded, on the general path and on the fast path alike.
- Every string is cut before it is cleaned.
- No secret survives: a credential planted in an API base or in the key fields never
  reaches a label.
- A key the gateway refused creates no series of its own.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import math
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from gatewaymetrics import LabelSettings, Pipeline, Settings, parse_litellm
from gatewaymetrics.backends.memory import HistogramValue, MemoryBackend
from gatewaymetrics.backends.prometheus import PrometheusBackend
from gatewaymetrics.core import labels as labels_module
from gatewaymetrics.core.litellm_fields import (
    BY_NAME,
    FIELDS,
    TABLE_LABELS,
    Kind,
    Role,
    place_paths,
)
from gatewaymetrics.core.records import CallEvent, CallRecord, Principal, Problem
from gatewaymetrics.testing import memory_pipeline
from tests.core.test_litellm_payload import KEY_HASH, slo_kwargs
from tests.strategies import RaisingZone, hostile_numbers

#: The api_key label of a call whose key the gateway refused.
REJECTED_KEY = "_rejected"

# -- payloads ---------------------------------------------------------------------------

KeyPath = tuple[str, ...]


def set_path(payload: dict[str, Any], path: KeyPath, value: object) -> None:
    """Set ``path`` (from the root arguments) to ``value``, making dicts on the way."""
    *parents, last = path
    container = payload
    for key in parents:
        child = container.get(key)
        if type(child) is not dict:
            child = container[key] = {}
        container = child
    container[last] = value


def base_payload() -> dict[str, Any]:
    """The proxy payload of tests/core, as the four callback arguments, with token
    subsets of 0 (so no count's loss caps another)."""
    kwargs = slo_kwargs()
    usage = kwargs["standard_logging_object"]["metadata"]["usage_object"]
    usage["prompt_tokens_details"]["cached_tokens"] = 0
    usage["completion_tokens_details"]["reasoning_tokens"] = 0
    metadata = kwargs["standard_logging_object"]["metadata"]
    metadata.update(user_api_key_org_spend=2.0, user_api_key_end_user_spend=1.0)
    return {"kwargs": kwargs, "response_obj": None, "start_time": None, "end_time": None}


def parse(payload: dict[str, Any], **options: Any) -> CallEvent:
    return parse_litellm(
        payload["kwargs"], payload["response_obj"], payload["start_time"], payload["end_time"],
        **options,
    )  # fmt: skip


def with_field(field: str, value: object) -> dict[str, Any]:
    """The base payload with ``value`` at the first place of ``field`` and nothing at
    its other places."""
    payload = base_payload()
    paths = [path for place in BY_NAME[field].places for path in place_paths(place)]
    for path in paths[1:]:
        if len(path) > 1:
            set_path(payload, path, None)
        else:
            payload[path[0]] = None
    first = paths[0]
    if len(first) > 1:
        set_path(payload, first, value)
    else:
        payload[first[0]] = value
    return payload


def flat(event: CallEvent) -> dict[str, object]:
    """Everything an event says, by record attribute."""
    call = event.call
    out: dict[str, object] = {
        f"call.{a.name}": getattr(call, a.name)
        for a in attrs.fields(CallRecord)
        if a.name not in ("principal", "tokens")
    }
    out.update(
        {f"principal.{a.name}": getattr(call.principal, a.name) for a in attrs.fields(Principal)}
    )
    out.update(
        {f"tokens.{a.name}": getattr(call.tokens, a.name) for a in attrs.fields(type(call.tokens))}
    )
    out["budgets"] = event.budgets
    return out


_PRINCIPAL = {a.name for a in attrs.fields(Principal)}


def attribute(field: str) -> str:
    """The record attribute a field feeds."""
    if field in TABLE_LABELS.values():  # a label of the field table's own
        return "call.extra_labels"
    if field in _PRINCIPAL:
        return f"principal.{field}"
    if field.startswith("tokens."):
        return field.replace("tokens.input", "tokens.input")
    if field.startswith("budget."):
        return "budgets"
    return f"call.{field}"


#: What else a field may change: budgets hang on the principal and on the cost; the
#: call id feeds nothing else.
def may_change(field: str) -> set[str]:
    out = {attribute(field)}
    if field in _PRINCIPAL or field in ("cost_usd",):
        out.add("budgets")
    return out


STRING_FIELDS = tuple(
    f.name for f in FIELDS if f.kind in (Kind.TEXT, Kind.KEY) and f.role is not Role.OUTCOME
)
NUMBER_FIELDS = tuple(f.name for f in FIELDS if f.kind in (Kind.COUNT, Kind.TIME, Kind.MONEY))

GOOD_TEXT = {
    "operation": "acompletion",
    "api_base": "https://api.example.com/v1",
    "api_key": KEY_HASH,
}


def good_text(field: str) -> str:
    return GOOD_TEXT.get(field, f"value-of-{field}")


class Sub(str):
    """A str subclass whose own methods would misbehave if anything called them."""

    def __len__(self) -> int:
        raise RuntimeError("a subclass method ran")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("a subclass method ran")

    def __hash__(self) -> int:
        raise RuntimeError("a subclass method ran")

    def __str__(self) -> str:
        raise RuntimeError("a subclass method ran")

    def strip(self, chars: str | None = None) -> str:
        raise RuntimeError("a subclass method ran")


def readable_variants(text: str) -> list[object]:
    """Odd forms of ``text`` that must read as ``text`` itself."""
    as_enum = enum.Enum("Plain", {"MEMBER": text})  # an Enum whose value is a str
    as_str_enum = enum.Enum("Mixed", {"MEMBER": text}, type=str)  # (str, Enum)
    as_strenum = enum.StrEnum("Strict", {"MEMBER": text})
    return [Sub(text), as_enum.MEMBER, as_str_enum.MEMBER, as_strenum.MEMBER]


#: Values a string field cannot read: each one problem on that field.
UNREADABLE_TEXT: tuple[object, ...] = (
    10**5000,  # beyond the int-to-str conversion limit
    4.5,
    b"bytes",
    [1],
    object(),
)

#: Values a number field cannot read, by kind: each one problem on that field.
UNREADABLE_NUMBERS: dict[Kind, tuple[object, ...]] = {
    Kind.COUNT: (10**400, 10**5000, 2**63, 1e300, "²", "12²", math.inf, math.nan, -1, Sub("x")),
    Kind.TIME: (
        1e300, math.inf, math.nan, 10**400, "1e400", 2.0**39,
        datetime(2026, 1, 1, tzinfo=RaisingZone()), -5.0,
    ),
    Kind.MONEY: (
        1e308, 1e15, math.inf, math.nan, "1e1000000000", "1e400", Decimal("1e400"),
        Decimal("1E+1000000000"), Decimal("0E-1000000000"), "1e-1000000", 10**400, -0.5,
    ),
}  # fmt: skip

# -- a field that cannot be read costs that field ----------------------------------------------


def test_every_string_and_number_field_is_covered() -> None:
    assert len(STRING_FIELDS) == 19
    assert set(NUMBER_FIELDS) >= {"cost_usd", "tokens.input", "started_at", "budget.team.spend"}


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("variant", range(4))
def test_an_odd_string_is_read_as_its_plain_value(field: str, variant: int) -> None:
    """Issue 12, point 7: a str subclass or an enum member in any string field is read
    as its characters, a plain str; nothing else changes and nothing is reported."""
    text = good_text(field)
    expected = parse(with_field(field, text))
    odd = readable_variants(text)[variant]
    event = parse(with_field(field, odd))
    assert event.problems == expected.problems == ()
    assert flat(event) == flat(expected)
    for value in flat(event).values():
        assert type(value) is not Sub
        assert (
            not isinstance(value, enum.Enum)
            or type(value).__module__ == "gatewaymetrics.core.records"
        )


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("value", UNREADABLE_TEXT, ids=lambda v: type(v).__name__)
def test_an_unreadable_string_costs_its_field_only(field: str, value: object) -> None:
    """Issue 12, point 7: one problem on that field (none for the key: a key is never
    described), the field unknown, every other field as before."""
    good = parse(with_field(field, good_text(field)))
    missing = parse(with_field(field, None))
    event = parse(with_field(field, value))
    assert flat(event) == flat(missing)
    changed = {k for k in flat(good) if flat(good)[k] != flat(event)[k]}
    assert changed <= may_change(field)
    if BY_NAME[field].kind is Kind.KEY:
        assert event.problems == ()
    else:
        assert [p.field for p in event.problems] == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f in NUMBER_FIELDS for v in UNREADABLE_NUMBERS[BY_NAME[f].kind]],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_an_unreadable_number_costs_its_field_only(field: str, value: object) -> None:
    """Issue 12, points 4 to 7: a number out of range (10**400 tokens, a cost of 1e308,
    "1e1000000000"), not finite, "²", or a datetime whose timestamp() raises: one
    problem on that field, the field unknown, the rest of the event as before."""
    missing = parse(with_field(field, None))
    event = parse(with_field(field, value))
    assert [p.field for p in event.problems] == [field]
    assert flat(event) == flat(missing)


def test_the_reported_twelve_bytes_cost_is_a_problem_not_a_billion_digits() -> None:
    """Issue 12, point 5: "1e1000000000" parsed as a finite Decimal; StatsD wrote every
    digit (2.9 GB)."""
    event = parse(with_field("cost_usd", "1e1000000000"))
    assert event.call.cost_usd is None
    assert event.problems == (Problem(field="cost_usd", message="out of range; unknown"),)


@given(
    field=st.sampled_from(STRING_FIELDS),
    value=st.one_of(
        st.integers(min_value=10**4300, max_value=10**4400),
        st.sampled_from(UNREADABLE_TEXT),
        st.builds(object),
    ),
    other=st.sampled_from(STRING_FIELDS),
)
@settings(max_examples=60, deadline=None)
def test_a_hostile_string_leaves_every_other_field_intact(
    field: str, value: object, other: str
) -> None:
    """For every string field, a hostile value there leaves the other fields intact
    and adds at most one problem, on that field."""
    good = flat(parse(with_field(field, good_text(field))))
    event = parse(with_field(field, value))
    hostile = flat(event)
    attr = attribute(other)
    if attr not in may_change(field):
        assert hostile[attr] == good[attr]
    assert {p.field for p in event.problems} <= {field}
    assert len(event.problems) <= 1


# -- both paths: nothing dropped, the same recorded ---------------------------------------------


def _pipelines(config: Settings) -> tuple[tuple[Pipeline, CollectorRegistry], ...]:
    out = []
    for fast in (True, False):
        registry = CollectorRegistry()
        backend = PrometheusBackend(registry=registry, multiprocess=False)
        out.append((Pipeline([backend], config, fast_path=fast), registry))
    return tuple(out)


def _series(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def _dropped(values: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(
        v for (name, _), v in values.items() if name.startswith("gatewaymetrics_events_dropped")
    )


def _odd_fast_cases() -> Iterator[tuple[str, KeyPath, object]]:
    """Odd values at the places the fast reader reads from the proxy payload."""
    slo = ("kwargs", "standard_logging_object")
    meta = (*slo, "metadata")
    yield "tokens 10**400", (*slo, "prompt_tokens"), 10**400
    yield "tokens 10**5000", (*slo, "completion_tokens"), 10**5000
    yield "tokens 2**63", (*slo, "prompt_tokens"), 2**63
    yield "tokens ²", (*slo, "prompt_tokens"), "²"
    yield "cost 1e308", (*slo, "response_cost"), 1e308
    yield "cost 1e1000000000", (*slo, "response_cost"), "1e1000000000"
    yield "spend 1e308", (*meta, "user_api_key_spend"), 1e308
    yield "limit 1e400", (*meta, "user_api_key_max_budget"), "1e400"
    yield "start 1e300", (*slo, "startTime"), 1e300
    yield "end after 10000", (*slo, "endTime"), 2.0**40
    yield "start raising tz", (*slo, "startTime"), datetime(2026, 1, 1, tzinfo=RaisingZone())
    yield (
        "ratelimit 10**30",
        (*slo, "hidden_params", "additional_headers", "x_ratelimit_remaining_tokens"),
        10**30,
    )
    yield "model subclass", (*slo, "model"), Sub("gpt-4o-mini")
    yield "team enum", (*meta, "user_api_key_team_id"), enum.StrEnum("T", {"A": "team-a"}).A
    yield "status subclass", (*slo, "status"), Sub("success")
    yield "call id huge int", (*slo, "litellm_call_id"), 10**5000
    yield "custom label 10 MB", (*meta, "requester_metadata", "app"), "x" * 10_000_000


_ODD_FAST_CASES = list(_odd_fast_cases())


@pytest.mark.parametrize(
    ("how", "path", "value"), _ODD_FAST_CASES, ids=[c[0] for c in _ODD_FAST_CASES]
)
def test_an_odd_value_on_the_fast_path_is_recorded_as_the_general_path_records_it(
    how: str, path: KeyPath, value: object
) -> None:
    """Issue 12, points 6 and 7: the fast path dropped (or half-applied) an event with an
    odd value; it now hands it to the parser, which records all but that field."""
    config = Settings(labels=LabelSettings(custom={"app": "requester_metadata.app"}))
    (fast, fast_registry), (general, general_registry) = _pipelines(config)
    normal = base_payload()
    odd = base_payload()
    set_path(odd, path, value)
    for pipeline in (fast, general):
        pipeline.record_litellm(**normal, failed=False)  # the identity is known: fast
        pipeline.record_litellm(**normal, failed=False)
        pipeline.record_litellm(**odd, failed=False)
    assert fast.fast_events >= 1
    fast_values, general_values = _series(fast_registry), _series(general_registry)
    assert fast_values == general_values
    assert _dropped(fast_values) == 0
    requests = sum(v for (n, _), v in fast_values.items() if n == "llm_requests_total")
    assert requests == 3
    for (name, labels), number in fast_values.items():
        assert math.isfinite(number) or name.endswith("_bucket"), (name, labels, number)


# -- no finite input yields a non-finite value -------------------------------------------------


_NUMBER_PATHS: tuple[KeyPath, ...] = tuple(
    dict.fromkeys(
        path
        for name in NUMBER_FIELDS
        for place in BY_NAME[name].places
        for path in place_paths(place)
    )
)


def _finite(value: Decimal | HistogramValue) -> bool:
    if isinstance(value, HistogramValue):
        return math.isfinite(float(value.sum)) and value.sum.is_finite()
    return value.is_finite() and math.isfinite(float(value))


_INF_OR_NAN = re.compile(r"^(?!.*le=\"\+Inf\").*\s[+-]?(Inf|NaN)\b", re.MULTILINE)


@given(
    changes=st.lists(
        st.tuples(st.sampled_from(_NUMBER_PATHS), hostile_numbers), min_size=1, max_size=8
    ),
    repeats=st.integers(min_value=1, max_value=3),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_finite_input_yields_a_non_finite_value(
    changes: list[tuple[KeyPath, object]], repeats: int
) -> None:
    """Issue 12, point 4: whatever numbers a payload holds, repeated on both paths, every
    value a backend holds is finite and within float range, and Prometheus' exposition
    holds no Inf or NaN (but the +Inf bucket bound)."""
    payload = base_payload()
    for path, value in changes:
        if len(path) == 1:
            payload[path[0]] = value
        else:
            set_path(payload, path, value)
    memory = MemoryBackend()
    registry = CollectorRegistry()
    prometheus = PrometheusBackend(registry=registry, multiprocess=False)
    pipelines = [Pipeline([prometheus]), Pipeline([memory], fast_path=False)]
    for pipeline in pipelines:
        for _ in range(repeats):
            pipeline.record_litellm(**base_payload(), failed=False)
            pipeline.record_litellm(**copy.copy(payload), failed=False)
    for series in memory.snapshot().series:
        assert _finite(series.value), series
    text = prometheus.exposition()[0].decode()
    assert _INF_OR_NAN.search(text) is None, _INF_OR_NAN.search(text)
    assert _dropped(_series(registry)) == 0


def test_the_reported_overflows_stay_finite() -> None:
    """Issue 12, point 4: cost or spend 1e308 gave +Inf/-Inf budget gauges; spend and
    limit "1e400" gave NaN on the second event."""
    registry = CollectorRegistry()
    pipeline = Pipeline([PrometheusBackend(registry=registry, multiprocess=False)])
    for cost, spend, limit in (
        (1e308, 1e308, 10.0),
        (0.5, "1e400", "1e400"),
        (0.5, "1e400", "1e400"),
    ):
        payload = base_payload()
        slo = payload["kwargs"]["standard_logging_object"]
        slo["response_cost"] = cost
        slo["metadata"]["user_api_key_spend"] = spend
        slo["metadata"]["user_api_key_max_budget"] = limit
        pipeline.record_litellm(**payload, failed=False)
    values = _series(registry)
    assert all(math.isfinite(v) for (name, _), v in values.items() if not name.endswith("_bucket"))
    key = (("alias", "ci-key"), ("scope", "api_key"), ("subject", KEY_HASH))
    assert ("llm_budget_spend_usd", key) not in values  # no spend could be read: no gauge
    team = (("alias", "Team A"), ("scope", "team"), ("subject", "team-a"))
    assert values[("llm_budget_spend_usd", team)] == 4.0  # 3.5 + 0.5: the readable cost


# -- every string is cut before it is cleaned ------------------------------------------------


class Huge(str):
    """A 10 MB value whose own methods must never run: only ``str``'s may touch it."""

    def __getattribute__(self, name: str) -> Any:
        raise AssertionError(f"{name} of the huge value was called")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the huge value was iterated")

    def __getitem__(self, index: object) -> str:
        raise AssertionError("the huge value was indexed")

    def __len__(self) -> int:
        raise AssertionError("len() of the huge value")


@pytest.fixture
def cleaned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of the strings the label cleaner is given."""
    lengths: list[int] = []
    clean = labels_module._clean

    def counting(value: str) -> str:
        lengths.append(len(value))
        return clean(value)

    monkeypatch.setattr(labels_module, "_clean", counting)
    return lengths


def test_a_huge_custom_label_or_fallback_model_is_cut_before_it_is_cleaned(
    cleaned: list[int],
) -> None:
    """Issue 12, point 5: a 10 MB value was cleaned in full (1.4 to 4.6 s per event),
    then cut. Now the cleaner is only ever given the cut value."""
    cap = 16
    huge = "\x00a" * 5_000_000  # 10 MB, control characters all along
    config = Settings(
        labels=LabelSettings(custom={"app": "requester_metadata.app"}, max_value_length=cap)
    )
    recorder = memory_pipeline(config)
    payload = base_payload()
    payload["kwargs"]["standard_logging_object"]["metadata"]["requester_metadata"]["app"] = huge
    recorder.pipeline.record_litellm(**payload, failed=False)
    recorder.pipeline.record_fallback(huge, Huge("y" * 10_000_000), succeeded=True)
    assert cleaned
    assert max(cleaned) <= cap
    assert recorder.backend.series("llm_requests_total")[0]["app"] == "a" * (cap // 2)
    assert recorder.backend.series("llm_fallbacks_total") == [
        {"requested_model": "a" * (cap // 2), "fallback_model": "y" * cap, "outcome": "success"}
    ]


def test_render_value_touches_a_huge_value_only_through_str(cleaned: list[int]) -> None:
    rendered = labels_module.render_value(Huge("z" * 10_000_000), 128)
    assert rendered == "z" * 128
    assert type(rendered) is str
    assert cleaned == [128]


# -- no secret survives ------------------------------------------------------------------------

_SECRET = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=12,
    max_size=40,
)
_JUNK = st.sampled_from(
    ["\\@", "@", "%40", "\t@", "\n@", "\\", "/@", ":@", "?@", "#@", ":", " ", "\r\n@"]
)


@given(secret=_SECRET.map(lambda s: "sk-proj-" + s), junk=_JUNK, failed=st.booleans())
@settings(max_examples=80, deadline=None)
def test_no_planted_secret_reaches_a_label(secret: str, junk: str, failed: bool) -> None:
    """Issue 12, point 8: a key after ``\\@`` in an API base became the api_base label.
    Planted in the API base (each place, after each kind of junk) and in the key
    fields, it reaches no label value, problem or record, on either path."""
    config = Settings(labels=LabelSettings(opt_in=("api_base", "end_user", "deployment_id")))
    payload = base_payload()
    slo = payload["kwargs"]["standard_logging_object"]
    slo["hidden_params"]["api_base"] = f"https://api.example.com{junk}{secret}/v1"
    slo["api_base"] = f"https://{secret}@api.example.com/v1"
    payload["kwargs"]["litellm_params"]["api_base"] = f"https://api.example.com{junk}{secret}"
    slo["metadata"]["user_api_key_hash"] = secret
    payload["kwargs"]["litellm_params"]["metadata"]["user_api_key"] = f"Bearer {secret}"
    event = parse(payload, failed=failed)
    assert secret.lower() not in repr(event).lower()
    for fast in (True, False):
        backend = MemoryBackend()
        pipeline = Pipeline([backend], config, fast_path=fast)
        for _ in range(2):
            pipeline.record_litellm(**copy.deepcopy(payload), failed=failed)
        for series in backend.snapshot().series:
            for _, value in series.labels:
                assert secret.lower() not in value.lower()
                assert "sk-proj-" not in value


# -- a key the gateway refused creates no series ----------------------------------------------


def _refused(key: str, exception: object, spend: float | None = 0.0) -> dict[str, Any]:
    """A failure event as LiteLLM's proxy logs a refused key: the key's hash in the
    metadata (with the default spend of 0.0), the auth exception."""
    payload = base_payload()
    kwargs = payload["kwargs"]
    slo = kwargs["standard_logging_object"]
    metadata = {
        "user_api_key_hash": hashlib.sha256(key.encode()).hexdigest(),
        "user_api_key_spend": spend,
        "user_api_key_max_budget": None,
    }
    slo["metadata"] = metadata
    slo["status"] = "failure"
    slo["response_cost"] = 0.0
    kwargs["litellm_params"]["metadata"] = dict(metadata)
    kwargs["exception"] = exception
    status = getattr(exception, "code", None) or (
        exception.get("status_code") if isinstance(exception, dict) else ""
    )
    slo["error_information"] = {"error_class": type(exception).__name__, "error_code": str(status)}
    return payload


def _litellm_auth_errors() -> list[object]:
    """The exceptions LiteLLM's proxy fails a refused key with (its own classes, when
    LiteLLM is installed), and their JSON-replayed forms."""
    errors: list[object] = [
        {"type": "AuthenticationError", "status_code": 401},
        {"type": "auth_error", "status_code": 401},
        {"type": "auth_error", "code": "400"},  # a ProxyException's to_dict(), replayed
        {"type": "no_db_connection", "code": "400"},
    ]
    try:
        from litellm.proxy._types import ProxyErrorTypes, ProxyException
        from litellm.proxy.auth.resolvers.exceptions import KeyNotFoundError
    except ImportError:  # pragma: no cover - litellm is a test dependency
        return errors
    errors += [
        KeyNotFoundError("0" * 64),
        ProxyException(
            message="Authentication Error", type=ProxyErrorTypes.auth_error, param=None, code=401
        ),
        ProxyException(
            message="no db", type=ProxyErrorTypes.no_db_connection, param=None, code=400
        ),
    ]
    return errors


_AUTH_ERRORS = _litellm_auth_errors()


@pytest.mark.parametrize(
    "exception", _AUTH_ERRORS, ids=[f"{type(e).__name__}-{i}" for i, e in enumerate(_AUTH_ERRORS)]
)
@pytest.mark.parametrize("fast", [True, False])
def test_a_thousand_refused_keys_make_one_api_key_series(exception: object, fast: bool) -> None:
    """Issue 12, point 11: every key a client guesses that the proxy refuses (401, or
    400) became an api_key series of its own. Now all of them are one: ``_rejected``,
    with no budget series."""
    for mode in ("fingerprint", "alias"):
        backend = MemoryBackend()
        pipeline = Pipeline([backend], Settings(labels=LabelSettings(api_key=mode)), fast_path=fast)
        for number in range(1000):
            pipeline.record_litellm(**_refused(f"sk-guess-{number}", exception), failed=True)
        for metric in backend.snapshot().series:
            labels = dict(metric.labels)
            if "api_key" in labels:
                assert labels["api_key"] == REJECTED_KEY, metric
        requests = backend.series("llm_requests_total")
        assert [s["api_key"] for s in requests] == [REJECTED_KEY]
        assert backend.sum("llm_requests_total", error_type="auth") == 1000
        assert backend.series("llm_budget_spend_usd") == []


def test_a_refused_key_keeps_the_rest_of_the_call() -> None:
    event = parse(
        _refused("sk-guess", {"type": "AuthenticationError", "status_code": 401}), failed=True
    )
    assert event.call.principal.api_key == REJECTED_KEY
    assert event.budgets == ()
    assert event.call.model == "gpt-4o-mini"
    assert event.call.error is not None
    assert event.call.error.status_code == 401


def test_other_failures_keep_their_key() -> None:
    """A rate-limited or failed call of a key the gateway accepted keeps its key."""
    for error in (
        {"type": "RateLimitError", "status_code": 429},
        {"type": "APIError", "status_code": 500},
    ):
        event = parse(_refused("sk-real", error), failed=True)
        assert event.call.principal.api_key == hashlib.sha256(b"sk-real").hexdigest()
        assert [b.subject for b in event.budgets] == [event.call.principal.api_key]
