"""The ``litellm`` naming: LiteLLM 1.110.2's ``PrometheusLogger`` names, as a table.

A LiteLLM user's dashboards, recording rules and alerts keep working: the family
names, label names, help texts and histogram bounds are LiteLLM's, and so is its
split (one family per budget scope, per token type, per outcome). Our time per output
token (streams, after the first token) keeps its native name and bounds: LiteLLM's
``litellm_deployment_latency_per_output_token`` divides the whole latency by the
output tokens, another quantity under a name dashboards would read as ours. Each family lists
LiteLLM's labels in LiteLLM's order with the call label it is read from; a label with
no source ("") is one a callback never sees (LiteLLM reads it from the proxy's
request), so it is left out. Catalog metrics LiteLLM has no family for keep their
native names under the prefix.

Where LiteLLM is wrong we stay right (docs/migrating-from-litellm.md lists every
difference; ``tests/integration/test_litellm_naming_diff.py`` finds them by running
LiteLLM's own logger beside ours): ``hashed_api_key`` is always a fingerprint, an
unlimited budget has no series (never ``+Inf``), a missing value is ``""`` (never
``"None"``), and ``end_user``, ``user_email``, ``client_ip`` and ``user_agent``
(unbounded, personal, client-controlled) are only filled when ``labels.opt_in`` turns
them on.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatewaymetrics.core.naming import NATIVE_NAMES, TIME_PER_TOKEN_BUCKETS, Export, Naming

__all__ = ["LITELLM", "LITELLM_BUCKETS", "LITELLM_SOURCES"]

#: LiteLLM's latency buckets (``LATENCY_BUCKETS``), in seconds.
LITELLM_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0, 420.0, 600.0,
)  # fmt: skip
#: LiteLLM's label names -> the call label each is read from ("": none, the service
#: tier, which LiteLLM derives from the provider's response by rules of its own).
LITELLM_SOURCES: Mapping[str, str] = {
    "end_user": "end_user",
    "hashed_api_key": "api_key",
    "api_key_alias": "api_key_alias",
    "requested_model": "requested_model",
    "model_group": "requested_model",
    "team": "team",
    "team_alias": "team_alias",
    "user": "user",
    "user_email": "user_email",
    "model": "model",
    "litellm_model_name": "model",
    "model_id": "deployment_id",
    "api_base": "api_base",
    "api_provider": "provider",
    "org_id": "org",
    "org_alias": "org_alias",
    "status_code": "status_code",
    "exception_status": "status_code",
    "exception_class": "exception_class",
    "fallback_model": "fallback_model",
    "reason": "reason",
    "route": "route",
    "client_ip": "client_ip",
    "user_agent": "user_agent",
    "service_tier": "",
}

# LiteLLM's label sets, by the families that share them.
_PROXY = (
    "end_user hashed_api_key api_key_alias requested_model team team_alias user "
    "{} user_email {} route client_ip user_agent model_id api_provider org_id org_alias"
)
_TOKENS = (
    "end_user hashed_api_key api_key_alias model team team_alias user user_email "
    "requested_model model_id api_provider org_id org_alias"
)
_TOKEN_DETAILS = (
    "end_user hashed_api_key api_key_alias model team team_alias user user_email "
    "requested_model model_id api_provider"
)
_CACHE = "model hashed_api_key api_key_alias team team_alias end_user user model_id api_provider"
_DEPLOYMENT = (
    "model_group requested_model litellm_model_name model_id api_base api_provider "
    "{}hashed_api_key api_key_alias team team_alias client_ip user_agent"
)
_API_LATENCY = (
    "model_group model hashed_api_key api_key_alias team team_alias requested_model "
    "end_user user model_id api_provider service_tier org_id org_alias"
)
_ROUTER = (
    "model_group api_provider api_base litellm_model_name hashed_api_key api_key_alias model_id"
)
_FALLBACK = ("requested_model fallback_model hashed_api_key api_key_alias team team_alias "
             "exception_status exception_class model_id")  # fmt: skip


def _family(
    name: str,
    help: str,
    labels: str,
    when: tuple[tuple[str, str], ...] = (),
    sources: Mapping[str, str] = LITELLM_SOURCES,
    transform: str = "",
) -> Export:
    names = labels.split()
    return Export(
        name=name,
        help=help,
        labels=tuple((label, sources.get(label, LITELLM_SOURCES[label])) for label in names),
        when=when,
        transform=transform,
    )


def _budget(
    kind: str, help: str, scope: str, family: str, labels: str, transform: str = ""
) -> Export:
    """One budget gauge of one scope; its subject and alias fill the scope's labels."""
    subject, _, alias = labels.partition(" ")
    sources = {subject: "subject", **({alias: "alias"} if alias else {})}
    name = kind.format(family)
    when = (("scope", scope),)
    return _family(name, help.format(_WHOSE[family]), labels, when, sources, transform)


