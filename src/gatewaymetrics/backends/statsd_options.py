"""What a StatsD backend may be configured with: one rule per option.

The configuration schema (``gatewaymetrics.config``) and :class:`StatsdBackend`
(``backends/statsd.py``) both call these, so a value the configuration accepts is one
the backend accepts, and the other way round. Pure: no ``statsd`` import, no I/O.

Each rule takes the value and the key to name in its error (the dotted configuration
key by default), returns the value as the backend uses it, and otherwise raises
:class:`~gatewaymetrics.errors.GatewayMetricsError` saying what is allowed.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from gatewaymetrics.backends.statsd_lines import DIALECTS, Dialect
from gatewaymetrics.errors import GatewayMetricsError

__all__ = [
    "MAX_PACKET_SIZE",
    "MAX_RETRY_AFTER",
    "MAX_TIMEOUT",
    "MIN_PACKET_SIZE",
    "PROTOCOLS",
    "Protocol_",
    "check_dialect",
    "check_max_packet_size",
    "check_prefix",
    "check_protocol",
    "check_retry_after",
    "check_timeout",
]

Protocol_ = Literal["udp", "tcp"]
PROTOCOLS: tuple[Protocol_, ...] = ("udp", "tcp")
#: A TCP connect or send waits at most this long (seconds).
MAX_TIMEOUT = 60.0
#: After a failure, the backend waits at most this long before it tries again (seconds).
MAX_RETRY_AFTER = 3600.0
#: Bytes per UDP datagram: at least one line's worth, at most what IPv4 UDP can carry.
MIN_PACKET_SIZE, MAX_PACKET_SIZE = 64, 65507
# Dotted ASCII identifiers: what survives the name sanitiser unchanged.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_protocol(value: object, key: str = "statsd.protocol") -> Protocol_:
    if value not in PROTOCOLS:
        raise GatewayMetricsError(key, value, PROTOCOLS)
    return value


def check_dialect(value: object, key: str = "statsd.dialect") -> Dialect:
    if value not in DIALECTS:
        raise GatewayMetricsError(key, value, DIALECTS)
    return value


def check_prefix(value: object, key: str = "statsd.prefix") -> str:
    if not isinstance(value, str) or (value and _PREFIX.fullmatch(value) is None):
        raise GatewayMetricsError(
            key, value, "empty, or dotted identifiers (letters, digits, _), e.g. llm or gw.llm"
        )
    return value


def _seconds(value: object, key: str, most: float) -> float:
    number = (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e300
        else math.nan
    )
    if not 0 < number <= most:  # NaN fails too
        raise GatewayMetricsError(key, value, f"seconds: a number more than 0, at most {most:g}")
    return number


def check_timeout(value: object, key: str = "statsd.timeout") -> float:
    return _seconds(value, key, MAX_TIMEOUT)


def check_retry_after(value: object, key: str = "statsd.retry_after") -> float:
    return _seconds(value, key, MAX_RETRY_AFTER)


def check_max_packet_size(value: object, key: str = "statsd.max_packet_size") -> int:
    if type(value) is not int or not MIN_PACKET_SIZE <= value <= MAX_PACKET_SIZE:
        raise GatewayMetricsError(
            key, value, f"an integer from {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE} (bytes)"
        )
    return value
