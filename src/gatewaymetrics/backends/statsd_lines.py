"""StatsD lines: names, tags and values, sanitised per dialect, packed into packets.

Pure (no socket, no ``statsd`` import), so the rules are tested on their own. The
guarantee: whatever a label value holds, a line carries exactly one metric, one value
and the tags it should; nothing can end a line, start a field, separate tags or add a
metric. Characters outside a small safe set become ``_``; empty tag values are dropped;
long values are cut. Values are plain decimals of at most :data:`MAX_NUMBER_LENGTH`
characters, made in time linear in the value's own size; a value no daemon can read
(NaN, an infinity, beyond float64 range) raises :class:`ValueOutOfRange` instead of
reaching a line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal

__all__ = [
    "DIALECTS",
    "MAX_NUMBER_LENGTH",
    "Dialect",
    "ValueOutOfRange",
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
#: The longest text :func:`format_number` returns: a float64 written out in full
#: (``-1.7976931348623157e308`` is 310 characters, ``-2.2250738585072014e-308`` 327).
MAX_NUMBER_LENGTH = 330
# Every daemon parses a value as a float64, so nothing beyond its range can be sent.
_FLOAT_MAX = sys.float_info.max
_INT_MAX = int(_FLOAT_MAX)
# A Decimal whose text is this short and has no exponent is sent as it is (exact
# money); any other goes through float64, which is what a daemon keeps of it anyway.
_EXACT_DECIMAL = 32


class ValueOutOfRange(ValueError):
    """A value no StatsD daemon can read: NaN, an infinity, or beyond float64 range."""


def sanitize_name(name: str) -> str:
    """A metric name: letters, digits, ``_``, ``.``, ``-``; anything else becomes ``_``."""
    return _UNSAFE_NAME.sub("_", name) or "_"


def sanitize_tag_value(value: str, max_length: int = MAX_TAG_VALUE) -> str:
    """A tag value: letters, digits, ``_``, ``.``, ``-``; anything else becomes ``_``;
    cut at ``max_length``. An empty result means: leave the tag out."""
    return _UNSAFE_VALUE.sub("_", value[:max_length])


def format_number(value: int | float | Decimal) -> str:
    """A plain decimal number, never an exponent, ``nan``/``inf`` or ``-0`` (no daemon
    parses those alike; a signed zero gauge would be read as a change of nothing), of at
    most :data:`MAX_NUMBER_LENGTH` characters. A short Decimal is written exactly; a long
    one (or one with an exponent) as the float64 the daemon would keep, so
    ``Decimal("1e-1000000000")`` is ``0`` and costs no more than its own text.

    Raises :class:`ValueOutOfRange` for NaN, infinities and magnitudes beyond float64.
    """
    if isinstance(value, int):  # bool and int subclasses (an IntEnum) too
        if -_INT_MAX <= value <= _INT_MAX:
            return str(int(value))
        raise ValueOutOfRange("an integer beyond float64 range")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueOutOfRange("a Decimal NaN or infinity")
        text = str(value)
        if len(text) <= _EXACT_DECIMAL and "E" not in text:
            return "0" if text[0] == "-" and not value else text
    return _format_float(float(value))  # a Decimal: the digits a daemon keeps of it


def _format_float(value: float) -> str:
    if not -_FLOAT_MAX <= value <= _FLOAT_MAX:  # NaN fails both comparisons
        raise ValueOutOfRange("a float NaN or infinity, or beyond float64 range")
    text = repr(value)
    if "e" not in text:  # plain already (not 1e-05 or 1e+16)
        text = text[:-2] if text.endswith(".0") else text
        return "0" if text == "-0" else text
    return format(Decimal(text), "f")  # never zero here: repr(0.0) has no exponent


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
    ``name:0|g`` then ``name:-5|g``, because StatsD reads a signed gauge as a change.
    Raises :class:`ValueOutOfRange` as :func:`format_number` does."""
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
