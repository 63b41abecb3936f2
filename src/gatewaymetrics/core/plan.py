"""The label plan: each catalog metric bound to its final label names, and the fast
path from a record to the label values of every metric.

Built once per pipeline from :class:`~gatewaymetrics.core.settings.Settings`; at event
time it renders each call label once and picks every metric's values by position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter

import attrs

from gatewaymetrics.core.catalog import NAMINGS, Catalog, MetricKind, MetricSpec, build_catalog
from gatewaymetrics.core.labels import CALL_LABELS, extra_label, render_value
from gatewaymetrics.core.naming import LABEL_PARTS, TRANSFORMS, Export, Naming
from gatewaymetrics.core.records import CallRecord
from gatewaymetrics.core.samples import Metric
from gatewaymetrics.core.settings import Settings
from gatewaymetrics.errors import GatewayMetricsError

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
    #: Per exported label, how its picked value is exported (None: as it is).
    maps: tuple[Callable[[str], str] | None, ...] | None = None

    def labels(self, labels: tuple[str, ...]) -> tuple[str, ...] | None:
        """The exported label values of an update labelled ``labels``; None if the
        update does not reach this family."""
        for position, value in self.when:
            if labels[position] != value:
                return None
        picked = self.pick(labels)
        maps = self.maps
        if maps is None:
            return picked
        return tuple(v if m is None else m(v) for v, m in zip(picked, maps, strict=True))


def _value_map(pairs: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    known = dict(pairs)
    return lambda value: known.get(value, value)


def _export_metric(spec: MetricSpec, export: Export, label_names: tuple[str, ...]) -> Route:
    """``export`` of the catalog metric ``spec`` labelled ``label_names``: its labels
    whose source the metric carries, in the export's order, then the others it
    carries (``Export.others``)."""
    carried = [(name, source) for name, source in export.labels if source in label_names]
    used = {source for _, source in export.labels} | {label for label, _ in export.when}
    others = dict(export.others)
    carried += [(others[n], n) for n in label_names if n in others and n not in used]
    value_maps = dict(export.values)
    parts = dict(export.parts)
    maps: list[Callable[[str], str] | None] = []
    for name, _ in carried:
        if name in parts:
            maps.append(LABEL_PARTS[parts[name]])
        elif name in value_maps:
            maps.append(_value_map(value_maps[name]))
        else:
            maps.append(None)
    exported = MetricSpec(
        key=spec.key,
        name=export.name,
        kind=MetricKind(export.kind) if export.kind else spec.kind,
        help=export.help,
        unit=export.unit,
        labels=tuple(name for name, _ in carried),
        buckets=export.buckets or spec.buckets,
        fed_by=spec.fed_by,
        base=export.name,
        self_metric=spec.self_metric,
    )
    return Route(
        metric=Metric(spec=exported, label_names=exported.labels),
        pick=_picker(tuple(label_names.index(source) for _, source in carried)),
        when=tuple((label_names.index(label), value) for label, value in export.when),
        transform=TRANSFORMS[export.transform] if export.transform else None,
        maps=tuple(maps) if any(m is not None for m in maps) else None,
    )


def _export_sources(naming: Naming, key: str) -> tuple[str, ...]:
    """The call labels the exports of ``key`` read (withheld ones excepted)."""
    sources = (source for export in naming.exports.get(key, ()) for _, source in export.labels)
    return tuple(dict.fromkeys(s for s in sources if s in CALL_LABELS and s not in naming.withheld))


def _projection(metric: Metric, label_names: tuple[str, ...]) -> Route:
    """``metric`` with only ``label_names`` (a subset of its own, in their order)."""
    positions = tuple(metric.label_names.index(name) for name in label_names)
    return Route(metric=Metric(spec=metric.spec, label_names=label_names),
                 pick=_picker(positions), when=())  # fmt: skip


Routes = Mapping[Metric, tuple[Route, ...]]


@attrs.frozen(eq=False)
class Plan:
    """Metrics bound to settings, and how to compute their label values.

    ``metrics`` are the catalog's, with every label any naming in use reads;
    ``exported`` the families backends of the settings' naming are given (the same
    metrics, unless the naming exports some as other families, or another naming in
    use added labels this one does not show: then ``routes`` says where each update of
    such a metric goes). A backend of another naming (the OpenTelemetry backend's)
    gets :meth:`exported_for` and :meth:`routes_for` that naming."""

    catalog: Catalog
    metrics: Mapping[str, Metric]
    call_label_names: tuple[str, ...]
    max_value_length: int
    _extractors: tuple[Callable[[CallRecord], str | None], ...]
    _pickers: Mapping[str, _Picker]
    exported: tuple[Metric, ...] = ()
    routes: Routes | None = None
    _by_naming: Mapping[str, tuple[tuple[Metric, ...], Routes | None]] = attrs.field(factory=dict)

    @classmethod
    def build(cls, settings: Settings, namings: Iterable[str] = ()) -> Plan:
        """The plan of ``settings``; ``namings``: the other namings backends of this
        pipeline export (each must be in ``catalog.NAMINGS``)."""
        catalog = build_catalog(
            prefix=settings.prefix,
            naming=settings.naming,
            duration_buckets=settings.duration_buckets,
        )
        tables = {settings.naming: catalog.naming}
        for name in namings:
            if name not in tables:
                table = NAMINGS.get(name)
                if table is None:
                    raise GatewayMetricsError("naming", name, NAMINGS)
                tables[name] = table
        label_settings = settings.labels
        custom = tuple(name for name, _ in label_settings.custom)
        exclude = dict(label_settings.exclude)
        base = (*label_settings.call_labels, *custom)
        dropped_key = () if label_settings.api_key != "drop" else ("api_key",)
        # Per naming, the call labels each metric shows: the configured ones, and
        # those the naming's exports read.
        includes: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, table in tables.items():
            include = dict(label_settings.include)
            for spec in catalog:
                needed = tuple(n for n in _export_sources(table, spec.key) if n not in dropped_key)
                if spec.identity and needed:
                    include[spec.key] = (*needed, *include.get(spec.key, ()))
            includes[name] = include
        merged: dict[str, tuple[str, ...]] = {}
        for include in includes.values():
            for key, names in include.items():
                merged[key] = tuple(dict.fromkeys((*merged.get(key, ()), *names)))
        union = tuple(dict.fromkeys(base + tuple(n for names in merged.values() for n in names)))

        extractors = []
        for name in union:
            if name in custom:
                extractors.append(extra_label(name))
            elif name == "api_key" and label_settings.api_key == "alias":
                extractors.append(_api_key_alias_or_fingerprint)
            else:
                extractors.append(CALL_LABELS[name])

        def label_names(
            spec: MetricSpec, include: Mapping[str, tuple[str, ...]]
        ) -> tuple[str, ...]:
            dropped = set(exclude.get(spec.key, ()))
            call_part = (
                tuple(dict.fromkeys(base + include.get(spec.key, ()))) if spec.identity else ()
            )
            own_part = tuple(n for n in spec.labels if n not in dropped)
            return tuple(n for n in call_part if n not in dropped) + own_part

        metrics: dict[str, Metric] = {}
        pickers: dict[str, _Picker] = {}
        for spec in catalog:
            names = label_names(spec, merged)
            # Own values follow the call values for identity metrics, stand alone otherwise.
            offset = len(union) if spec.identity else 0
            positions = tuple(
                union.index(n) if n not in spec.labels else offset + spec.labels.index(n)
                for n in names
            )
            metrics[spec.key] = Metric(spec=spec, label_names=names)
            pickers[spec.key] = _picker(positions)

        by_naming: dict[str, tuple[tuple[Metric, ...], Routes | None]] = {}
        for name, table in tables.items():
            exported: list[Metric] = []
            routes: dict[Metric, tuple[Route, ...]] = {}
            for key, metric in metrics.items():
                exports = table.exports.get(key)
                if exports is not None:
                    routes[metric] = tuple(
                        _export_metric(metric.spec, export, metric.label_names)
                        for export in exports
                    )
                else:
                    shown = label_names(metric.spec, includes[name])
                    if shown == metric.label_names:
                        exported.append(metric)
                        continue
                    routes[metric] = (_projection(metric, shown),)
                exported += [route.metric for route in routes[metric]]
            by_naming[name] = (tuple(exported), routes or None)
        exported_here, routes_here = by_naming[settings.naming]
        return cls(
            catalog=catalog,
            metrics=metrics,
            call_label_names=union,
            max_value_length=label_settings.max_value_length,
            extractors=tuple(extractors),
            pickers=pickers,
            exported=exported_here,
            routes=routes_here,
            by_naming=by_naming,
        )

    def exported_for(self, naming: str) -> tuple[Metric, ...]:
        """The families a backend of ``naming`` is given (a naming the plan was built
        with)."""
        return self._by_naming[naming][0] if naming in self._by_naming else self.exported

    def routes_for(self, naming: str) -> Routes | None:
        """Where updates go for a backend of ``naming`` (None: nowhere else)."""
        return self._by_naming[naming][1] if naming in self._by_naming else self.routes

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
