"""The LiteLLM field table as the Markdown table in docs/records.md; a test keeps the
two equal, so the docs cannot drift from what the code reads.

    python -m gatewaymetrics.fields_doc   # prints the table
"""

from __future__ import annotations

from gatewaymetrics.core.litellm_fields import FIELDS, place_paths

__all__ = ["fields_table"]


def fields_table() -> str:
    """One row per field: its name, kind, role, and its places in order of precedence,
    each as the key paths from the callback's arguments where it can be."""
    rows = ["| field | kind | role | read from, first usable wins |", "|---|---|---|---|"]
    for field in FIELDS:
        places = "; ".join(
            " or ".join(f"`{'.'.join(path)}`" for path in place_paths(place))
            for place in field.places
        )
        rows.append(f"| `{field.name}` | {field.kind.value} | {field.role.value} | {places} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(fields_table(), end="")