_WHOSE = {
    "api_key": "api key", "team": "team", "user": "user", "org": "org",
    "customer": "customer (end user)",
}  # fmt: skip
_SCOPES = (
    ("api_key", "api_key", "hashed_api_key api_key_alias"),
    ("team", "team", "team team_alias"),
    ("user", "user", "user"),
    ("org", "org", "org_id org_alias"),
    ("end_user", "customer", "end_user"),
)
#: LiteLLM's help texts of its ``*_budget_remaining_hours_metric`` families, verbatim
#: (the team's says "days"; its value is hours, as for every scope).
_RESET_HELP = {
    "api_key": "Remaining hours for api key budget to be reset",
    "team": "Remaining days for team budget to be reset",
    "user": "Remaining hours for user budget to be reset",
    "org": "Remaining hours for org budget to be reset",
    "customer": "Remaining hours for customer (end user) budget to be reset",
}
_FAILURE = (("status", "failure"),)
_SUCCESS = (("status", "success"),)

_EXPORTS: Mapping[str, tuple[Export, ...]] = {
    "requests": (
        _family("litellm_proxy_total_requests_metric",
                "Total number of requests made to the proxy server - track number of client "
                "side requests", _PROXY.format("status_code", "")),
        _family("litellm_proxy_failed_requests_metric",
                "Total number of failed responses from proxy - the client did not get a "
                "success response from litellm proxy",
                _PROXY.format("", "exception_status exception_class"), _FAILURE),
        _family("litellm_requests_metric",
                "deprecated - use litellm_proxy_total_requests_metric. Total number of LLM "
                "calls to litellm - track total per API Key, team, user",
                "end_user hashed_api_key api_key_alias model team team_alias user user_email "
                "client_ip user_agent requested_model model_id api_provider org_id org_alias",
                _SUCCESS),
        _family("litellm_llm_api_failed_requests_metric",
                "deprecated - use litellm_proxy_failed_requests_metric",
                "end_user hashed_api_key api_key_alias model team team_alias user model_id",
                _FAILURE),
        _family("litellm_deployment_success_responses",
                "LLM Deployment Analytics - Total number of successful LLM API calls via litellm",
                _DEPLOYMENT.format(""), _SUCCESS),
        _family("litellm_deployment_failure_responses",
                "LLM Deployment Analytics - Total number of failed LLM API calls for a specific "
                "LLM deploymeny. exception_status is the status of the exception from the llm "
                "api", _DEPLOYMENT.format("exception_status exception_class "), _FAILURE),
        _family("litellm_deployment_total_requests",
                "LLM Deployment Analytics - Total number of LLM API calls via litellm - "
                "success + failure", _DEPLOYMENT.format("")),
    ),
    "tokens": (
        _family("litellm_total_tokens_metric",
                "Total number of input + output tokens from LLM requests", _TOKENS),
        _family("litellm_input_tokens_metric", "Total number of input tokens from LLM requests",
                _TOKENS, (("token_type", "input"),)),
        _family("litellm_output_tokens_metric",
                "Total number of output tokens from LLM requests", _TOKENS,
                (("token_type", "output"),)),
    ),
    "cached_input_tokens": (
        _family("litellm_input_cached_tokens_metric",
                "Provider-side cached input tokens (e.g. OpenAI "
                "prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens)",
                _TOKEN_DETAILS),
        _family("litellm_provider_cache_read_input_tokens_metric",
                "Total prompt/input tokens read from provider prompt cache (e.g. "
                "OpenAI/Anthropic/Gemini/Bedrock)", _CACHE),
    ),
    "reasoning_tokens": (
        _family("litellm_output_reasoning_tokens_metric",
                "Reasoning tokens reported in completion_tokens_details.reasoning_tokens",
                _TOKEN_DETAILS),
    ),
    "spend": (
        _family("litellm_spend_metric", "Total spend on LLM requests",
                "end_user hashed_api_key api_key_alias model team team_alias user user_email "
                "client_ip user_agent requested_model model_id api_provider service_tier org_id "
                "org_alias"),
    ),
    "unpriced_requests": (
        _family("litellm_zero_cost_requests",
                "Requests that carried usage but were logged at $0 on a model whose pricing "
                "entry has a non-zero rate, by reason (missing_pricing_key, "
                "pricing_not_applied, cost_calculation_error)",
                "requested_model model model_id api_provider reason"),
    ),
    "request_duration": (
        _family("litellm_request_total_latency_metric",
                "End-to-end latency (seconds) for a request to LiteLLM Proxy Server, from the "
                "moment the request reached the proxy through the end of processing -- includes "
                "authentication, pre-call hooks, the LLM API call, and post-call processing",
                "model_group end_user hashed_api_key api_key_alias requested_model team "
                "team_alias user model model_id api_provider service_tier org_id org_alias"),
    ),
    "upstream_duration": (
        _family("litellm_llm_api_latency_metric",
                "Total latency (seconds) for a models LLM API call", _API_LATENCY),
    ),
    "time_to_first_token": (
        _family("litellm_llm_api_time_to_first_token_metric",
                "Time to first token for a models LLM API call", _API_LATENCY),
    ),
    "cache_write_tokens": (
        _family("litellm_input_cache_creation_tokens_metric",
                "Provider-side input tokens written to prompt cache (e.g. Anthropic "
                "cache_creation_input_tokens)", _TOKEN_DETAILS),
        _family("litellm_provider_cache_creation_input_tokens_metric",
                "Total prompt/input tokens written to provider prompt cache (e.g. "
                "Anthropic/Bedrock)", _CACHE),
    ),
    "input_audio_tokens": (
        _family("litellm_input_audio_tokens_metric",
                "Audio input tokens reported in prompt_tokens_details.audio_tokens",
                _TOKEN_DETAILS),
    ),
    "output_audio_tokens": (
        _family("litellm_output_audio_tokens_metric",
                "Audio output tokens reported in completion_tokens_details.audio_tokens",
                _TOKEN_DETAILS),
    ),
    "queue_duration": (
        _family("litellm_request_queue_time_seconds",
                "Time (seconds) from request arrival at the proxy to the start of pre-call "
                "processing -- includes authentication and any ASGI-level queueing",
                "end_user hashed_api_key api_key_alias requested_model team team_alias user "
                "model model_id api_provider org_id org_alias"),
    ),
    "overhead_duration": (
        _family("litellm_overhead_latency_metric",
                "Latency overhead (milliseconds) added by LiteLLM processing", _ROUTER),
    ),
    "budget_limit": tuple(
        _budget("litellm_{}_max_budget_metric", "Maximum budget set for {}", scope, family, labels)
        for scope, family, labels in _SCOPES
    ),
    "budget_remaining": tuple(
        _budget("litellm_remaining_{}_budget_metric", "Remaining budget for {}", scope, family,
                labels)
        for scope, family, labels in _SCOPES
    ),
    # LiteLLM's gauge is the hours from the write to the reset; ours is the reset time
    # (llm_budget_reset_timestamp_seconds), turned into those hours when written.
    "budget_reset": tuple(
        _budget("litellm_{}_budget_remaining_hours_metric", _RESET_HELP[family], scope, family,
                labels, "hours_until")
        for scope, family, labels in _SCOPES
    ),
    "ratelimit_remaining_requests": (
        _family("litellm_remaining_requests_metric",
                "LLM Deployment Analytics - remaining requests for model, returned from LLM API "
                "Provider", _ROUTER),
    ),
    "ratelimit_remaining_tokens": (
        _family("litellm_remaining_tokens_metric",
                "remaining tokens for model, returned from LLM API Provider", _ROUTER),
    ),
    "cache_hits": (
        _family("litellm_cache_hits_metric", "Total number of LiteLLM cache hits", _CACHE),
    ),
    "cache_misses": (
        _family("litellm_cache_misses_metric", "Total number of LiteLLM cache misses", _CACHE),
    ),
    "cache_hit_tokens": (
        _family("litellm_cached_tokens_metric", "Total tokens served from LiteLLM cache", _CACHE),
    ),
    "fallbacks": (
        _family("litellm_deployment_successful_fallbacks",
                "LLM Deployment Analytics - Number of successful fallback requests from primary "
                "model -> fallback model", _FALLBACK, (("outcome", "success"),)),
        _family("litellm_deployment_failed_fallbacks",
                "LLM Deployment Analytics - Number of failed fallback requests from primary "
                "model -> fallback model", _FALLBACK, (("outcome", "failure"),)),
    ),
}  # fmt: skip

#: LiteLLM's names where it has a family; the native names under the prefix elsewhere.
LITELLM = Naming(
    names=NATIVE_NAMES,
    duration_buckets=LITELLM_BUCKETS,
    per_token_buckets=TIME_PER_TOKEN_BUCKETS,
    exports=_EXPORTS,
    withheld=("end_user", "user_email", "client_ip", "user_agent"),
)
