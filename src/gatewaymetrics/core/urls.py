"""API base URLs reduced to their origin, so no path, query or credential leaks.

The URL is read strictly, by one rule, rather than by a general URL parser: parsers
disagree where the authority ends (WHATWG treats ``\\`` as ``/`` and drops tabs and
newlines; ``urllib`` does neither), and ``https://api.example.com\\@sk-proj-...`` is
``api.example.com`` to one and ``sk-proj-...`` to the other. Here the authority ends
at the first ``/``, ``\\``, ``?`` or ``#``; an authority holding ``@`` (user info:
which side of it is a credential cannot be told, ``https://host@sk-...`` makes the
key the host) or any character a host name cannot hold (``%``, white space, control
characters) is refused.
"""

from __future__ import annotations

import re

__all__ = ["origin"]

#: Scheme, then "//", then the authority: up to the first character that ends it in
#: any URL parser.
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/\\?#]*)")
#: A host name (or IPv4 address), then an optional port.
_HOST_PORT = re.compile(r"([a-z0-9._~-]+)(?::([0-9]{0,5}))?")
#: An IPv6 literal, then an optional port.
_IPV6_PORT = re.compile(r"(\[[0-9a-f:.]+\])(?::([0-9]{0,5}))?")


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lowercased; None when it has no scheme and
    host, holds user info, or a host or port no URL parser agrees on. Path, query and
    fragment (where keys hide) are dropped."""
    match = _URL.match(url.strip())
    if match is None:
        return None
    authority = match.group(2).lower()
    if "@" in authority:
        return None  # user info: a credential on one side of "@" or the other
    host_port = _IPV6_PORT.fullmatch(authority) or _HOST_PORT.fullmatch(authority)
    if host_port is None:
        return None
    host, port = host_port.group(1), host_port.group(2)
    scheme = match.group(1).lower()
    if not port:  # none, or "host:" (an empty port)
        return f"{scheme}://{host}"
    number = int(port)
    if number > 65535:
        return None
    return f"{scheme}://{host}:{number}"
