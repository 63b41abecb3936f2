from __future__ import annotations

import math
import re
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.backends.statsd_lines import (
    MAX_NUMBER_LENGTH,
    ValueOutOfRange,
    format_lines,
    format_number,
    pack,
    sanitize_name,
    sanitize_tag_value,
)
from tests.strategies import hostile_text

SAFE = r"[A-Za-z0-9_.\-]+"
KEY = r"[A-Za-z_][A-Za-z0-9_]*"
NUMBER = r"-?[0-9]+(\.[0-9]+)?"
LINE = {
    "dogstatsd": re.compile(rf"{SAFE}:{NUMBER}\|(c|g|ms)(\|#{KEY}:{SAFE}(,{KEY}:{SAFE})*)?"),
    "graphite": re.compile(rf"{SAFE}(;{KEY}={SAFE})*:{NUMBER}\|(c|g|ms)"),
    "influx": re.compile(rf"{SAFE}(,{KEY}={SAFE})*:{NUMBER}\|(c|g|ms)"),
    "plain": re.compile(rf"{SAFE}:{NUMBER}\|(c|g|ms)"),
}
TAGS = (("model", "gpt-4o"), ("team", "a b:c|d#e,f;g=h@i\nj"), ("user", ""))


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("dogstatsd", "llm.requests:1|c|#model:gpt-4o,team:a_b_c_d_e_f_g_h_i_j"),
        ("graphite", "llm.requests;model=gpt-4o;team=a_b_c_d_e_f_g_h_i_j:1|c"),
        ("influx", "llm.requests,model=gpt-4o,team=a_b_c_d_e_f_g_h_i_j:1|c"),
        ("plain", "llm.requests:1|c"),
    ],
)
def test_one_line_per_dialect(dialect: str, expected: str) -> None:
    tags = TAGS if dialect != "plain" else ()
    assert format_lines("llm.requests", 1, "c", tags, dialect) == [expected]  # type: ignore[arg-type]


def test_a_negative_gauge_is_sent_as_zero_then_the_value() -> None:
    assert format_lines("llm.budget_remaining_usd", Decimal("-2.50"), "g", (("scope", "team"),),
                        "dogstatsd") == [
        "llm.budget_remaining_usd:0|g|#scope:team",
        "llm.budget_remaining_usd:-2.50|g|#scope:team",
    ]  # fmt: skip
    assert format_lines("g", 3, "g", (), "graphite") == ["g:3|g"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (0.25, "0.25"), (1.35e-05, "0.0000135"), (Decimal("1E+3"), "1000"),
     (Decimal("0.000"), "0.000"), (Decimal("-0.00"), "0"), (1500.0, "1500"), (-0.0, "0"),
     (Decimal("-12.50"), "-12.50"), (Decimal("1E-7"), "0.0000001")],
)  # fmt: skip
def test_numbers_are_plain_decimals(value: int | float | Decimal, text: str) -> None:
    assert format_number(value) == text


def test_sanitising_names_and_values() -> None:
    assert sanitize_name("llm.spend usd/total") == "llm.spend_usd_total"
    assert sanitize_tag_value("émoji🚀:x") == "_moji__x"
    assert sanitize_tag_value("x" * 500) == "x" * 128
    assert sanitize_tag_value("") == ""


@given(st.lists(st.tuples(st.sampled_from(["model", "team", "user"]), hostile_text), max_size=5),
       st.sampled_from(["dogstatsd", "graphite", "influx", "plain"]),
       st.one_of(st.integers(-(10**9), 10**9), st.decimals(allow_nan=False, allow_infinity=False,
                                                         places=6)),
       st.sampled_from(["c", "g", "ms"]))  # fmt: skip
