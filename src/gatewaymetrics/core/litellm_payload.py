"""LiteLLM callback payloads -> :class:`CallEvent`. Total: any input gives an event.

Every field is read as the field table says (``core/litellm_fields.py``: its places
in order of precedence, and how it converts); this module adds the rules a table
cannot hold: which hook fired wins over the payload's status, an API base is reduced to
its origin, the error is classified, token subsets are capped, an unpriced call's
cost is unknown, and a budget's spend includes this call. LiteLLM's standard logging
object comes first, the legacy fields the original Prometheus logger read second.
Payloads that went through JSON (datetimes as ISO strings, objects as dicts,
exceptions as ``{"type": ..., "status_code": ...}``) parse the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from gatewaymetrics.core.bounds import MAX_AMOUNT, MAX_COUNT, MAX_SECONDS
from gatewaymetrics.core.budget import spend_after_call
from gatewaymetrics.core.catalog import CALL_SOURCES
from gatewaymetrics.core.coerce import (
    MAX_STR,
    Getter,
    Problems,
    as_bool,
    as_label,
    first,
    pick,
    pick_int,
    pick_money,
    pick_str,
    pick_time,
    plain_str,
    text_value,
    view,
)
from gatewaymetrics.core.error_taxonomy import classify
from gatewaymetrics.core.litellm_fields import (
    BUDGETS,
    BY_NAME,
    CONTAINERS,
    CUSTOM_LABEL_CONTAINERS,
    FIELDS,
    OPERATIONS,
    Budget,
    Kind,
    split_place,
)
from gatewaymetrics.core.records import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Principal,
    Problem,
    Status,
    TokenUsage,
)
from gatewaymetrics.core.secrets import REJECTED_KEY, fingerprint
from gatewaymetrics.core.urls import origin

__all__ = ["BudgetSubject", "budget_places", "parse_litellm"]

_EXCEPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_PRINCIPAL = tuple(field.name for field in attrs.fields(Principal))
#: Identity fields whose value is a label of its own (``CallRecord.extra_labels``).
_LABELLED = tuple((field.label, field.name) for field in FIELDS if field.label is not None)

#: Each field's places as (container, key) pairs; a key of None is a root argument.
_PLACES: Mapping[str, tuple[tuple[str, str | None], ...]] = {
    field.name: tuple(split_place(place) for place in field.places) for field in FIELDS
}
#: Each container's places, parents first.
_CONTAINERS = tuple(
    (container.name, tuple(split_place(place) for place in container.places))
    for container in CONTAINERS
    if container.places
)


def parse_litellm(
    kwargs: object,
    response_obj: object = None,
    start_time: object = None,
    end_time: object = None,
    *,
    failed: bool | None = None,
    custom_labels: Iterable[tuple[str, str]] = (),
) -> CallEvent:
    """The event one LiteLLM callback describes. Never raises.

    ``failed`` says which hook fired (the adapter knows) and wins over the payload's
    own status. ``custom_labels`` are (label name, dotted metadata path) pairs whose
    values go to ``CallRecord.extra_labels``.
    """
    try:
        parser = _Parser(kwargs, response_obj, failed, tuple(custom_labels), start_time, end_time)
        return parser.event()
    except Exception:  # a parser bug must never become an exception in the gateway
        status = Status.FAILURE if failed else Status.SUCCESS
        error = ErrorInfo(category=ErrorCategory.OTHER) if failed else None
        return CallEvent(
            call=CallRecord(status=status, error=error),
            problems=(Problem(field="payload", message="unreadable; recorded as a bare call"),),
        )


class _Parser:
    """One payload's reading state: its containers, found as the field table says."""

    def __init__(
        self,
        kwargs: object,
        response_obj: object,
        failed: object,
        custom_labels: tuple[tuple[str, str], ...],
        start_time: object,
        end_time: object,
    ) -> None:
        self.problems: Problems = []
        if not isinstance(kwargs, Mapping):
            self.problems.append(
                Problem(field="kwargs", message="not a mapping; read as far as possible")
            )
        self.failed = failed
        self.custom_labels = custom_labels
        self.roots: dict[str, object] = {
            "kwargs": kwargs, "response_obj": response_obj,
            "start_time": start_time, "end_time": end_time,
        }  # fmt: skip
        self.containers: dict[str, Getter] = {
            "kwargs": view(kwargs),
            "response_obj": view(response_obj),
        }
        self.gets = {name: getter.get for name, getter in self.containers.items()}
        for name, places in _CONTAINERS:
            getter = self.containers[name] = view(first(*[self.at(place) for place in places]))
            self.gets[name] = getter.get

    def at(self, place: tuple[str, str | None]) -> object:
        container, key = place
        if key is None:
            return self.roots[container]
        return self.gets[container](key)

    def candidates(self, name: str) -> list[object]:
        """The raw values of field ``name``, in precedence order."""
        return [self.at(place) for place in _PLACES[name]]

    def raw(self, name: str) -> object:
        """The first of field ``name``'s raw values that is not None."""
        for place in _PLACES[name]:
            value = self.at(place)
            if value is not None:
                return value
        return None

    def text(self, name: str) -> str | None:
        places = _PLACES[name]
        value = self.at(places[0])  # inline: the first place holds a plain string
        if type(value) is str and 0 < len(value) <= MAX_STR:
            return value
        return pick_str(name, self.problems, value, *[self.at(p) for p in places[1:]])

    # Each reader checks the first place's common value inline (as its picker would
    # first), and hands the rest to the picker only when that is not it.

    def count(self, name: str) -> int | None:
        places = _PLACES[name]
        value = self.at(places[0])
        if type(value) is int and 0 <= value <= MAX_COUNT:
            return value
        return pick_int(name, self.problems, value, *[self.at(p) for p in places[1:]])

    def time(self, name: str) -> float | None:
        places = _PLACES[name]
        value = self.at(places[0])
        if type(value) is float and 0.0 <= value <= MAX_SECONDS:
            return value
        return pick_time(name, self.problems, value, *[self.at(p) for p in places[1:]])

    def money(self, name: str) -> Decimal | None:
        places = _PLACES[name]
        value = self.at(places[0])
        if type(value) is float and 0.0 <= value < MAX_AMOUNT:
            return Decimal(repr(value))
        return pick_money(name, self.problems, value, *[self.at(p) for p in places[1:]])

    def flag(self, name: str) -> bool | None:
        places = _PLACES[name]
        value = self.at(places[0])
        if type(value) is bool:
            return value
        return pick(as_bool, name, self.problems, value, *[self.at(p) for p in places[1:]])

    def key(self, name: str) -> str | None:
        return pick(_fingerprint, name, self.problems, *self.candidates(name))

    # -- the parts of a call ---------------------------------------------------------

    def event(self) -> CallEvent:
        status = self.status()
        cost, unpriced_reason = self.cost()
        error = self.error() if status is Status.FAILURE else None
        principal = Principal(
            **{name: self.key(name) if BY_NAME[name].kind is Kind.KEY else self.text(name)
               for name in _PRINCIPAL}
        )  # fmt: skip
        if principal.api_key is not None and error is not None and _rejected(error):
            # The gateway refused the key: it may be anything a client made up, and its
            # fingerprint would be a new series each time.
            principal = attrs.evolve(principal, api_key=REJECTED_KEY)
        call = CallRecord(
            call_id=self.text("call_id"),
            operation=self.operation(),
            status=status,
            provider=self.text("provider"),
            requested_model=self.text("requested_model"),
            model=self.text("model"),
            deployment_id=self.text("deployment_id"),
            api_base=self.api_base(),
            principal=principal,
            tokens=self.tokens(),
            cost_usd=cost,
            unpriced_reason=unpriced_reason,
            started_at=self.time("started_at"),
            ended_at=self.time("ended_at"),
            first_token_at=self.time("first_token_at"),
            upstream_started_at=self.time("upstream_started_at"),
            stream=self.flag("stream") is True,
            cache_hit=self.flag("cache_hit"),
            error=error,
            ratelimit_remaining_requests=self.count("ratelimit_remaining_requests"),
            ratelimit_remaining_tokens=self.count("ratelimit_remaining_tokens"),
            extra_labels=self.extra_labels(),
            numbers=self.numbers(),
        )
        budgets = self.budgets(principal, cost)
        return CallEvent(call=call, budgets=budgets, problems=tuple(self.problems))

    def status(self) -> Status:
        if self.failed is not None:
            if isinstance(self.failed, bool):
                return Status.FAILURE if self.failed else Status.SUCCESS
            self.problems.append(Problem(field="failed", message="not a bool; ignored"))
        status = self.raw("status")
        if isinstance(status, str) and plain_str(status) in ("success", "failure"):
            return Status(plain_str(status))
        return Status.SUCCESS if self.raw("exception") is None else Status.FAILURE

    def operation(self) -> Operation:
        kind = self.text("operation")
        if kind is None:
            return Operation.OTHER
        return OPERATIONS.get(kind, Operation.OTHER)

    def api_base(self) -> str | None:
        url = self.text("api_base")
        if url is None:
            return None
        result = origin(url)
        if result is None:
            self.problems.append(
                Problem(field="api_base", message="not a URL with a host; ignored")
            )
        return result

    def tokens(self) -> TokenUsage:
        inp = self.count("tokens.input") or 0
        out = self.count("tokens.output") or 0
        cached = self.count("tokens.cached_input")
        reasoning = self.count("tokens.reasoning")
        if cached is not None and cached > inp:
            self.problems.append(
                Problem(field="tokens.cached_input", message="more than input; capped")
            )
            cached = inp
        if reasoning is not None and reasoning > out:
            self.problems.append(
                Problem(field="tokens.reasoning", message="more than output; capped")
            )
            reasoning = out
        return TokenUsage(input=inp, output=out, cached_input=cached or 0, reasoning=reasoning or 0)

    def cost(self) -> tuple[Decimal | None, str | None]:
        """The cost, and why it is unknown. LiteLLM logs 0 with debug information when
        it could not price a call, or with a diagnosis when a priced model came out at
        0: unknown, not free."""
        cost = self.money("cost_usd")
        if cost != 0:
            return cost, None
        diagnosis = self.raw("cost_zero_reason")
        if isinstance(diagnosis, str) and diagnosis:
            return None, plain_str(diagnosis)
        if self.raw("cost_unknown") is not None:
            return None, "cost_calculation_error"
        return cost, None

    def error(self) -> ErrorInfo:
        exception = self.raw("exception")
        reason: object = None
        if isinstance(exception, BaseException):
            name: object = type(exception).__name__
            reason = self.raw("error.type")
        else:
            name = self.raw("error.type")
        name = first(name, self.raw("error.class"))
        if isinstance(name, str):  # a subclass (an enum member): its characters
            name = plain_str(name)
        if isinstance(reason, str):
            reason = plain_str(reason)
        exception_type = None
        if isinstance(name, str) and _EXCEPTION_NAME.fullmatch(name):
            exception_type = name
        elif name is not None:
            self.problems.append(
                Problem(field="error.exception_type", message="not a class name; ignored")
            )
        code = pick_int(
            "error.status_code",
            self.problems,
            self.raw("error.status"),
            _digits(self.raw("error.code")),  # an OpenAI error code is no status
            self.raw("error.info_code"),
        )
        if code is not None and not 100 <= code <= 999:
            self.problems.append(
                Problem(field="error.status_code", message="not an HTTP status; ignored")
            )
            code = None
        category = classify(
            exception_type, code, reason if isinstance(reason, str) and len(reason) < 64 else None
        )
        return ErrorInfo(category=category, status_code=code, exception_type=exception_type)

    def numbers(self) -> tuple[tuple[str, int | float | Decimal], ...]:
        """The per-call numbers the catalog's metrics name as their source."""
        numbers: list[tuple[str, int | float | Decimal]] = []
        for _, source, _ in CALL_SOURCES:
            kind = BY_NAME[source].kind
            value: int | float | Decimal | None
            if kind is Kind.COUNT:
                value = self.count(source)
            elif kind is Kind.TIME:
                value = self.time(source)
            elif kind is Kind.MILLISECONDS:
                seconds = self.time(source)
                value = None if seconds is None else seconds / 1000.0
            else:
                value = self.money(source)
            if value is not None:
                numbers.append((source, value))
        return tuple(numbers)

    def extra_labels(self) -> tuple[tuple[str, str], ...]:
        labels: list[tuple[str, str]] = []
        for label, field in _LABELLED:
            text = self.text(field)
            if text is not None:
                labels.append((label, text))
        for name, path in self.custom_labels:
            value: object = None
            for container in CUSTOM_LABEL_CONTAINERS:
                value = _at_path(self.containers[container], path)
                if value is not None:
                    break
            if value is None:
                continue
            text = as_label(value, f"labels.{name}", self.problems)
            if text is not None:
                labels.append((name, text))
        return tuple(labels)

    def budgets(self, principal: Principal, cost: Decimal | None) -> tuple[BudgetSnapshot, ...]:
        snapshots = []
        for place in budget_places(principal):
            budget = place.budget
            spend = self.money(budget.spend)
            if spend is None:  # without spend there is nothing true to report
                continue
            snapshots.append(
                BudgetSnapshot(
                    scope=budget.scope,
                    subject=place.subject,
                    alias=place.alias,
                    limit_usd=self.money(budget.limit),
                    spend_usd=spend_after_call(spend, cost),
                    reset_at=self.time(budget.reset_at),
                )
            )
        return tuple(snapshots)


