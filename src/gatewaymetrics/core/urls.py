"""API base URLs reduced to their origin, so no path, query or credential leaks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["origin"]

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_HOST = re.compile(r"[a-z0-9._~-]+|\[[0-9a-f:.]+\]")


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lowercased; None when it has no scheme and
    host. User info, path, query and fragment (where keys hide) are dropped."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not host or _SCHEME.fullmatch(scheme) is None:
        return None
    if ":" in host:
        host = f"[{host}]"
    if _HOST.fullmatch(host) is None:
        return None
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"
