"""Total conversions from untrusted payload values to typed ones.

Each reader returns the typed value or None, and notes in ``problems`` what it had to
drop or repair. Problem messages name the field and the kind of defect, never the
value, which may be a credential or personal data.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Protocol, TypeVar, cast

from gatewaymetrics.core.bounds import MAX_AMOUNT, MAX_COUNT, MAX_SECONDS, amount_in_range
from gatewaymetrics.core.records import Problem

__all__ = [
    "MAX_STR",
    "Getter",
    "Problems",
    "as_bool",
    "as_int",
    "as_label",
    "as_money",
    "as_str",
    "as_time",
    "first",
    "pick",
    "pick_int",
    "pick_money",
    "pick_str",
    "pick_time",
    "plain_str",
    "read",
    "text_value",
    "view",
]

Problems = list[Problem]
T = TypeVar("T")

MAX_STR = 4096
#: An int id is read as its decimal form up to this many bits (about 3 900 digits:
#: below both MAX_STR and Python's default limit on int-to-str conversion).
_MAX_ID_BITS = 13_000
#: An int amount of more bits is out of range before it is converted.
_MAX_AMOUNT_BITS = 64
_PRIMITIVES = (str, bytes, int, float, bool, Decimal, type(None))


def _is_empty_str(value: object) -> bool:
    return isinstance(value, str) and str.__len__(value) == 0  # never a subclass's __len__


class Getter(Protocol):
    """Anything read by key without raising: a plain dict, or a view of another object."""

    def get(self, key: str, /) -> object: ...


class _MappingView:
    __slots__ = ("_mapping",)

    def __init__(self, mapping: Mapping[object, object]) -> None:
        self._mapping = mapping

    def get(self, key: str, /) -> object:
        try:
            return self._mapping.get(key)
        except Exception:  # a hostile mapping must not break parsing
            return None


class _AttributeView:
    __slots__ = ("_obj",)

    def __init__(self, obj: object) -> None:
        self._obj = obj

    def get(self, key: str, /) -> object:
        try:
            return getattr(self._obj, key, None)
        except Exception:  # a hostile __getattr__ or property must not break parsing
            return None


_EMPTY: Getter = cast("Getter", MappingProxyType({}))

#: How ``view`` reads each type it has met: as a mapping, by attribute, or as empty.
#: Kept per type because ``isinstance(x, Mapping)`` is an ABC check, slow on a hot path.
_MAPPING, _ATTRIBUTES, _NOTHING = 0, 1, 2
_HOW: dict[type, int] = {}


def _how(kind: type) -> int:
    how = _HOW.get(kind)
    if how is None:
        if issubclass(kind, _PRIMITIVES):
            how = _NOTHING
        elif issubclass(kind, Mapping):
            how = _MAPPING
        else:
            how = _ATTRIBUTES
        if len(_HOW) < 1024:  # a bound, against a flood of dynamically made classes
            _HOW[kind] = how
    return how


def view(container: object) -> Getter:
    """``container`` readable with ``.get(key)``: a plain dict as it is (the fast,
    common case), another mapping or an object (``response_obj.usage``) behind a view
    that never raises, anything else as empty."""
    if type(container) is dict:
        return cast("Getter", container)
    if container is None:
        return _EMPTY
    how = _how(type(container))
    if how == _MAPPING:
        return _MappingView(cast("Mapping[object, object]", container))
    if how == _ATTRIBUTES:
        return _AttributeView(container)
    return _EMPTY


def read(container: object, key: str) -> object:
    """``view(container).get(key)``, without making a view."""
    if type(container) is dict:
        return container.get(key)
    if container is None:
        return None
    how = _how(type(container))
    try:
        if how == _ATTRIBUTES:
            return getattr(container, key, None)
        if how == _MAPPING:
            return container.get(key)  # type: ignore[attr-defined]
    except Exception:  # a hostile mapping, __getattr__ or property must not break parsing
        return None
    return None


def first(*values: object) -> object:
    """The first value that is neither None nor the empty string."""
    for value in values:
        if value is not None and not _is_empty_str(value):
            return value
    return None


def pick(
    convert: Callable[[object, str, Problems], T | None],
    name: str,
    problems: Problems,
    *candidates: object,
) -> T | None:
    """The first candidate that converts: a broken value in the preferred place is
    reported and the next place is tried, so nothing readable is lost."""
    for candidate in candidates:
        if candidate is None or (type(candidate) is str and not candidate):
            continue
        value = convert(candidate, name, problems)
        if value is not None:
            return value
    return None


# Fast paths: the value LiteLLM normally sends is checked inline; anything else goes
# through the full converter (which reports problems). Same results as pick(as_x, ...).


def pick_str(name: str, problems: Problems, *candidates: object) -> str | None:
    for value in candidates:
        if type(value) is str:
            if not value:
                continue
            if len(value) <= MAX_STR:
                return value
        elif value is None:
            continue
        result = as_str(value, name, problems)
        if result is not None:
            return result
    return None


def pick_int(name: str, problems: Problems, *candidates: object) -> int | None:
    for value in candidates:
        if type(value) is int and 0 <= value <= MAX_COUNT:
            return value
        if value is None:
            continue
        result = as_int(value, name, problems)
        if result is not None:
            return result
    return None


def pick_time(name: str, problems: Problems, *candidates: object) -> float | None:
    for value in candidates:
        if type(value) is float and 0.0 <= value <= MAX_SECONDS:
            return value
        if value is None:
            continue
        result = as_time(value, name, problems)
        if result is not None:
            return result
    return None


def pick_money(name: str, problems: Problems, *candidates: object) -> Decimal | None:
    for value in candidates:
        if type(value) is float and 0.0 <= value < MAX_AMOUNT:
            return Decimal(repr(value))
        if value is None:
            continue
        result = as_money(value, name, problems)
        if result is not None:
            return result
    return None


def plain_str(value: str) -> str:
    """A ``str`` subclass's (an enum member's) own characters as a plain ``str``, read
    by ``str`` itself: none of the subclass's methods runs."""
    return value if type(value) is str else str.__str__(value)