def test_no_input_can_break_a_line(tags: list[tuple[str, str]], dialect: str,
                                   value: int | Decimal, kind: str) -> None:  # fmt: skip
    lines = format_lines("llm.x", value, kind, tags if dialect != "plain" else (), dialect)  # type: ignore[arg-type]
    assert 1 <= len(lines) <= 2
    for line in lines:
        assert LINE[dialect].fullmatch(line), line
        assert line.isascii()
    kept = [k for k, v in tags if sanitize_tag_value(v)]
    if dialect in ("graphite", "influx"):
        assert lines[-1].count("=") == len(kept)
    elif dialect == "dogstatsd":
        assert lines[-1].count(":") == 1 + len(kept)


@given(st.lists(st.text(alphabet="abc:|", min_size=1, max_size=80), max_size=40),
       st.integers(64, 600))  # fmt: skip
def test_pack_never_splits_a_line_nor_overflows(lines: list[str], size: int) -> None:
    packets = pack(lines, size)
    assert "\n".join(packets).split("\n") == lines if lines else packets == []
    for packet in packets:
        assert len(packet) <= size or "\n" not in packet  # only a lone long line may exceed


def test_pack_uses_as_few_packets_as_fit() -> None:
    assert pack(["a" * 30, "b" * 30, "c" * 30], 64) == ["a" * 30 + "\n" + "b" * 30, "c" * 30]
    assert pack(["x" * 100], 64) == ["x" * 100]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_numbers_are_exact_and_plain(value: float) -> None:
    text = format_number(value)
    assert "e" not in text
    assert Decimal(text) == Decimal(repr(value))


# -- issue 12, points 4 and 5: never Infinity/NaN, never a huge string ---------------------

#: Decimals from a 12-byte string up to any exponent: ``1e1000000000`` is finite.
huge_decimals = st.builds(
    lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
    st.integers(-(10**30), 10**30),
    st.integers(-(10**10), 10**10),
)
any_number = st.one_of(
    st.floats(),  # with NaN and infinities
    st.decimals(),  # with NaN, sNaN and infinities
    huge_decimals,
    st.integers(-(10**400), 10**400),
    st.booleans(),
)


def _unsendable(value: int | float | Decimal) -> bool:
    if isinstance(value, int):
        return abs(value) > int(sys.float_info.max)
    if isinstance(value, Decimal) and value.is_nan():
        return True  # float() of a signalling NaN raises
    return not math.isfinite(float(value))


@given(any_number)
def test_every_number_is_plain_and_short_or_refused(value: int | float | Decimal) -> None:
    if _unsendable(value):
        with pytest.raises(ValueOutOfRange):
            format_number(value)
        return
    text = format_number(value)
    assert re.fullmatch(NUMBER, text), text
    assert len(text) <= MAX_NUMBER_LENGTH
    assert float(text) == float(value)  # what a daemon reads is what was meant


@given(huge_decimals, st.sampled_from(["c", "g", "ms"]), st.sampled_from(sorted(LINE)))
def test_lines_never_carry_infinity_nan_or_huge_numbers(
    value: Decimal, kind: str, dialect: str
) -> None:
    try:
        lines = format_lines("llm.x", value, kind, (), dialect)  # type: ignore[arg-type]
    except ValueOutOfRange:
        assert not math.isfinite(float(value))
        return
    for line in lines:
        assert LINE[dialect].fullmatch(line), line
        assert len(line) <= len("llm.x:|ms") + MAX_NUMBER_LENGTH


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1e-1000000000"), "0"), (Decimal("-1e-1000000000"), "0"),
     (Decimal("1e300"), "1" + "0" * 300), (Decimal("0." + "3" * 10_000), "0.3333333333333333"),
     (10**308, "1" + "0" * 308), (5e-324, "0." + "0" * 323 + "5")],
)  # fmt: skip
def test_numbers_far_from_one_stay_bounded(value: int | float | Decimal, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("-inf"), float("nan"), Decimal("Infinity"), Decimal("NaN"),
     Decimal("sNaN"), Decimal("1e1000000000"), Decimal("-1e309"), 10**400, -(10**309)],
)  # fmt: skip
def test_values_no_daemon_reads_are_refused(value: int | float | Decimal) -> None:
    with pytest.raises(ValueOutOfRange):
        format_number(value)
