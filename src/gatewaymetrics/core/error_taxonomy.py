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


def classify(exception_type: str | None, status_code: int | None) -> ErrorCategory:
    """The category of a failure; ``other`` when neither input says anything known."""
    if exception_type is not None:
        category = _BY_CLASS.get(exception_type)
        if category is not None:
            return category
    if status_code is not None:
        return _by_status(status_code)
    return _E.OTHER
