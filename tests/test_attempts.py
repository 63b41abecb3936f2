"""The adapter's window of recent attempts: a repeat within half the window is always
dropped, a key older than the whole window always counts again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics.attempts import AttemptWindow


@given(
    window=st.integers(min_value=1, max_value=12),
    keys=st.lists(st.integers(min_value=0, max_value=15), max_size=80),
)
def test_a_key_is_known_for_half_the_window_and_forgotten_after_all_of_it(
    window: int, keys: list[int]
) -> None:
    attempts = AttemptWindow(window)
    half = max(1, window // 2)
    remembered: list[int] = []  # the keys that were new, in order
    for key in keys:
        newer = (len(remembered) - 1 - remembered[::-1].index(key)) if key in remembered else -1
        since = len(remembered) - 1 - newer if newer >= 0 else None  # new keys after it
        first = attempts.first((key,))
        if since is not None and since < half:
            assert not first  # fewer than half the window of new keys since: a repeat
        if since is None or since >= 2 * half - 1:
            assert first  # never seen, or more than the whole window ago: counts again
        if first:
            remembered.append(key)


def test_none_is_always_new_and_a_repeat_is_dropped() -> None:
    attempts = AttemptWindow(4)
    assert attempts.first(None)
    assert attempts.first(None)
    assert attempts.first(("call-1", False))
    assert not attempts.first(("call-1", False))
    assert attempts.first(("call-1", True))  # another outcome: another attempt
