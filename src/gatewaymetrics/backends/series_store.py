"""In-process series values: counters, gauges and histograms behind one lock.

What the Prometheus backend keeps in a single process instead of one
``prometheus_client`` child (with a lock of its own) per series: a series is a small
*cell* resolved once, and all of one event's updates take the store's lock once. A
scrape copies the values under the same lock, a chunk at a time, and formats them
outside it (:meth:`SeriesStore.snapshot`). No third-party imports: the Prometheus
backend renders :meth:`SeriesStore.collect` into exposition families.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from gatewaymetrics.core.catalog import MetricKind
from gatewaymetrics.core.samples import Metric, Sample

__all__ = ["SNAPSHOT_CHUNK", "Cell", "Handle", "SeriesStore", "SeriesValue", "Value"]

Labels = tuple[str, ...]


class _Counter:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()


class _Gauge:
    """A gauge can be removed (an unlimited budget has no limit) and set again. Its
    cell stays (every handle to the series keeps working); ``present`` says whether
    a scrape shows it. Its value is ``box[index]``: a box of its own, or the box of
    the one group it belongs to."""

    __slots__ = ("box", "group", "index", "present")

    def __init__(self) -> None:
        self.box = [0.0]
        self.index = 0
        self.present = True
        self.group: _GaugeGroup | None = None


class _GaugeGroup:
    """Gauges always set together (a budget's limit, spend and remaining): one
    update with a tuple of values, in order, written into their shared box at once.
    ``complete``: every member present (a removal clears it)."""

    __slots__ = ("box", "complete", "gauges")

    def __init__(self, gauges: tuple[_Gauge, ...], *, shared: bool = True) -> None:
        self.gauges = gauges
        #: None for a group whose gauges keep their own boxes (they belong to another).
        self.box: list[float] | None = None
        self.complete = all(gauge.present for gauge in gauges)
        if shared:
            self.box = [gauge.box[gauge.index] for gauge in gauges]
            for index, gauge in enumerate(gauges):
                gauge.box, gauge.index, gauge.group = self.box, index, self


class _Histogram:
    """``counts[i]``: observations in bucket ``i`` (not cumulative); ``bounds`` ends
    with +Inf, so every finite observation has a bucket."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.sum = 0.0
        self.counts = [0] * len(bounds)
        self.bounds = bounds
        self.created = time.time()


#: One series of the store, resolved once.
Cell = _Counter | _Gauge | _Histogram
#: What updates address: a series, or a group of gauges.
Handle = Cell | _GaugeGroup
Value = float | tuple[float, ...] | None


class SeriesValue(NamedTuple):
    """A series as a scrape sees it. ``value``: a counter's or gauge's value, or a
    histogram's sum; ``buckets``: (upper bound, cumulative count), histograms only."""

    labels: Labels
    value: float
    buckets: tuple[tuple[float, float], ...]
    created: float | None


class SeriesStore:
    """Every series of the declared metrics, updated under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Every cell ever made, per metric (a removed gauge keeps its cell).
        self._families: dict[Metric, dict[Labels, Cell]] = {}
        self._bounds: dict[Metric, tuple[float, ...]] = {}

    def declare(self, metric: Metric) -> None:
        """Make room for ``metric``. A counter or histogram without labels has its one
        series from the start, at zero (as ``prometheus_client`` does)."""
        self._families[metric] = {}
        if metric.kind is MetricKind.HISTOGRAM:
            self._bounds[metric] = (*metric.spec.buckets, math.inf)
        if not metric.label_names and metric.kind is not MetricKind.GAUGE:
            self.cell(metric, ())

    def cell(self, metric: Metric, labels: Labels) -> Cell:
        """The cell of one series, made (at zero) if it does not exist yet."""
        family = self._families[metric]
        cell = family.get(labels)
        if cell is not None:
            return cell
        with self.lock:
            cell = family.get(labels)
            if cell is None:
                cell = family[labels] = self._new_cell(metric)
        return cell

    def _new_cell(self, metric: Metric) -> Cell:
        if metric.kind is MetricKind.COUNTER:
            return _Counter()
        if metric.kind is MetricKind.GAUGE:
            return _Gauge()
        return _Histogram(self._bounds[metric])

    def group(self, cells: Sequence[Cell]) -> _GaugeGroup:
        """Gauges to set together by one update whose value is a tuple. Asking again
        for the same gauges gives the same group. A gauge shares its box with one group;
        a group over gauges that already share one writes them one by one."""
        gauges = tuple(cell for cell in cells if type(cell) is _Gauge)
        if len(gauges) != len(cells):
            raise TypeError("only gauges can be grouped")
        with self.lock:
            first = gauges[0].group if gauges else None
            if first is not None and first.gauges == gauges:
                return first
            shared = all(gauge.group is None for gauge in gauges)
            return _GaugeGroup(gauges, shared=shared)

    def update(self, updates: Iterable[tuple[Handle, Value]]) -> None:
        """Apply one event's updates under one lock: add to a counter, observe into a
        histogram, set a gauge (None removes the gauge's series) or a group of gauges
        (a tuple of values)."""
        with self.lock:
            for cell, value in updates:
                if type(cell) is _Counter:
                    cell.value += value  # type: ignore[operator]  # a float for counters
                elif type(cell) is _Histogram:
                    cell.sum += value  # type: ignore[operator]
                    cell.counts[bisect_left(cell.bounds, value)] += 1  # type: ignore[type-var]
                elif type(cell) is _GaugeGroup:
                    box = cell.box
                    if box is not None and cell.complete and len(value) == len(box):  # type: ignore[arg-type]
                        box[:] = value  # type: ignore[assignment]  # the common case
                    else:
                        self._set_group(cell, value)  # type: ignore[arg-type]
                elif type(cell) is _Gauge:
                    if value is None:
                        cell.present = False
                        if cell.group is not None:
                            cell.group.complete = False
                    else:
                        cell.box[cell.index] = value  # type: ignore[assignment]  # a float
                        cell.present = True

    @staticmethod
    def _set_group(group: _GaugeGroup, values: tuple[float, ...]) -> None:
        """Set a group's gauges one by one, each present again (a member was removed,
        or the gauges keep their own boxes)."""
        if len(values) != len(group.gauges):
            raise ValueError("a group's update needs one value per gauge")
        for gauge, value in zip(group.gauges, values, strict=True):
            gauge.box[gauge.index] = value
            gauge.present = True
        group.complete = True

    def apply(self, samples: Sequence[Sample]) -> None:
        """Samples, as the pipeline's general path makes them."""
        updates: list[tuple[Handle, Value]] = []
        for metric, labels, value in samples:
            if value is None:
                cell = self._families[metric].get(labels)
                if cell is not None:
                    updates.append((cell, None))
            else:
                updates.append((self.cell(metric, labels), float(value)))
        self.update(updates)

    def collect(self, metric: Metric) -> list[SeriesValue]:
        """A copy of the series of ``metric``, each one consistent (see :meth:`snapshot`)."""
        out: list[SeriesValue] = []
        for chunk in self.snapshot(metric):
            out.extend(chunk)
        return out

    def snapshot(self, metric: Metric) -> Iterator[list[SeriesValue]]:
        """The series of ``metric`` in chunks of at most :data:`SNAPSHOT_CHUNK`, each
        series a consistent copy. The lock is held to list the series and to copy the
        raw values of one chunk, never while the caller formats them, so a scrape
        stalls recording for one chunk's copy at most, however many series there are.
        """
        family = self._families[metric]
        with self.lock:
            items = list(family.items())  # one C-level copy: later series wait for the next scrape
        for start in range(0, len(items), SNAPSHOT_CHUNK):
            chunk = items[start : start + SNAPSHOT_CHUNK]
            with self.lock:
                raw = [_raw(labels, cell) for labels, cell in chunk]
            yield [_series(value) for value in raw if value is not None]


#: Series copied per acquisition of the store's lock by a scrape.
SNAPSHOT_CHUNK = 256

_Raw = tuple[Labels, float, list[int] | None, tuple[float, ...], float | None]


def _raw(labels: Labels, cell: Cell) -> _Raw | None:
    """The values of one cell, copied (under the store's lock); None for a removed gauge."""
    if type(cell) is _Histogram:
        return (labels, cell.sum, cell.counts.copy(), cell.bounds, cell.created)
    if type(cell) is _Counter:
        return (labels, cell.value, None, (), cell.created)
    if type(cell) is _Gauge and cell.present:
        return (labels, cell.box[cell.index], None, (), None)
    return None


def _series(raw: _Raw) -> SeriesValue:
    """A copied cell as a scrape sees it: a histogram's buckets made cumulative."""
    labels, value, counts, bounds, created = raw
    if counts is None:
        return SeriesValue(labels, value, (), created)
    running, buckets = 0, []
    for bound, count in zip(bounds, counts, strict=True):
        running += count
        buckets.append((bound, float(running)))
    return SeriesValue(labels, value, tuple(buckets), created)
