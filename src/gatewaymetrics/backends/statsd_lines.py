"""StatsD lines: names, tags and values, sanitised per dialect, packed into packets.

Pure (no socket, no ``statsd`` import), so the rules are tested on their own. The
guarantee: whatever a label value holds, a line carries exactly one metric, one value
and the tags it should; nothing can end a line, start a field, separate tags or add a
metric. Characters outside a small safe set become ``_``; empty tag values are dropped;
long values are cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal

__all__ = [
    "DIALECTS",
    "Dialect",
    "format_lines",
    "format_number",
    "pack",
    "sanitize_name",
    "sanitize_tag_value",
    "series_lines",
    "series_parts",
]

Dialect = Literal["dogstatsd", "graphite", "influx", "plain"]
DIALECTS: tuple[Dialect, ...] = ("dogstatsd", "graphite", "influx", "plain")

# Safe in every dialect and kept as-is by the reference daemon: no ":", "|", "#", ",",
# ";", "=", "@", white space, control or non-ASCII characters.
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]")
_UNSAFE_VALUE = re.compile(r"[^A-Za-z0-9_.\-]")
MAX_TAG_VALUE = 128


def sanitize_name(name: str) -> str:
    """A metric name: letters, digits, ``_``, ``.``, ``-``; anything else becomes ``_``."""
    return _UNSAFE_NAME.sub("_", name) or "_"


def sanitize_tag_value(value: str, max_length: int = MAX_TAG_VALUE) -> str:
    """A tag value: letters, digits, ``_``, ``.``, ``-``; anything else becomes ``_``;
    cut at ``max_length``. An empty result means: leave the tag out."""
    return _UNSAFE_VALUE.sub("_", value[:max_length])


def format_number(value: int | float | Decimal) -> str:
    """A plain decimal number, never an exponent, ``nan``/``inf`` or ``-0`` (no daemon
    parses those alike; a signed zero gauge would be read as a change of nothing)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        text = repr(value)
        if "e" not in text and "n" not in text:  # plain already (not 1e-05, nan, inf)
            text = text[:-2] if text.endswith(".0") else text
            return "0" if text == "-0" else text
        value = Decimal(text)
    elif kind is not Decimal:  # bool and other int or Decimal subclasses
        value = Decimal(value)
    text = str(value)
    if "E" in text:
        text = format(value, "f")
    if text[0] == "-" and not value:
        return "0"
    return text


def _tags(pairs: Iterable[tuple[str, str]], key_value: str, separator: str) -> str:
    parts = []
    for key, value in pairs:
        clean = sanitize_tag_value(value)
        if clean:
            parts.append(f"{key}{key_value}{clean}")
    return separator.join(parts)


def series_parts(name: str, tags: Sequence[tuple[str, str]], dialect: Dialect) -> tuple[str, str]:
    """What goes before the value (name, and tags for graphite and influx) and after
    the type (dogstatsd tags) in every line of one series. Computed once per series."""
    name = sanitize_name(name)
    if dialect == "dogstatsd":
        tag_text = _tags(tags, ":", ",")
        return name, (f"|#{tag_text}" if tag_text else "")
    if dialect == "graphite":
        tag_text = _tags(tags, "=", ";")
        return (f"{name};{tag_text}" if tag_text else name), ""
    if dialect == "influx":
        tag_text = _tags(tags, "=", ",")
        return (f"{name},{tag_text}" if tag_text else name), ""
    return name, ""


def series_lines(head: str, suffix: str, value: int | float | Decimal, kind: str) -> list[str]:
    """The line(s) of one sample of a series. A negative gauge is two lines,
    ``name:0|g`` then ``name:-5|g``, because StatsD reads a signed gauge as a change."""
    number = format_number(value)
    line = f"{head}:{number}|{kind}{suffix}"
    if kind == "g" and number[0] == "-":
        return [f"{head}:0|g{suffix}", line]
    return [line]


def format_lines(
    name: str,
    value: int | float | Decimal,
    kind: Literal["c", "g", "ms"],
    tags: Sequence[tuple[str, str]],
    dialect: Dialect,
) -> list[str]:
    """The line(s) for one sample: :func:`series_parts` then :func:`series_lines`."""
    head, suffix = series_parts(name, tags, dialect)
    return series_lines(head, suffix, value, kind)


def pack(lines: Sequence[str], max_size: int) -> list[str]:
    """Lines joined by newlines into as few packets as fit in ``max_size`` bytes each;
    a line is never split (one longer than ``max_size`` travels alone)."""
    packets: list[str] = []
    current = ""
    for line in lines:
        if not current:
            current = line
        elif len(current) + 1 + len(line) <= max_size:
            current = f"{current}\n{line}"
        else:
            packets.append(current)
            current = line
    if current:
        packets.append(current)
    return packets
