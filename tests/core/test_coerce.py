from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.coerce import (
    as_bool,
    as_int,
    as_label,
    as_money,
    as_str,
    as_time,
    first,
    pick,
    pick_int,
    pick_money,
    pick_str,
    pick_time,
    view,
)
from gatewaymetrics.core.records import Problem
from tests.strategies import Odd, odd_scalars


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        (0.1, Decimal("0.1"), None),  # through str(): no binary noise
        (1.35e-05, Decimal("0.0000135"), None),
        (3, Decimal("3"), None),
        ("0.25", Decimal("0.25"), None),
        (Decimal("2.5"), Decimal("2.5"), None),
        (None, None, None),
        ("", None, None),
        (float("nan"), None, "not finite; unknown"),
        (float("inf"), None, "not finite; unknown"),
        (-0.5, None, "negative; unknown"),
        (True, None, "bool is not an amount; unknown"),
        ("abc", None, "str is not an amount; unknown"),
        ([1], None, "list is not an amount; unknown"),
    ],
)
def test_as_money(value: object, expected: Decimal | None, problem: str | None) -> None:
    problems: list[Problem] = []
    assert as_money(value, "cost_usd", problems) == expected
    assert problems == ([] if problem is None else [Problem(field="cost_usd", message=problem)])


@pytest.mark.parametrize(
    ("value", "expected", "problems"),
    [
        (5, 5, 0), (5.0, 5, 0), ("12", 12, 0), (None, None, 0),
        (True, None, 1), (-1, None, 1), (1.5, None, 1), ("x", None, 1), (float("nan"), None, 1),
    ],
)  # fmt: skip
def test_as_int(value: object, expected: int | None, problems: int) -> None:
    found: list[Problem] = []
    assert as_int(value, "n", found) == expected
    assert len(found) == problems


def test_as_time_reads_every_form() -> None:
    problems: list[Problem] = []
    aware = datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    epoch = aware.timestamp()
    assert as_time(epoch, "t", problems) == epoch
    assert as_time(aware, "t", problems) == epoch
    assert as_time("2026-01-02T03:04:05.500000+00:00", "t", problems) == epoch
    assert as_time(str(epoch), "t", problems) == epoch
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert as_time(naive, "t", problems) == naive.timestamp()  # local time, as LiteLLM makes it
    plus_two = datetime(2026, 1, 2, 5, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2)))
    assert as_time(plus_two, "t", problems) == epoch
    assert problems == []


@pytest.mark.parametrize("value", [float("nan"), "yesterday", True, -5.0, [1], "9" * 400])
def test_as_time_rejects_with_a_problem(value: object) -> None:
    problems: list[Problem] = []
    assert as_time(value, "started_at", problems) is None
    assert [p.field for p in problems] == ["started_at"]


def test_as_str_and_as_bool() -> None:
    problems: list[Problem] = []
    assert as_str("team", "f", problems) == "team"
    assert as_str(42, "f", problems) == "42"
    assert as_str("", "f", problems) is None
    assert as_bool("TRUE", "f", problems) is True
    assert as_bool(None, "f", problems) is None
    assert problems == []
    assert as_str(4.5, "f", problems) is None
    assert as_bool(1, "f", problems) is None
    assert [str(p) for p in problems] == [
        "f: float is not a string; ignored",
        "f: int is not a bool; ignored",
    ]


def test_view_reads_mappings_and_objects_and_never_raises() -> None:
    class Usage:
        prompt_tokens = 7

    class Hostile(dict[str, int]):
        def get(self, key: str, default: object = None) -> int:
            raise RuntimeError("hostile mapping")

    plain = {"a": 1}
    assert view(plain) is plain  # the fast path: a plain dict as it is
    assert view(Usage()).get("prompt_tokens") == 7
    assert view(Usage()).get("missing") is None
    assert view(Odd(1)).get("anything") is None  # its __getattr__ raises
    assert view(Hostile(a=1)).get("a") is None
    assert view("a string").get("upper") is None  # primitives have no fields
    assert view(None).get("a") is None


def test_first_skips_none_and_empty_strings_but_not_zero() -> None:
    assert first(None, "", 0, 5) == 0
    assert first(None, "") is None
    assert first(Odd(1)) is not None  # hostile __eq__ is never called


@given(st.lists(odd_scalars, max_size=4))
def test_fast_pickers_agree_with_the_full_converters(candidates: list[object]) -> None:
    for fast, full in [
        (pick_str, as_str), (pick_int, as_int), (pick_time, as_time), (pick_money, as_money),
    ]:  # fmt: skip
        fast_problems: list[Problem] = []
        full_problems: list[Problem] = []
        fast_result = fast("f", fast_problems, *candidates)
        full_result = pick(full, "f", full_problems, *candidates)  # type: ignore[arg-type]
        assert repr(fast_result) == repr(full_result)
        assert fast_problems == full_problems


