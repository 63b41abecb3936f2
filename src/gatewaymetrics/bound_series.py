"""Bound series: what one call identity means to the fast path.

The first event of an identity goes the general way, which admits its series (the
guard) and budget subjects (the book). A :class:`BoundCall` then binds exactly those
series in every backend, once, and the identity's later events update them by handle.
A series never admitted (say, beyond the series cap) raises :class:`NotAdmitted`, so
its events stay on the general path.
"""

from __future__ import annotations

from collections.abc import Callable

from gatewaymetrics.budget_book import BudgetBook, BudgetState, subject_key
from gatewaymetrics.core.call_values import BudgetValues
from gatewaymetrics.core.litellm_fields import BUDGETS
from gatewaymetrics.core.litellm_payload import budget_places
from gatewaymetrics.core.measure import CALL_SLOTS, RATELIMIT_SLOTS, slot_labels
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import CallEvent
from gatewaymetrics.fan_out import FanOut, Handle
from gatewaymetrics.series_guard import SeriesGuard

__all__ = ["BoundBudget", "BoundCall", "NotAdmitted"]

Labels = tuple[str, ...]
_BUDGET_GAUGES = ("budget_limit", "budget_spend", "budget_remaining")


class NotAdmitted(Exception):
    """A series or budget subject the general path has to admit first."""


class BoundBudget:
    """One budget of a call identity: its subject and labels, and once the general
    path has admitted them, the subject's state and its bound gauges: (limit, spend,
    remaining) as one group, spend alone (an unlimited budget), and the reset time on
    its own (set only by a reading that has one: a group cannot hold a missing value;
    bound when a reading first has one, :meth:`bind_reset`)."""

    __slots__ = ("_reset_binder", "labels", "limited", "reset", "state", "subject", "unlimited")

    def __init__(
        self, subject: str, labels: Labels, reset_binder: Callable[[Labels], Handle | None]
    ) -> None:
        self.subject = subject
        self.labels = labels
        self.state: BudgetState | None = None
        self.limited: Handle | None = None
        self.unlimited: Handle | None = None
        self.reset: Handle | None = None
        self._reset_binder = reset_binder

    def bind_reset(self) -> Handle:
        """The reset-time gauge, bound now: :class:`NotAdmitted` until the general path
        has admitted its series. (Bound at first need, not in :meth:`BoundCall.prepare`:
        a budget whose gateway gives no reset time would stay unprepared forever.)"""
        handle = self._reset_binder(self.labels)
        if handle is None:
            raise NotAdmitted
        self.reset = handle
        return handle


class BoundCall:
    """The series of one call identity, bound as far as they were admitted. ``wanted``
    says which budgets (in scope order) its events carry a subject for."""

    __slots__ = ("_book", "_call_values", "_fan_out", "_guard", "_plan", "_rate_values",
                 "budgets", "cache_hit", "handles", "stream", "unprepared", "wanted")  # fmt: skip

    def __init__(
        self,
        event: CallEvent,
        *,
        plan: Plan,
        fan_out: FanOut,
        guard: SeriesGuard,
        book: BudgetBook,
    ) -> None:
        self._plan, self._fan_out, self._guard, self._book = plan, fan_out, guard, book
        call = event.call
        self._call_values = plan.call_values(call)
        self._rate_values = plan.render((call.provider, call.requested_model, call.model))
        self.handles: list[Handle | None] = [None] * len(CALL_SLOTS)
        self.stream = call.stream
        self.cache_hit = call.cache_hit
        places = budget_places(call.principal)
        scopes = {place.budget.scope for place in places}
        self.wanted = tuple(budget.scope in scopes for budget in BUDGETS)
        self.budgets = [
            BoundBudget(
                subject_key(place.budget.scope, place.subject),
                book.labels(place.budget.scope, place.subject, place.alias),
                self._reset_gauge,
            )
            for place in places
        ]
        #: The budgets still without their state or both kinds of gauges, by index.
        self.unprepared = tuple(range(len(self.budgets)))
        self.prepare()

    def handle(self, slot: int) -> Handle:
        """The bound series of ``slot``; :class:`NotAdmitted` if not admitted yet."""
        handle = self.handles[slot]
        if handle is not None:
            return handle
        key = CALL_SLOTS[slot][0]
        values = self._rate_values if slot in RATELIMIT_SLOTS else self._call_values
        labels = slot_labels(self._plan, slot, values)
        metric = self._plan.metrics[key]
        if not self._guard.admitted(metric, labels):
            raise NotAdmitted
        handle = self.handles[slot] = self._fan_out.bind(metric, labels)
        return handle

    def prepare(self, readings: list[BudgetValues | None] | None = None) -> None:
        """Find each budget's subject state and bind its gauges, as far as admitted.
        With one event's ``readings``: :class:`NotAdmitted` if one of them needs a
        subject or gauge not admitted yet."""
        unprepared = []
        for index, budget in enumerate(self.budgets):
            if budget.state is None:
                budget.state = self._book.state(budget.subject)
            if budget.state is not None:
                if budget.limited is None:
                    budget.limited = self._gauges(budget.labels, limited=True)
                if budget.unlimited is None:
                    budget.unlimited = self._gauges(budget.labels, limited=False)
            if budget.state is None or budget.limited is None or budget.unlimited is None:
                unprepared.append(index)
            reading = readings[index] if readings is not None else None
            if reading is not None:
                gauges = budget.limited if reading.limit is not None else budget.unlimited
                if budget.state is None or gauges is None:
                    raise NotAdmitted
        self.unprepared = tuple(unprepared)

    def _gauges(self, labels: Labels, *, limited: bool) -> Handle | None:
        """A budget's gauges as one handle: (limit, spend, remaining) set together, or
        its spend gauge alone; None if one of them is not admitted yet."""
        plan = self._plan
        keys = _BUDGET_GAUGES if limited else ("budget_spend",)
        series = [(plan.metrics[key], plan.labels(key, (), labels)) for key in keys]
        if not all(self._guard.admitted(metric, own) for metric, own in series):
            return None
        if not limited:
            return self._fan_out.bind(*series[0])
        return self._fan_out.bind_group(series)

    def _reset_gauge(self, labels: Labels) -> Handle | None:
        """A budget's reset-time gauge, bound on its own; None if not admitted yet
        (:meth:`BoundBudget.bind_reset`)."""
        metric = self._plan.metrics["budget_reset"]
        own = self._plan.labels("budget_reset", (), labels)
        if not self._guard.admitted(metric, own):
            return None
        return self._fan_out.bind(metric, own)
