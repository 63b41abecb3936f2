"""Configuration: a TOML file and ``GATEWAYMETRICS_*`` environment variables (the
environment wins), checked at start-up, and the one way to build a pipeline from it.

    # gatewaymetrics.toml (named by GATEWAYMETRICS_CONFIG)
    backends = ["prometheus", "statsd"]
    prefix = "llm_"
    series_cap = 10000
    duration_buckets = [0.1, 0.5, 1, 5, 30]   # seconds; default: 0.01 doubling to 327.68

    [labels]
    opt_in = ["end_user"]
    custom = { app = "requester_metadata.app" }

    [labels.exclude]
    requests = ["error_type"]

    [prometheus]
    host = "127.0.0.1"
    port = 9464            # 0: no own server (mount the app on the gateway instead)
    multiprocess_dir = "/run/gatewaymetrics"   # or PROMETHEUS_MULTIPROC_DIR

    [statsd]
    host = "127.0.0.1"
    port = 8125
    protocol = "udp"       # or "tcp"
    dialect = "dogstatsd"  # graphite, influx, plain

Every key has an environment variable: ``GATEWAYMETRICS_`` + the dotted key in upper
case with ``_`` for the dots (``GATEWAYMETRICS_STATSD_PORT=8126``); lists are comma
separated; ``GATEWAYMETRICS_LABELS_CUSTOM`` is ``app=requester_metadata.app,...``.
Unknown keys, wrong types and bad values raise :class:`GatewayMetricsError` naming the
key, the value and what is allowed.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gatewaymetrics.core.settings import LabelSettings, Settings
from gatewaymetrics.errors import GatewayMetricsError
from gatewaymetrics.pipeline import Pipeline
from gatewaymetrics.protocols import Backend

__all__ = ["BACKENDS", "Config", "build_pipeline", "load_config"]

log = logging.getLogger("gatewaymetrics")

ENV_PREFIX = "GATEWAYMETRICS_"
CONFIG_ENV = "GATEWAYMETRICS_CONFIG"
BACKENDS = ("memory", "prometheus", "statsd")


def _text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise GatewayMetricsError(key, value, "a string")
    return value


def _integer(low: int, high: int) -> Callable[[str, object], int]:
    def parse(key: str, value: object) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if type(value) is not int or not low <= value <= high:
            raise GatewayMetricsError(key, value, f"an integer from {low} to {high}")
        return value

    return parse


def _seconds(key: str, value: object) -> float:
    try:
        number = (
            float(value)
            if isinstance(value, str | int | float) and not isinstance(value, bool)
            else None
        )
    except ValueError:
        number = None
    if number is None or not 0 < number <= 3600:
        raise GatewayMetricsError(key, value, "seconds: a number more than 0, at most 3600")
    return number


def _names(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GatewayMetricsError(
            key, value, "a list of strings (comma separated in the environment)"
        )
    return tuple(value)


def _buckets(key: str, value: object) -> tuple[float, ...]:
    if isinstance(value, str):
        try:
            value = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise GatewayMetricsError(key, value, "numbers, comma separated") from None
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise GatewayMetricsError(key, value, "a list of numbers (seconds)")
    return tuple(float(v) for v in value)


def _choice(*allowed: str) -> Callable[[str, object], str]:
    def parse(key: str, value: object) -> str:
        if value not in allowed:
            raise GatewayMetricsError(key, value, allowed)
        return str(value)

    return parse


def _backends(key: str, value: object) -> tuple[str, ...]:
    names = _names(key, value)
    for name in names:
        if name not in BACKENDS:
            raise GatewayMetricsError(key, name, BACKENDS)
    if not names or len(set(names)) != len(names):
        raise GatewayMetricsError(
            key, value, "one or more of " + ", ".join(BACKENDS) + ", each once"
        )
    return names


def _custom(key: str, value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        pairs = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, path = item.partition("=")
            if not sep:
                raise GatewayMetricsError(key, item, "label=dotted.path pairs, comma separated")
            pairs.append((name.strip(), path.strip()))
        return tuple(pairs)
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise GatewayMetricsError(key, value, "a table of label = dotted path strings")
    return tuple((str(k), str(v)) for k, v in value.items())


def _per_metric(key: str, value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{requests = ["end_user"]}`` in TOML; ``requests:end_user+stream,tokens:user``
    in the environment."""
    if isinstance(value, str):
        table: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            metric, sep, labels = item.partition(":")
            if not sep:
                raise GatewayMetricsError(key, item, "metric:label+label pairs, comma separated")
            table[metric.strip()] = [label.strip() for label in labels.split("+") if label.strip()]
        value = table
    if not isinstance(value, Mapping):
        raise GatewayMetricsError(key, value, "a table of metric key = list of label names")
    return tuple(
        (str(metric), _names(f"{key}.{metric}", labels)) for metric, labels in value.items()
    )


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise GatewayMetricsError(key, value, "true or false")


# dotted key -> parser; the one table that says what can be configured.
_SCHEMA: Mapping[str, Callable[[str, object], Any]] = {
    "backends": _backends,
    "prefix": _text,
    "naming": _text,
    "series_cap": _integer(1, 10_000_000),
    "duration_buckets": _buckets,
    "labels.identity": _names,
    "labels.opt_in": _names,
    "labels.custom": _custom,
    "labels.include": _per_metric,
    "labels.exclude": _per_metric,
    "labels.api_key": _choice("fingerprint", "alias", "drop"),
    "labels.max_value_length": _integer(1, 4096),
    "prometheus.host": _text,
    "prometheus.port": _integer(0, 65535),
    "prometheus.multiprocess": _flag,
    "prometheus.multiprocess_dir": _text,
    "statsd.host": _text,
    "statsd.port": _integer(1, 65535),
    "statsd.protocol": _choice("udp", "tcp"),
    "statsd.dialect": _choice("dogstatsd", "graphite", "influx", "plain"),
    "statsd.prefix": _text,
    "statsd.max_packet_size": _integer(64, 65507),
    "statsd.timeout": _seconds,
    "statsd.retry_after": _seconds,
}