def text_value(value: object) -> str | None:
    """``value`` as a plain ``str`` when it is text: a ``str`` (of any subclass) or an
    enum member whose value is one; else None."""
    if isinstance(value, str):
        return plain_str(value)
    if isinstance(value, enum.Enum):
        try:
            member_value = value.value
        except Exception:  # a hostile enum class: not text
            return None
        if isinstance(member_value, str):
            return plain_str(member_value)
    return None


def as_str(value: object, name: str, problems: Problems) -> str | None:
    """A plain ``str``: a string (a subclass's or an enum member's characters), cut to
    :data:`MAX_STR`; ints become their decimal form (ids are sometimes numbers)."""
    if value is None:
        return None
    text = text_value(value)
    if text is not None:
        if not text:
            return None
        if len(text) > MAX_STR:
            problems.append(Problem(field=name, message=f"longer than {MAX_STR}; cut"))
            return text[:MAX_STR]
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        number = int.__int__(value)  # an int subclass's own __str__ never runs
        if number.bit_length() <= _MAX_ID_BITS:
            try:
                return int.__repr__(number)
            except ValueError:  # the host lowered sys.set_int_max_str_digits
                pass
        problems.append(Problem(field=name, message="int too long for a string; ignored"))
        return None
    problems.append(Problem(field=name, message=f"{type(value).__name__} is not a string; ignored"))
    return None


