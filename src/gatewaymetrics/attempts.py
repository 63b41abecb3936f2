"""Recent attempts: which reports of a call the adapter has recorded already.

LiteLLM may report one attempt through several hooks (sync and async, a stream's
final event); each is recorded once. Keys are kept in two generations of sets: a key
stays known for at least ``window // 2`` and at most ``window`` newer keys, and each
report costs one or two set lookups, whatever the traffic (a dict trimmed from its
front one key at a time slows down as deleted slots pile up in front of it).
"""

from __future__ import annotations

import threading

__all__ = ["AttemptWindow"]


class AttemptWindow:
    """The attempt keys seen lately; thread-safe."""

    def __init__(self, window: int) -> None:
        self._half = max(1, window // 2)
        self._recent: set[tuple[object, ...]] = set()
        self._older: set[tuple[object, ...]] = set()
        self._lock = threading.Lock()

    def first(self, key: tuple[object, ...] | None) -> bool:
        """Whether ``key`` is new (then it is remembered); None (an attempt that cannot
        be told apart) is always new."""
        if key is None:
            return True
        with self._lock:
            new = key not in self._recent and key not in self._older
            if new:
                self._recent.add(key)
                if len(self._recent) >= self._half:
                    self._older = self._recent
                    self._recent = set()
        return new