@attrs.frozen(kw_only=True)
class PrometheusConfig:
    host: str = "127.0.0.1"
    port: int = 9464
    multiprocess: bool | None = None
    multiprocess_dir: str | None = None


@attrs.frozen(kw_only=True)
class StatsdConfig:
    host: str = "127.0.0.1"
    port: int = 8125
    protocol: str = "udp"
    dialect: str = "dogstatsd"
    prefix: str = "llm"
    max_packet_size: int = 8192
    timeout: float = 0.25
    retry_after: float = 1.0


@attrs.frozen(kw_only=True)
class Config:
    """Everything a gateway process needs: the pipeline settings and the backends."""

    settings: Settings = attrs.field(factory=Settings)
    backends: tuple[str, ...] = ("prometheus",)
    prometheus: PrometheusConfig = attrs.field(factory=PrometheusConfig)
    statsd: StatsdConfig = attrs.field(factory=StatsdConfig)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in _SCHEMA:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    by_env = {ENV_PREFIX + key.upper().replace(".", "_"): key for key in _SCHEMA}
    values = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        if name not in by_env:
            raise GatewayMetricsError(name, value, sorted(by_env))
        values[by_env[name]] = value
    return values


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration from a TOML file (``path``, else ``GATEWAYMETRICS_CONFIG``,
    else none) and the environment (which wins). Defaults need nothing at all."""
    environ = os.environ if environ is None else environ
    path = path if path is not None else environ.get(CONFIG_ENV) or None
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                raw = _flatten(tomllib.load(handle))
        except OSError as exc:
            raise GatewayMetricsError(
                CONFIG_ENV, str(path), f"a readable TOML file ({exc.strerror})"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise GatewayMetricsError(CONFIG_ENV, str(path), f"valid TOML ({exc})") from None
        for key in raw:
            if key not in _SCHEMA:
                raise GatewayMetricsError(key, raw[key], sorted(_SCHEMA))
    raw.update(_from_env(environ))
    values = {key: _SCHEMA[key](key, value) for key, value in raw.items()}

    def section(name: str) -> dict[str, Any]:
        return {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(f"{name}.")}

    labels = LabelSettings(**section("labels"))
    top = {
        k: v
        for k, v in values.items()
        if k in ("prefix", "naming", "series_cap", "duration_buckets")
    }
    return Config(
        settings=Settings(labels=labels, **top),
        backends=values.get("backends", ("prometheus",)),
        prometheus=PrometheusConfig(**section("prometheus")),
        statsd=StatsdConfig(**section("statsd")),
    )


def _missing_extra(backend: str, exc: ImportError) -> GatewayMetricsError:
    return GatewayMetricsError(
        "backends", backend, f"install its extra: pip install 'gatewaymetrics[{backend}]' ({exc})"
    )


def build_pipeline(
    config: Config | None = None, *, extra_backends: Sequence[Backend] = ()
) -> Pipeline:
    """The pipeline a configuration describes, its backends made and, for Prometheus
    with a port, its own ``/metrics`` server started. The one way every entry point
    (the LiteLLM adapter, the command line, an embedding gateway) builds a pipeline."""
    config = config if config is not None else load_config()
    backends: list[Backend] = []
    served = None
    for name in config.backends:
        if name == "memory":
            from gatewaymetrics.backends.memory import MemoryBackend

            backends.append(MemoryBackend())
        elif name == "prometheus":
            directory = config.prometheus.multiprocess_dir
            if directory is not None:
                # prometheus_client reads it once, on import: effective only before that.
                os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", directory)
            try:
                from prometheus_client import CollectorRegistry

                from gatewaymetrics.backends.prometheus import PrometheusBackend
            except ImportError as exc:
                raise _missing_extra("prometheus", exc) from None
            served = PrometheusBackend(
                registry=CollectorRegistry(), multiprocess=config.prometheus.multiprocess
            )
            backends.append(served)
        else:
            try:
                from gatewaymetrics.backends.statsd import StatsdBackend
            except ImportError as exc:
                raise _missing_extra("statsd", exc) from None
            s = config.statsd
            backends.append(
                StatsdBackend.connect(
                    s.host, s.port, s.protocol,  # type: ignore[arg-type]  # checked by the schema
                    timeout=s.timeout, retry_after=s.retry_after,
                    dialect=s.dialect,  # type: ignore[arg-type]  # checked by the schema
                    prefix=s.prefix, max_packet_size=s.max_packet_size,
                )
            )  # fmt: skip
    pipeline = Pipeline([*backends, *extra_backends], config.settings)
    if served is not None and config.prometheus.port:
        try:
            served.serve(host=config.prometheus.host, port=config.prometheus.port)
        except OSError as exc:
            if served.multiprocess_dir is None:
                pipeline.close()
                raise GatewayMetricsError(
                    "prometheus.port", config.prometheus.port, f"a free port ({exc.strerror})"
                ) from None
            # Several workers share one multiprocess directory: the first one serves it.
            log.info("gatewaymetrics: /metrics already served on port %s", config.prometheus.port)
    return pipeline
