from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.urls import origin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com"),
        ("HTTP://Example.COM", "http://example.com"),
        ("http://[::1]:4000/path", "http://[::1]:4000"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://127.0.0.1:0080", "http://127.0.0.1:80"),
        ("https://host:/v1", "https://host"),
        ("https://h.example?x=1", "https://h.example"),
        ("https://h.example#frag", "https://h.example"),
        ("  https://h.example/v1\n", "https://h.example"),
        ("api.openai.com/v1", None),
        ("https://host:notaport/", None),
        ("https://host:65536/", None),
        ("https://host:123456/", None),
        ("https:///v1", None),
        ("", None),
        ("not a url", None),
        ("https://bücher.example", None),
        # User info: refused, whichever side of "@" the credential is on.
        ("https://user:sk-secret@proxy.local:8443/v1?api-key=sk-secret#x", None),
        ("https://api.example.com@sk-proj-QWERTY/v1", None),
        # Where URL parsers disagree on the end of the authority: the first of / \ ? #
        # ends it, and nothing after it is ever the host.
        ("https://api.example.com\\@sk-proj-QWERTY12345/v1", "https://api.example.com"),
        ("https://api.example.com\\sk-proj-QWERTY/v1", "https://api.example.com"),
        ("https://api.example.com/@sk-proj-QWERTY/v1", "https://api.example.com"),
        ("https://api.example.com?@sk-proj-QWERTY/v1", "https://api.example.com"),
        ("https://api.example.com#@sk-proj-QWERTY/v1", "https://api.example.com"),
        # Characters a host cannot hold (WHATWG drops tabs and newlines, decodes %40).
        ("https://api.example.com\t@sk-proj-QWERTY/v1", None),
        ("https://api.example.com\n@sk-proj-QWERTY/v1", None),
        ("https://api.example.com%40sk-proj-QWERTY/v1", None),
        ("https://api.example.com sk-proj-QWERTY/v1", None),
        ("https://api.example.com:443@sk-proj-QWERTY/v1", None),
    ],
)
def test_origin(url: str, expected: str | None) -> None:
    assert origin(url) == expected


def test_the_reported_backslash_url_keeps_the_host_not_the_key() -> None:
    """Issue 12, point 8: ``urlsplit`` read the key after ``\\@`` as the host."""
    url = "https://api.example.com\\@sk-proj-QWERTYUIOPASDFGHJKL/v1"
    assert origin(url) == "https://api.example.com"


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


#: Characters a host name cannot hold, so one of them between a host and a planted
#: secret separates the two (host characters alone would make the secret part of
#: the host, which no parser could tell).
_SEPARATORS = "\\@/?#%:;[] \t\n\r\x00\x0b\x0c!$&'()*+,=\"<>^`{|}\u3002\uff0e\u200b"
_junk = st.tuples(
    st.text(alphabet="abcXYZ019.-_~" + _SEPARATORS, max_size=6),
    st.sampled_from(["\\@", "@", "%40", "\t@", "\n@", "\\", "/", ":", "#", "?", *_SEPARATORS]),
    st.text(alphabet="abcXYZ019.-_~" + _SEPARATORS, max_size=6),
).map("".join)
_secrets = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=8
).map(lambda tail: "sk-proj-" + tail)


@given(
    scheme=st.sampled_from(["https", "http", "HTTPS", "wss"]),
    host=st.sampled_from(["api.example.com", "127.0.0.1", "[::1]", "h", "api.example.com:8443"]),
    junk=_junk,
    secret=_secrets,
    path=st.sampled_from(["", "/v1", "/v1?key=x", "#f", "\\v1", "@x"]),
)
def test_no_secret_or_user_info_survives_origin(
    scheme: str, host: str, junk: str, secret: str, path: str
) -> None:
    """scheme://host + junk + secret + path: the secret (in any case) never reaches the
    origin, nor does user info."""
    result = origin(f"{scheme}://{host}{junk}{secret}{path}")
    if result is not None:
        assert secret.lower() not in result.lower()
        assert "sk-proj-" not in result
        assert "@" not in result
        authority = result.split("://", 1)[1]
        assert all(ch.isalnum() or ch in ".-_~:[]" for ch in authority), result
