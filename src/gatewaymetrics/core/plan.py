"""The label plan: each catalog metric bound to its final label names, and the fast
path from a record to the label values of every metric.

Built once per pipeline from :class:`~gatewaymetrics.core.settings.Settings`; at event
time it renders each call label once and picks every metric's values by position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter

import attrs

from gatewaymetrics.core.catalog import Catalog, MetricSpec, build_catalog
from gatewaymetrics.core.labels import CALL_LABELS, extra_label, render_value
from gatewaymetrics.core.naming import TRANSFORMS, Export, Naming
from gatewaymetrics.core.records import CallRecord
from gatewaymetrics.core.samples import Metric
from gatewaymetrics.core.settings import Settings

__all__ = ["Plan", "Route"]

_Picker = Callable[[tuple[str, ...]], tuple[str, ...]]


def _picker(positions: tuple[int, ...]) -> _Picker:
    if not positions:
        return lambda _: ()
    if len(positions) == 1:
        (only,) = positions
        return lambda values: (values[only],)
    getter = itemgetter(*positions)
    return getter


def _api_key_alias_or_fingerprint(call: CallRecord) -> str | None:
    return call.principal.api_key_alias or call.principal.api_key


@attrs.frozen(eq=False)
class Route:
    """Where an update of a catalog metric goes under a naming with exports: the
    exported ``metric``, its label values picked from the catalog metric's (``pick``),
    for updates whose label values match ``when`` ((position, value) pairs), and the
    export's value ``transform`` (``(value, wall clock now) -> value``; None: the value
    as it is), which the fan-out applies when it writes (never to a removal)."""

    metric: Metric
    pick: _Picker
    when: tuple[tuple[int, str], ...]
    transform: Callable[[float, float], float] | None = None

    def labels(self, labels: tuple[str, ...]) -> tuple[str, ...] | None:
        """The exported label values of an update labelled ``labels``; None if the
        update does not reach this family."""
        for position, value in self.when:
            if labels[position] != value:
                return None
        return self.pick(labels)


def _export_metric(spec: MetricSpec, export: Export, label_names: tuple[str, ...]) -> Route:
    """``export`` of the catalog metric ``spec`` labelled ``label_names``: its labels
    whose source the metric carries, in the export's order."""
    carried = [(name, source) for name, source in export.labels if source in label_names]
    exported = MetricSpec(
        key=spec.key,
        name=export.name,
        kind=spec.kind,
        help=export.help,
        labels=tuple(name for name, _ in carried),
        buckets=spec.buckets,
        fed_by=spec.fed_by,
        base=export.name,
        self_metric=spec.self_metric,
    )
    return Route(
        metric=Metric(spec=exported, label_names=exported.labels),
        pick=_picker(tuple(label_names.index(source) for _, source in carried)),
        when=tuple((label_names.index(label), value) for label, value in export.when),
        transform=TRANSFORMS[export.transform] if export.transform else None,
    )


def _export_sources(naming: Naming, key: str) -> tuple[str, ...]:
    """The call labels the exports of ``key`` read (withheld ones excepted)."""
    sources = (source for export in naming.exports.get(key, ()) for _, source in export.labels)
    return tuple(dict.fromkeys(s for s in sources if s in CALL_LABELS and s not in naming.withheld))


@attrs.frozen(eq=False)
class Plan:
    """Metrics bound to settings, and how to compute their label values.

    ``metrics`` are the catalog's; ``exported`` the families backends are given (the
    same metrics, unless the naming exports some as other families: then ``routes``
    says where each update of such a metric goes)."""

    catalog: Catalog
    metrics: Mapping[str, Metric]
    call_label_names: tuple[str, ...]
    max_value_length: int
    _extractors: tuple[Callable[[CallRecord], str | None], ...]
    _pickers: Mapping[str, _Picker]
    exported: tuple[Metric, ...] = ()
    routes: Mapping[Metric, tuple[Route, ...]] | None = None

    @classmethod
    def build(cls, settings: Settings) -> Plan:
        catalog = build_catalog(
            prefix=settings.prefix,
            naming=settings.naming,
            duration_buckets=settings.duration_buckets,
        )
        label_settings = settings.labels
        custom = tuple(name for name, _ in label_settings.custom)
        include = dict(label_settings.include)
        exclude = dict(label_settings.exclude)
        base = (*label_settings.call_labels, *custom)
        naming = catalog.naming
        dropped_key = () if label_settings.api_key != "drop" else ("api_key",)
        for spec in catalog:
            needed = tuple(n for n in _export_sources(naming, spec.key) if n not in dropped_key)
            if spec.identity and needed:
                include[spec.key] = (*needed, *include.get(spec.key, ()))
        union = tuple(dict.fromkeys(base + tuple(n for names in include.values() for n in names)))

        extractors = []
        for name in union:
            if name in custom:
                extractors.append(extra_label(name))
            elif name == "api_key" and label_settings.api_key == "alias":
                extractors.append(_api_key_alias_or_fingerprint)
            else:
                extractors.append(CALL_LABELS[name])

        metrics: dict[str, Metric] = {}
        pickers: dict[str, _Picker] = {}
        for spec in catalog:
            dropped = set(exclude.get(spec.key, ()))
            call_part = (
                tuple(dict.fromkeys(base + include.get(spec.key, ()))) if spec.identity else ()
            )
            call_part = tuple(n for n in call_part if n not in dropped)
            own_part = tuple(n for n in spec.labels if n not in dropped)
            # Own values follow the call values for identity metrics, stand alone otherwise.
            offset = len(union) if spec.identity else 0
            positions = tuple(union.index(n) for n in call_part) + tuple(
                offset + spec.labels.index(n) for n in own_part
            )
            metrics[spec.key] = Metric(spec=spec, label_names=call_part + own_part)
            pickers[spec.key] = _picker(positions)
        exported: list[Metric] = []
        routes: dict[Metric, tuple[Route, ...]] = {}
        for key, metric in metrics.items():
            exports = naming.exports.get(key)
            if exports is None:
                exported.append(metric)
                continue
            routes[metric] = tuple(
                _export_metric(metric.spec, export, metric.label_names) for export in exports
            )
            exported += [route.metric for route in routes[metric]]
        return cls(
            catalog=catalog,
            metrics=metrics,
            call_label_names=union,
            max_value_length=label_settings.max_value_length,
            extractors=tuple(extractors),
            pickers=pickers,
            exported=tuple(exported),
            routes=routes or None,
        )

    def call_values(self, call: CallRecord) -> tuple[str, ...]:
        """Every call label of this plan rendered once, in ``call_label_names`` order."""
        cap = self.max_value_length
        return tuple(render_value(read(call), cap) for read in self._extractors)

    def render(self, values: tuple[str | None, ...]) -> tuple[str, ...]:
        """Label values from untrusted text, rendered by the label rules."""
        cap = self.max_value_length
        return tuple([render_value(value, cap) for value in values])

    def labels(
        self, key: str, call_values: tuple[str, ...], own: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        """The label values of metric ``key``: its call labels, then its own labels
        (``own``: already rendered, aligned with the catalog's ``labels`` of the metric).
        Pass ``call_values`` for metrics with ``identity`` and ``()`` for the others."""
        return self._pickers[key](call_values + own if own else call_values)
