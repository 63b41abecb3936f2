"""The ``otel`` naming: the OpenTelemetry GenAI semantic conventions, as a table.

The OpenTelemetry backend exports it whatever ``Settings.naming`` says (it is not
selectable there: dotted names are not Prometheus names). Five catalog metrics are
semantic-convention metrics (``gen_ai.client.token.usage``,
``gen_ai.client.operation.duration``, ``gen_ai.server.request.duration``,
``gen_ai.server.time_to_first_token``, ``gen_ai.server.time_per_output_token``) with
their attributes and bucket advice; every other one keeps its meaning under our own
namespace, ``gatewaymetrics.*``. Every configured call label is an attribute, renamed
to its semantic-convention name where one exists (``gen_ai.request.model``,
``user.id``, ...) and to ``gatewaymetrics.*`` otherwise, and each is opted in or out by
the same label settings as a Prometheus label. Provider and operation values are
mapped to the conventions' well-known values. docs/opentelemetry.md has the table and
the conventions' version.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatewaymetrics.core.naming import (
    DURATION_BUCKETS,
    NATIVE_NAMES,
    TIME_PER_TOKEN_BUCKETS,
    Export,
    Naming,
)

__all__ = ["OTEL_ATTRIBUTES", "OTEL_ERRORS", "OTEL_OPERATIONS", "OTEL_PROVIDERS", "otel_naming"]

#: Bucket advice of the GenAI semantic conventions.
TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**i) for i in range(14))  # 1 .. 4**13
OPERATION_BUCKETS: tuple[float, ...] = tuple(round(0.01 * 2**i, 2) for i in range(14))
TIME_TO_FIRST_TOKEN_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

#: LiteLLM's provider names -> ``gen_ai.provider.name`` well-known values (others as
#: they are).
OTEL_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("azure", "azure.ai.openai"),
    ("azure_ai", "azure.ai.inference"),
    ("bedrock", "aws.bedrock"),
    ("vertex_ai", "gcp.vertex_ai"),
    ("vertex_ai_beta", "gcp.vertex_ai"),
    ("gemini", "gcp.gemini"),
    ("mistral", "mistral_ai"),
    ("codestral", "mistral_ai"),
    ("text-completion-codestral", "mistral_ai"),
    ("xai", "x_ai"),
    ("watsonx", "ibm.watsonx.ai"),
    ("watsonx_text", "ibm.watsonx.ai"),
    ("text-completion-openai", "openai"),
    ("chatgpt", "openai"),
    ("azure_text", "azure.ai.openai"),
    ("anthropic_text", "anthropic"),
    ("cohere_chat", "cohere"),
)
#: Our operations -> ``gen_ai.operation.name`` well-known values (others as they are).
OTEL_OPERATIONS: tuple[tuple[str, str], ...] = (("responses", "chat"),)
#: Our error categories -> ``error.type`` (``_OTHER``: the conventions' fallback).
OTEL_ERRORS: tuple[tuple[str, str], ...] = (("other", "_OTHER"),)

#: Every label a catalog metric can carry -> its attribute name.
OTEL_ATTRIBUTES: Mapping[str, str] = {
    "provider": "gen_ai.provider.name",
    "requested_model": "gen_ai.request.model",
    "model": "gen_ai.response.model",
    "operation": "gen_ai.operation.name",
    "team": "gatewaymetrics.team.id",
    "team_alias": "gatewaymetrics.team.alias",
    "api_key": "gatewaymetrics.api_key.fingerprint",
    "api_key_alias": "gatewaymetrics.api_key.alias",
    "user": "user.id",
    "org": "gatewaymetrics.org.id",
    "org_alias": "gatewaymetrics.org.alias",
    "end_user": "gatewaymetrics.end_user.id",
    "user_email": "user.email",
    "deployment_id": "gatewaymetrics.deployment.id",
    "api_base": "gatewaymetrics.api_base",
    "stream": "gatewaymetrics.stream",
    "status_code": "http.response.status_code",
    "exception_class": "gatewaymetrics.exception.class",
    "error": "error.type",
    "route": "http.route",
    "client_ip": "client.address",
    "user_agent": "user_agent.original",
    # own labels
    "status": "gatewaymetrics.status",
    "error_type": "error.type",
    "token_type": "gen_ai.token.type",
    "reason": "gatewaymetrics.reason",
    "scope": "gatewaymetrics.budget.scope",
    "subject": "gatewaymetrics.budget.subject",
    "alias": "gatewaymetrics.budget.alias",
    "fallback_model": "gatewaymetrics.fallback.model",
    "outcome": "gatewaymetrics.outcome",
    "field": "gatewaymetrics.field",
    "backend": "gatewaymetrics.backend",
    "metric": "gatewaymetrics.metric",
}
_OTHERS = tuple(OTEL_ATTRIBUTES.items())
_VALUES = (
    ("gen_ai.provider.name", OTEL_PROVIDERS),
    ("gen_ai.operation.name", OTEL_OPERATIONS),
    ("error.type", OTEL_ERRORS),
)
#: UCUM units of our own metrics, by the catalog's unit (and by key where "" is not
#: a count of requests).
_UNITS = {"tokens": "{token}", "usd": "{USD}", "seconds": "s", "": "{request}"}
_KEY_UNITS = {
    "fallbacks": "{fallback}", "events_dropped": "{event}", "input_problems": "{problem}",
    "backend_errors": "{error}", "series_overflow": "{sample}",
}  # fmt: skip

# The attributes of every semantic-convention metric, each read from its call label.
_GEN_AI = (
    ("gen_ai.operation.name", "operation"),
    ("gen_ai.provider.name", "provider"),
    ("gen_ai.request.model", "requested_model"),
    ("gen_ai.response.model", "model"),
    ("server.address", "api_base"),
    ("server.port", "api_base"),
)
_SERVER_PARTS = (("server.address", "host"), ("server.port", "port"))


def _semconv(
    name: str, help: str, unit: str, buckets: tuple[float, ...], *extra: tuple[str, str],
    kind: str = "",
) -> Export:  # fmt: skip
    return Export(
        name=name, help=help, labels=(*_GEN_AI, *extra), kind=kind, unit=unit, buckets=buckets,
        values=_VALUES, parts=_SERVER_PARTS, others=_OTHERS,
    )  # fmt: skip


_SEMCONV: Mapping[str, tuple[Export, ...]] = {
    "tokens": (
        _semconv("gen_ai.client.token.usage", "Number of input and output tokens used.",
                 "{token}", TOKEN_BUCKETS, ("gen_ai.token.type", "token_type"),
                 kind="histogram"),
    ),
    "upstream_duration": (
        _semconv("gen_ai.client.operation.duration", "GenAI operation duration.", "s",
                 OPERATION_BUCKETS, ("error.type", "error")),
    ),
    "request_duration": (
        _semconv("gen_ai.server.request.duration",
                 "Generative AI server request duration such as time-to-last byte or last "
                 "output token.", "s", OPERATION_BUCKETS, ("error.type", "error")),
    ),
    "time_to_first_token": (
        _semconv("gen_ai.server.time_to_first_token",
                 "Time to generate first token for successful responses.", "s",
                 TIME_TO_FIRST_TOKEN_BUCKETS),
    ),
    "time_per_output_token": (
        _semconv("gen_ai.server.time_per_output_token",
                 "Time per output token generated after the first token for successful "
                 "responses.", "s", TIME_PER_TOKEN_BUCKETS),
    ),
}  # fmt: skip


def _own(key: str, unit: str, help: str) -> Export:
    """A metric semconv does not cover, under our namespace, every label carried."""
    base = NATIVE_NAMES.get(key, key).removesuffix("_total").removesuffix("_usd")
    name = "gatewaymetrics." + base.removesuffix("_seconds")  # units are not in names
    unit = _KEY_UNITS.get(key) or _UNITS.get(unit, unit)
    return Export(name=name, help=help, unit=unit, values=_VALUES, others=_OTHERS)


def otel_naming(catalog_units: Mapping[str, tuple[str, str]]) -> Naming:
    """The table, given each catalog key's unit and help (the catalog's, passed in
    so this module does not import the catalog, which imports it)."""
    exports = {
        key: _SEMCONV.get(key) or (_own(key, unit, help),)
        for key, (unit, help) in catalog_units.items()
    }
    return Naming(
        names=NATIVE_NAMES,
        duration_buckets=DURATION_BUCKETS,
        per_token_buckets=TIME_PER_TOKEN_BUCKETS,
        exports=exports,
        withheld=("end_user", "user_email", "client_ip", "user_agent"),
        selectable=False,
    )
