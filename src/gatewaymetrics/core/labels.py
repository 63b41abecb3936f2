"""Label names and values: which call labels exist, and how a value is rendered.

Rules: a missing value renders as "" (never "None"); values are cut to the length cap
first, then control characters (and surrogates and line separators, which break
exposition formats) are removed, so a huge value costs no more than a short one.
Label names are checked once, when settings are built.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from gatewaymetrics.core.litellm_fields import TABLE_LABELS
from gatewaymetrics.core.records import CallRecord, Status

__all__ = [
    "CALL_LABELS",
    "DEFAULT_IDENTITY_LABELS",
    "DEFAULT_MAX_VALUE_LENGTH",
    "OPT_IN_LABELS",
    "OTHER",
    "extra_label",
    "is_valid_label_name",
    "render_value",
]

DEFAULT_MAX_VALUE_LENGTH = 128
#: The value every label takes in the series that overflowing label sets fold into.
OTHER = "_other"

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def is_valid_label_name(name: str) -> bool:
    """A Prometheus-compatible label name that is not reserved (``__`` prefix)."""
    return _LABEL_NAME.fullmatch(name) is not None and not name.startswith("__")


def render_value(value: str | None, max_length: int = DEFAULT_MAX_VALUE_LENGTH) -> str:
    """A label value: "" for None; cut to ``max_length``, then control characters
    removed. Cut first, by ``str`` itself: a 10 MB value costs what ``max_length``
    characters cost, and none of a ``str`` subclass's methods runs."""
    if value is None:
        return ""
    if type(value) is not str or len(value) > max_length:
        if not isinstance(value, str):
            return ""
        value = str.__getitem__(value, slice(0, max_length))  # a plain str, at most the cap
    return _clean(value)


def _clean(value: str) -> str:
    """``value`` without control characters, surrogates and line separators."""
    if value.isprintable():
        return value
    return "".join(ch for ch in value if unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def _stream(call: CallRecord) -> str:
    return "true" if call.stream else "false"


def _status_code(call: CallRecord) -> str | None:
    error = call.error
    if error is None:
        return "200" if call.status is Status.SUCCESS else None
    return None if error.status_code is None else str(error.status_code)


def _exception_class(call: CallRecord) -> str | None:
    return None if call.error is None else call.error.exception_type


def _error(call: CallRecord) -> str | None:
    return None if call.error is None else call.error.category.value


def extra_label(name: str) -> Callable[[CallRecord], str | None]:
    """How to read the extra label ``name`` (custom, or from a field table)."""

    def read(call: CallRecord) -> str | None:
        for label, value in call.extra_labels:
            if label == name:
                return value
        return None

    return read


#: Every call label: name -> how to read it from a record (None renders as ""). The
#: labels a gateway's field table declares (``core/litellm_fields.py``) are read from
#: ``CallRecord.extra_labels``.
CALL_LABELS: Mapping[str, Callable[[CallRecord], str | None]] = {
    "provider": lambda c: c.provider,
    "requested_model": lambda c: c.requested_model,
    "model": lambda c: c.model,
    "operation": lambda c: c.operation.value,
    "team": lambda c: c.principal.team_id,
    "team_alias": lambda c: c.principal.team_alias,
    "api_key": lambda c: c.principal.api_key,
    "api_key_alias": lambda c: c.principal.api_key_alias,
    "user": lambda c: c.principal.user_id,
    "org": lambda c: c.principal.org_id,
    "org_alias": lambda c: c.principal.org_alias,
    "end_user": lambda c: c.principal.end_user,
    "user_email": lambda c: c.principal.user_email,
    "deployment_id": lambda c: c.deployment_id,
    "api_base": lambda c: c.api_base,
    "stream": _stream,
    "status_code": _status_code,
    "exception_class": _exception_class,
    "error": _error,
    **{label: extra_label(label) for label in TABLE_LABELS},
}

#: The identity labels every call metric carries unless configured otherwise.
DEFAULT_IDENTITY_LABELS: tuple[str, ...] = (
    "provider",
    "requested_model",
    "model",
    "operation",
    "team",
    "team_alias",
    "api_key",
    "api_key_alias",
    "user",
)

#: Call labels that are off by default: unbounded (end_user), personal data
#: (user_email), or rarely wanted per series.
OPT_IN_LABELS: tuple[str, ...] = tuple(
    name for name in CALL_LABELS if name not in DEFAULT_IDENTITY_LABELS
)
