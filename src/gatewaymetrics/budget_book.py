"""Budget state: the last accepted reading of every budget subject, and its gauges.

Events arrive out of order and from many threads; a budget's gauges must never move
backwards. Each subject keeps one :class:`BudgetState`; a new reading replaces its
mark only if :func:`gatewaymetrics.core.budget.supersedes` says so (the one rule, on
both paths). The decision and the writing of the gauges are one step under the book's
lock, so backends get budget gauges in the order they were decided: no reader ever
sees a spend go down within a period. The call's own metrics go in the same write (one
``apply`` per event: one StatsD packet), so only the decimal arithmetic is done
outside the lock.
A subject has one series: a reading whose labels (an alias renamed) differ from the
last mark's removes the old series in the same step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from gatewaymetrics.core.budget import gauge, money, remaining, spend_after_call, supersedes
from gatewaymetrics.core.call_values import BudgetValues
from gatewaymetrics.core.measure import budget_labels, measure_budget, self_sample
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import BudgetScope, BudgetSnapshot
from gatewaymetrics.core.samples import Sample
from gatewaymetrics.fan_out import FanOut, Handle
from gatewaymetrics.series_guard import SeriesGuard

if TYPE_CHECKING:  # bound_series imports this module
    from gatewaymetrics.bound_series import BoundBudget

__all__ = ["BudgetBook", "BudgetMark", "BudgetState", "subject_key"]

Labels = tuple[str, ...]
_GAUGES = ("budget_limit", "budget_spend", "budget_remaining", "budget_reset")
_LIMIT_GAUGES = ("budget_limit", "budget_remaining")


def subject_key(scope: BudgetScope, subject: str) -> str:
    """A budget subject as one string (a string keeps its hash between lookups): the
    scope's value and the subject joined by a NUL, which no scope value holds."""
    return f"{scope.value}\0{subject}"


class BudgetMark:
    """A budget reading that was accepted: its reset time and exact ``spend``
    (compared with the next), the ``labels`` (scope, subject, alias) its gauges were
    written with, and its exact ``limit`` (None: unlimited, no limit series)."""

    __slots__ = ("labels", "limit", "reset_at", "spend")

    def __init__(
        self, *, reset_at: float | None, spend: Decimal, labels: Labels, limit: Decimal | None
    ) -> None:
        self.reset_at = reset_at
        self.spend = spend
        self.labels = labels
        self.limit = limit


class BudgetState:
    """One budget subject's last accepted reading. The object lasts as long as the
    book (the fast path holds it); ``mark`` is replaced under the book's lock.
    ``limit_money``: the last float limit the fast path read, with its exact amount
    (a limit rarely changes; converting it once saves a decimal conversion)."""

    __slots__ = ("limit_money", "mark")

    def __init__(self, mark: BudgetMark) -> None:
        self.mark = mark
        self.limit_money: tuple[float, Decimal] | None = None


