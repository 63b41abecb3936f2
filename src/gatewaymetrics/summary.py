"""A readable, plain-text summary of what a memory backend recorded."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.core.plan import Plan

__all__ = ["render_summary"]


def _is_number(cell: str) -> bool:
    return cell == "-" or cell.replace(".", "", 1).replace("-", "", 1).isdigit()


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


def _mean(backend: MemoryBackend, name: str, **labels: str) -> str:
    histogram = backend.histogram(name, **labels)
    if not histogram.count:
        return "-"
    return f"{float(histogram.sum) / histogram.count:.3f}"


def render_summary(backend: MemoryBackend, plan: Plan) -> str:
    """Requests, errors, tokens, spend and mean latency per requested model, then
    the budgets, as aligned plain-text tables."""
    name = {key: metric.name for key, metric in plan.metrics.items()}
    models = sorted({s.get("requested_model", "") for s in backend.series(name["requests"])})
    rows = []
    for model in models:
        by_model = {"requested_model": model}
        rows.append(
            [
                model or "(none)",
                f"{backend.sum(name['requests'], **by_model):.0f}",
                f"{backend.sum(name['requests'], status='failure', **by_model):.0f}",
                f"{backend.sum(name['tokens'], token_type='input', **by_model):.0f}",
                f"{backend.sum(name['tokens'], token_type='output', **by_model):.0f}",
                _money(backend.exact_sum(name["spend"], **by_model)),
                f"{backend.sum(name['unpriced_requests'], **by_model):.0f}",
                _mean(backend, name["request_duration"], **by_model),
                _mean(backend, name["time_to_first_token"], **by_model),
            ]
        )
    header = ["model", "requests", "failures", "input tok", "output tok", "spend usd",
              "unpriced", "mean s", "mean ttft s"]  # fmt: skip
    lines = ["Calls by requested model", *_table(header, rows)]

    errors = [
        [s["error_type"], f"{backend.sum(name['requests'], **s):.0f}", s.get("requested_model", "")]
        for s in backend.series(name["requests"])
        if s["status"] == "failure"
    ]
    if errors:
        lines += ["", "Failures", *_table(["error type", "count", "model"], errors)]

    budgets = []
    for labels in backend.series(name["budget_spend"]):
        subject = labels["alias"] or labels["subject"][:16]
        limit = (
            backend.exact(name["budget_limit"], **labels)
            if backend.series(name["budget_limit"]).count(labels)
            else None
        )
        remaining = backend.exact(name["budget_remaining"], **labels) if limit is not None else None
        budgets.append(
            [
                labels["scope"],
                subject,
                _money(limit),
                _money(backend.exact(name["budget_spend"], **labels)),
                _money(remaining),
            ]
        )
    if budgets:
        lines += [
            "",
            "Budgets",
            *_table(["scope", "subject", "limit", "spend", "remaining"], budgets),
        ]
    return "\n".join(lines) + "\n"
