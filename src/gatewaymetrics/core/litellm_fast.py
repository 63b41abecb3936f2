"""The fast reading of a LiteLLM success payload: raw values, no records.

:func:`~gatewaymetrics.core.litellm_payload.parse_litellm` is the specification; this
module reads the same places in the same order for the common shape of a success
callback and gives up on anything the parser would have to repair or report (the
caller then runs the parser). Two phases:

1. :func:`identity_key`: every raw value a call's identity (labels, budget subjects)
   can come from, as one hashable tuple (None: not the common shape). Equal keys mean
   equal identities, so a caller can parse the first payload of an identity with the
   parser and reuse the result. Only values of exactly ``str``, ``bool`` or None make
   a key: ``1 == True``, a ``str`` subclass (an enum member) equal to a string, or an
   object with an ``__eq__`` of its own must never make two identities equal.
2. :func:`read_values`: the per-call numbers (tokens, cost, times, rate limits,
   budget spends), each with the parser's precedence; the common type of the first
   place is checked inline, anything else goes through the parser's own converters,
   and any problem they report raises :class:`Uncommon`.

Money is read as float here: the fast path feeds float backends (Prometheus) only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter

from gatewaymetrics.core.coerce import (
    MAX_STR,
    Problems,
    first,
    pick_int,
    pick_money,
    pick_str,
    pick_time,
    read,
    view,
)

__all__ = ["Payload", "Uncommon", "Values", "identity_key", "read_values"]

_NOT_A_KEY = object()
_Dict = dict[str, object]
_EMPTY: _Dict = {}
_INF = math.inf


#: The containers of one payload as the parser sees them (empty when missing): the
#: kwargs, the standard logging object, its metadata, the legacy metadata
#: (``litellm_params.metadata``) and the hidden params.
Payload = tuple[_Dict, _Dict, _Dict, _Dict, _Dict]

#: A success call's numbers: input, output, cached input and reasoning tokens; cost;
#: request, upstream, first-token and per-output-token durations (derived as the
#: records derive them); remaining requests and tokens; and per budget asked for,
#: (spend including this call, limit, reset time) or None when there is no spend.
Values = tuple[
    int, int, int, int, float | None,
    float | None, float | None, float | None, float | None,
    int | None, int | None,
    list[tuple[float, float | None, float | None] | None],
]  # fmt: skip


def _dict_or_empty(value: object) -> _Dict | None:
    """A dict as it is, None as empty, anything else None (give up)."""
    if type(value) is dict:
        return value
    return _EMPTY if value is None else None


# Every place an identity field is read from, by container (the parser's reads of
# operation, provider, requested model, model, deployment, api base, the principal,
# stream and cache hit; tests/test_fast_path_equivalence.py holds the two together).
_SLO_KEYS = ("call_type", "custom_llm_provider", "model_group", "model", "model_id",
             "api_base", "end_user", "stream", "cache_hit")  # fmt: skip
_META_KEYS = (
    "model_group", "user_api_key_hash", "user_api_key", "user_api_key_alias",
    "user_api_key_team_id", "team_id", "user_api_key_team_alias", "team_alias",
    "user_api_key_user_id", "user_api_key_user_email", "user_api_key_org_id",
    "user_api_key_org_alias", "user_api_key_end_user_id",
)  # fmt: skip
#: The metadata keys LiteLLM's ``StandardLoggingMetadata`` always holds (the rest of
#: ``_META_KEYS`` it leaves out).
_STANDARD_META_KEYS = tuple(k for k in _META_KEYS if k not in ("model_group", "user_api_key"))
_SLO_ITEMS = itemgetter(*_SLO_KEYS)
#: A call's numbers in the standard logging object: cost, tokens, times.
_SLO_NUMBER_KEYS = ("response_cost", "prompt_tokens", "completion_tokens", "startTime",
                    "endTime", "completionStartTime")  # fmt: skip
_SLO_NUMBERS = itemgetter(*_SLO_NUMBER_KEYS)
_STANDARD_META_ITEMS = itemgetter(*_STANDARD_META_KEYS)
_KW_KEYS = ("call_type", "custom_llm_provider", "model", "stream", "cache_hit")
_PARAMS_KEYS = ("custom_llm_provider", "api_base")
_HIDDEN_KEYS = ("model_id", "api_base")


def identity_key(
    kwargs: object, failed: object, custom_paths: tuple[str, ...]
) -> tuple[tuple[object, ...], Payload] | None:
    """The identity key of a success payload of the common shape, or None."""
    if type(kwargs) is not dict:
        return None
    kw: _Dict = kwargs
    slo = kw.get("standard_logging_object")
    if type(slo) is not dict:
        return None
    if failed is not False and not (failed is None and slo.get("status") == "success"):
        return None
    # Containers are dicts or missing (read as empty); anything else needs the parser.
    slo_meta, hidden = slo.get("metadata"), slo.get("hidden_params")
    params = kw.get("litellm_params")
    if type(slo_meta) is not dict:
        slo_meta = _dict_or_empty(slo_meta)
    if type(hidden) is not dict:
        hidden = _dict_or_empty(hidden)
    if type(params) is not dict:
        params = _dict_or_empty(params)
    if slo_meta is None or hidden is None or params is None:
        return None
    legacy, model_info = params.get("metadata"), params.get("model_info")
    request = params.get("proxy_server_request")
    if type(legacy) is not dict:
        legacy = _dict_or_empty(legacy)
    if model_info is None:
        model_info = _EMPTY
    elif type(model_info) is not dict:
        return None
    body: _Dict | None = _EMPTY
    if request is not None:
        body = _dict_or_empty(request.get("body")) if type(request) is dict else None
    if legacy is None or body is None:
        return None
    try:  # LiteLLM's standard logging payload has every key: read them all at once
        standard = _SLO_ITEMS(slo) + _STANDARD_META_ITEMS(slo_meta)
    except KeyError:  # another shape: key by key (a missing key reads as None)
        standard = (*map(slo.get, _SLO_KEYS), *map(slo_meta.get, _STANDARD_META_KEYS))
    values: tuple[object, ...] = (
        *standard,
        slo_meta.get("model_group"),
        slo_meta.get("user_api_key"),
        *map(legacy.get, _META_KEYS),
        *map(kw.get, _KW_KEYS),
        *map(params.get, _PARAMS_KEYS),
        *map(hidden.get, _HIDDEN_KEYS),
        model_info.get("id"),
        body.get("user"),
    )
    if custom_paths:
        values += tuple(_at_path(legacy, slo_meta, path) for path in custom_paths)
    for value in values:  # (a loop: type() of each is cheaper here than through map)
        if type(value) is not str and value is not None and type(value) is not bool:
            return None
    # The call id is not part of the identity, but the parser reads it (and would
    # report one it cannot use).
    call_id = slo.get("litellm_call_id")
    if not (type(call_id) is str and 0 < len(call_id) <= MAX_STR) and _problem(
        pick_str, (call_id, kw.get("litellm_call_id"), slo.get("id"))
    ):
        return None
    return values, (kw, slo, slo_meta, legacy, hidden)


def _at_path(legacy: _Dict, slo_meta: _Dict, path: str) -> object:
    """A custom label's raw value: the legacy metadata first, then the standard
    logging object's (as the parser reads it). A path through a container other than
    a dict gives a value no key admits, so the caller gives up."""
    for container in (legacy, slo_meta):
        value: object = container
        for part in path.split("."):
            if value is None:
                break
            if type(value) is not dict:
                return _NOT_A_KEY  # the parser would read it as an object: give up
            value = value.get(part)
        if value is not None:
            return value
    return None


_Picker = Callable[..., object]


def _problem(picker: _Picker, candidates: tuple[object, ...]) -> bool:
    """Whether the parser's ``picker`` would report a problem on ``candidates``."""
    problems: Problems = []
    picker("", problems, *candidates)
    return bool(problems)


