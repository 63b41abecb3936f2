"""Every LiteLLM payload field gatewaymetrics reads, described once.

This table is the one place that knows LiteLLM's field names. The general parser
(:func:`~gatewaymetrics.core.litellm_payload.parse_litellm`) reads the payload by
interpreting it; the fast reader (``core/litellm_fast.py``) is generated from it
(``make generate``; a test regenerates it and compares); the fast path's equivalence
test mutates the payload at the places it names. What a table cannot hold (an API
base reduced to its origin, error classification, token subsets, a budget's spend
after the call) are rules in the parser and the generator's template, written in
terms of the field names below, never LiteLLM's.

A *container* is a dict (or, where ``objects`` is set, any object read by attribute)
found in the payload; a *place* is ``"container.key"``; a *field* lists its places in
order of precedence: the first place holding a usable value wins, a broken value is
reported and the next place tried.

Adding an identity label is one ``Field`` with ``role=Role.IDENTITY`` and a ``label``
(its value goes to ``CallRecord.extra_labels``; the label is opt-in), then
``make generate``. docs/architecture.md shows the steps.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from gatewaymetrics.core.records import BudgetScope, Operation

__all__ = [
    "BUDGETS",
    "CONTAINERS",
    "CUSTOM_LABEL_CONTAINERS",
    "FIELDS",
    "OPERATIONS",
    "TABLE_LABELS",
    "Budget",
    "Container",
    "Field",
    "Kind",
    "Role",
    "fields_of",
    "metadata_keys",
    "place_paths",
    "proxy_metadata",
    "split_place",
]


class Kind(enum.Enum):
    """How a field's value is converted (``core.coerce``)."""

    TEXT = "text"  #: a string (ints become their decimal form)
    KEY = "key"  #: an API key or its hash: always a sha256 fingerprint
    COUNT = "count"  #: a non-negative int
    TIME = "time"  #: epoch seconds (floats, datetimes, ISO strings), or a duration's
    MILLISECONDS = "milliseconds"  #: a duration in milliseconds, read as seconds
    MONEY = "money"  #: an exact non-negative Decimal
    FLAG = "flag"  #: a bool
    RAW = "raw"  #: read as it is: a rule interprets it


class Role(enum.Enum):
    """What a field is for."""

    IDENTITY = "identity"  #: a call label, or a budget subject: the same for many calls
    CALL = "call"  #: a per-call value (id, numbers, times)
    OUTCOME = "outcome"  #: whether and how the call failed
    BUDGET = "budget"  #: a budget's spend, limit or reset time


@attrs.frozen(kw_only=True)
class Container:
    """A container in the payload: the first usable of ``places`` (a root argument's
    name for the roots). ``objects``: may be any object, read by attribute (usage
    objects, headers); else a dict (or a mapping; the fast reader takes dicts only)."""

    name: str
    places: tuple[str, ...] = ()
    objects: bool = False


@attrs.frozen(kw_only=True)
class Field:
    """One value read from the payload: its ``name`` (also the problem's field name),
    its places in precedence order, how it converts, and its role. ``label``: the call
    label an identity field feeds when no record attribute holds it."""

    name: str
    kind: Kind
    role: Role
    places: tuple[str, ...]
    label: str | None = None


@attrs.frozen(kw_only=True)
class Budget:
    """One budget scope: the identity fields naming its subject and alias, and its
    spend, limit and reset fields."""

    scope: BudgetScope
    subject: str
    alias: str | None
    spend: str
    limit: str
    reset_at: str


_OP = Operation
#: LiteLLM's call types (field ``operation``), by the operation each one is.
OPERATIONS: Mapping[str, Operation] = {
    "completion": _OP.CHAT,
    "acompletion": _OP.CHAT,
    "anthropic_messages": _OP.CHAT,
    "text_completion": _OP.TEXT_COMPLETION,
    "atext_completion": _OP.TEXT_COMPLETION,
    "embedding": _OP.EMBEDDINGS,
    "aembedding": _OP.EMBEDDINGS,
    "image_generation": _OP.IMAGE_GENERATION,
    "aimage_generation": _OP.IMAGE_GENERATION,
    "transcription": _OP.AUDIO_TRANSCRIPTION,
    "atranscription": _OP.AUDIO_TRANSCRIPTION,
    "speech": _OP.AUDIO_SPEECH,
    "aspeech": _OP.AUDIO_SPEECH,
    "rerank": _OP.RERANK,
    "arerank": _OP.RERANK,
    "moderation": _OP.MODERATION,
    "amoderation": _OP.MODERATION,
    "responses": _OP.RESPONSES,
    "aresponses": _OP.RESPONSES,
}

