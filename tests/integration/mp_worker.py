"""A gateway worker for the multiprocess test: run with PROMETHEUS_MULTIPROC_DIR set.

    python -m tests.integration.mp_worker EVENTS FIRST_SPEND [--step | --litellm]

Records EVENTS calls of 1 s with 10 input and 5 output tokens, costing 0.5 each, and a
team budget whose spend rises from FIRST_SPEND by one per event. Prints "done N" after
each event. With --step it waits for a line on stdin before each event, so a test can
kill it at a known point. With --litellm it records the captured proxy-style LiteLLM
payload instead (through the pipeline's fast path), its key's spend rising from
FIRST_SPEND by one per event, and prints "fast N" at the end.
"""

from __future__ import annotations

import copy
import json
import sys
from decimal import Decimal
from pathlib import Path

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

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "litellm_payloads.jsonl"


def litellm(pipeline: Pipeline, events: int, first_spend: int) -> None:
    lines = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    captured = next(p for p in lines if p["scenario"] == "proxy_metadata")
    for index in range(events):
        kwargs = copy.deepcopy(captured["kwargs"])
        kwargs["standard_logging_object"]["metadata"]["user_api_key_spend"] = float(
            first_spend + index
        )
        pipeline.record_litellm(kwargs, captured["response_obj"], failed=False)
        print(f"done {index + 1}", flush=True)
    print(f"fast {pipeline.fast_events}", flush=True)


def main() -> None:
    events, first_spend = int(sys.argv[1]), int(sys.argv[2])
    step = "--step" in sys.argv
    pipeline = Pipeline([PrometheusBackend(registry=CollectorRegistry())])
    if "--litellm" in sys.argv:
        litellm(pipeline, events, first_spend)
        return
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
