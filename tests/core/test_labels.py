from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.labels import (
    CALL_LABELS,
    DEFAULT_IDENTITY_LABELS,
    OPT_IN_LABELS,
    is_valid_label_name,
    render_value,
)
from tests.strategies import hostile_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("gpt-4o", "gpt-4o"),
        ("a\nb\tc\x00d\x7fe", "abcde"),
        ("line\u2028sep\u2029par", "lineseppar"),
        ("lone\ud800surrogate", "lonesurrogate"),
        ("émoji 🚀 ok", "émoji 🚀 ok"),
        ('quote" back\\slash', 'quote" back\\slash'),
    ],
)
def test_render_value(value: str | None, expected: str) -> None:
    assert render_value(value) == expected


def test_render_value_caps_length() -> None:
    assert render_value("x" * 500) == "x" * 128
    assert render_value("abcdef", 3) == "abc"


@given(st.one_of(st.none(), hostile_text, st.text()), st.integers(1, 300))
def test_rendered_values_are_always_valid(value: str | None, cap: int) -> None:
    rendered = render_value(value, cap)
    assert isinstance(rendered, str)
    assert len(rendered) <= cap
    assert all(unicodedata.category(ch) not in {"Cc", "Cs", "Zl", "Zp"} for ch in rendered)
    rendered.encode("utf-8")  # always encodable: no lone surrogates
    if value is None:
        assert rendered == ""


@pytest.mark.parametrize(
    ("name", "valid"),
    [("team", True), ("_x1", True), ("1x", False), ("__name", False), ("a-b", False), ("", False)],
)
def test_label_names(name: str, valid: bool) -> None:
    assert is_valid_label_name(name) is valid


def test_default_and_opt_in_labels_partition_the_call_labels() -> None:
    assert DEFAULT_IDENTITY_LABELS == (
        "provider", "requested_model", "model", "operation", "team", "team_alias",
        "api_key", "api_key_alias", "user",
    )  # fmt: skip
    assert OPT_IN_LABELS == (
        "org", "org_alias", "end_user", "user_email", "deployment_id", "api_base", "stream",
        "status_code", "exception_class", "error", "route", "client_ip", "user_agent",
    )  # fmt: skip
    assert set(DEFAULT_IDENTITY_LABELS) | set(OPT_IN_LABELS) == set(CALL_LABELS)