#: The roots are the callback's arguments; every other container is found in one.
ROOTS = ("kwargs", "response_obj", "start_time", "end_time")

#: The containers, parents before children.
CONTAINERS: tuple[Container, ...] = (
    Container(name="kwargs"),
    Container(name="response_obj", objects=True),
    Container(name="slo", places=("kwargs.standard_logging_object",)),
    Container(name="slo_meta", places=("slo.metadata",)),
    Container(name="hidden", places=("slo.hidden_params",)),
    Container(name="params", places=("kwargs.litellm_params",)),
    Container(name="legacy", places=("params.metadata",)),
    Container(name="model_info", places=("params.model_info",)),
    Container(name="request", places=("params.proxy_server_request",)),
    Container(name="body", places=("request.body",)),
    Container(name="headers", places=("hidden.additional_headers",), objects=True),
    # LiteLLM's own copy of the usage (for streams, the combined one) first, then the
    # response's.
    Container(
        name="usage",
        places=("slo_meta.usage_object", "hidden.usage_object", "response_obj.usage"),
        objects=True,
    ),
    Container(name="usage_in", places=("usage.prompt_tokens_details",), objects=True),
    Container(name="usage_out", places=("usage.completion_tokens_details",), objects=True),
    Container(name="error_info", places=("slo.error_information",), objects=True),
    Container(name="zero_cost", places=("slo.zero_cost_diagnostic",)),
    Container(name="exception", places=("kwargs.exception",), objects=True),
)

#: Where a custom label's dotted path is looked up, in order.
CUSTOM_LABEL_CONTAINERS = ("legacy", "slo_meta")


def metadata_keys(*keys: str) -> tuple[str, ...]:
    """Metadata places: each key in the standard logging object's metadata, then in
    the legacy ``litellm_params.metadata``."""
    return tuple(place for key in keys for place in (f"slo_meta.{key}", f"legacy.{key}"))


def _ratelimit(kind: str) -> tuple[str, ...]:
    return (
        f"headers.x_ratelimit_remaining_{kind}",
        f"headers.x-ratelimit-remaining-{kind}",
        f"headers.llm_provider-x-ratelimit-remaining-{kind}",
    )


_I, _C, _O, _B = Role.IDENTITY, Role.CALL, Role.OUTCOME, Role.BUDGET
_T = Kind.TEXT