class Uncommon(Exception):
    """The payload needs the parser (a value it would repair or report)."""


def _pick(picker: _Picker, candidates: tuple[object, ...]) -> object:
    problems: Problems = []
    value = picker("", problems, *candidates)
    if problems:
        raise Uncommon
    return value


def _time(*candidates: object) -> float | None:
    """``pick_time`` over ``candidates``, inline for floats and datetimes; a value it
    would report gives up."""
    for value in candidates:
        if value is None:
            continue
        if type(value) is float and 0.0 <= value < _INF:
            return value
        if type(value) is datetime:
            try:
                seconds = value.timestamp()
            except (ValueError, OverflowError, OSError):
                seconds = -1.0  # the parser reports it: give up below
            if seconds >= 0:
                return seconds
        return _pick(pick_time, candidates)  # type: ignore[return-value]  # float or None
    return None


def _count(*candidates: object) -> int | None:
    """``pick_int`` over ``candidates``, inline for ints (see :func:`_time`)."""
    for value in candidates:
        if value is None:
            continue
        if type(value) is int and value >= 0:
            return value
        return _pick(pick_int, candidates)  # type: ignore[return-value]  # int or None
    return None


def _money(*candidates: object) -> float | None:
    """``pick_money`` over ``candidates`` as a float, inline for floats."""
    for value in candidates:
        if value is None:
            continue
        if type(value) is float and 0.0 <= value < _INF:
            return value
        amount = _pick(pick_money, candidates)
        return None if amount is None else float(amount)  # type: ignore[arg-type]  # Decimal
    return None


