"""A gateway worker for the multiprocess test: run with PROMETHEUS_MULTIPROC_DIR set.

    python -m tests.integration.mp_worker EVENTS FIRST_SPEND [--step]

Records EVENTS calls of 1 s with 10 input and 5 output tokens, costing 0.5 each, and a
team budget whose spend rises from FIRST_SPEND by one per event. Prints "done N" after
each event. With --step it waits for a line on stdin before each event, so a test can
kill it at a known point.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from prometheus_client import CollectorRegistry

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    Pipeline,
    TokenUsage,
)
from gatewaymetrics.backends.prometheus import PrometheusBackend


def main() -> None:
    events, first_spend = int(sys.argv[1]), int(sys.argv[2])
    step = "--step" in sys.argv
    pipeline = Pipeline([PrometheusBackend(registry=CollectorRegistry())])
    for index in range(events):
        if step and not sys.stdin.readline():
            return
        spend = Decimal(first_spend + index)
        budget = BudgetSnapshot(scope=BudgetScope.TEAM, subject="t1", alias="Team One",
                                limit_usd=Decimal(1000), spend_usd=spend)  # fmt: skip
        pipeline.record(
            CallEvent(
                call=CallRecord(provider="openai", requested_model="fast", model="m",
                                tokens=TokenUsage(input=10, output=5), cost_usd=Decimal("0.5"),
                                started_at=10.0, ended_at=11.0),
                budgets=(budget,),
            )
        )  # fmt: skip
        print(f"done {index + 1}", flush=True)


if __name__ == "__main__":
    main()
