"""Writes the fast reader (``core/litellm_fast.py``) from the field table.

    make generate        (tools/generate.py: this, formatted with ruff, into the file)
 The fast path reads every place of the table in
straight-line code, checks the value LiteLLM normally sends inline, and hands anything
else to the parser's own converters (``core.coerce``): a value they would report sends
the event to the parser. The template below holds the rules a table cannot (which
values make an identity key, token subsets, an unknown cost, durations, budgets); the
places all come from :mod:`gatewaymetrics.core.litellm_fields`.
"""

from __future__ import annotations

import re

from gatewaymetrics.core.catalog import CALL_SOURCES
from gatewaymetrics.core.litellm_fields import (
    BUDGETS,
    BY_NAME,
    CONTAINERS,
    CUSTOM_LABEL_CONTAINERS,
    FIELDS,
    ROOTS,
    Field,
    Kind,
    Role,
    split_place,
)

__all__ = ["generate"]

_OBJECTS = frozenset(c.name for c in CONTAINERS if c.objects)
#: The dict containers the identity key reads from (kwargs is the root).
_DICTS = tuple(c for c in CONTAINERS if not c.objects and c.places)
#: The fields that tell one report of an attempt from another (besides the outcome).
ATTEMPT_FIELDS = ("call_id", "requested_model", "model", "deployment_id")


def _var(name: str) -> str:
    return "f_" + re.sub(r"\W", "_", name)


def _expr(place: str) -> str:
    container, key = split_place(place)
    if key is None:
        if container not in ROOTS:
            raise ValueError(f"{place!r}: no such root")
        return container
    if container in _OBJECTS:  # a dict (the common case) read inline, else by attribute
        get, read = f'{container}.get("{key}")', f'read({container}, "{key}")'
        return f"({get} if type({container}) is dict else None if {container} is None else {read})"
    return f'{"kw" if container == "kwargs" else container}.get("{key}")'


def _exprs(field: Field) -> list[str]:
    return [_expr(place) for place in field.places]


def _read(field: Field, indent: str) -> list[str]:
    """Lines reading ``field`` into its variable: the first place's common value
    inline, the rest through the parser's converter (a problem raises Uncommon)."""
    var, exprs = _var(field.name), _exprs(field)
    rest = ", ".join(["v", *exprs[1:]])
    name = repr(field.name)
    if field.kind is Kind.RAW:
        lines = [f"{var}: object = {exprs[0]}"]
        for expr in exprs[1:]:
            lines += [f"if {var} is None:", f"    {var} = {expr}"]
        return [indent + line for line in lines]
    check, convert, kind = {
        Kind.COUNT: ("type(v) is int and 0 <= v <= MAX_COUNT", "_count", "int"),
        Kind.MONEY: ("type(v) is float and 0.0 <= v < MAX_AMOUNT", "_money", "float"),
        Kind.TIME: ("type(v) is float and 0.0 <= v <= MAX_SECONDS", "_time", "float"),
        Kind.MILLISECONDS: ("type(v) is float and 0.0 <= v <= MAX_SECONDS", "_millis", "float"),
    }[field.kind]
    value = "v / 1000.0" if field.kind is Kind.MILLISECONDS else "v"
    lines = [f"v = {exprs[0]}", f"{var}: {kind} | None", f"if {check}:", f"    {var} = {value}"]
    # Missing everywhere (often: a budget without a reset time, no rate-limit headers).
    missing = " and ".join(["v is None", *(f"{expr} is None" for expr in exprs[1:])])
    lines += [f"elif {missing}:", f"    {var} = None"]
    if field.kind is Kind.TIME:  # a string converted before (a budget's reset time)
        lines += ["elif type(v) is str and v in _TIMES:", f"    {var} = _TIMES[v]"]
    lines += ["else:", f"    {var} = {convert}({name}, {rest})"]
    return [indent + line for line in lines]


def _container_lines(indent: str, *, need_slo: bool) -> list[str]:
    """The dict containers: dicts, or missing (read as empty); another type gives up
    (``return None``). ``need_slo``: the standard logging object must be there."""
    lines = []
    for container in _DICTS:
        (place,) = container.places
        name = container.name
        lines.append(f"{name} = {_expr(place)}")
        if name == "slo" and need_slo:
            lines += ["if type(slo) is not dict:", "    return None"]
        else:
            lines += [
                f"if type({name}) is not dict:",
                f"    {name} = _EMPTY if {name} is None else None",
                f"    if {name} is None:",
                "        return None",
            ]
    return [indent + line for line in lines]


