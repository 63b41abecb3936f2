"""gatewaymetrics: typed, correct, cheap, secret-safe metrics for LLM gateways.

Importing this package loads only the pure core and the pipeline: no backend library
(prometheus_client, statsd) and no gateway (litellm).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gatewaymetrics.core.catalog import Catalog, MetricKind, MetricSpec, build_catalog
from gatewaymetrics.core.error_taxonomy import classify
from gatewaymetrics.core.litellm_payload import parse_litellm
from gatewaymetrics.core.records import (
    BudgetScope,
    BudgetSnapshot,
    CallEvent,
    CallRecord,
    ErrorCategory,
    ErrorInfo,
    Operation,
    Principal,
    Problem,
    Status,
    TokenUsage,
)
from gatewaymetrics.core.secrets import fingerprint, hash_key
from gatewaymetrics.core.settings import LabelSettings, Settings
from gatewaymetrics.errors import GatewayMetricsError
from gatewaymetrics.pipeline import Pipeline
from gatewaymetrics.protocols import Backend, Metric, Sample

try:
    __version__ = version("gatewaymetrics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Backend",
    "BudgetScope",
    "BudgetSnapshot",
    "CallEvent",
    "CallRecord",
    "Catalog",
    "ErrorCategory",
    "ErrorInfo",
    "GatewayMetricsError",
    "LabelSettings",
    "Metric",
    "MetricKind",
    "MetricSpec",
    "Operation",
    "Pipeline",
    "Principal",
    "Problem",
    "Sample",
    "Settings",
    "Status",
    "TokenUsage",
    "__version__",
    "build_catalog",
    "classify",
    "fingerprint",
    "hash_key",
    "parse_litellm",
]
