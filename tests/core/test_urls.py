from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.urls import origin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com"),
        (
            "https://user:sk-secret@proxy.local:8443/v1?api-key=sk-secret#x",
            "https://proxy.local:8443",
        ),
        ("HTTP://Example.COM", "http://example.com"),
        ("http://[::1]:4000/path", "http://[::1]:4000"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("api.openai.com/v1", None),
        ("https://host:notaport/", None),
        ("", None),
        ("not a url", None),
    ],
)
def test_origin(url: str, expected: str | None) -> None:
    assert origin(url) == expected


@given(st.text(), st.text(min_size=6, alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_origin_never_keeps_credentials_or_queries(host_part: str, secret: str) -> None:
    secret = "sk-" + secret
    for url in (
        f"https://u:{secret}@h.example/{host_part}",
        f"https://h.example/{secret}?key={secret}",
        f"https://h.example/?{host_part}={secret}",
    ):
        result = origin(url)
        assert result is None or secret not in result
