"""How one configuration value is read from a TOML file or an environment variable.

Each reader takes the dotted key (or whatever name an error should show) and the value
as given (a TOML value, or the text of an environment variable) and returns it parsed,
or raises :class:`~gatewaymetrics.errors.GatewayMetricsError` naming the key and what
is allowed. ``gatewaymetrics.config``
maps every key to one of these; nothing here knows the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatewaymetrics.errors import GatewayMetricsError

__all__ = [
    "Reader",
    "buckets",
    "choice",
    "custom",
    "flag",
    "integer",
    "names",
    "number",
    "path",
    "per_metric",
    "rule",
    "text",
    "whole",
]

#: Reads the value given for a key: ``reader(key, value) -> parsed``.
Reader = Callable[[str, object], Any]


def text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise GatewayMetricsError(key, value, "a string")
    return value


def whole(value: object) -> object:
    """An environment string as the int it spells, else the value as it was."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def number(value: object) -> object:
    """An environment string as the number it spells, else the value as it was."""
    read = whole(value)
    if isinstance(read, str):
        try:
            return float(read.strip())
        except ValueError:
            return value
    return read


def integer(low: int, high: int) -> Callable[[str, object], int]:
    def parse(key: str, value: object) -> int:
        value = whole(value)
        if type(value) is not int or not low <= value <= high:
            raise GatewayMetricsError(key, value, f"an integer from {low} to {high}")
        return value

    return parse


def _as_is(value: object) -> object:
    return value


def rule(
    check: Callable[[object, str], Any], convert: Callable[[object], object] = _as_is
) -> Reader:
    """A reader from a rule kept elsewhere (``check(value, key)``, a backend's own: see
    ``backends/statsd_options.py``), after ``convert`` (say, :func:`number`)."""

    def parse(key: str, value: object) -> Any:
        return check(convert(value), key)

    return parse


def names(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GatewayMetricsError(
            key, value, "a list of strings (comma separated in the environment)"
        )
    return tuple(value)


def buckets(key: str, value: object) -> tuple[float, ...]:
    if isinstance(value, str):
        try:
            value = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise GatewayMetricsError(key, value, "numbers, comma separated") from None
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise GatewayMetricsError(key, value, "a list of numbers (seconds)")
    return tuple(float(v) for v in value)


def choice(*allowed: str) -> Callable[[str, object], str]:
    def parse(key: str, value: object) -> str:
        if value not in allowed:
            raise GatewayMetricsError(key, value, allowed)
        return str(value)

    return parse


def custom(key: str, value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        pairs = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, path = item.partition("=")
            if not sep:
                raise GatewayMetricsError(key, item, "label=dotted.path pairs, comma separated")
            pairs.append((name.strip(), path.strip()))
        return tuple(pairs)
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise GatewayMetricsError(key, value, "a table of label = dotted path strings")
    return tuple((str(k), str(v)) for k, v in value.items())


def per_metric(key: str, value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{requests = ["end_user"]}`` in TOML; ``requests:end_user+stream,tokens:user``
    in the environment."""
    if isinstance(value, str):
        table: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            metric, sep, labels = item.partition(":")
            if not sep:
                raise GatewayMetricsError(key, item, "metric:label+label pairs, comma separated")
            table[metric.strip()] = [label.strip() for label in labels.split("+") if label.strip()]
        value = table
    if not isinstance(value, Mapping):
        raise GatewayMetricsError(key, value, "a table of metric key = list of label names")
    return tuple(
        (str(metric), names(f"{key}.{metric}", labels)) for metric, labels in value.items()
    )


def flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise GatewayMetricsError(key, value, "true or false")


def path(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise GatewayMetricsError(key, value, "a file path")
    return value
