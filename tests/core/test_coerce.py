from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.coerce import (
    as_bool,
    as_int,
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
