"""The one exception gatewaymetrics raises, and only while it is being configured."""

from __future__ import annotations

from collections.abc import Iterable

#: What an error shows instead of a value that may be a credential.
HIDDEN = "<hidden>"


class GatewayMetricsError(ValueError):
    """A configuration error: raised when settings are built, never at event time.

    ``key`` names the offending setting (a dotted path such as ``labels.identity``),
    ``value`` is the ``repr`` of what was given and ``allowed`` says what would have
    been accepted, so the message alone tells an operator how to fix the config.
    ``secret=True`` (a credential, or a value under a key nobody knows) keeps the value
    out of the message and the attributes: ``value`` is then ``<hidden>``.
    """

    def __init__(
        self, key: str, value: object, allowed: str | Iterable[str], *, secret: bool = False
    ) -> None:
        if not isinstance(allowed, str):
            allowed = ", ".join(sorted(allowed))
        self.key = key
        self.value = HIDDEN if secret else repr(value)
        self.allowed = allowed
        super().__init__(self._message())

    def _message(self) -> str:
        return f"invalid {self.key}: {self.value}; allowed: {self.allowed}"

    def renamed(self, key: str) -> GatewayMetricsError:
        """The same error naming ``key`` instead: the flag or variable the value was
        given as (``--port`` for ``prometheus.port``)."""
        error = GatewayMetricsError(key, None, self.allowed)
        error.value = self.value
        error.args = (error._message(),)
        return error
