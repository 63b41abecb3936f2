"""The metric catalog as Markdown tables: docs/metrics.md embeds the native one,
docs/migrating-from-litellm.md the ``litellm`` naming's map; tests keep them equal, so
the docs cannot drift from the code.

    python -m gatewaymetrics.catalog_doc           # prints the native table
    python -m gatewaymetrics.catalog_doc litellm   # prints the litellm naming's map
"""

from __future__ import annotations

import sys

from gatewaymetrics.core.catalog import NAMINGS, build_catalog

__all__ = ["catalog_table", "naming_table"]


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


if __name__ == "__main__":
    print(naming_table(sys.argv[1]) if len(sys.argv) > 1 else catalog_table(), end="")
