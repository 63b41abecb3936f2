"""The durations a call's timestamps give: one rule for records and the fast reader."""

from __future__ import annotations

import math

__all__ = ["duration", "time_per_output_token", "time_to_first_token"]


def duration(start: float | None, end: float | None) -> float | None:
    """``end - start``, or None when either is unknown or the result would be negative
    or not finite."""
    if start is None or end is None:
        return None
    value = end - start
    return value if value >= 0 and math.isfinite(value) else None


def time_to_first_token(
    stream: bool, started: float | None, first_token: float | None
) -> float | None:
    """Streams only: from the start of the call to the first token."""
    return duration(started, first_token) if stream else None


def time_per_output_token(
    stream: bool, output_tokens: int, first_token: float | None, ended: float | None
) -> float | None:
    """Streams with two or more output tokens: (end - first token) / (output - 1)."""
    if not stream or output_tokens < 2:
        return None
    generating = duration(first_token, ended)
    if generating is None:
        return None
    return generating / (output_tokens - 1)
