"""The fast path: a LiteLLM success payload recorded without building records.

Its identity (labels, budget subjects) is read raw as one key (``core/litellm_fast``,
generated from the field table). The first payload of an identity goes the general
way, which admits its series and budgets, and is remembered as a :class:`BoundCall`;
later ones have their numbers read raw and applied to the bound series. Anything the
parser would repair or report, and any series not admitted yet, sends the event the
general way before anything is applied, so both paths record the same
(tests/test_fast_path_equivalence.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from gatewaymetrics.bound_series import BoundBudget, BoundCall, NotAdmitted
from gatewaymetrics.budget_book import BudgetBook
from gatewaymetrics.core.call_values import BudgetValues, CallValues
from gatewaymetrics.core.litellm_fast import Uncommon, identity, read_values
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.measure import call_updates
from gatewaymetrics.core.plan import Plan
from gatewaymetrics.core.records import CallEvent, Status
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.fan_out import FanOut, Handle
from gatewaymetrics.series_guard import SeriesGuard

__all__ = ["IDENTITY_CACHE", "FastPath"]

#: How many call identities (key, team, user, model, ...) the fast path remembers.
IDENTITY_CACHE = 4096


class FastPath:
    """Records success payloads of known identities by bound series. ``record_event``
    is the general path, which a new identity's first payload takes."""

    def __init__(
        self,
        *,
        plan: Plan,
        settings: Settings,
        fan_out: FanOut,
        guard: SeriesGuard,
        book: BudgetBook,
        record_event: Callable[[CallEvent], None],
    ) -> None:
        self._plan, self._fan_out, self._guard, self._book = plan, fan_out, guard, book
        self._record_event = record_event
        self._custom_labels = settings.labels.custom
        self._custom_paths = tuple(path for _, path in self._custom_labels)
        self._capacity = min(settings.series_cap, IDENTITY_CACHE)
        self._identities: dict[tuple[object, ...], BoundCall] = {}
        #: Events recorded by bound series (for tests and curious operators).
        self.events = 0

    @property
    def identities(self) -> int:
        """How many call identities are remembered."""
        return len(self._identities)

    def record(
        self,
        kwargs: object,
        response_obj: object,
        start_time: object,
        end_time: object,
        failed: bool | None,
    ) -> bool:
        """Record one payload if it is a success of the common shape; False: nothing
        was recorded, the caller takes the general path."""
        payload = identity(kwargs, failed, self._custom_paths)
        if payload is None:
            return False
        key = payload.key
        call = self._identities.get(key)
        if call is None:
            self._learn(
                key,
                parse_litellm(
                    kwargs,
                    response_obj,
                    start_time,
                    end_time,
                    failed=failed,
                    custom_labels=self._custom_labels,
                ),
            )
            return True
        try:
            values = read_values(
                payload, response_obj, start_time, end_time, call.stream, call.wanted
            )
            self._apply(call, values)
        except (Uncommon, NotAdmitted):
            return False  # the parser's job, or a series the general path admits first
        return True

    def _learn(self, key: tuple[object, ...], event: CallEvent) -> None:
        """Record a new identity's first event by the general path, and keep what the
        identity means if it parsed without a problem."""
        self._record_event(event)
        if event.problems or event.call.status is not Status.SUCCESS:
            return
        identities = self._identities
        if len(identities) >= self._capacity:
            for old in list(itertools.islice(identities, len(identities) // 2 + 1)):
                identities.pop(old, None)  # the oldest half; busy identities come back
        identities[key] = BoundCall(
            event, plan=self._plan, fan_out=self._fan_out, guard=self._guard, book=self._book
        )

    def _apply(self, call: BoundCall, values: CallValues) -> None:
        """Apply one call's numbers to its bound series. Raises :class:`NotAdmitted`
        (before anything is applied) when a series or budget is not admitted yet."""
        values.cache_hit = call.cache_hit
        handles, handle = call.handles, call.handle
        updates: list[tuple[Handle, object]] = [
            (handles[slot] or handle(slot), value) for slot, value in call_updates(values)
        ]
        readings = values.budgets
        if not readings:
            self._fan_out.apply_bound(updates)
            self.events += 1
            return
        budgets = call.budgets
        for index in call.unprepared:  # budgets not admitted yet (often none)
            if readings[index] is not None:
                call.prepare(readings)
                break
        bound: list[BoundBudget] = []
        offered: list[BudgetValues] = []
        for budget, reading in zip(budgets, readings, strict=True):
            if reading is not None:
                bound.append(budget)
                offered.append(reading)
        if bound:  # decided and written with the call's updates, as one step
            self._book.record_values(bound, offered, values.cost, updates)
        else:
            self._fan_out.apply_bound(updates)
        self.events += 1