def _object_containers(indent: str, needed: set[str]) -> list[str]:
    """The object containers ``read_values`` reads from: the first usable place."""
    lines = []
    for container in CONTAINERS:
        if not container.objects or container.name not in needed or not container.places:
            continue
        name, exprs = container.name, [_expr(place) for place in container.places]
        lines.append(f"{name}: object = {exprs[0]}")
        for expr in exprs[1:]:
            lines += [f"if {name} is None or (isinstance({name}, str) and not {name}):",
                      f"    {name} = {expr}"]  # fmt: skip
        if len(exprs) > 1:  # first(): an empty string is no value
            lines += [f"if isinstance({name}, str) and not {name}:", f"    {name} = None"]
    return [indent + line for line in lines]


def _containers_of(fields: tuple[Field, ...]) -> tuple[set[str], set[str]]:
    """The containers ``fields`` read from, with the object containers' own sources:
    (every one, the dict ones read directly)."""
    by_name = {c.name: c for c in CONTAINERS}
    needed: set[str] = set()
    direct: set[str] = set()
    todo = [split_place(place)[0] for field in fields for place in field.places]
    while todo:
        name = todo.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        if by_name[name].objects:
            todo += [split_place(place)[0] for place in by_name[name].places]
        direct.add(name)
    return needed, direct


def _identity_lines(indent: str) -> list[str]:
    exprs = [expr for field in FIELDS if field.role is Role.IDENTITY for expr in _exprs(field)]
    lines = ["values: tuple[object, ...] = ("]
    lines += [f"    {expr}," for expr in exprs]
    lines.append(")")
    return [indent + line for line in lines]


def _budget_lines(indent: str) -> list[str]:
    lines = []
    for index, budget in enumerate(BUDGETS):
        spend, limit, reset_at = (BY_NAME[n] for n in (budget.spend, budget.limit, budget.reset_at))
        lines.append(f"if budgets[{index}]:  # {budget.scope.value}")
        lines += _read(spend, "    ")
        lines += [f"    if {_var(spend.name)} is None:", "        out.append(None)", "    else:"]
        lines += _read(limit, "        ") + _read(reset_at, "        ")
        lines += [  # the spend before this call: the pipeline adds the cost (core/budget.py)
            "        out.append(BudgetValues(",
            f"            {_var(spend.name)}, {_var(limit.name)}, {_var(reset_at.name)}))",
        ]
    return [indent + line for line in lines]


def generate() -> str:
    """The source of ``core/litellm_fast.py``."""
    call_fields = tuple(f for f in FIELDS if f.role is Role.CALL and f.kind is not Kind.TEXT)
    budget_fields = tuple(f for f in FIELDS if f.role is Role.BUDGET)
    needed, direct = _containers_of(call_fields + budget_fields)
    call_id = BY_NAME["call_id"]
    attempt = [expr for name in ATTEMPT_FIELDS for expr in _exprs(BY_NAME[name])]
    status = _expr(BY_NAME["status"].places[0])
    parts = {
        "CONTAINERS": "\n".join(_container_lines("    ", need_slo=True)),
        "IDENTITY": "\n".join(_identity_lines("    ")),
        "SLOTS": ", ".join(
            f'"{name}"' for name in sorted([c.name for c in _DICTS] + ["key", "kw"])
        ),
        "PAYLOAD_INIT": "\n".join(f"        self.{c.name} = {c.name}" for c in _DICTS),
        "PAYLOAD_ARGS": ", ".join(f"{c.name}: _Dict" for c in _DICTS),
        "PAYLOAD_NEW": ", ".join(c.name for c in _DICTS),
        "CALL_ID": _exprs(call_id)[0],
        "CALL_ID_ALL": ", ".join(_exprs(call_id)),
        "STATUS": status,
        "CUSTOM": ", ".join(CUSTOM_LABEL_CONTAINERS),
        "OBJECTS": "\n".join(_object_containers("    ", needed)),
        "CALL_FIELDS": "\n".join(line for f in call_fields for line in _read(f, "    ")),
        "BUDGETS": "\n".join(_budget_lines("    ")),
        "ATTEMPT_CONTAINERS": "\n".join(_container_lines("    ", need_slo=False)),
        "ATTEMPT": "\n".join(f"        {expr}," for expr in attempt),
        "NEEDED": "\n".join(
            f"    {c.name} = payload.{c.name}" for c in _DICTS if c.name in direct | {"slo"}
        ),
        "BUDGET_COUNT": str(len(BUDGETS)),
        # The per-call numbers the catalog's source-fed metrics name, in their order.
        "EXTRA": "".join(f"{_var(source)}, " for _, source, _ in CALL_SOURCES),
    }
    source = _TEMPLATE
    for name, text in parts.items():
        source = source.replace(f"<<{name}>>", text)
    return source