@attrs.frozen
class BudgetSubject:
    """A budget a principal has a subject for: the budget's fields, the subject, its
    alias."""

    budget: Budget
    subject: str
    alias: str | None


def budget_places(principal: Principal) -> tuple[BudgetSubject, ...]:
    """The budgets a principal has a subject for, in scope order."""
    places = []
    for budget in BUDGETS:
        subject = getattr(principal, budget.subject)
        if subject is None or (subject == REJECTED_KEY and budget.scope is BudgetScope.API_KEY):
            continue  # no subject, or a refused key: a key nobody issued has no budget
        alias = None if budget.alias is None else getattr(principal, budget.alias)
        places.append(BudgetSubject(budget, subject, alias))
    return tuple(places)


def _fingerprint(value: object, _name: str, _problems: Problems) -> str | None:
    # (An enum member's str value is its text. Never a problem: its message could only
    # repeat the key.)
    return fingerprint(text_value(value))


def _digits(value: object) -> object:
    if not isinstance(value, str):
        return None
    text = plain_str(value)
    return text if text.isdigit() else None


def _rejected(error: ErrorInfo) -> bool:
    """Whether a failure says the gateway refused the caller's key: LiteLLM's proxy
    fails such calls with an auth error (401, or 400 for a key it cannot check)."""
    return error.category is ErrorCategory.AUTH


def _at_path(container: Getter, path: str) -> object:
    head, *rest = path.split(".")
    value = container.get(head)
    for part in rest:
        if value is None:
            return None
        value = view(value).get(part)
    return value
