"""What backends receive: metrics bound to their final label names, and samples.

Both are deliberately small and fast to build (a sample is a ``NamedTuple``): one
event makes a dozen of them on the gateway's hot path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import attrs

from gatewaymetrics.core.catalog import MetricKind, MetricSpec

__all__ = ["Metric", "Number", "Sample"]

#: A sample value: counts are ints, money is Decimal (exact), durations are floats.
Number = int | float | Decimal


@attrs.frozen(eq=False)
class Metric:
    """A catalog metric with the label names it has under the active settings.

    Compared by identity: a pipeline makes each metric once, and backends use them as
    dictionary keys on the hot path.
    """

    spec: MetricSpec
    label_names: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> MetricKind:
        return self.spec.kind


class Sample(NamedTuple):
    """One update: counter add, gauge set, or histogram observation, by ``metric.kind``.

    ``labels`` are values aligned with ``metric.label_names``. A gauge sample whose
    ``value`` is None removes that series (an unlimited budget has no remaining).
    """

    metric: Metric
    labels: tuple[str, ...]
    value: Number | None
