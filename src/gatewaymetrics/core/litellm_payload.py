"""LiteLLM callback payloads -> :class:`CallEvent`. Total: any input gives an event.

LiteLLM (>= 1.5x) puts a ``standard_logging_object`` (its ``StandardLoggingPayload``)
in the kwargs of every success and failure callback; it is read first. The legacy
fields the original Prometheus logger read (``model``, ``response_cost``,
``litellm_params.metadata.user_api_key*``, ``exception``, ``response_obj.usage``) are
the fallback. Payloads that went through JSON (datetimes as ISO strings, objects as
dicts, exceptions as ``{"type": ..., "status_code": ...}``) parse the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from gatewaymetrics.core.budget import spend_after_call
from gatewaymetrics.core.coerce import (
    MAX_STR,
    Getter,
    Problems,
    as_bool,
    first,
    pick,
    pick_int,
    pick_money,
    pick_str,
    pick_time,
    view,
)
from gatewaymetrics.core.error_taxonomy import classify
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
from gatewaymetrics.core.secrets import fingerprint
from gatewaymetrics.core.urls import origin

__all__ = ["BudgetPlace", "budget_places", "parse_litellm"]

_O = Operation
_OPERATIONS: Mapping[str, Operation] = {
    "completion": _O.CHAT,
    "acompletion": _O.CHAT,
    "anthropic_messages": _O.CHAT,
    "text_completion": _O.TEXT_COMPLETION,
    "atext_completion": _O.TEXT_COMPLETION,
    "embedding": _O.EMBEDDINGS,
    "aembedding": _O.EMBEDDINGS,
    "image_generation": _O.IMAGE_GENERATION,
    "aimage_generation": _O.IMAGE_GENERATION,
    "transcription": _O.AUDIO_TRANSCRIPTION,
    "atranscription": _O.AUDIO_TRANSCRIPTION,
    "speech": _O.AUDIO_SPEECH,
    "aspeech": _O.AUDIO_SPEECH,
    "rerank": _O.RERANK,
    "arerank": _O.RERANK,
    "moderation": _O.MODERATION,
    "amoderation": _O.MODERATION,
    "responses": _O.RESPONSES,
    "aresponses": _O.RESPONSES,
}
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

# scope, metadata key of the limit, of the spend, of the reset time
_BUDGET_KEYS: tuple[tuple[BudgetScope, str, str, str], ...] = (
    (
        BudgetScope.API_KEY,
        "user_api_key_max_budget",
        "user_api_key_spend",
        "user_api_key_budget_reset_at",
    ),
    (
        BudgetScope.TEAM,
        "user_api_key_team_max_budget",
        "user_api_key_team_spend",
        "user_api_key_team_budget_reset_at",
    ),
    (
        BudgetScope.USER,
        "user_api_key_user_max_budget",
        "user_api_key_user_spend",
        "user_api_key_user_budget_reset_at",
    ),
    (
        BudgetScope.ORG,
        "user_api_key_org_max_budget",
        "user_api_key_org_spend",
        "user_api_key_org_budget_reset_at",
    ),
    (
        BudgetScope.END_USER,
        "user_api_key_end_user_max_budget",
        "user_api_key_end_user_spend",
        "user_api_key_end_user_budget_reset_at",
    ),
)


#: Problem field names per scope: spend, limit, reset time.
_BUDGET_FIELDS: Mapping[BudgetScope, tuple[str, str, str]] = {
    scope: (f"budget.{scope.value}.spend", f"budget.{scope.value}.limit",
            f"budget.{scope.value}.reset_at")
    for scope in BudgetScope
}  # fmt: skip


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
        return _Parser(kwargs, response_obj, failed, tuple(custom_labels)).event(
            start_time, end_time
        )
    except Exception:  # a parser bug must never become an exception in the gateway
        status = Status.FAILURE if failed else Status.SUCCESS
        error = ErrorInfo(category=ErrorCategory.OTHER) if failed else None
        return CallEvent(
            call=CallRecord(status=status, error=error),
            problems=(Problem(field="payload", message="unreadable; recorded as a bare call"),),
        )


class _Parser:
    """One payload's reading state: where each part of the payload is found."""

    def __init__(
        self,
        kwargs: object,
        response_obj: object,
        failed: object,
        custom_labels: tuple[tuple[str, str], ...],
    ) -> None:
        self.problems: Problems = []
        if not isinstance(kwargs, Mapping):
            self.problems.append(
                Problem(field="kwargs", message="not a mapping; read as far as possible")
            )
        self.kwargs = kwargs
        self.response_obj = response_obj
        self.failed = failed
        self.custom_labels = custom_labels
        self.kw = view(kwargs)
        self.slo = view(self.kw.get("standard_logging_object"))
        self.params = view(self.kw.get("litellm_params"))
        self.legacy_meta = view(self.params.get("metadata"))
        self.slo_meta = view(self.slo.get("metadata"))
        self.hidden = view(self.slo.get("hidden_params"))

    def meta(self, key: str) -> tuple[object, object]:
        """Where a metadata value can be: the standard logging object's metadata, then
        the legacy ``litellm_params.metadata``. Spread into :func:`pick`."""
        return self.slo_meta.get(key), self.legacy_meta.get(key)

    def meta_text(self, name: str, *keys: str) -> str | None:
        """The first readable string among metadata ``keys`` (each looked up in both
        places, in order). Inline fast path: the first place holds a plain string."""
        value = self.slo_meta.get(keys[0])
        if type(value) is str and 0 < len(value) <= MAX_STR:
            return value
        return pick_str(name, self.problems, *[c for key in keys for c in self.meta(key)])

    def meta_money(self, name: str, key: str) -> Decimal | None:
        value = self.slo_meta.get(key)
        if type(value) is float and 0.0 <= value < math.inf:
            return Decimal(repr(value))
        return pick_money(name, self.problems, *self.meta(key))

    def meta_time(self, name: str, key: str) -> float | None:
        return pick_time(name, self.problems, *self.meta(key))

    def text(self, name: str, *values: object) -> str | None:
        return pick_str(name, self.problems, *values)

    # -- the parts of a call ---------------------------------------------------------

    def event(self, start_time: object, end_time: object) -> CallEvent:
        status = self.status()
        cost = self.cost()
        principal = self.principal()
        stream = pick(
            as_bool,
            "stream",
            self.problems,
            self.slo.get("stream"),
            self.kw.get("stream"),
        )
        call = CallRecord(
            call_id=self.text(
                "call_id",
                self.slo.get("litellm_call_id"),
                self.kw.get("litellm_call_id"),
                self.slo.get("id"),
            ),
            operation=self.operation(),
            status=status,
            provider=self.text(
                "provider",
                self.slo.get("custom_llm_provider"),
                self.params.get("custom_llm_provider"),
                self.kw.get("custom_llm_provider"),
            ),
            requested_model=self.text(
                "requested_model",
                self.slo.get("model_group"),
                *self.meta("model_group"),
                self.kw.get("model"),
            ),
            model=self.text("model", self.slo.get("model"), self.kw.get("model")),
            deployment_id=self.text(
                "deployment_id",
                self.slo.get("model_id"),
                self.hidden.get("model_id"),
                view(self.params.get("model_info")).get("id"),
            ),
            api_base=self.api_base(),
            principal=principal,
            tokens=self.tokens(),
            cost_usd=cost,
            started_at=self.time(
                "started_at",
                self.slo.get("startTime"),
                start_time,
                self.kw.get("start_time"),
            ),
            ended_at=self.time(
                "ended_at", self.slo.get("endTime"), end_time, self.kw.get("end_time")
            ),
            first_token_at=self.time(
                "first_token_at",
                self.slo.get("completionStartTime"),
                self.kw.get("completion_start_time"),
            ),
            upstream_started_at=self.time(
                "upstream_started_at", self.kw.get("api_call_start_time")
            ),
            stream=stream is True,
            cache_hit=pick(
                as_bool,
                "cache_hit",
                self.problems,
                self.slo.get("cache_hit"),
                self.kw.get("cache_hit"),
            ),
            error=self.error() if status is Status.FAILURE else None,
            ratelimit_remaining_requests=self.ratelimit("requests"),
            ratelimit_remaining_tokens=self.ratelimit("tokens"),
            extra_labels=self.extra_labels(),
        )
        budgets = self.budgets(principal, cost)
        return CallEvent(call=call, budgets=budgets, problems=tuple(self.problems))

    def time(self, name: str, *values: object) -> float | None:
        return pick_time(name, self.problems, *values)

    def status(self) -> Status:
        if self.failed is not None:
            if isinstance(self.failed, bool):
                return Status.FAILURE if self.failed else Status.SUCCESS
            self.problems.append(Problem(field="failed", message="not a bool; ignored"))
        slo_status = self.slo.get("status")
        if isinstance(slo_status, str) and slo_status in ("success", "failure"):
            return Status(slo_status)
        return Status.SUCCESS if self.kw.get("exception") is None else Status.FAILURE

    def operation(self) -> Operation:
        call_type = self.text("operation", self.slo.get("call_type"), self.kw.get("call_type"))
        if call_type is None:
            return Operation.OTHER
        return _OPERATIONS.get(call_type, Operation.OTHER)

    def api_base(self) -> str | None:
        url = self.text(
            "api_base",
            self.hidden.get("api_base"),
            self.slo.get("api_base"),
            self.params.get("api_base"),
        )
        if url is None:
            return None
        result = origin(url)
        if result is None:
            self.problems.append(
                Problem(field="api_base", message="not a URL with a host; ignored")
            )
        return result

    def principal(self) -> Principal:
        proxy_body = view(self.params.get("proxy_server_request")).get("body")
        meta = self.meta
        return Principal(
            api_key=pick(
                _fingerprint, "api_key", self.problems,
                *meta("user_api_key_hash"), *meta("user_api_key"),
            ),
            api_key_alias=self.meta_text("api_key_alias", "user_api_key_alias"),
            team_id=self.meta_text("team_id", "user_api_key_team_id", "team_id"),
            team_alias=self.meta_text("team_alias", "user_api_key_team_alias", "team_alias"),
            user_id=self.meta_text("user_id", "user_api_key_user_id"),
            user_email=self.meta_text("user_email", "user_api_key_user_email"),
            org_id=self.meta_text("org_id", "user_api_key_org_id"),
            org_alias=self.meta_text("org_alias", "user_api_key_org_alias"),
            end_user=self.text(
                "end_user",
                *meta("user_api_key_end_user_id"),
                self.slo.get("end_user"),
                view(proxy_body).get("user"),
            ),
        )  # fmt: skip

    def usage(self) -> object:
        """The call's usage: LiteLLM's own copy in the logging payload when there is
        one (a plain dict; for streams it is the combined usage, more complete than the
        response's), else the response's ``usage``."""
        copy = first(self.slo_meta.get("usage_object"), self.hidden.get("usage_object"))
        return copy if copy is not None else view(self.response_obj).get("usage")

    def count(self, name: str, *candidates: object) -> int | None:
        return pick_int(name, self.problems, *candidates)

    def tokens(self) -> TokenUsage:
        usage = view(self.usage())
        input_tokens = self.count(
            "tokens.input",
            self.slo.get("prompt_tokens"),
            usage.get("prompt_tokens"),
            usage.get("input_tokens"),
        )
        output_tokens = self.count(
            "tokens.output",
            self.slo.get("completion_tokens"),
            usage.get("completion_tokens"),
            usage.get("output_tokens"),
        )
        cached = self.count(
            "tokens.cached_input",
            view(usage.get("prompt_tokens_details")).get("cached_tokens"),
        )
        reasoning = self.count(
            "tokens.reasoning",
            view(usage.get("completion_tokens_details")).get("reasoning_tokens"),
        )
        inp, out = input_tokens or 0, output_tokens or 0
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

    def cost(self) -> Decimal | None:
        cost = pick_money(
            "cost_usd",
            self.problems,
            self.slo.get("response_cost"),
            self.kw.get("response_cost"),
        )
        # LiteLLM logs 0 with debug info when it could not price a call: unknown, not free.
        if cost == 0 and self.slo.get("response_cost_failure_debug_info") is not None:
            return None
        return cost

    def error(self) -> ErrorInfo:
        exception = self.kw.get("exception")
        info = self.slo.get("error_information")
        reason: object = None  # ProxyException.type: "auth_error", "no_db_connection", ...
        if isinstance(exception, BaseException):
            name: object = type(exception).__name__
            reason = view(exception).get("type")
        else:
            name = view(exception).get("type")
        name = first(name, view(info).get("error_class"))
        exception_type = None
        if isinstance(name, str) and _EXCEPTION_NAME.fullmatch(name):
            exception_type = name
        elif name is not None:
            self.problems.append(
                Problem(field="error.exception_type", message="not a class name; ignored")
            )
        code = self.count(
            "error.status_code",
            view(exception).get("status_code"),
            _digits(view(exception).get("code")),  # ProxyException: "401"; OpenAI: an error code
            view(info).get("error_code"),
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

    def ratelimit(self, kind: str) -> int | None:
        headers = self.hidden.get("additional_headers")
        return self.count(
            f"ratelimit_remaining_{kind}",
            view(headers).get(f"x_ratelimit_remaining_{kind}"),
            view(headers).get(f"x-ratelimit-remaining-{kind}"),
            view(headers).get(f"llm_provider-x-ratelimit-remaining-{kind}"),
        )

    def extra_labels(self) -> tuple[tuple[str, str], ...]:
        labels = []
        for name, path in self.custom_labels:
            value = _at_path(self.legacy_meta, path)
            if value is None:
                value = _at_path(self.slo_meta, path)
            if value is None:
                continue
            if isinstance(value, bool):
                labels.append((name, "true" if value else "false"))
            elif isinstance(value, str | int | float | Decimal):
                labels.append((name, str(value)))
            else:
                self.problems.append(
                    Problem(field=f"labels.{name}", message="not a scalar; ignored")
                )
        return tuple(labels)

    def budgets(self, principal: Principal, cost: Decimal | None) -> tuple[BudgetSnapshot, ...]:
        snapshots = []
        for scope, subject, alias, (spend_key, limit_key, reset_key) in budget_places(principal):
            where = _BUDGET_FIELDS[scope]
            spend = self.meta_money(where[0], spend_key)
            if spend is None:  # without spend there is nothing true to report
                continue
            snapshots.append(
                BudgetSnapshot(
                    scope=scope,
                    subject=subject,
                    alias=alias,
                    limit_usd=self.meta_money(where[1], limit_key),
                    spend_usd=spend_after_call(spend, cost),
                    reset_at=self.meta_time(where[2], reset_key),
                )
            )
        return tuple(snapshots)


BudgetPlace = tuple[BudgetScope, str, str | None, tuple[str, str, str]]


def budget_places(principal: Principal) -> tuple[BudgetPlace, ...]:
    """The budgets a principal has a subject for: (scope, subject, alias, and the
    metadata keys of the spend, the limit and the reset time), in scope order."""
    subjects = {
        BudgetScope.API_KEY: (principal.api_key, principal.api_key_alias),
        BudgetScope.TEAM: (principal.team_id, principal.team_alias),
        BudgetScope.USER: (principal.user_id, None),
        BudgetScope.ORG: (principal.org_id, principal.org_alias),
        BudgetScope.END_USER: (principal.end_user, None),
    }
    places = []
    for scope, limit_key, spend_key, reset_key in _BUDGET_KEYS:
        subject, alias = subjects[scope]
        if subject is not None:
            places.append((scope, subject, alias, (spend_key, limit_key, reset_key)))
    return tuple(places)


def _fingerprint(value: object, _name: str, _problems: Problems) -> str | None:
    return fingerprint(value)  # never a problem: its message could only repeat the key


def _digits(value: object) -> object:
    return value if isinstance(value, str) and value.isdigit() else None


def _at_path(container: Getter, path: str) -> object:
    head, *rest = path.split(".")
    value = container.get(head)
    for part in rest:
        if value is None:
            return None
        value = view(value).get(part)
    return value
