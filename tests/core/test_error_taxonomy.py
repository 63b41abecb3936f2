from __future__ import annotations

import pytest

from gatewaymetrics import ErrorCategory as E
from gatewaymetrics.core.error_taxonomy import classify


@pytest.mark.parametrize(
    ("exception_type", "status_code", "expected"),
    [
        ("RateLimitError", 429, E.RATE_LIMITED),
        ("Timeout", 408, E.TIMEOUT),
        ("AuthenticationError", 401, E.AUTH),
        ("ContextWindowExceededError", 400, E.CONTEXT_WINDOW_EXCEEDED),  # class beats code
        ("ContentPolicyViolationError", 400, E.CONTENT_FILTER),
        ("BudgetExceededError", 400, E.BUDGET_EXCEEDED),
        ("NotFoundError", 404, E.NOT_FOUND),
        ("ServiceUnavailableError", 503, E.PROVIDER_ERROR),
        ("APIConnectionError", 500, E.PROVIDER_ERROR),
        ("CancelledError", None, E.CANCELLED),
        ("ProxyException", 401, E.AUTH),  # unknown class: the code decides
        ("ProxyException", 403, E.AUTH),
        (None, 429, E.RATE_LIMITED),
        (None, 504, E.TIMEOUT),
        (None, 422, E.BAD_REQUEST),
        (None, 502, E.PROVIDER_ERROR),
        (None, 499, E.CANCELLED),
        (None, 418, E.OTHER),
        ("Exception", None, E.OTHER),
        (None, None, E.OTHER),
    ],
)
def test_classify(exception_type: str | None, status_code: int | None, expected: E) -> None:
    assert classify(exception_type, status_code) is expected


@pytest.mark.parametrize(
    ("reason", "code", "expected"),
    [
        ("auth_error", 401, E.AUTH),
        ("no_db_connection", 400, E.AUTH),  # the proxy cannot verify the key: rejected
        ("budget_exceeded", 400, E.BUDGET_EXCEEDED),
        ("something_new", 400, E.BAD_REQUEST),  # unknown reason: the code decides
        (None, 401, E.AUTH),
    ],
)
def test_proxy_exception_reasons(reason: str | None, code: int, expected: E) -> None:
    assert classify("ProxyException", code, reason) is expected
    assert classify("RateLimitError", 429, reason) is E.RATE_LIMITED  # only ProxyException


@pytest.mark.parametrize(
    ("exception_type", "code", "reason", "expected"),
    [
        ("KeyNotFoundError", 401, "token_not_found_in_db", E.AUTH),  # a guessed key
        ("KeyNotFoundError", None, None, E.AUTH),
        ("ModelAccessDeniedProxyException", 403, "auth_error", E.AUTH),
        ("auth_error", 400, None, E.AUTH),  # a ProxyException's to_dict(), replayed
        ("no_db_connection", 400, None, E.AUTH),
        ("budget_exceeded", 400, None, E.BUDGET_EXCEEDED),
    ],
)
def test_litellm_proxy_refusals(
    exception_type: str, code: int | None, reason: str | None, expected: E
) -> None:
    """Issue 12, point 11: what the proxy fails a refused key with is an auth failure."""
    assert classify(exception_type, code, reason) is expected
