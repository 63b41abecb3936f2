from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.core.secrets import fingerprint, hash_key, is_fingerprint

SHA_OF_SK_1 = hashlib.sha256(b"sk-1").hexdigest()


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("sk-1", SHA_OF_SK_1),
        ("Bearer sk-1", SHA_OF_SK_1),
        ("  bearer   sk-1 ", SHA_OF_SK_1),
        (SHA_OF_SK_1, SHA_OF_SK_1),  # already a fingerprint: kept, so series join LiteLLM's
        (SHA_OF_SK_1.upper(), hashlib.sha256(SHA_OF_SK_1.upper().encode()).hexdigest()),
        ("", None),
        ("Bearer ", None),
        (None, None),
        (12345, None),
    ],
)
def test_fingerprint(token: object, expected: str | None) -> None:
    assert fingerprint(token) == expected


def test_fingerprint_matches_litellm_hash_token() -> None:
    # LiteLLM stores hash_token(key) = sha256(key).hexdigest()
    assert fingerprint("sk-1234") == (
        "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
    )


@given(st.text(min_size=1).filter(lambda t: t.strip() != ""))
def test_fingerprint_is_always_64_lowercase_hex(token: str) -> None:
    result = fingerprint(token)
    assert result is None or is_fingerprint(result)


@given(st.text(min_size=4).map(lambda t: "sk-" + t))
def test_a_raw_key_never_survives(token: str) -> None:
    result = fingerprint(token)
    assert result is not None
    assert token.strip() not in result


def test_hash_key_always_hashes_what_a_gateway_received() -> None:
    assert hash_key("sk-1") == SHA_OF_SK_1
    assert hash_key("Bearer sk-1") == SHA_OF_SK_1
    # A key that looks like a fingerprint is still hashed: no pass-through, no match
    # for a fingerprint scraped from /metrics.
    assert hash_key(SHA_OF_SK_1) == hashlib.sha256(SHA_OF_SK_1.encode()).hexdigest()


def test_a_str_subclass_key_is_read_by_str() -> None:
    class Key(str):
        def strip(self, chars: str | None = None) -> str:
            raise RuntimeError("a subclass method ran")

        def __getitem__(self, index: object) -> str:
            raise RuntimeError("a subclass method ran")

    assert fingerprint(Key("Bearer sk-1")) == SHA_OF_SK_1
