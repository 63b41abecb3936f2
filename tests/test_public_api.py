"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import gatewaymetrics

PUBLIC = [
    "Backend", "BudgetScope", "BudgetSnapshot", "CallEvent", "CallRecord", "Catalog",
    "ErrorCategory", "ErrorInfo", "GatewayMetricsError", "LabelSettings", "Metric",
    "MetricKind", "MetricSpec", "Operation", "Pipeline", "Principal", "Problem", "Sample",
    "Settings", "Status", "TokenUsage", "__version__", "build_catalog", "classify",
    "fingerprint", "hash_key", "parse_litellm",
]  # fmt: skip


def test_public_names_are_pinned_and_sorted() -> None:
    assert gatewaymetrics.__all__ == PUBLIC
    assert sorted(gatewaymetrics.__all__, key=str.lower) == sorted(PUBLIC, key=str.lower)
    for name in PUBLIC:
        assert hasattr(gatewaymetrics, name), name


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert gatewaymetrics.__version__ == version("gatewaymetrics")


def test_gateway_metrics_error_is_a_value_error() -> None:
    assert issubclass(gatewaymetrics.GatewayMetricsError, ValueError)


def test_import_needs_only_attrs_and_the_standard_library() -> None:
    """Import with every optional library made unimportable, then list what loaded."""
    script = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"prometheus_client", "statsd", "litellm"}:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import gatewaymetrics
        from gatewaymetrics.testing import memory_pipeline

        recorder = memory_pipeline()
        recorder.pipeline.record_litellm({"model": "m"})
        assert recorder.backend.sum("llm_requests_total") == 1.0
        third_party = sorted(
            {name.split(".")[0] for name in sys.modules}
            - set(sys.stdlib_module_names)
            - {"gatewaymetrics", "attr", "attrs", "__main__"}
            - {"_distutils_hack"}
        )
        print(",".join(third_party))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_docs_metric_table_is_generated_from_the_catalog() -> None:
    from pathlib import Path

    from gatewaymetrics.catalog_doc import catalog_table

    docs = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
    assert catalog_table() in docs.read_text(encoding="utf-8")


def test_docs_litellm_map_is_generated_from_the_naming_table() -> None:
    from pathlib import Path

    from gatewaymetrics.catalog_doc import naming_table

    docs = Path(__file__).resolve().parent.parent / "docs" / "migrating-from-litellm.md"
    assert naming_table("litellm") in docs.read_text(encoding="utf-8")


def test_docs_otel_tables_are_generated_from_the_naming_table() -> None:
    from pathlib import Path

    from gatewaymetrics.catalog_doc import otel_tables

    docs = Path(__file__).resolve().parent.parent / "docs" / "opentelemetry.md"
    assert otel_tables() in docs.read_text(encoding="utf-8")


def test_docs_field_table_is_generated_from_the_field_table() -> None:
    from pathlib import Path

    from gatewaymetrics.fields_doc import fields_table

    docs = Path(__file__).resolve().parent.parent / "docs" / "records.md"
    assert fields_table() in docs.read_text(encoding="utf-8")
