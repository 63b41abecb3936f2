"""Settings: frozen, validated when built, so nothing can fail later at event time.

Every check raises :class:`~gatewaymetrics.errors.GatewayMetricsError` naming the key,
the value and what is allowed. Loading them from a file or the environment is the
job of the configuration layer; these types are plain data.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Literal, cast

import attrs

from gatewaymetrics.core.catalog import build_catalog
from gatewaymetrics.core.labels import (
    CALL_LABELS,
    DEFAULT_IDENTITY_LABELS,
    DEFAULT_MAX_VALUE_LENGTH,
    is_valid_label_name,
)
from gatewaymetrics.errors import GatewayMetricsError

__all__ = ["ApiKeyLabel", "LabelSettings", "Settings"]

ApiKeyLabel = Literal["fingerprint", "alias", "drop"]
_API_KEY_MODES: tuple[str, ...] = ("fingerprint", "alias", "drop")
_PATH = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
# A custom label may never read from a place that holds credentials.
_SECRET_WORDS = (
    "authorization", "api_key", "api-key", "apikey", "token", "secret", "password",
    "passwd", "cookie", "credential", "headers",
)  # fmt: skip


def _pairs(
    value: Mapping[str, object] | Iterable[tuple[str, object]],
) -> tuple[tuple[str, object], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), v) for k, v in items)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _per_metric(
    value: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((k, _names(cast("Iterable[str]", v))) for k, v in _pairs(value))


def _custom(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    return tuple((k, cast("str", v)) for k, v in _pairs(value))


@attrs.frozen(kw_only=True)
class LabelSettings:
    """Which labels call metrics carry, and how values are rendered.

    - ``identity``: call labels every call metric carries (default: provider,
      requested_model, model, operation, team, team_alias, api_key, api_key_alias, user).
    - ``opt_in``: more call labels for every call metric (``labels.OPT_IN_LABELS``:
      end_user, user_email, deployment_id, api_base, stream, status_code, ...).
    - ``custom``: label name -> dotted path in the request metadata, e.g.
      ``{"app": "requester_metadata.app"}``. Paths that could hold credentials are refused.
    - ``include`` / ``exclude``: metric key -> labels added to / removed from that metric.
    - ``api_key``: ``fingerprint`` (sha256), ``alias`` (the key alias, the fingerprint
      when a key has none) or ``drop`` (no api_key label).
    - ``max_value_length``: longer values are cut.
    """

    identity: tuple[str, ...] = attrs.field(default=DEFAULT_IDENTITY_LABELS, converter=_names)
    opt_in: tuple[str, ...] = attrs.field(default=(), converter=_names)
    custom: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_custom)
    include: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(
        default=(), converter=_per_metric
    )
    exclude: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(
        default=(), converter=_per_metric
    )
    api_key: ApiKeyLabel = "fingerprint"
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH

    def __attrs_post_init__(self) -> None:
        known = tuple(CALL_LABELS)
        for field in ("identity", "opt_in"):
            names: tuple[str, ...] = getattr(self, field)
            for name in names:
                if name not in CALL_LABELS:
                    raise GatewayMetricsError(f"labels.{field}", name, known)
            if len(set(names)) != len(names):
                raise GatewayMetricsError(f"labels.{field}", names, "each label once")
        for name, path in self.custom:
            if not is_valid_label_name(name) or name in CALL_LABELS:
                raise GatewayMetricsError(
                    "labels.custom",
                    name,
                    "a label name matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with __, "
                    f"and not one of the built-in labels ({', '.join(known)})",
                )
            if not isinstance(path, str) or _PATH.fullmatch(path) is None:
                raise GatewayMetricsError(
                    f"labels.custom.{name}", path, "a dotted path such as requester_metadata.app"
                )
            lowered = path.lower()
            if any(word in lowered for word in _SECRET_WORDS):
                raise GatewayMetricsError(
                    f"labels.custom.{name}",
                    path,
                    "a path that cannot hold credentials (no segment mentioning "
                    + ", ".join(_SECRET_WORDS)
                    + ")",
                )
        if self.api_key not in _API_KEY_MODES:
            raise GatewayMetricsError("labels.api_key", self.api_key, _API_KEY_MODES)
        if type(self.max_value_length) is not int or not 1 <= self.max_value_length <= 4096:
            raise GatewayMetricsError(
                "labels.max_value_length", self.max_value_length, "an int from 1 to 4096"
            )

    @property
    def call_labels(self) -> tuple[str, ...]:
        """Identity and opt-in labels, in order, each once, without a dropped api_key."""
        names = dict.fromkeys(self.identity + self.opt_in)
        if self.api_key == "drop":
            names.pop("api_key", None)
        return tuple(names)


def _floats(value: Iterable[float] | None) -> tuple[float, ...] | None:
    # Ints are fine bounds (TOML writes 1 for 1.0); anything else is left for the check.
    if value is None:
        return None
    return tuple(float(b) if isinstance(b, int) and not isinstance(b, bool) else b for b in value)


def _check_buckets(
    _: object, __: attrs.Attribute[tuple[float, ...] | None], value: tuple[float, ...] | None
) -> None:
    if value is None:
        return  # the naming's own
    allowed = "a non-empty, strictly increasing list of finite positive numbers"
    if not value or any(
        isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0
        for b in value
    ):
        raise GatewayMetricsError("duration_buckets", value, allowed)
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise GatewayMetricsError("duration_buckets", value, allowed)


@attrs.frozen(kw_only=True)
class Settings:
    """Everything a pipeline needs to know; the defaults work with no configuration."""

    prefix: str = "llm_"
    naming: str = "native"
    labels: LabelSettings = attrs.field(factory=LabelSettings)
    series_cap: int = 10_000
    #: Histogram bounds of the call durations; None: the naming's own (native: 0.01
    #: doubling to 327.68 s; litellm: LiteLLM's 0.005 to 600 s).
    duration_buckets: tuple[float, ...] | None = attrs.field(
        default=None,
        converter=_floats,
        validator=_check_buckets,
    )

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.labels, LabelSettings):
            raise GatewayMetricsError("labels", self.labels, "a LabelSettings")
        if type(self.series_cap) is not int or self.series_cap < 1:
            raise GatewayMetricsError("series_cap", self.series_cap, "an int >= 1")
        if not isinstance(self.prefix, str) or not isinstance(self.naming, str):
            raise GatewayMetricsError("prefix", self.prefix, "a string")
        catalog = build_catalog(
            prefix=self.prefix, naming=self.naming, duration_buckets=self.duration_buckets
        )
        custom_names = tuple(name for name, _ in self.labels.custom)
        call_label_names = (*CALL_LABELS, *custom_names)
        for field in ("include", "exclude"):
            per_metric: tuple[tuple[str, tuple[str, ...]], ...] = getattr(self.labels, field)
            for key, names in per_metric:
                if key not in catalog:
                    raise GatewayMetricsError(f"labels.{field}", key, catalog.keys())
                spec = catalog[key]
                allowed = (
                    call_label_names
                    if field == "include"
                    else (*self.labels.call_labels, *custom_names, *spec.labels)
                )
                if field == "include" and not spec.identity:
                    raise GatewayMetricsError(
                        f"labels.include.{key}", names, "a metric that carries call labels"
                    )
                for name in names:
                    if name not in allowed:
                        raise GatewayMetricsError(f"labels.{field}.{key}", name, allowed)
