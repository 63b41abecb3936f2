"""Budget state: the last accepted snapshot of every budget subject.

Events arrive out of order and from many threads; a budget's gauges must never move
backwards. Each subject keeps one :class:`BudgetState`; a new reading replaces its
mark only if :func:`gatewaymetrics.core.budget.supersedes` says so (the one rule, on
both paths), under one lock. Gauges are written outside the lock, so an event whose
budgets were overtaken meanwhile sets them again (:meth:`BudgetBook.settle`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from gatewaymetrics.core.budget import supersedes
from gatewaymetrics.core.call_values import BudgetValues
from gatewaymetrics.core.measure import budget_labels, measure_budget
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot
from gatewaymetrics.core.samples import Number, Sample

__all__ = ["BudgetBook", "BudgetMark", "BudgetOffer", "BudgetState", "subject_key"]

Labels = tuple[str, ...]


def subject_key(scope: BudgetScope, subject: str) -> str:
    """A budget subject as one string (a string keeps its hash between lookups): the
    scope's value and the subject joined by a NUL, which no scope value holds."""
    return f"{scope.value}\0{subject}"


class BudgetMark:
    """A budget reading that was accepted: its reset time and ``spend`` (compared with
    the next), and what its gauges are set to: ``labels`` (scope, subject, alias),
    ``limit``, ``spend_value`` and ``remaining`` (None: unlimited, no series)."""

    __slots__ = ("labels", "limit", "remaining", "reset_at", "spend", "spend_value")

    def __init__(
        self,
        *,
        reset_at: float | None,
        spend: Number,
        labels: Labels,
        limit: Number | None,
        spend_value: Number,
        remaining: Number | None,
    ) -> None:
        self.reset_at = reset_at
        self.spend = spend
        self.labels = labels
        self.limit = limit
        self.spend_value = spend_value
        self.remaining = remaining


class BudgetState:
    """One budget subject's last accepted reading. The object lasts as long as the
    book (the fast path holds it); ``mark`` is replaced under the book's lock."""

    __slots__ = ("mark",)

    def __init__(self, mark: BudgetMark) -> None:
        self.mark = mark


class BudgetOffer:
    """A known subject's new reading, from the fast path: its ``state``, the
    ``labels`` of its gauges and the ``values`` the event reports."""

    __slots__ = ("labels", "state", "values")

    def __init__(self, state: BudgetState, labels: Labels, values: BudgetValues) -> None:
        self.state = state
        self.labels = labels
        self.values = values


class BudgetBook:
    """Every budget subject's state, up to ``cap`` subjects. ``float_spends``: spends
    are compared as floats (the fast path's sinks keep float64), else as Decimals."""

    def __init__(self, plan: Plan, cap: int, *, float_spends: bool) -> None:
        self._plan = plan
        self._cap = cap
        self._float = float_spends
        self._lock = threading.Lock()
        self._states: dict[str, BudgetState] = {}
        self._labels: dict[tuple[BudgetScope, str, str | None], Labels] = {}
        #: Counts the events whose budgets were accepted: an event that sees it moved
        #: between its acceptance and its fan-out may have been overtaken.
        self._writes = 0

    def state(self, subject: str) -> BudgetState | None:
        """The state of ``subject`` (:func:`subject_key`), if it was ever accepted."""
        return self._states.get(subject)

    def labels(self, scope: BudgetScope, subject: str, alias: str | None) -> Labels:
        """A budget's rendered labels, kept per subject (bounded like the subjects)."""
        key = (scope, subject, alias)
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= self._cap:
                self._labels.clear()
            labels = self._labels[key] = budget_labels(scope, subject, alias, self._plan)
        return labels

    def accept(
        self, snapshots: Iterable[BudgetSnapshot]
    ) -> tuple[list[tuple[BudgetState, BudgetMark]], int]:
        """The snapshots that supersede the last reading of their subject (they become
        it), and how many were new subjects beyond the cap."""
        accepted: list[tuple[BudgetState, BudgetMark]] = []
        overflowed = 0
        with self._lock:
            for snapshot in snapshots:
                state = self._states.get(subject_key(snapshot.scope, snapshot.subject))
                if state is None and len(self._states) >= self._cap:
                    overflowed += 1
                else:
                    self._offer(snapshot, state, accepted)
            if accepted:
                self._writes += 1
        return accepted, overflowed

    def _offer(
        self,
        snapshot: BudgetSnapshot,
        state: BudgetState | None,
        accepted: list[tuple[BudgetState, BudgetMark]],
    ) -> None:
        """Accept ``snapshot`` if it supersedes ``state`` (under the lock)."""
        spend: Number = float(snapshot.spend_usd) if self._float else snapshot.spend_usd
        if state is not None and not supersedes(
            spend, snapshot.reset_at, state.mark.spend, state.mark.reset_at
        ):
            return
        mark = BudgetMark(
            reset_at=snapshot.reset_at,
            spend=spend,
            labels=self.labels(snapshot.scope, snapshot.subject, snapshot.alias),
            limit=snapshot.limit_usd,
            spend_value=snapshot.spend_usd,
            remaining=snapshot.remaining_usd,
        )
        if state is None:
            state = BudgetState(mark)
            self._states[subject_key(snapshot.scope, snapshot.subject)] = state
        else:
            state.mark = mark
        accepted.append((state, mark))

    def accept_values(self, offers: Sequence[BudgetOffer]) -> tuple[list[BudgetMark | None], int]:
        """Known subjects' readings from the fast path: the new mark of each (None: not
        accepted), and a write number for :meth:`overtaken` (0: none accepted)."""
        marks: list[BudgetMark | None] = []
        written = 0
        with self._lock:
            for offer in offers:
                state, values = offer.state, offer.values
                last = state.mark
                spend = values.spend
                if supersedes(spend, values.reset_at, last.spend, last.reset_at):
                    limit = values.limit
                    state.mark = mark = BudgetMark(
                        reset_at=values.reset_at,
                        spend=spend,
                        labels=offer.labels,
                        limit=limit,
                        spend_value=spend,
                        remaining=None if limit is None else limit - spend,
                    )
                    marks.append(mark)
                    written = 1
                else:
                    marks.append(None)
            if written:
                self._writes += 1
                written = self._writes
        return marks, written

    def overtaken(self, written: int) -> bool:
        """Whether another event's budgets were accepted after write number ``written``."""
        return self._writes != written

    def samples(self, mark: BudgetMark) -> list[Sample]:
        """The gauges of ``mark``: limit and remaining removed when unlimited."""
        return measure_budget(self._plan, mark.labels, mark.limit, mark.spend_value, mark.remaining)

    def settle(
        self,
        state: BudgetState,
        applied: BudgetMark | None,
        apply: Callable[[list[Sample]], None],
    ) -> None:
        """After a budget's gauges were set to ``applied``, set them again (through
        ``apply``) if a newer reading was accepted meanwhile: its own event may have
        reached a backend first (None: not known, set them again anyway). Gauge sets
        are absolute, so repeating one is harmless; no lock is held while they run."""
        last = applied
        while True:
            current = state.mark
            if current is last:
                return
            apply(self.samples(current))
            last = current
