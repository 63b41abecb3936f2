"""Total conversions from untrusted payload values to typed ones.

Each reader returns the typed value or None, and notes in ``problems`` what it had to
drop or repair. Problem messages name the field and the kind of defect, never the
value, which may be a credential or personal data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Protocol, TypeVar, cast

from gatewaymetrics.core.records import Problem

__all__ = [
    "MAX_STR",
    "Getter",
    "Problems",
    "as_bool",
    "as_int",
    "as_money",
    "as_str",
    "as_time",
    "first",
    "pick",
    "pick_int",
    "pick_money",
    "pick_str",
    "pick_time",
    "read",
    "view",
]

Problems = list[Problem]
T = TypeVar("T")

MAX_STR = 4096
_PRIMITIVES = (str, bytes, int, float, bool, Decimal, type(None))


def _is_empty_str(value: object) -> bool:
    return isinstance(value, str) and not value


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
        if type(value) is int and value >= 0:
            return value
        if value is None:
            continue
        result = as_int(value, name, problems)
        if result is not None:
            return result
    return None


def pick_time(name: str, problems: Problems, *candidates: object) -> float | None:
    for value in candidates:
        if type(value) is float and 0.0 <= value < math.inf:
            return value
        if value is None:
            continue
        result = as_time(value, name, problems)
        if result is not None:
            return result
    return None


def pick_money(name: str, problems: Problems, *candidates: object) -> Decimal | None:
    for value in candidates:
        if type(value) is float and 0.0 <= value < math.inf:
            return Decimal(repr(value))
        if value is None:
            continue
        result = as_money(value, name, problems)
        if result is not None:
            return result
    return None


def as_str(value: object, name: str, problems: Problems) -> str | None:
    """A string; ints become their decimal form (ids are sometimes numbers)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        if len(value) > MAX_STR:
            problems.append(Problem(field=name, message=f"longer than {MAX_STR}; cut"))
            return value[:MAX_STR]
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    problems.append(Problem(field=name, message=f"{type(value).__name__} is not a string; ignored"))
    return None


def as_bool(value: object, name: str, problems: Problems) -> bool | None:
    """A bool; the strings "true"/"false" (any case) are accepted from JSON replays."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(Problem(field=name, message=f"{type(value).__name__} is not a bool; ignored"))
    return None


def as_int(value: object, name: str, problems: Problems) -> int | None:
    """A non-negative int; integral floats and digit strings are accepted."""
    if value is None or _is_empty_str(value):
        return None
    result: int | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and value.strip().isdecimal() and len(value) < 20:
        result = int(value.strip())
    if result is None:
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not a count; ignored")
        )
        return None
    if result < 0:
        problems.append(Problem(field=name, message="negative; ignored"))
        return None
    return result


def as_money(value: object, name: str, problems: Problems) -> Decimal | None:
    """An exact, finite, non-negative Decimal. Floats convert through ``str()`` (so 0.1
    stays 0.1); NaN, infinities and negatives are unknown (None), never a decrement."""
    if value is None or _is_empty_str(value):
        return None
    amount: Decimal | None = None
    try:
        if isinstance(value, bool):
            amount = None
        elif isinstance(value, Decimal):
            amount = value
        elif isinstance(value, int | float):
            amount = Decimal(str(value))
        elif isinstance(value, str) and len(value) <= 64:
            amount = Decimal(value.strip())
    except (InvalidOperation, ValueError, OverflowError):
        amount = None
    if amount is None:
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not an amount; unknown")
        )
        return None
    if not amount.is_finite():
        problems.append(Problem(field=name, message="not finite; unknown"))
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


def as_time(value: object, name: str, problems: Problems) -> float | None:
    """Epoch seconds from a float, an int, a datetime (naive ones are local time, as
    LiteLLM makes them) or an ISO 8601 string (captured, replayed payloads)."""
    if value is None or _is_empty_str(value):
        return None
    seconds: float | None = None
    try:
        if isinstance(value, bool):
            seconds = None
        elif isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, datetime):
            seconds = value.timestamp()
        elif isinstance(value, str) and len(value) <= 64:
            if ":" in value:  # never a number: skip the costly failed float()
                seconds = _iso_seconds(value.strip())
            else:
                try:
                    seconds = float(value)
                except ValueError:
                    seconds = _iso_seconds(value.strip())
    except (ValueError, OverflowError, OSError):
        seconds = None
    if seconds is None or not math.isfinite(seconds):
        problems.append(
            Problem(field=name, message=f"{type(value).__name__} is not a time; ignored")
        )
        return None
    if seconds < 0:
        problems.append(Problem(field=name, message="before 1970; ignored"))
        return None
    return seconds