def _duration(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    value = end - start
    return value if value >= 0 and math.isfinite(value) else None


#: Reset times arrive as the same ISO string for a whole budget period.
_RESET_TIMES: dict[str, float | None] = {}


def _reset_time(slo_value: object, legacy_value: object) -> float | None:
    """``pick_time`` of a budget's reset time. A non-empty string in the first place
    decides alone (converted, or reported), so its conversion is memoised."""
    if type(slo_value) is str and slo_value:
        cached = _RESET_TIMES.get(slo_value, _EMPTY)
        if cached is not _EMPTY:
            return cached  # type: ignore[return-value]  # a float or None
        value = _time(slo_value)
        if len(_RESET_TIMES) >= 1024:
            _RESET_TIMES.clear()
        _RESET_TIMES[slo_value] = value
        return value
    return _time(slo_value, legacy_value)


def read_values(
    payload: Payload,
    response_obj: object,
    start_time: object,
    end_time: object,
    stream: bool,
    budget_keys: tuple[str, ...],
) -> Values:
    """The numbers of a success call whose identity was read by :func:`identity_key`.
    ``budget_keys``: the spend, limit and reset metadata keys of each budget whose
    subject exists, one budget after the other. Raises :class:`Uncommon` when the
    parser would report or repair any of them."""
    kw, slo, slo_meta, legacy, hidden = payload
    try:  # LiteLLM's standard logging payload has every key: read them all at once
        cost, inp, out, started, ended, first_token = _SLO_NUMBERS(slo)
    except KeyError:
        cost, inp, out, started, ended, first_token = map(slo.get, _SLO_NUMBER_KEYS)
    if not (type(cost) is float and 0.0 <= cost < _INF):
        cost = _money(cost, kw.get("response_cost"))
    if cost == 0 and slo.get("response_cost_failure_debug_info") is not None:
        cost = None  # LiteLLM could not price the call: unknown, not free

    # Tokens: the standard logging object, then the usage (LiteLLM's own copy when it
    # has one, else the response's).
    usage = slo_meta.get("usage_object")
    if usage is None or (isinstance(usage, str) and not usage):
        usage = first(hidden.get("usage_object"))
        if usage is None:
            usage = read(response_obj, "usage")
    if not (type(inp) is int and inp >= 0):
        inp = _count(inp, read(usage, "prompt_tokens"), read(usage, "input_tokens")) or 0
    if not (type(out) is int and out >= 0):
        out = _count(out, read(usage, "completion_tokens"), read(usage, "output_tokens")) or 0
    cached = reasoning = 0
    if type(usage) is dict:
        usage_in = usage.get("prompt_tokens_details")
        usage_out = usage.get("completion_tokens_details")
    else:
        usage_in = read(usage, "prompt_tokens_details")
        usage_out = read(usage, "completion_tokens_details")
    if usage_in is not None:
        cached = _count(read(usage_in, "cached_tokens")) or 0
    if usage_out is not None:
        reasoning = _count(read(usage_out, "reasoning_tokens")) or 0
    if cached > inp or reasoning > out:
        raise Uncommon  # the parser caps and reports these

    if not (type(started) is float and 0.0 <= started < _INF):
        started = _time(started, start_time, kw.get("start_time"))
    if not (type(ended) is float and 0.0 <= ended < _INF):
        ended = _time(ended, end_time, kw.get("end_time"))
    if not (type(first_token) is float and 0.0 <= first_token < _INF):
        first_token = _time(first_token, kw.get("completion_start_time"))
    upstream_started = kw.get("api_call_start_time")  # LiteLLM: a naive local datetime
    if type(upstream_started) is datetime:
        try:
            upstream_started = upstream_started.timestamp()
        except (ValueError, OverflowError, OSError):
            raise Uncommon from None  # the parser reports it
        if not upstream_started >= 0:
            raise Uncommon
    elif upstream_started is not None:
        upstream_started = _time(upstream_started)
    duration = upstream = ttft = tpot = None
    if ended is not None:
        if started is not None and 0 <= ended - started < _INF:
            duration = ended - started
        if upstream_started is not None and 0 <= ended - upstream_started < _INF:
            upstream = ended - upstream_started
    if stream and first_token is not None:
        if started is not None and 0 <= first_token - started < _INF:
            ttft = first_token - started
        if out >= 2 and ended is not None and 0 <= ended - first_token < _INF:
            tpot = (ended - first_token) / (out - 1)

    limit_requests = limit_tokens = None
    headers = hidden.get("additional_headers")
    if headers:  # None or empty: no rate-limit headers
        h = view(headers)  # the six header names, read alike
        limit_requests = _count(*[h.get(name) for name in _RATELIMIT_REQUESTS])
        limit_tokens = _count(*[h.get(name) for name in _RATELIMIT_TOKENS])

    budgets: list[tuple[float, float | None, float | None] | None] = []
    standard = map(slo_meta.get, budget_keys)  # spend, limit, reset, spend, ...
    for spend, limit, reset in zip(standard, standard, standard):  # noqa: B905  # by three
        at = len(budgets) * 3  # where this budget's keys start, for the legacy fallbacks
        if not (type(spend) is float and 0.0 <= spend < _INF):
            other = legacy.get(budget_keys[at])
            spend = None if spend is None and other is None else _money(spend, other)
            if spend is None:  # no spend: the parser reports nothing for this budget
                budgets.append(None)
                continue
        if not (type(limit) is float and 0.0 <= limit < _INF):
            limit = _money(limit, legacy.get(budget_keys[at + 1]))
        if type(reset) is str and reset:  # decides alone: no legacy read
            reset = _reset_time(reset, None)
        else:
            other = legacy.get(budget_keys[at + 2])
            if reset is not None or other is not None:
                reset = _reset_time(reset, other)
        if cost is not None:
            spend += cost
        budgets.append((spend, limit, reset))

    return (inp, out, cached, reasoning, cost, duration, upstream, ttft, tpot,
            limit_requests, limit_tokens, budgets)  # fmt: skip


_RATELIMIT_REQUESTS = (
    "x_ratelimit_remaining_requests",
    "x-ratelimit-remaining-requests",
    "llm_provider-x-ratelimit-remaining-requests",
)
_RATELIMIT_TOKENS = (
    "x_ratelimit_remaining_tokens",
    "x-ratelimit-remaining-tokens",
    "llm_provider-x-ratelimit-remaining-tokens",
)
