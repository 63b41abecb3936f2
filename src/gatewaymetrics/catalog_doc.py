"""The metric catalog as a Markdown table: docs/metrics.md embeds it, a test keeps
the two equal, so the docs cannot drift from the code.

    python -m gatewaymetrics.catalog_doc   # prints the table
"""

from __future__ import annotations

from gatewaymetrics.core.catalog import build_catalog

__all__ = ["catalog_table"]


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


if __name__ == "__main__":
    print(catalog_table(), end="")