class BudgetBook:
    """Every budget subject's state, up to ``cap`` subjects, and the writing of their
    gauges through ``fan_out`` (new series admitted by ``guard``)."""

    def __init__(self, plan: Plan, cap: int, *, fan_out: FanOut, guard: SeriesGuard) -> None:
        self._plan = plan
        self._cap = cap
        self._fan_out = fan_out
        self._guard = guard
        #: Re-entrant: a backend that records into this pipeline from inside its own
        #: apply (a logging hook, say) must not deadlock the gateway.
        self._lock = threading.RLock()
        self._states: dict[str, BudgetState] = {}
        self._labels: dict[tuple[BudgetScope, str, str | None], Labels] = {}
        self._overflow = self_sample(plan, "series_overflow", plan.metrics["budget_spend"].name)

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

    # -- the general path ---------------------------------------------------------------

    def record(self, snapshots: Iterable[BudgetSnapshot], samples: list[Sample]) -> None:
        """Accept the snapshots that supersede the last reading of their subject and
        write their gauges, with the call's own ``samples``, as one step. A new subject
        beyond the cap is counted in ``gatewaymetrics_series_overflow_total`` (for the
        spend gauge) instead."""
        with self._lock:
            for snapshot in snapshots:
                key = subject_key(snapshot.scope, snapshot.subject)
                state = self._states.get(key)
                if state is None and len(self._states) >= self._cap:
                    samples.append(self._overflow)
                    continue
                spend = snapshot.spend_usd
                if state is not None and not supersedes(
                    spend, snapshot.reset_at, state.mark.spend, state.mark.reset_at
                ):
                    continue  # a late event: spend never goes back
                labels = self.labels(snapshot.scope, snapshot.subject, snapshot.alias)
                mark = BudgetMark(
                    reset_at=snapshot.reset_at, spend=spend, labels=labels, limit=snapshot.limit_usd
                )
                if state is None:
                    self._states[key] = BudgetState(mark)
                else:
                    if state.mark.labels != labels:
                        samples += self._removals(state.mark.labels, labels, _GAUGES)
                    state.mark = mark
                limit, left = snapshot.limit_usd, snapshot.remaining_usd
                samples += measure_budget(self._plan, labels, limit, spend, left, snapshot.reset_at)
            if samples:
                self._fan_out.apply(self._guard.admit(samples))

    # -- the fast path ------------------------------------------------------------------

    def record_values(
        self,
        budgets: Sequence[BoundBudget],
        readings: Sequence[BudgetValues],
        cost: float | Decimal | None,
        updates: list[tuple[Handle, object]],
    ) -> None:
        """Known subjects' readings from the fast path (spends before this call, whose
        ``cost`` they add), each a prepared :class:`BoundBudget`: the same arithmetic as
        the general path's records (core/budget.py), the same decision, and the gauges
        written by their bound handles with the call's own ``updates``, as one step.
        A reset time whose gauge the general path has not admitted yet raises
        ``bound_series.NotAdmitted`` before anything is written."""
        call_cost = None if cost is None else money(cost)
        offers = []
        for budget, reading in zip(budgets, readings, strict=True):  # outside the lock
            if reading.reset_at is not None and budget.reset is None:
                budget.bind_reset()  # NotAdmitted (nothing written yet): the general path
            spend = spend_after_call(money(reading.spend), call_cost)
            limit = None if reading.limit is None else self._limit(budget, reading.limit)
            left = remaining(limit, spend)
            value = gauge(spend) if left is None else (reading.limit, gauge(spend), gauge(left))
            offers.append((budget, reading.reset_at, spend, limit, value))
        with self._lock:
            removals: list[Sample] = []
            for budget, reset_at, spend, limit, value in offers:
                state = budget.state
                if state is None:
                    continue  # a prepared budget has its state
                last = state.mark
                if not supersedes(spend, reset_at, last.spend, last.reset_at):
                    continue  # a late event: spend never goes back
                labels = budget.labels
                state.mark = BudgetMark(reset_at=reset_at, spend=spend, labels=labels, limit=limit)
                renamed = last.labels != labels
                if renamed:
                    removals += self._removals(last.labels, labels, _GAUGES)
                if limit is None:
                    updates.append((budget.unlimited, value))
                    if renamed or last.limit is not None:  # its limit series go
                        removals += self._removals(labels, None, _LIMIT_GAUGES)
                else:
                    updates.append((budget.limited, value))
                if reset_at is not None:  # bound above
                    updates.append((budget.reset, reset_at))
            self._fan_out.apply_bound(updates)
            if removals:
                self._fan_out.apply(removals)

    def _limit(self, budget: BoundBudget, limit: float) -> Decimal:
        """The exact amount of a float limit, converted once per subject and limit."""
        state = budget.state
        known = None if state is None else state.limit_money
        if known is not None and known[0] == limit and limit != 0.0:  # (-0.0 == 0.0)
            return known[1]
        exact = money(limit)
        if state is not None:
            state.limit_money = (limit, exact)
        return exact

    def _removals(self, old: Labels, new: Labels | None, keys: Sequence[str]) -> list[Sample]:
        """Removal samples for the gauges ``keys`` labelled ``old``, except those whose
        series the ``new`` labels render the same (they are set, not removed)."""
        plan, metrics = self._plan, self._plan.metrics
        out = []
        for key in keys:
            series = plan.labels(key, (), old)
            if new is None or plan.labels(key, (), new) != series:
                out.append(Sample(metrics[key], series, None))
        return out