_TEMPLATE = '''\
"""The fast reading of a LiteLLM success payload: raw values, no records.

GENERATED by ``python -m gatewaymetrics.core.litellm_codegen`` (``make generate``) from
the field table in ``core/litellm_fields.py``. Do not edit: a test regenerates it and
compares.

:func:`~gatewaymetrics.core.litellm_payload.parse_litellm` reads the same table with
the same converters; this module reads it in straight-line code for the common shape
of a success callback and gives up (None, or :class:`Uncommon`) where the parser would
repair or report anything, so the caller then runs the parser. Three entry points:

1. :func:`identity`: every raw value a call's identity (labels, budget subjects)
   can come from, as one tuple. Only values of exactly ``str``, ``bool`` or None make
   a key: ``1 == True``, a ``str`` subclass (an enum member) equal to a string, or an
   object with an ``__eq__`` of its own must never make two identities equal.
2. :func:`read_values`: the per-call numbers (tokens, cost, times, rate limits,
   budget spends) of a payload whose identity is known.
3. :func:`attempt_key`: what tells one report of an attempt from another.

Money is read as float here: the fast path feeds float backends (Prometheus) only.
Every number is checked against the same bounds (``core/bounds.py``) as the parser's,
so a value beyond them (a count of 10**400, a cost of 1e308) sends the event to the
parser, which reports it, before anything is applied. ``read_values`` raises nothing
but :class:`Uncommon`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gatewaymetrics.core.bounds import MAX_AMOUNT, MAX_COUNT, MAX_SECONDS
from gatewaymetrics.core.call_values import BudgetValues, CallValues
from gatewaymetrics.core.coerce import (
    MAX_STR,
    Problems,
    pick_int,
    pick_money,
    pick_str,
    pick_time,
    read,
)
from gatewaymetrics.core.durations import duration, time_per_output_token, time_to_first_token

__all__ = ["BUDGET_COUNT", "Payload", "Uncommon", "attempt_key", "identity", "read_values"]

_Dict = dict[str, object]
_EMPTY: _Dict = {}
_NOT_A_KEY = object()
#: How many budgets a call can carry (``read_values``' ``budgets`` has one flag each).
BUDGET_COUNT = <<BUDGET_COUNT>>


class Uncommon(Exception):
    """The payload needs the parser (a value it would repair or report)."""


class Payload:
    """One payload of the common shape: its identity ``key`` and its dict containers,
    as :func:`identity` found them."""

    __slots__ = (<<SLOTS>>)

    def __init__(self, key: tuple[object, ...], kw: _Dict, <<PAYLOAD_ARGS>>) -> None:
        self.key = key
        self.kw = kw
<<PAYLOAD_INIT>>


def identity(kwargs: object, failed: object, custom_paths: tuple[str, ...]) -> Payload | None:
    """A success payload of the common shape, with its identity key; else None."""
    if type(kwargs) is not dict:
        return None
    kw: _Dict = kwargs
<<CONTAINERS>>
    status = <<STATUS>>
    if failed is not False and not (failed is None and type(status) is str and status == "success"):
        return None
<<IDENTITY>>
    if custom_paths:
        values += tuple([_custom(path, <<CUSTOM>>) for path in custom_paths])
    for value in values:  # (a loop: type() of each is cheaper here than through map)
        if type(value) is not str and value is not None and type(value) is not bool:
            return None
    # The call id is not part of the identity, but the parser reads it (and would
    # report one it cannot use).
    call_id = <<CALL_ID>>
    if not (type(call_id) is str and 0 < len(call_id) <= MAX_STR) and _problem(
        pick_str, (<<CALL_ID_ALL>>)
    ):
        return None
    return Payload(values, kw, <<PAYLOAD_NEW>>)


def read_values(
    payload: Payload,
    response_obj: object,
    start_time: object,
    end_time: object,
    stream: bool,
    budgets: tuple[bool, ...],
) -> CallValues:
    """The numbers of a success call whose identity was read by :func:`identity`;
    ``budgets``: whether to read each budget (its subject exists). Raises
    :class:`Uncommon` when the parser would report or repair any of them."""
    kw = payload.kw
<<NEEDED>>
<<OBJECTS>>
<<CALL_FIELDS>>
    cost = f_cost_usd
    if cost == 0 and (f_cost_unknown is not None or f_cost_zero_reason is not None):
        raise Uncommon  # LiteLLM could not price the call: unknown, and why: the parser's
    inp = f_tokens_input or 0
    out_tokens = f_tokens_output or 0
    cached = f_tokens_cached_input or 0
    reasoning = f_tokens_reasoning or 0
    if cached > inp or reasoning > out_tokens:
        raise Uncommon  # the parser caps and reports these
    out: list[BudgetValues | None] = []
<<BUDGETS>>
    ended = f_ended_at
    return CallValues(
        success=True,
        cache_hit=None,
        input_tokens=inp,
        output_tokens=out_tokens,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
        cost=cost,
        duration=duration(f_started_at, ended),
        upstream_duration=duration(f_upstream_started_at, ended),
        time_to_first_token=time_to_first_token(stream, f_started_at, f_first_token_at),
        time_per_output_token=time_per_output_token(stream, out_tokens, f_first_token_at, ended),
        ratelimit_requests=f_ratelimit_remaining_requests,
        ratelimit_tokens=f_ratelimit_remaining_tokens,
        budgets=out,
        extra=(<<EXTRA>>),
    )


def attempt_key(kwargs: object, failed: bool) -> tuple[object, ...] | None:
    """What tells one report of an attempt from another, read raw: the outcome and
    every place of the call id, requested model, model and deployment. None: the call
    has no id (each report counts). A payload of another shape is keyed by what the
    parser reads (a key of another length: the two kinds never meet)."""
    key = _attempt(kwargs, failed) if type(kwargs) is dict else None
    if key is None:
        from gatewaymetrics.core.litellm_payload import parse_litellm  # rare: another shape

        call = parse_litellm(kwargs, failed=failed).call
        if call.call_id is None:
            return None
        return (call.call_id, call.status, call.requested_model, call.model, call.deployment_id)
    return key if key[1] or key[2] or key[3] else None


def _attempt(kw: _Dict, failed: bool) -> tuple[object, ...] | None:
    """The raw attempt key of a payload of the common shape, or None."""
<<ATTEMPT_CONTAINERS>>
    key: tuple[object, ...] = (
        failed,
<<ATTEMPT>>
    )
    for value in key:
        if type(value) is not str and value is not None and type(value) is not bool:
            return None
    return key


def _custom(path: str, *containers: _Dict) -> object:
    """A custom label's raw value: the first container holding it. A path through a
    container other than a dict gives a value no key admits, so the caller gives up."""
    for container in containers:
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


def _problem(picker: Callable[..., object], candidates: tuple[object, ...]) -> bool:
    """Whether the parser's ``picker`` would report a problem on ``candidates``."""
    problems: Problems = []
    picker("", problems, *candidates)
    return bool(problems)


def _count(name: str, *candidates: object) -> int | None:
    problems: Problems = []
    try:
        value = pick_int(name, problems, *candidates)
    except Exception:  # (the converters never raise; an odd value is the parser's)
        raise Uncommon from None
    if problems:
        raise Uncommon
    return value


def _money(name: str, *candidates: object) -> float | None:
    problems: Problems = []
    try:
        value = pick_money(name, problems, *candidates)
    except Exception:  # (the converters never raise; an odd value is the parser's)
        raise Uncommon from None
    if problems:
        raise Uncommon
    return None if value is None else float(value)


def _millis(name: str, *candidates: object) -> float | None:
    """Milliseconds (any number ``pick_time`` takes) as seconds."""
    value = _time(name, *candidates)
    return None if value is None else value / 1000.0


#: Reset times arrive as the same ISO string for a whole budget period.
_TIMES: dict[str, float] = {}


def _time(name: str, *candidates: object) -> float | None:
    """``pick_time``, inline for a datetime and memoised for a string that converts."""
    first = candidates[0]
    if type(first) is datetime:
        try:
            seconds = first.timestamp()
        except Exception:  # any: a tzinfo of the caller's may raise what it likes
            raise Uncommon from None  # the parser reports it
        if 0 <= seconds <= MAX_SECONDS:
            return seconds
        raise Uncommon
    if type(first) is str:
        known = _TIMES.get(first)
        if known is not None:
            return known
    problems: Problems = []
    try:
        value = pick_time(name, problems, *candidates)
    except Exception:  # (the converters never raise; an odd value is the parser's)
        raise Uncommon from None
    if problems:
        raise Uncommon
    if type(first) is str and first and value is not None:  # the value is first's
        if len(_TIMES) >= 1024:
            _TIMES.clear()
        _TIMES[first] = value
    return value
'''


if __name__ == "__main__":
    import sys

    sys.stdout.write(generate())
