"""The api-key fingerprint: the only form in which a key may enter a record.

The fingerprint is the lowercase sha256 hex of the token, which is also how LiteLLM
stores a virtual key (its ``hash_token``), so series join with LiteLLM's own data.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["REJECTED_KEY", "fingerprint", "hash_key", "is_fingerprint"]

#: The api-key label of a call the gateway failed for its key (an auth failure): every
#: key a client makes up would otherwise be a new fingerprint, a new series. Marked
#: with a leading underscore, as ``_other`` is: it is never a fingerprint.
REJECTED_KEY = "_rejected"

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_BEARER = re.compile(r"\s*bearer\s+", re.IGNORECASE)


def is_fingerprint(value: str) -> bool:
    """True for exactly 64 lowercase hex characters."""
    return _FINGERPRINT.fullmatch(value) is not None


def fingerprint(token: object) -> str | None:
    """The fingerprint of a key, whatever form it arrives in; None when there is none.

    A ``Bearer`` prefix and surrounding white space are stripped. A value that already
    is a fingerprint is kept; anything else, including values found in fields named
    ``*_hash``, is hashed. Non-string input gives None: it cannot be a key we could
    join on, and its ``repr`` must not leak either.
    """
    if not isinstance(token, str):
        return None
    if type(token) is not str:  # a subclass (an enum member): its characters, by str
        token = str.__str__(token)
    bearer = _BEARER.match(token)
    stripped = (token[bearer.end() :] if bearer else token).strip()
    if not stripped:
        return None
    if is_fingerprint(stripped):
        return stripped
    return hashlib.sha256(stripped.encode("utf-8", "surrogatepass")).hexdigest()


def hash_key(raw_key: str) -> str:
    """The fingerprint of a raw key a gateway holds: always hashed (a ``Bearer`` prefix
    and white space stripped). Use it, not :func:`fingerprint`, for keys you received
    yourself: a raw key that happens to be 64 hex characters must not pass through,
    and a fingerprint scraped from ``/metrics`` must not match as if it were a key."""
    bearer = _BEARER.match(raw_key)
    stripped = (raw_key[bearer.end() :] if bearer else raw_key).strip()
    return hashlib.sha256(stripped.encode("utf-8", "surrogatepass")).hexdigest()
