"""The typed records one LLM call becomes: immutable, validated, gateway-neutral.

Records are built by named constructors (``parse_litellm`` for LiteLLM payloads) or
directly by a gateway that embeds the core. ``__init__`` only checks invariants; it
never repairs input. Derived values are pure properties.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from gatewaymetrics.core import budget

__all__ = [
    "BudgetScope",
    "BudgetSnapshot",
    "CallEvent",
    "CallRecord",
    "ErrorCategory",
    "ErrorInfo",
    "Operation",
    "Principal",
    "Problem",
    "Status",
    "TokenUsage",
]


class Operation(enum.StrEnum):
    """What kind of API call was made."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    IMAGE_GENERATION = "image_generation"
    AUDIO_TRANSCRIPTION = "audio_transcription"
    AUDIO_SPEECH = "audio_speech"
    RERANK = "rerank"
    MODERATION = "moderation"
    RESPONSES = "responses"
    OTHER = "other"


class Status(enum.StrEnum):
    """How the call ended."""

    SUCCESS = "success"
    FAILURE = "failure"


class ErrorCategory(enum.StrEnum):
    """A closed, low-cardinality taxonomy of failures."""

    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CONTEXT_WINDOW_EXCEEDED = "context_window_exceeded"
    CONTENT_FILTER = "content_filter"
    BUDGET_EXCEEDED = "budget_exceeded"
    NOT_FOUND = "not_found"
    PROVIDER_ERROR = "provider_error"
    CANCELLED = "cancelled"
    OTHER = "other"


class BudgetScope(enum.StrEnum):
    """Whose budget a snapshot describes."""

    API_KEY = "api_key"
    TEAM = "team"
    USER = "user"
    ORG = "org"
    END_USER = "end_user"


