"""The one exception gatewaymetrics raises, and only while it is being configured."""

from __future__ import annotations

from collections.abc import Iterable


class GatewayMetricsError(ValueError):
    """A configuration error: raised when settings are built, never at event time.

    ``key`` names the offending setting (a dotted path such as ``labels.identity``),
    ``value`` is the ``repr`` of what was given and ``allowed`` says what would have
    been accepted, so the message alone tells an operator how to fix the config.
    """

    def __init__(self, key: str, value: object, allowed: str | Iterable[str]) -> None:
        if not isinstance(allowed, str):
            allowed = ", ".join(sorted(allowed))
        self.key = key
        self.value = repr(value)
        self.allowed = allowed
        super().__init__(f"invalid {key}: {self.value}; allowed: {allowed}")
