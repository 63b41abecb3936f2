"""The closed error taxonomy: a failure's category from its exception class name and
status code. Class names win (they are precise); the status code decides otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from gatewaymetrics.core.records import ErrorCategory

__all__ = ["classify"]

_E = ErrorCategory

# Exception class names (LiteLLM's, OpenAI's, httpx's, asyncio's) -> category.
_BY_CLASS: Mapping[str, ErrorCategory] = {
    "RateLimitError": _E.RATE_LIMITED,
    "Timeout": _E.TIMEOUT,
    "TimeoutError": _E.TIMEOUT,
    "APITimeoutError": _E.TIMEOUT,
    "ReadTimeout": _E.TIMEOUT,
    "ConnectTimeout": _E.TIMEOUT,
    "AuthenticationError": _E.AUTH,
    "PermissionDeniedError": _E.AUTH,
    "BadRequestError": _E.BAD_REQUEST,
    "UnprocessableEntityError": _E.BAD_REQUEST,
    "UnsupportedParamsError": _E.BAD_REQUEST,
    "InvalidRequestError": _E.BAD_REQUEST,
    "JSONSchemaValidationError": _E.BAD_REQUEST,
    "ContextWindowExceededError": _E.CONTEXT_WINDOW_EXCEEDED,
    "ContentPolicyViolationError": _E.CONTENT_FILTER,
    "RejectedRequestError": _E.CONTENT_FILTER,
    "BudgetExceededError": _E.BUDGET_EXCEEDED,
    "NotFoundError": _E.NOT_FOUND,
    "InternalServerError": _E.PROVIDER_ERROR,
    "ServiceUnavailableError": _E.PROVIDER_ERROR,
    "BadGatewayError": _E.PROVIDER_ERROR,
    "APIConnectionError": _E.PROVIDER_ERROR,
    "APIError": _E.PROVIDER_ERROR,
    "APIResponseValidationError": _E.PROVIDER_ERROR,
    "MidStreamFallbackError": _E.PROVIDER_ERROR,
    "ConnectError": _E.PROVIDER_ERROR,
    "CancelledError": _E.CANCELLED,
    # LiteLLM's proxy: a key that matches nothing it issued (a ProxyException, 401).
    "KeyNotFoundError": _E.AUTH,
}


def _by_status(status_code: int) -> ErrorCategory:
    if status_code == 429:
        return _E.RATE_LIMITED
    if status_code in (408, 504):
        return _E.TIMEOUT
    if status_code in (401, 403):
        return _E.AUTH
    if status_code == 404:
        return _E.NOT_FOUND
    if status_code in (400, 413, 422):
        return _E.BAD_REQUEST
    if status_code == 499:
        return _E.CANCELLED
    if 500 <= status_code <= 599:
        return _E.PROVIDER_ERROR
    return _E.OTHER


# LiteLLM's ProxyException carries a reason in ``.type``; its status code alone misleads
# (a key the proxy cannot verify without a database is a 400 "no_db_connection").
_BY_PROXY_REASON: Mapping[str, ErrorCategory] = {
    "auth_error": _E.AUTH,
    "no_db_connection": _E.AUTH,
    "budget_exceeded": _E.BUDGET_EXCEEDED,
    "key_model_access_denied": _E.AUTH,
    "team_model_access_denied": _E.AUTH,
    "token_not_found_in_db": _E.AUTH,
    "bad_request_error": _E.BAD_REQUEST,
    "not_found_error": _E.NOT_FOUND,
    "internal_server_error": _E.PROVIDER_ERROR,
}


#: LiteLLM's ProxyException and the subclasses its auth raises: their ``type`` is a reason.
_PROXY_EXCEPTIONS = frozenset(
    {"ProxyException", "KeyNotFoundError", "ModelAccessDeniedProxyException"}
)


def classify(
    exception_type: str | None, status_code: int | None, proxy_reason: str | None = None
) -> ErrorCategory:
    """The category of a failure; ``other`` when no input says anything known.
    ``proxy_reason`` is a LiteLLM ``ProxyException``'s ``type``."""
    if exception_type in _PROXY_EXCEPTIONS and proxy_reason is not None:
        by_reason = _BY_PROXY_REASON.get(proxy_reason)
        if by_reason is not None:
            return by_reason
    if exception_type is not None:
        category = _BY_CLASS.get(exception_type)
        if category is None:  # a ProxyException replayed from JSON: its reason as its type
            category = _BY_PROXY_REASON.get(exception_type)
        if category is not None:
            return category
    if status_code is not None:
        return _by_status(status_code)
    return _E.OTHER