def _non_negative_int(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int, got {value!r}")


def _optional_non_negative_int(
    _: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None:
        _non_negative_int(_, attribute, value)  # type: ignore[arg-type]  # same check, narrowed


def _optional_finite_float(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is None:
        return
    if type(value) is not float or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite float or None, got {value!r}")


def _money(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{attribute.name} must be a finite Decimal >= 0, got {value!r}")


def _optional_money(
    _: object, attribute: attrs.Attribute[Decimal | None], value: Decimal | None
) -> None:
    if value is not None:
        _money(_, attribute, value)


def _optional_str(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a str or None, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class Problem:
    """Something odd in the input and how it was handled. Never holds input values."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@attrs.frozen(kw_only=True)
class TokenUsage:
    """Token counts of one call. ``cached_input`` is part of ``input``, ``reasoning`` of
    ``output``; they are reported apart so that sums stay honest."""

    input: int = attrs.field(default=0, validator=_non_negative_int)
    output: int = attrs.field(default=0, validator=_non_negative_int)
    cached_input: int = attrs.field(default=0, validator=_non_negative_int)
    reasoning: int = attrs.field(default=0, validator=_non_negative_int)

    def __attrs_post_init__(self) -> None:
        if self.cached_input > self.input:
            raise ValueError("cached_input must not exceed input")
        if self.reasoning > self.output:
            raise ValueError("reasoning must not exceed output")

    @property
    def total(self) -> int:
        return self.input + self.output


@attrs.frozen(kw_only=True)
class Principal:
    """Who made the call. ``api_key`` is a fingerprint (sha256 hex), never a raw key."""

    api_key: str | None = attrs.field(default=None, validator=_optional_str)
    api_key_alias: str | None = attrs.field(default=None, validator=_optional_str)
    team_id: str | None = attrs.field(default=None, validator=_optional_str)
    team_alias: str | None = attrs.field(default=None, validator=_optional_str)
    user_id: str | None = attrs.field(default=None, validator=_optional_str)
    user_email: str | None = attrs.field(default=None, validator=_optional_str)
    org_id: str | None = attrs.field(default=None, validator=_optional_str)
    org_alias: str | None = attrs.field(default=None, validator=_optional_str)
    end_user: str | None = attrs.field(default=None, validator=_optional_str)

    @api_key.validator
    def _check_fingerprint(self, _: attrs.Attribute[str | None], value: str | None) -> None:
        # Local import keeps the module graph acyclic and the check in one place.
        from gatewaymetrics.core.secrets import is_fingerprint

        if value is not None and not is_fingerprint(value):
            raise ValueError("api_key must be a fingerprint (64 lowercase hex chars)")


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """Why a call failed: a category, the status code and the exception's class name.
    Never the message, which can quote request content or credentials."""

    category: ErrorCategory = attrs.field(validator=attrs.validators.instance_of(ErrorCategory))
    status_code: int | None = attrs.field(default=None, validator=_optional_non_negative_int)
    exception_type: str | None = attrs.field(default=None, validator=_optional_str)


def _label_pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value)


def _budgets(value: Iterable[BudgetSnapshot]) -> tuple[BudgetSnapshot, ...]:
    return tuple(value)


def _problems(value: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(value)


def _duration(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    value = end - start
    return value if value >= 0 and math.isfinite(value) else None


@attrs.frozen(kw_only=True)
class CallRecord:
    """One LLM call, as a gateway saw it. Timestamps are epoch seconds."""

    call_id: str | None = attrs.field(default=None, validator=_optional_str)
    operation: Operation = attrs.field(
        default=Operation.OTHER, validator=attrs.validators.instance_of(Operation)
    )
    status: Status = attrs.field(
        default=Status.SUCCESS, validator=attrs.validators.instance_of(Status)
    )
    provider: str | None = attrs.field(default=None, validator=_optional_str)
    requested_model: str | None = attrs.field(default=None, validator=_optional_str)
    model: str | None = attrs.field(default=None, validator=_optional_str)
    deployment_id: str | None = attrs.field(default=None, validator=_optional_str)
    api_base: str | None = attrs.field(default=None, validator=_optional_str)
    principal: Principal = attrs.field(
        factory=Principal, validator=attrs.validators.instance_of(Principal)
    )
    tokens: TokenUsage = attrs.field(
        factory=TokenUsage, validator=attrs.validators.instance_of(TokenUsage)
    )
    cost_usd: Decimal | None = attrs.field(default=None, validator=_optional_money)
    started_at: float | None = attrs.field(default=None, validator=_optional_finite_float)
    ended_at: float | None = attrs.field(default=None, validator=_optional_finite_float)
    first_token_at: float | None = attrs.field(default=None, validator=_optional_finite_float)
    upstream_started_at: float | None = attrs.field(default=None, validator=_optional_finite_float)
    stream: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    cache_hit: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )
    error: ErrorInfo | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(ErrorInfo))
    )
    ratelimit_remaining_requests: int | None = attrs.field(
        default=None, validator=_optional_non_negative_int
    )
    ratelimit_remaining_tokens: int | None = attrs.field(
        default=None, validator=_optional_non_negative_int
    )
    extra_labels: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_label_pairs)

    @property
    def duration_s(self) -> float | None:
        """Wall time of the whole call, as the gateway saw it."""
        return _duration(self.started_at, self.ended_at)

    @property
    def upstream_duration_s(self) -> float | None:
        """Time spent waiting on the provider's API, when known."""
        return _duration(self.upstream_started_at, self.ended_at)

    @property
    def time_to_first_token_s(self) -> float | None:
        """Streams only: from the start of the call to the first token."""
        if not self.stream:
            return None
        return _duration(self.started_at, self.first_token_at)

    @property
    def time_per_output_token_s(self) -> float | None:
        """Streams with two or more output tokens: (end - first token) / (output - 1)."""
        if not self.stream or self.tokens.output < 2:
            return None
        generating = _duration(self.first_token_at, self.ended_at)
        if generating is None:
            return None
        return generating / (self.tokens.output - 1)


@attrs.frozen(kw_only=True)
class BudgetSnapshot:
    """A budget as known at one call: its limit (None = unlimited) and spend so far."""

    scope: BudgetScope = attrs.field(validator=attrs.validators.instance_of(BudgetScope))
    subject: str = attrs.field(validator=attrs.validators.instance_of(str))
    alias: str | None = attrs.field(default=None, validator=_optional_str)
    limit_usd: Decimal | None = attrs.field(default=None, validator=_optional_money)
    spend_usd: Decimal = attrs.field(default=Decimal(0), validator=_money)
    reset_at: float | None = attrs.field(default=None, validator=_optional_finite_float)

    @property
    def remaining_usd(self) -> Decimal | None:
        """Limit minus spend; negative when over budget; None when unlimited."""
        return budget.remaining(self.limit_usd, self.spend_usd)

    def supersedes(self, other: BudgetSnapshot) -> bool:
        """Whether this snapshot should replace ``other`` (an older one for the same
        subject): see :func:`gatewaymetrics.core.budget.supersedes`."""
        return budget.supersedes(
            new_spend=self.spend_usd,
            new_reset_at=self.reset_at,
            old_spend=other.spend_usd,
            old_reset_at=other.reset_at,
        )


@attrs.frozen(kw_only=True)
class CallEvent:
    """Everything one gateway callback tells: the call, the budgets it touched, and
    what was odd in the input and how it was repaired."""

    call: CallRecord = attrs.field(validator=attrs.validators.instance_of(CallRecord))
    budgets: tuple[BudgetSnapshot, ...] = attrs.field(default=(), converter=_budgets)
    problems: tuple[Problem, ...] = attrs.field(default=(), converter=_problems)
