"""What the own ``/metrics`` server may be configured with: one rule per credential.

The configuration schema (``gatewaymetrics.config``) calls these, and the server that
checks the same arguments should too, so a value the configuration accepts is one the
server accepts. Pure: no I/O. A credential's value never appears in an error.

Each rule takes the value and the key to name in its error (the dotted configuration
key by default) and returns the value, or raises
:class:`~gatewaymetrics.errors.GatewayMetricsError` saying what is allowed.
"""

from __future__ import annotations

from gatewaymetrics.errors import GatewayMetricsError

__all__ = ["check_basic_auth_password", "check_basic_auth_user", "check_bearer_token"]


def _printable(value: str) -> bool:
    return value.isprintable()  # no control characters (a header cannot carry them)


def check_bearer_token(value: object, key: str = "prometheus.bearer_token") -> str:
    """What a client sends after ``Authorization: Bearer``: one word."""
    if (
        not isinstance(value, str)
        or not value
        or not _printable(value)
        or any(c.isspace() for c in value)
    ):
        raise GatewayMetricsError(
            key, value, "a non-empty token without spaces or control characters", secret=True
        )
    return value


def check_basic_auth_user(value: object, key: str = "prometheus.basic_auth_user") -> str:
    if not isinstance(value, str) or not value or ":" in value or not _printable(value):
        raise GatewayMetricsError(
            key, value, "a non-empty user name without ':' or control characters"
        )
    return value


def check_basic_auth_password(value: object, key: str = "prometheus.basic_auth_password") -> str:
    if not isinstance(value, str) or not value or not _printable(value):
        raise GatewayMetricsError(
            key, value, "a non-empty password without control characters", secret=True
        )
    return value
