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

import attrs

from gatewaymetrics.core import budget
from gatewaymetrics.core.bounds import MAX_COUNT, MAX_SECONDS, float_amount
from gatewaymetrics.core.durations import duration, time_per_output_token, time_to_first_token
from gatewaymetrics.core.secrets import REJECTED_KEY, is_fingerprint

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


# Validation is one post-init pass per record, with plain type checks: records are
# built on a gateway's hot path, and a validator call per field costs more than the
# rest of the construction. A failure names the field.


def _check_str(owner: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is not None and type(value) is not str:
            raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")


def _check_count(owner: object, names: tuple[str, ...], *, optional: bool) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is None and optional:
            continue
        if type(value) is not int or not 0 <= value <= MAX_COUNT:
            raise ValueError(f"{name} must be an int from 0 to 2**63 - 1, got {_show(value)}")


def _check_time(owner: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is not None and (type(value) is not float or not abs(value) <= MAX_SECONDS):
            raise ValueError(
                f"{name} must be a float from -2**38 to 2**38 (epoch seconds) or None, "
                f"got {_show(value)}"
            )


def _check_money(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if type(value) is not Decimal or not value.is_finite() or not float_amount(value) or value < 0:
        raise ValueError(
            f"{name} must be a finite Decimal >= 0 within float range, got {_show(value)}"
        )


def _show(value: object) -> str:
    """A value in an error message, short: an int of 10**400 or a Decimal with a
    billion-digit exponent must not be written out in full."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    if isinstance(value, Decimal) and value.is_finite() and not float_amount(value):
        return f"a Decimal of exponent {value.adjusted()}"
    return repr(value)[:80]


def _in_range(number: int | float | Decimal) -> bool:
    if isinstance(number, int):
        return abs(number) <= MAX_COUNT
    if isinstance(number, float):
        return math.isfinite(number)
    return number.is_finite() and float_amount(number)


def _check_type(name: str, value: object, expected: type, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__}, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class Problem:
    """Something odd in the input and how it was handled. Never holds input values."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


_TOKEN_FIELDS = ("input", "output", "cached_input", "reasoning")


@attrs.frozen(kw_only=True)
class TokenUsage:
    """Token counts of one call. ``cached_input`` is part of ``input``, ``reasoning`` of
    ``output``; they are reported apart so that sums stay honest."""

    input: int = 0
    output: int = 0
    cached_input: int = 0
    reasoning: int = 0

    def __attrs_post_init__(self) -> None:
        _check_count(self, _TOKEN_FIELDS, optional=False)
        if self.cached_input > self.input:
            raise ValueError("cached_input must not exceed input")
        if self.reasoning > self.output:
            raise ValueError("reasoning must not exceed output")

    @property
    def total(self) -> int:
        return self.input + self.output


@attrs.frozen(kw_only=True)
class Principal:
    """Who made the call. ``api_key`` is a fingerprint (sha256 hex), never a raw key,
    or :data:`~gatewaymetrics.core.secrets.REJECTED_KEY` when the gateway refused the
    key: a key nobody issued must not become a series of its own."""

    api_key: str | None = None
    api_key_alias: str | None = None
    team_id: str | None = None
    team_alias: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    org_id: str | None = None
    org_alias: str | None = None
    end_user: str | None = None

    def __attrs_post_init__(self) -> None:
        _check_str(self, _PRINCIPAL_FIELDS)
        key = self.api_key
        if key is not None and key != REJECTED_KEY and not is_fingerprint(key):
            raise ValueError(
                f"api_key must be a fingerprint (64 lowercase hex chars) or {REJECTED_KEY!r}"
            )


_PRINCIPAL_FIELDS = tuple(field.name for field in attrs.fields(Principal))


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """Why a call failed: a category, the status code and the exception's class name.
    Never the message, which can quote request content or credentials."""

    category: ErrorCategory
    status_code: int | None = None
    exception_type: str | None = None

    def __attrs_post_init__(self) -> None:
        _check_type("category", self.category, ErrorCategory)
        _check_count(self, ("status_code",), optional=True)
        _check_str(self, ("exception_type",))


def _label_pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value)


def _number_pairs(
    value: Iterable[tuple[str, int | float | Decimal]],
) -> tuple[tuple[str, int | float | Decimal], ...]:
    return tuple(value)


def _budgets(value: Iterable[BudgetSnapshot]) -> tuple[BudgetSnapshot, ...]:
    return tuple(value)


def _problems(value: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class CallRecord:
    """One LLM call, as a gateway saw it. Timestamps are epoch seconds."""

    call_id: str | None = None
    operation: Operation = Operation.OTHER
    status: Status = Status.SUCCESS
    provider: str | None = None
    requested_model: str | None = None
    model: str | None = None
    deployment_id: str | None = None
    api_base: str | None = None
    principal: Principal = attrs.field(factory=Principal)
    tokens: TokenUsage = attrs.field(factory=TokenUsage)
    cost_usd: Decimal | None = None
    #: Why ``cost_usd`` is unknown, as the gateway said (LiteLLM:
    #: ``missing_pricing_key``, ``cost_calculation_error``, ...); None: no reason given.
    unpriced_reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    first_token_at: float | None = None
    upstream_started_at: float | None = None
    stream: bool = False
    cache_hit: bool | None = None
    error: ErrorInfo | None = None
    ratelimit_remaining_requests: int | None = None
    ratelimit_remaining_tokens: int | None = None
    extra_labels: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_label_pairs)
    #: Further per-call numbers by name, read by a gateway's field table for the
    #: catalog's metrics that name them as their source.
    numbers: tuple[tuple[str, int | float | Decimal], ...] = attrs.field(
        default=(), converter=_number_pairs
    )

    def __attrs_post_init__(self) -> None:
        _check_type("operation", self.operation, Operation)
        _check_type("status", self.status, Status)
        _check_str(self, _CALL_STR_FIELDS)
        _check_type("principal", self.principal, Principal)
        _check_type("tokens", self.tokens, TokenUsage)
        _check_money("cost_usd", self.cost_usd, optional=True)
        _check_time(self, _CALL_TIME_FIELDS)
        _check_type("stream", self.stream, bool)
        _check_type("cache_hit", self.cache_hit, bool, optional=True)
        _check_type("error", self.error, ErrorInfo, optional=True)
        _check_count(self, _CALL_COUNT_FIELDS, optional=True)
        for pair in self.extra_labels:
            if type(pair) is not tuple or len(pair) != 2 or not all(type(x) is str for x in pair):
                raise TypeError("extra_labels must hold (name, value) pairs of strings")
        for item in self.numbers:
            if type(item) is not tuple or len(item) != 2 or type(item[0]) is not str:
                raise TypeError("numbers must hold (name, number) pairs")
            if isinstance(item[1], bool) or not isinstance(item[1], int | float | Decimal):
                raise TypeError("numbers must hold (name, number) pairs")
            if not _in_range(item[1]):
                raise ValueError(f"numbers: {item[0]} must be finite, within float range")

    @property
    def duration_s(self) -> float | None:
        """Wall time of the whole call, as the gateway saw it."""
        return duration(self.started_at, self.ended_at)

    @property
    def upstream_duration_s(self) -> float | None:
        """Time spent waiting on the provider's API, when known."""
        return duration(self.upstream_started_at, self.ended_at)

    @property
    def time_to_first_token_s(self) -> float | None:
        """Streams only: from the start of the call to the first token."""
        return time_to_first_token(self.stream, self.started_at, self.first_token_at)

    @property
    def time_per_output_token_s(self) -> float | None:
        """Streams with two or more output tokens: (end - first token) / (output - 1)."""
        return time_per_output_token(
            self.stream, self.tokens.output, self.first_token_at, self.ended_at
        )


_CALL_STR_FIELDS = (
    "call_id", "provider", "requested_model", "model", "deployment_id", "api_base",
    "unpriced_reason",
)  # fmt: skip
_CALL_TIME_FIELDS = ("started_at", "ended_at", "first_token_at", "upstream_started_at")
_CALL_COUNT_FIELDS = ("ratelimit_remaining_requests", "ratelimit_remaining_tokens")


@attrs.frozen(kw_only=True)
class BudgetSnapshot:
    """A budget as known at one call: its limit (None = unlimited) and spend so far."""

    scope: BudgetScope
    subject: str
    alias: str | None = None
    limit_usd: Decimal | None = None
    spend_usd: Decimal = Decimal(0)
    reset_at: float | None = None

    def __attrs_post_init__(self) -> None:
        _check_type("scope", self.scope, BudgetScope)
        _check_type("subject", self.subject, str)
        _check_str(self, ("alias",))
        _check_money("limit_usd", self.limit_usd, optional=True)
        _check_money("spend_usd", self.spend_usd, optional=False)
        _check_time(self, ("reset_at",))

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

    call: CallRecord
    budgets: tuple[BudgetSnapshot, ...] = attrs.field(default=(), converter=_budgets)
    problems: tuple[Problem, ...] = attrs.field(default=(), converter=_problems)

    def __attrs_post_init__(self) -> None:
        _check_type("call", self.call, CallRecord)