# -- issue 12: numbers within range, odd strings read as text (points 4 to 7) -------------


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("1e1000000000", None, "out of range; unknown"),  # 12 bytes, a billion digits
        (Decimal("1E+1000000000"), None, "out of range; unknown"),
        (Decimal("0E-1000000000"), None, "out of range; unknown"),
        ("1e-1000000", None, "out of range; unknown"),
        (1e308, None, "out of range; unknown"),
        (1e15, None, "out of range; unknown"),
        (10**400, None, "out of range; unknown"),
        (2**64, None, "out of range; unknown"),
        ("1e400", None, "out of range; unknown"),
        (999999999999999.9, Decimal("999999999999999.9"), None),
        (5e-324, Decimal("5E-324"), None),
        (Decimal("0"), Decimal("0"), None),
    ],
)
def test_as_money_keeps_amounts_in_range(
    value: object, expected: Decimal | None, problem: str | None
) -> None:
    problems: list[Problem] = []
    assert as_money(value, "cost_usd", problems) == expected
    assert problems == ([] if problem is None else [Problem(field="cost_usd", message=problem)])


def test_as_money_reads_a_decimal_subclass_as_a_decimal() -> None:
    class Money(Decimal):
        pass

    problems: list[Problem] = []
    amount = as_money(Money("2.5"), "cost_usd", problems)
    assert amount == Decimal("2.5")
    assert type(amount) is Decimal
    assert problems == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10**400, "larger than 2**63 - 1; ignored"),
        (10**5000, "larger than 2**63 - 1; ignored"),
        (2**63, "larger than 2**63 - 1; ignored"),
        (1e300, "larger than 2**63 - 1; ignored"),
        ("²", "str is not a count; ignored"),  # isdigit() but not int()
        ("1²", "str is not a count; ignored"),
        (float("inf"), "float is not a count; ignored"),
    ],
    ids=["10**400", "10**5000", "2**63", "1e300", "sup2", "1sup2", "inf"],
)
def test_as_int_refuses_counts_beyond_range(value: object, message: str) -> None:
    problems: list[Problem] = []
    assert as_int(value, "tokens.input", problems) is None
    assert problems == [Problem(field="tokens.input", message=message)]


def test_as_int_reads_an_int_subclass_as_a_plain_int() -> None:
    class Tokens(enum.IntEnum):
        SEVEN = 7

    problems: list[Problem] = []
    assert type(as_int(Tokens.SEVEN, "n", problems)) is int
    assert as_int(2**63 - 1, "n", problems) == 2**63 - 1
    assert problems == []


class _Sub(str):
    def __len__(self) -> int:
        raise RuntimeError("a subclass method ran")

    def __str__(self) -> str:
        raise RuntimeError("a subclass method ran")


class _Mixed(str, enum.Enum):  # noqa: UP042  # the (str, Enum) mixin LiteLLM's enums use
    MODEL = "gpt-4o"


class _Plain(enum.Enum):
    TEAM = "team-a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(_Sub("model"), "model"), (_Mixed.MODEL, "gpt-4o"), (_Plain.TEAM, "team-a"),
     (enum.StrEnum("S", {"A": "a"}).A, "a"), (_Sub("x" * 5000), "x" * 4096)],
    ids=["subclass", "mixed-enum", "enum", "strenum", "long-subclass"],
)  # fmt: skip
def test_as_str_reads_a_subclass_or_enum_member_as_a_plain_str(
    value: object, expected: str
) -> None:
    problems: list[Problem] = []
    text = as_str(value, "model", problems)
    assert text == expected
    assert type(text) is str
    assert len(problems) == (1 if len(expected) == 4096 else 0)


def test_as_str_refuses_an_int_too_long_for_a_string() -> None:
    """10**5000 raised ValueError (Python's int-to-str limit) and lost the event."""
    problems: list[Problem] = []
    assert as_str(10**5000, "call_id", problems) is None
    assert problems == [Problem(field="call_id", message="int too long for a string; ignored")]
    assert as_str(10**300, "call_id", problems) == "1" + "0" * 300


class _RaisingZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2026, 1, 1, tzinfo=_RaisingZone()), "datetime is not a time; ignored"),
        (1e300, "after the year 10000; ignored"),
        (2.0**38 + 1, "after the year 10000; ignored"),
        (10**400, "int is not a time; ignored"),
    ],
    ids=["raising-tz", "1e300", "2**38+1", "10**400"],
)
def test_as_time_costs_only_its_field(value: object, message: str) -> None:
    problems: list[Problem] = []
    assert as_time(value, "started_at", problems) is None
    assert problems == [Problem(field="started_at", message=message)]


def test_every_datetime_is_a_time_in_range() -> None:
    problems: list[Problem] = []
    assert as_time(datetime.max.replace(tzinfo=UTC), "t", problems) == 253402300800.0 - 1e-06
    assert problems == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (2, "2"), (0.5, "0.5"), (Decimal("1E+1000000000"), "1E+1000000000"),
     (_Mixed.MODEL, "gpt-4o"), (_Sub("app"), "app")],
    ids=["bool", "int", "float", "decimal", "enum", "subclass"],
)  # fmt: skip
def test_as_label_reads_scalars(value: object, expected: str) -> None:
    problems: list[Problem] = []
    assert as_label(value, "labels.app", problems) == expected
    assert problems == []
    assert as_label({"a": 1}, "labels.app", problems) is None
    assert problems == [Problem(field="labels.app", message="not a scalar; ignored")]
