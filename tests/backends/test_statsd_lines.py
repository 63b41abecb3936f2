from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.backends.statsd_lines import (
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