FIELDS: tuple[Field, ...] = (
    # -- identity: call labels and budget subjects ----------------------------------
    Field(name="operation", kind=_T, role=_I, places=("slo.call_type", "kwargs.call_type")),
    Field(name="provider", kind=_T, role=_I, places=(
        "slo.custom_llm_provider", "params.custom_llm_provider", "kwargs.custom_llm_provider")),
    Field(name="requested_model", kind=_T, role=_I, places=(
        "slo.model_group", *metadata_keys("model_group"), "kwargs.model")),
    Field(name="model", kind=_T, role=_I, places=("slo.model", "kwargs.model")),
    Field(name="deployment_id", kind=_T, role=_I, places=(
        "slo.model_id", "hidden.model_id", "model_info.id")),
    Field(name="api_base", kind=_T, role=_I, places=(
        "hidden.api_base", "slo.api_base", "params.api_base")),
    Field(name="api_key", kind=Kind.KEY, role=_I,
          places=metadata_keys("user_api_key_hash", "user_api_key")),
    Field(name="api_key_alias", kind=_T, role=_I, places=metadata_keys("user_api_key_alias")),
    Field(name="team_id", kind=_T, role=_I,
          places=metadata_keys("user_api_key_team_id", "team_id")),
    Field(name="team_alias", kind=_T, role=_I,
          places=metadata_keys("user_api_key_team_alias", "team_alias")),
    Field(name="user_id", kind=_T, role=_I, places=metadata_keys("user_api_key_user_id")),
    Field(name="user_email", kind=_T, role=_I, places=metadata_keys("user_api_key_user_email")),
    Field(name="org_id", kind=_T, role=_I, places=metadata_keys("user_api_key_org_id")),
    Field(name="org_alias", kind=_T, role=_I, places=metadata_keys("user_api_key_org_alias")),
    Field(name="end_user", kind=_T, role=_I, places=(
        *metadata_keys("user_api_key_end_user_id"), "slo.end_user", "body.user")),
    Field(name="stream", kind=Kind.FLAG, role=_I, places=("slo.stream", "kwargs.stream")),
    # The proxy's route, and what the client sent (opt-in: personal, client-controlled).
    Field(name="route", kind=_T, role=_I, places=metadata_keys("user_api_key_request_route"),
          label="route"),
    Field(name="client_ip", kind=_T, role=_I, places=metadata_keys("requester_ip_address"),
          label="client_ip"),
    Field(name="user_agent", kind=_T, role=_I, places=metadata_keys("user_agent"),
          label="user_agent"),
    Field(name="cache_hit", kind=Kind.FLAG, role=_I, places=("slo.cache_hit", "kwargs.cache_hit")),
    # -- per call ----------------------------------------------------------------------
    Field(name="call_id", kind=_T, role=_C, places=(
        "slo.litellm_call_id", "kwargs.litellm_call_id", "slo.id")),
    Field(name="cost_usd", kind=Kind.MONEY, role=_C,
          places=("slo.response_cost", "kwargs.response_cost")),
    # LiteLLM logs a cost of 0 with debug information when it could not price a call.
    Field(name="cost_unknown", kind=Kind.RAW, role=_C,
          places=("slo.response_cost_failure_debug_info",)),
    # ... or logs 0 with a diagnosis when a priced model's cost came out as 0.
    Field(name="cost_zero_reason", kind=Kind.RAW, role=_C, places=("zero_cost.reason",)),
    Field(name="tokens.input", kind=Kind.COUNT, role=_C, places=(
        "slo.prompt_tokens", "usage.prompt_tokens", "usage.input_tokens")),
    Field(name="tokens.output", kind=Kind.COUNT, role=_C, places=(
        "slo.completion_tokens", "usage.completion_tokens", "usage.output_tokens")),
    Field(name="tokens.cached_input", kind=Kind.COUNT, role=_C,
          places=("usage_in.cached_tokens",)),
    Field(name="tokens.reasoning", kind=Kind.COUNT, role=_C,
          places=("usage_out.reasoning_tokens",)),
    Field(name="started_at", kind=Kind.TIME, role=_C, places=(
        "slo.startTime", "start_time", "kwargs.start_time")),
    Field(name="ended_at", kind=Kind.TIME, role=_C, places=(
        "slo.endTime", "end_time", "kwargs.end_time")),
    Field(name="first_token_at", kind=Kind.TIME, role=_C, places=(
        "slo.completionStartTime", "kwargs.completion_start_time")),
    Field(name="upstream_started_at", kind=Kind.TIME, role=_C,
          places=("kwargs.api_call_start_time",)),
    Field(name="tokens.cache_creation", kind=Kind.COUNT, role=_C,
          places=("usage.cache_creation_input_tokens",)),
    Field(name="tokens.input_audio", kind=Kind.COUNT, role=_C, places=("usage_in.audio_tokens",)),
    Field(name="tokens.output_audio", kind=Kind.COUNT, role=_C,
          places=("usage_out.audio_tokens",)),
    Field(name="overhead_s", kind=Kind.MILLISECONDS, role=_C,
          places=("hidden.litellm_overhead_time_ms",)),
    # Seconds from the request's arrival at the proxy to the start of its processing.
    Field(name="queue_s", kind=Kind.TIME, role=_C, places=metadata_keys("queue_time_seconds")),
    Field(name="ratelimit_remaining_requests", kind=Kind.COUNT, role=_C,
          places=_ratelimit("requests")),
    Field(name="ratelimit_remaining_tokens", kind=Kind.COUNT, role=_C,
          places=_ratelimit("tokens")),
    # -- outcome -------------------------------------------------------------------------
    Field(name="status", kind=Kind.RAW, role=_O, places=("slo.status",)),
    Field(name="exception", kind=Kind.RAW, role=_O, places=("kwargs.exception",)),
    # The exception's own ``type`` (a JSON replay's class name; ProxyException's
    # reason: "auth_error", ...), its status and code, and the logging object's copy.
    Field(name="error.type", kind=Kind.RAW, role=_O, places=("exception.type",)),
    Field(name="error.class", kind=Kind.RAW, role=_O, places=("error_info.error_class",)),
    Field(name="error.status", kind=Kind.RAW, role=_O, places=("exception.status_code",)),
    Field(name="error.code", kind=Kind.RAW, role=_O, places=("exception.code",)),
    Field(name="error.info_code", kind=Kind.RAW, role=_O, places=("error_info.error_code",)),
    # -- budgets (metadata read at auth time, before this call's cost) -----------------
    *(
        Field(name=f"budget.{scope}.{part}", kind=kind, role=_B,
              places=metadata_keys(f"user_api_key_{infix}{key}"))
        for scope, infix in (("api_key", ""), ("team", "team_"), ("user", "user_"),
                             ("org", "org_"), ("end_user", "end_user_"))
        for part, kind, key in (("spend", Kind.MONEY, "spend"),
                                ("limit", Kind.MONEY, "max_budget"),
                                ("reset_at", Kind.TIME, "budget_reset_at"))
    ),
)  # fmt: skip

