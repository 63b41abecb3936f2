"""A readable, plain-text summary of what a memory backend recorded.

Quantiles are computed from histogram buckets exactly as Prometheus'
``histogram_quantile`` does, so the summary and a PromQL query agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.core.plan import Plan

__all__ = ["histogram_quantile", "render_summary"]


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets ending with +Inf,
    by Prometheus' rule: linear interpolation inside the bucket the rank falls in; the
    highest finite bound when it falls in +Inf. None without observations."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    below, start = 0.0, 0.0
    for index, (bound, count) in enumerate(buckets):
        if count >= rank:
            if math.isinf(bound):
                return buckets[index - 1][0] if index else 0.0
            if index == 0 and bound <= 0:
                return bound
            return start + (bound - start) * ((rank - below) / (count - below))
        below, start = count, bound
    return None  # pragma: no cover - the +Inf bucket always holds the rank


def _is_number(cell: str) -> bool:
    return cell == "-" or cell.rstrip("%").replace(".", "", 1).replace("-", "", 1).isdigit()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns: numbers to the right, text to the left."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if _is_number(cell) else cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.7f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _quantiles(backend: MemoryBackend, name: str, **labels: str) -> tuple[str, str]:
    histogram = backend.histogram(name, **labels)
    buckets = [(bound, float(count)) for bound, count in histogram.buckets]
    return _seconds(histogram_quantile(0.5, buckets)), _seconds(histogram_quantile(0.95, buckets))


def render_summary(backend: MemoryBackend, plan: Plan) -> str:
    """Per requested model: requests, error rate, tokens, spend, p50/p95 latency and
    time to first token; then failures by type, and the budgets left."""
    name = {key: metric.name for key, metric in plan.metrics.items()}
    models = sorted({s.get("requested_model", "") for s in backend.series(name["requests"])})
    grouped = "requested_model" in plan.metrics["requests"].label_names

    def by(key: str, model: str) -> dict[str, str] | None:
        """The filter on one requested model; None for a metric configured without the
        label while requests have it (its column shows ``-``)."""
        if "requested_model" in plan.metrics[key].label_names:
            return {"requested_model": model}
        return None if grouped else {}

    def column(key: str, model: str, **labels: str) -> str:
        found = by(key, model)
        return "-" if found is None else f"{backend.sum(name[key], **labels, **found):.0f}"

    def quantiles(key: str, model: str) -> tuple[str, str]:
        found = by(key, model)
        return ("-", "-") if found is None else _quantiles(backend, name[key], **found)

    rows = []
    for model in models:
        requests = backend.sum(name["requests"], **by("requests", model) or {})
        failures = backend.sum(name["requests"], status="failure", **by("requests", model) or {})
        spend = by("spend", model)
        rows.append(
            [
                model or "(none)",
                f"{requests:.0f}",
                f"{100 * failures / requests:.1f}%" if requests else "-",
                column("tokens", model, token_type="input"),
                column("tokens", model, token_type="output"),
                "-" if spend is None else _money(backend.exact_sum(name["spend"], **spend)),
                column("unpriced_requests", model),
                *quantiles("request_duration", model),
                *quantiles("time_to_first_token", model),
            ]
        )
    header = ["model", "requests", "errors", "input tok", "output tok", "spend usd",
              "unpriced", "p50 s", "p95 s", "p50 ttft", "p95 ttft"]  # fmt: skip
    total = backend.sum(name["requests"])
    failed = backend.sum(name["requests"], status="failure")
    lines = [
        f"{total:.0f} requests, {failed:.0f} failed, "
        f"{backend.sum(name['tokens']):.0f} tokens, "
        f"{_money(backend.exact_sum(name['spend']))} USD",
        "",
        "Calls by requested model",
        *_table(header, rows),
    ]

    errors = [
        [s["error_type"], f"{backend.sum(name['requests'], **s):.0f}", s.get("requested_model", "")]
        for s in backend.series(name["requests"])
        if s["status"] == "failure"
    ]
    if errors:
        merged: dict[tuple[str, str], int] = {}
        for error_type, count, model in errors:
            merged[(error_type, model)] = merged.get((error_type, model), 0) + int(count)
        rows = [[e, str(c), m] for (e, m), c in sorted(merged.items())]
        lines += ["", "Failures", *_table(["error type", "count", "model"], rows)]

    limits = {tuple(sorted(s.items())) for s in backend.series(name["budget_limit"])}
    budgets = []
    for labels in backend.series(name["budget_spend"]):
        has_limit = tuple(sorted(labels.items())) in limits
        budgets.append(
            [
                labels["scope"],
                labels["alias"] or labels["subject"][:16],
                _money(backend.exact(name["budget_limit"], **labels) if has_limit else None),
                _money(backend.exact(name["budget_spend"], **labels)),
                _money(backend.exact(name["budget_remaining"], **labels) if has_limit else None),
            ]
        )
    if budgets:
        budgets.sort(key=lambda row: (row[0], row[1]))
        header = ["scope", "subject", "limit", "spend", "remaining"]
        lines += ["", "Budgets", *_table(header, budgets)]
    return "\n".join(lines) + "\n"
