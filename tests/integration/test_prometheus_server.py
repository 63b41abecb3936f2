"""A real Prometheus server scrapes the backend's own HTTP endpoint over loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry

from gatewaymetrics import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Pipeline,
    Status,
    TokenUsage,
)
from gatewaymetrics.backends.prometheus import PrometheusBackend
from tests.promtools import prometheus_server

pytestmark = pytest.mark.integration


def _call(index: int) -> CallEvent:
    failed = index % 5 == 0  # 4 of 20
    return CallEvent(
        call=CallRecord(
            provider="openai",
            requested_model="fast" if index % 2 else "smart",
            model="gpt-4o-mini",
            status=Status.FAILURE if failed else Status.SUCCESS,
            error=ErrorInfo(category=ErrorCategory.RATE_LIMITED) if failed else None,
            tokens=TokenUsage() if failed else TokenUsage(input=10, output=5),
            cost_usd=Decimal(0) if failed else Decimal("0.125"),
            started_at=1000.0,
            ended_at=1001.0,  # every call takes 1 s: the (0.64, 1.28] bucket
        ),
        budgets=(
            BudgetSnapshot(
                scope=BudgetScope.TEAM,
                subject="t1",
                alias="Team One",
                limit_usd=Decimal(50),
                spend_usd=Decimal("3.5"),
            ),
        ),
    )


def test_prometheus_scrapes_exact_values() -> None:
    backend = PrometheusBackend(registry=CollectorRegistry())
    pipeline = Pipeline([backend])
    try:
        for index in range(20):
            pipeline.record(_call(index))
        _, port = backend.serve(port=0)
        with prometheus_server(port) as server:
            server.wait_for('up{job="gatewaymetrics"}', 1.0)
            server.wait_for("sum(llm_requests_total)", 20.0)
            by_status = {
                r["metric"]["status"]: float(r["value"][1])
                for r in server.query("sum by (status) (llm_requests_total)")
            }
            assert by_status == {"success": 16.0, "failure": 4.0}
            assert server.scalar("sum(llm_spend_usd_total)") == 2.0  # 16 x 0.125
            assert server.scalar('sum(llm_tokens_total{token_type="input"})') == 160.0
            # Prometheus interpolates inside the bucket: start + width * rank / count.
            expected_median = 0.64 + (1.28 - 0.64) * ((0.5 * 20 - 0) / 20)
            median = server.scalar(
                "histogram_quantile(0.5, sum by (le) (llm_request_duration_seconds_bucket))"
            )
            assert median == expected_median
            assert (
                server.scalar(
                    'llm_budget_remaining_usd{scope="team",subject="t1",alias="Team One"}'
                )
                == 46.5
            )
            assert server.query("llm_budget_limit_usd == +Inf") == []
    finally:
        pipeline.close()