#: The budgets a call can carry, in scope order: whose subject, and which fields.
BUDGETS: tuple[Budget, ...] = tuple(
    Budget(scope=scope, subject=subject, alias=alias, spend=f"budget.{scope.value}.spend",
           limit=f"budget.{scope.value}.limit", reset_at=f"budget.{scope.value}.reset_at")
    for scope, subject, alias in (
        (BudgetScope.API_KEY, "api_key", "api_key_alias"),
        (BudgetScope.TEAM, "team_id", "team_alias"),
        (BudgetScope.USER, "user_id", None),
        (BudgetScope.ORG, "org_id", "org_alias"),
        (BudgetScope.END_USER, "end_user", None),
    )
)  # fmt: skip

#: Fields by name.
BY_NAME: Mapping[str, Field] = {field.name: field for field in FIELDS}

#: Call labels declared here rather than by a record attribute: label -> field name.
TABLE_LABELS: Mapping[str, str] = {
    field.label: field.name for field in FIELDS if field.label is not None
}


def fields_of(role: Role) -> tuple[Field, ...]:
    """The fields of one role, in table order."""
    return tuple(field for field in FIELDS if field.role is role)


def proxy_metadata(values: Mapping[str, object]) -> dict[str, object]:
    """Request metadata as a LiteLLM proxy passes it (``litellm_params.metadata``) for
    field values by field name: each under its field's first key there."""
    metadata = {}
    for name, value in values.items():
        places = [split_place(place) for place in BY_NAME[name].places]
        key = next(key for container, key in places if container == "legacy")
        metadata[str(key)] = value
    return metadata


def place_paths(place: str) -> tuple[tuple[str, ...], ...]:
    """Every key path (from a root argument) where ``place`` can be: one per place of
    its container and of the container's own containers."""
    container, key = split_place(place)
    tail = () if key is None else (key,)
    if container in ROOTS:
        return ((container, *tail),)
    source = next(c for c in CONTAINERS if c.name == container)
    return tuple((*path, *tail) for parent in source.places for path in place_paths(parent))


def split_place(place: str) -> tuple[str, str | None]:
    """``"container.key"`` -> (container, key); a root's name alone -> (root, None)."""
    container, _, key = place.partition(".")
    return container, (key or None)
