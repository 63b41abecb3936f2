"""The metric catalog as Markdown tables: docs/metrics.md embeds the native one,
docs/migrating-from-litellm.md the ``litellm`` naming's map; tests keep them equal, so
the docs cannot drift from the code.

    python -m gatewaymetrics.catalog_doc           # prints the native table
    python -m gatewaymetrics.catalog_doc litellm   # prints the litellm naming's map
    python -m gatewaymetrics.catalog_doc otel      # prints the otel naming's tables
"""

from __future__ import annotations

import sys

from gatewaymetrics.core.catalog import NAMINGS, build_catalog
from gatewaymetrics.core.otel_names import OTEL_ATTRIBUTES, OTEL_PROVIDERS

__all__ = ["catalog_table", "naming_table", "otel_tables"]


def catalog_table() -> str:
    """One row per metric of the native catalog: name, kind, unit, labels, fed by, help.
    "identity" stands for the configured call labels, which come first."""
    rows = [
        "| metric | kind | unit | labels | fed by | help |",
        "|---|---|---|---|---|---|",
    ]
    for spec in build_catalog():
        own = [f"`{n}`" for n in spec.labels]
        labels = ", ".join((["identity"] if spec.identity else []) + own) or "none"
        rows.append(
            f"| `{spec.name}` | {spec.kind.value} | {spec.unit or '-'} | {labels} "
            f"| {spec.fed_by} | {spec.help} |"
        )
    return "\n".join(rows) + "\n"


def naming_table(naming: str = "litellm") -> str:
    """One row per family a naming exports a native metric as: the native metric, the
    family, the native label values it is limited to, and its labels (with the native
    label each is read from where the name differs; "-": never filled by a callback)."""
    native = build_catalog()
    table = NAMINGS[naming]
    rows = [
        f"| native metric | {naming} family | only when | labels (native source) |",
        "|---|---|---|---|",
    ]
    for spec in native:
        for export in table.exports.get(spec.key, ()):
            when = ", ".join(f"`{label}={value}`" for label, value in export.when) or "always"
            labels = ", ".join(
                f"`{name}`" if name == source else f"`{name}` ({source or '-'})"
                for name, source in export.labels
            )
            rows.append(f"| `{spec.name}` | `{export.name}` | {when} | {labels} |")
    return "\n".join(rows) + "\n"


def _numbers(bounds: tuple[float, ...]) -> str:
    return ", ".join(f"{b:.12g}" for b in bounds)


def otel_tables() -> str:
    """The ``otel`` naming as docs/opentelemetry.md shows it: every OTel metric (with
    its instrument, unit, native metric and bucket bounds), every label's attribute
    name, and the provider values mapped to the conventions' well-known ones."""
    native = build_catalog()
    table = NAMINGS["otel"]
    rows = [
        "| OTel metric | instrument | unit | native metric | bucket bounds |",
        "|---|---|---|---|---|",
    ]
    for spec in native:
        for export in table.exports.get(spec.key, ()):
            kind = export.kind or spec.kind.value
            bounds = export.buckets or (spec.buckets if kind == "histogram" else ())
            shown = _numbers(bounds) if export.buckets else ("native" if bounds else "-")
            rows.append(f"| `{export.name}` | {kind} | `{export.unit}` | `{spec.name}` | {shown} |")
    rows += ["", "| label | OTel attribute |", "|---|---|"]
    rows += [f"| `{label}` | `{name}` |" for label, name in OTEL_ATTRIBUTES.items()]
    rows += ["", "| LiteLLM provider | `gen_ai.provider.name` |", "|---|---|"]
    rows += [f"| `{ours}` | `{theirs}` |" for ours, theirs in OTEL_PROVIDERS]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "otel":
        print(otel_tables(), end="")
    else:
        print(naming_table(sys.argv[1]) if len(sys.argv) > 1 else catalog_table(), end="")
