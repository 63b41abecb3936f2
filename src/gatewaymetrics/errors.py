"""The one exception gatewaymetrics raises, and only while it is being configured."""

from __future__ import annotations

import difflib
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
    ``variable`` is the environment variable of the key, when the message names it:
    first when the value was given as that variable (``given``), else after the key.
    """

    variable: str | None = None
    given: bool = False

    def __init__(
        self, key: str, value: object, allowed: str | Iterable[str], *, secret: bool = False
    ) -> None:
        if not isinstance(allowed, str):
            allowed = ", ".join(sorted(allowed))
        self.key = key
        self.value = HIDDEN if secret else repr(value)
        self.allowed = allowed
        super().__init__(self._message())

    def _name(self) -> str:
        if self.variable is None:
            return self.key
        if self.given:
            return f"{self.variable} ({self.key})"
        return f"{self.key} ({self.variable})"

    def _message(self) -> str:
        return f"invalid {self._name()}: {self.value}; allowed: {self.allowed}"

    def _copy(self, key: str, variable: str | None, given: bool) -> GatewayMetricsError:
        error = GatewayMetricsError(key, None, self.allowed)
        error.value, error.variable, error.given = self.value, variable, given
        error.args = (error._message(),)
        return error

    def renamed(self, key: str) -> GatewayMetricsError:
        """The same error naming ``key`` instead: the flag or variable the value was
        given as (``--port`` for ``prometheus.port``)."""
        return self._copy(key, None, False)

    def with_variable(self, variable: str, *, given: bool) -> GatewayMetricsError:
        """The same error naming the environment ``variable`` of its key too: first
        when the value was ``given`` as that variable, else as the way to change it."""
        return self._copy(self.key, variable, given)


class UnknownKeyError(GatewayMetricsError):
    """A key (or ``GATEWAYMETRICS_*`` variable) nobody knows: the message names it,
    where it was found and the closest known one; its value is never shown (it may be
    a misspelt credential). ``allowed`` lists every known name."""

    def __init__(
        self, key: str, known: Iterable[str], *, where: str | None = None, noun: str = "key"
    ) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        self.suggestion = close[0] if close else None
        self.where, self.noun = where, noun
        super().__init__(key, None, known, secret=True)

    def _message(self) -> str:
        found = f" in {self.where}" if self.where else ""
        hint = (
            f"did you mean {self.suggestion!r}?"
            if self.suggestion is not None
            else f"known: {self.allowed}"
        )
        return f"unknown {self.noun} {self.key!r}{found}; {hint}"