def as_label(value: object, name: str, problems: Problems) -> str | None:
    """A custom label's value: a bool as ``true``/``false``, text or an int as by
    :func:`as_str`, a float or Decimal in its shortest form; anything else (a mapping,
    a list, an object) is a problem."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, Decimal):
        return as_str(Decimal.__str__(value), name, problems)  # 1E+1000000000: short
    if isinstance(value, str | int | enum.Enum):
        return as_str(value, name, problems)
    problems.append(Problem(field=name, message="not a scalar; ignored"))
    return None


def as_bool(value: object, name: str, problems: Problems) -> bool | None:
    """A bool; the strings "true"/"false" (any case) are accepted from JSON replays."""
    if value is None or isinstance(value, bool):
        return value
    text = text_value(value)
    if text is not None and len(text) <= 5 and text.lower() in ("true", "false"):
        return text.lower() == "true"
    problems.append(Problem(field=name, message=f"{type(value).__name__} is not a bool; ignored"))
    return None


def as_int(value: object, name: str, problems: Problems) -> int | None:
    """A non-negative int up to :data:`~gatewaymetrics.core.bounds.MAX_COUNT`; integral
    floats and digit strings are accepted."""
    if value is None or _is_empty_str(value):
        return None
    result: int | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = int.__int__(value)  # a plain int, whatever the subclass (an IntEnum)
    elif isinstance(value, float):
        number = float.__float__(value)
        if math.isfinite(number) and number.is_integer():
            result = int(number)  # at most 1024 bits: the range check below refuses it
    elif isinstance(value, str):
        text = plain_str(value)
        if len(text) < 20 and text.strip().isdecimal():  # not "²": a digit, not decimal
            result = int(text.strip())
    if result is None:
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not a count; ignored")
        )
        return None
    if result < 0:
        problems.append(Problem(field=name, message="negative; ignored"))
        return None
    if result > MAX_COUNT:  # beyond float range reaches no backend
        problems.append(Problem(field=name, message="larger than 2**63 - 1; ignored"))
        return None
    return result


def as_money(value: object, name: str, problems: Problems) -> Decimal | None:
    """An exact, finite, non-negative Decimal below
    :data:`~gatewaymetrics.core.bounds.MAX_AMOUNT`. Floats convert through ``repr()``
    (so 0.1 stays 0.1); NaN, infinities, negatives and amounts out of range are
    unknown (None), never a decrement or an infinite sum."""
    if value is None or _is_empty_str(value):
        return None
    amount: Decimal | None = None
    try:
        if isinstance(value, bool):
            amount = None
        elif isinstance(value, Decimal):
            amount = value if type(value) is Decimal else Decimal(value)
        elif isinstance(value, int):
            number = int.__int__(value)
            if number.bit_length() > _MAX_AMOUNT_BITS:  # out of range, whatever its digits
                problems.append(Problem(field=name, message="out of range; unknown"))
                return None
            amount = Decimal(number)
        elif isinstance(value, float):
            amount = Decimal(float.__repr__(value))
        elif isinstance(value, str):
            text = plain_str(value)
            if len(text) <= 64:  # before parsing: a bounded string is cheap to parse
                amount = Decimal(text.strip())
    except (InvalidOperation, ValueError, OverflowError, TypeError):
        amount = None
    if amount is None:
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not an amount; unknown")
        )
        return None
    if not amount.is_finite():
        problems.append(Problem(field=name, message="not finite; unknown"))
        return None
    if not amount_in_range(amount):  # by its exponent: before any arithmetic or formatting
        problems.append(Problem(field=name, message="out of range; unknown"))
        return None
    if amount < 0:
        problems.append(Problem(field=name, message="negative; unknown"))
        return None
    return amount


@functools.lru_cache(maxsize=256)
def _iso_seconds(text: str) -> float:
    """An ISO 8601 time as epoch seconds. Memoised (a pure function): a budget's reset
    time arrives as the same string on every call of its period."""
    return datetime.fromisoformat(text).timestamp()


def _seconds(value: object) -> float | None:
    """Epoch seconds of ``value``, or None; may raise (the caller catches)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = int.__int__(value)
        return float(number) if number.bit_length() <= 64 else None
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, datetime):
        seconds = value.timestamp()
        return seconds if type(seconds) is float else None
    if isinstance(value, str):
        text = plain_str(value)
        if len(text) > 64:
            return None
        if ":" in text:  # never a number: skip the costly failed float()
            return _iso_seconds(text.strip())
        try:
            return float(text)
        except ValueError:
            return _iso_seconds(text.strip())
    return None


def as_time(value: object, name: str, problems: Problems) -> float | None:
    """Epoch seconds from a float, an int, a datetime (naive ones are local time, as
    LiteLLM makes them) or an ISO 8601 string (captured, replayed payloads), from 1970
    to :data:`~gatewaymetrics.core.bounds.MAX_SECONDS`."""
    if value is None or _is_empty_str(value):
        return None
    try:
        seconds = _seconds(value)
    except Exception:  # a datetime whose tzinfo raises, a hostile subclass: this field only
        seconds = None
    if seconds is None or not math.isfinite(seconds):
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not a time; ignored")
        )
        return None
    if seconds < 0:
        problems.append(Problem(field=name, message="before 1970; ignored"))
        return None
    if seconds > MAX_SECONDS:
        problems.append(Problem(field=name, message="after the year 10000; ignored"))
        return None
    return seconds
