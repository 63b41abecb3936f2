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
    bearer_token = "..."   # own server only; or basic_auth_user + basic_auth_password
    tls_cert_file = "/etc/gatewaymetrics/cert.pem"   # with tls_key_file: HTTPS
    tls_key_file = "/etc/gatewaymetrics/key.pem"

    [statsd]
    host = "127.0.0.1"
    port = 8125
    protocol = "udp"       # or "tcp"
    dialect = "dogstatsd"  # graphite, influx, plain

Every key has an environment variable: ``GATEWAYMETRICS_`` + the dotted key in upper
case with ``_`` for the dots (``GATEWAYMETRICS_STATSD_PORT=8126``); lists are comma
separated; ``GATEWAYMETRICS_LABELS_CUSTOM`` is ``app=requester_metadata.app,...``.
Wrong types and bad values raise :class:`GatewayMetricsError` naming the key (and the
variable, when one was given), the value and what is allowed (never the value of a
credential); unknown keys and variables raise :class:`UnknownKeyError` naming the
closest known one. Other ``GATEWAYMETRICS_*`` variables the project reads are in :data:`OTHER_ENV`.

:func:`validate` is every check :func:`build_pipeline` makes, made without building:
the backends' extras installed, the multiprocess directory, the ``/metrics`` server's
host, port and TLS files. ``gatewaymetrics check-config`` runs it; ``build_pipeline``
runs it first, so the two cannot disagree.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gatewaymetrics import config_values as read
from gatewaymetrics import startup_checks as checks
from gatewaymetrics.backends import server_options, statsd_options
from gatewaymetrics.backends.metrics_server import serving
from gatewaymetrics.backends.statsd_lines import Dialect
from gatewaymetrics.core.settings import LabelSettings, Settings
from gatewaymetrics.errors import GatewayMetricsError, UnknownKeyError
from gatewaymetrics.pipeline import Pipeline
from gatewaymetrics.protocols import Backend

if TYPE_CHECKING:
    from gatewaymetrics.backends.prometheus import PrometheusBackend

__all__ = [
    "BACKENDS",
    "OTHER_ENV",
    "Config",
    "PrometheusConfig",
    "StatsdConfig",
    "build_pipeline",
    "load_config",
    "parse_option",
    "serve_metrics",
    "validate",
]

log = logging.getLogger("gatewaymetrics")

ENV_PREFIX = "GATEWAYMETRICS_"
CONFIG_ENV = "GATEWAYMETRICS_CONFIG"
#: The project's ``GATEWAYMETRICS_*`` variables that are not configuration keys:
#: :func:`load_config` accepts them and leaves them to their readers.
OTHER_ENV = (
    CONFIG_ENV,  # names the TOML file
    "GATEWAYMETRICS_PURE_BUILD",  # read by hatch_build.py when a wheel is built
    "GATEWAYMETRICS_PURE",  # retired (the old switch off the compiled copies); ignored
)
BACKENDS = ("memory", "otel", "prometheus", "statsd")
MULTIPROC_ENV = checks.MULTIPROC_ENV


def _backends(key: str, value: object) -> tuple[str, ...]:
    names = read.names(key, value)
    for name in names:
        if name not in BACKENDS:
            raise GatewayMetricsError(key, name, BACKENDS)
    if not names or len(set(names)) != len(names):
        raise GatewayMetricsError(
            key, value, "one or more of " + ", ".join(BACKENDS) + ", each once"
        )
    return names


# dotted key -> parser; the one table that says what can be configured.
_SCHEMA: Mapping[str, read.Reader] = {
    "backends": _backends,
    "prefix": read.text,
    "naming": read.text,
    "series_cap": read.integer(1, 10_000_000),
    "duration_buckets": read.buckets,
    "labels.identity": read.names,
    "labels.opt_in": read.names,
    "labels.custom": read.custom,
    "labels.include": read.per_metric,
    "labels.exclude": read.per_metric,
    "labels.api_key": read.choice("fingerprint", "alias", "drop"),
    "labels.max_value_length": read.integer(1, 4096),
    "prometheus.host": read.text,
    "prometheus.port": read.integer(0, 65535),
    "prometheus.multiprocess": read.flag,
    "prometheus.multiprocess_dir": read.text,
    "prometheus.bearer_token": read.rule(server_options.check_bearer_token),
    "prometheus.basic_auth_user": read.rule(server_options.check_basic_auth_user),
    "prometheus.basic_auth_password": read.rule(server_options.check_basic_auth_password),
    "prometheus.tls_cert_file": read.path,
    "prometheus.tls_key_file": read.path,
    "statsd.host": read.text,
    "statsd.port": read.integer(1, 65535),
    "statsd.protocol": read.rule(statsd_options.check_protocol),
    "statsd.dialect": read.rule(statsd_options.check_dialect),
    "statsd.prefix": read.rule(statsd_options.check_prefix),
    "statsd.max_packet_size": read.rule(statsd_options.check_max_packet_size, read.whole),
    "statsd.timeout": read.rule(statsd_options.check_timeout, read.number),
    "statsd.retry_after": read.rule(statsd_options.check_retry_after, read.number),
}


def parse_option(key: str, value: object, *, name: str | None = None) -> Any:
    """``value`` for the dotted configuration ``key``, checked and parsed as the file
    and the environment are; an error names ``name`` (a command-line flag, say) or the
    key. For entry points that take a setting from elsewhere."""
    return _SCHEMA[key](key if name is None else name, value)


def _checked(key: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """A field validator: the schema's rule for ``key``, for configurations built
    directly rather than loaded; the value must already be parsed (None: unset)."""

    def check(_: object, __: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        parsed = _SCHEMA[key](key, value)
        if parsed != value:
            raise GatewayMetricsError(key, value, f"a {type(parsed).__name__}")

    return check


def _shown(value: object) -> str:
    return "None" if value is None else "<set>"


@attrs.frozen(kw_only=True)
class PrometheusConfig:
    """The Prometheus backend and its own ``/metrics`` server. Credentials are never
    shown by ``repr``; a user comes with a password, a certificate with its key."""

    host: str = attrs.field(default="127.0.0.1", validator=_checked("prometheus.host"))
    port: int = attrs.field(default=9464, validator=_checked("prometheus.port"))
    multiprocess: bool | None = attrs.field(
        default=None, validator=_checked("prometheus.multiprocess")
    )
    multiprocess_dir: str | None = attrs.field(
        default=None, validator=_checked("prometheus.multiprocess_dir")
    )
    bearer_token: str | None = attrs.field(
        default=None, repr=_shown, validator=_checked("prometheus.bearer_token")
    )
    basic_auth_user: str | None = attrs.field(
        default=None, validator=_checked("prometheus.basic_auth_user")
    )
    basic_auth_password: str | None = attrs.field(
        default=None, repr=_shown, validator=_checked("prometheus.basic_auth_password")
    )
    tls_cert_file: str | None = attrs.field(
        default=None, validator=_checked("prometheus.tls_cert_file")
    )
    tls_key_file: str | None = attrs.field(
        default=None, validator=_checked("prometheus.tls_key_file")
    )

    def __attrs_post_init__(self) -> None:
        for (one, one_value), (other, other_value) in (
            (("basic_auth_user", self.basic_auth_user),
             ("basic_auth_password", self.basic_auth_password)),
            (("tls_cert_file", self.tls_cert_file), ("tls_key_file", self.tls_key_file)),
        ):  # fmt: skip
            if (one_value is None) != (other_value is None):
                given, missing = (one, other) if other_value is None else (other, one)
                raise GatewayMetricsError(
                    f"prometheus.{given}", getattr(self, given),
                    f"set together with prometheus.{missing}",
                    secret=given == "basic_auth_password",
                )  # fmt: skip

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)``, or None."""
        if self.basic_auth_user is None or self.basic_auth_password is None:
            return None
        return (self.basic_auth_user, self.basic_auth_password)

    def server_options(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`PrometheusBackend.serve` beyond host and port
        that this configuration sets (credentials and TLS)."""
        options = {
            "bearer_token": self.bearer_token,
            "basic_auth": self.basic_auth,
            "tls_certfile": self.tls_cert_file,
            "tls_keyfile": self.tls_key_file,
        }
        return {name: value for name, value in options.items() if value is not None}


@attrs.frozen(kw_only=True)
class StatsdConfig:
    """The StatsD backend: each option held to the backend's own rule."""

    host: str = attrs.field(default="127.0.0.1", validator=_checked("statsd.host"))
    port: int = attrs.field(default=8125, validator=_checked("statsd.port"))
    protocol: statsd_options.Protocol_ = attrs.field(
        default="udp", validator=_checked("statsd.protocol")
    )
    dialect: Dialect = attrs.field(default="dogstatsd", validator=_checked("statsd.dialect"))
    prefix: str = attrs.field(default="llm", validator=_checked("statsd.prefix"))
    max_packet_size: int = attrs.field(default=8192, validator=_checked("statsd.max_packet_size"))
    timeout: float = attrs.field(default=0.25, validator=_checked("statsd.timeout"))
    retry_after: float = attrs.field(default=1.0, validator=_checked("statsd.retry_after"))


@attrs.frozen(kw_only=True)
class Config:
    """Everything a gateway process needs: the pipeline settings and the backends."""

    settings: Settings = attrs.field(factory=Settings)
    backends: tuple[str, ...] = attrs.field(default=("prometheus",), validator=_checked("backends"))
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


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.upper().replace(".", "_")


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    by_env = {_env_name(key): key for key in _SCHEMA}
    values = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in OTHER_ENV:
            continue
        if name not in by_env:
            # Unknown, so possibly a misspelt credential: never shown.
            raise UnknownKeyError(name, [*by_env, *OTHER_ENV], noun="variable")
        values[by_env[name]] = value
    return values


def _read(key: str, value: object, *, from_env: bool) -> Any:
    """``value`` parsed by the schema; an error names the variable it came from."""
    try:
        return _SCHEMA[key](key, value)
    except GatewayMetricsError as exc:
        if from_env and exc.key == key:
            raise exc.with_variable(_env_name(key), given=True) from None
        raise


def _read_toml(path: str | Path, source: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return _flatten(tomllib.load(handle))
    except OSError as exc:
        raise GatewayMetricsError(
            source, str(path), f"a readable TOML file ({exc.strerror})"
        ) from None
    except UnicodeDecodeError as exc:
        raise GatewayMetricsError(
            source, str(path), f"a UTF-8 TOML file (byte {exc.start} is not UTF-8)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise GatewayMetricsError(source, str(path), f"valid TOML ({exc})") from None


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration from a TOML file (``path``, else ``GATEWAYMETRICS_CONFIG``,
    else none) and the environment (which wins). Defaults need nothing at all."""
    environ = os.environ if environ is None else environ
    source = "config file" if path is not None else CONFIG_ENV
    path = path if path is not None else environ.get(CONFIG_ENV) or None
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(path, source)
        for key in raw:
            if key not in _SCHEMA:
                raise UnknownKeyError(key, _SCHEMA, where=str(path))
    env = _from_env(environ)
    values = {
        key: _read(key, value, from_env=False) for key, value in raw.items() if key not in env
    }
    values.update({key: _read(key, value, from_env=True) for key, value in env.items()})

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


# -- building, and checking that it would build -----------------------------------------


def _missing_extra(backend: str, exc: ImportError) -> GatewayMetricsError:
    # The backend module's own ImportError repeats the install hint: show its cause.
    while isinstance(exc.__cause__, ImportError):
        exc = exc.__cause__
    return GatewayMetricsError(
        "backends", backend, f"install its extra: pip install 'gatewaymetrics[{backend}]' ({exc})"
    )


def _listen_error(exc: GatewayMetricsError) -> GatewayMetricsError:
    """A ``/metrics`` server's listen error, naming the key's variable too: the port a
    command was not given on its command line comes from the file or the environment."""
    return exc.with_variable(_env_name(exc.key), given=False) if exc.key in _SCHEMA else exc


def _prometheus_backend(p: PrometheusConfig) -> PrometheusBackend:
    """The Prometheus backend ``p`` describes, not yet declared or serving; what every
    entry point makes, and what :func:`validate` makes to run its checks."""
    if p.multiprocess_dir is not None:
        # prometheus_client reads it once, on import: effective only before that.
        os.environ.setdefault(MULTIPROC_ENV, p.multiprocess_dir)
    try:
        from prometheus_client import CollectorRegistry

        from gatewaymetrics.backends import prometheus
    except ImportError as exc:
        raise _missing_extra("prometheus", exc) from None
    directory = prometheus.multiprocess_dir()
    if p.multiprocess if p.multiprocess is not None else directory is not None:
        if directory is None:
            raise GatewayMetricsError(
                "prometheus.multiprocess_dir", None,
                f"a directory when prometheus.multiprocess is true: set it, "
                f"{_env_name('prometheus.multiprocess_dir')} or {MULTIPROC_ENV}",
            )  # fmt: skip
        given = "prometheus.multiprocess_dir" if directory == p.multiprocess_dir else MULTIPROC_ENV
        checks.check_multiprocess_dir(directory, key=given)
    return prometheus.PrometheusBackend(registry=CollectorRegistry(), multiprocess=p.multiprocess)


def _check_prometheus(p: PrometheusConfig) -> None:
    backend = _prometheus_backend(p)
    shared = backend.multiprocess_dir is not None
    backend.close()
    if p.port:
        if p.tls_cert_file is not None and p.tls_key_file is not None:
            checks.check_tls(p.tls_cert_file, p.tls_key_file, prefix="prometheus")
        if serving(p.host, p.port) is not None:
            return  # this process's own /metrics server: a new one takes it over
        try:
            checks.check_listen(p.host, p.port, prefix="prometheus", shared=shared)
        except GatewayMetricsError as exc:
            raise _listen_error(exc) from None


def _check_statsd(_: StatsdConfig) -> None:
    # Its options hold to the backend's rules (StatsdConfig); the host is resolved by
    # the backend, off the event path, not at start-up.
    try:
        import gatewaymetrics.backends.statsd  # noqa: F401  # the extra is installed
    except ImportError as exc:
        raise _missing_extra("statsd", exc) from None


def _check_otel() -> None:
    # Everything else is the SDK's, from the standard OTEL_* variables.
    try:
        from gatewaymetrics.backends.otel import otlp_protocol
    except ImportError as exc:
        raise _missing_extra("otel", exc) from None
    otlp_protocol()  # one the SDK has an exporter for


def validate(config: Config) -> None:
    """Every check :func:`build_pipeline` makes, made without building a pipeline or
    starting a server: raises :class:`GatewayMetricsError` naming the key (or the
    environment variable) that was given. Like ``build_pipeline``, it exports
    ``prometheus.multiprocess_dir`` as ``PROMETHEUS_MULTIPROC_DIR`` when that is unset."""
    if "prometheus" in config.backends:
        _check_prometheus(config.prometheus)
    if "statsd" in config.backends:
        _check_statsd(config.statsd)
    if "otel" in config.backends:
        _check_otel()


def serve_metrics(
    backend: PrometheusBackend, p: PrometheusConfig, *, shared: bool = False
) -> tuple[str, int] | None:
    """Start ``backend``'s own ``/metrics`` server as ``p`` describes (host, port,
    credentials, TLS); returns the address bound. A failure names its key. ``shared``:
    several workers share one multiprocess directory and the first to start serves it,
    so a port another one listens on already is None, not an error."""
    try:
        return backend.serve(host=p.host, port=p.port, **p.server_options())
    except OSError as exc:
        if shared and checks.address_taken(exc):
            return None
        raise _listen_error(checks.listen_error(exc, p.host, p.port, prefix="prometheus")) from None


def build_pipeline(
    config: Config | None = None, *, extra_backends: Sequence[Backend] = ()
) -> Pipeline:
    """The pipeline a configuration describes, its backends made and, for Prometheus
    with a port, its own ``/metrics`` server started. The one way every entry point
    (the LiteLLM adapter, the command line, an embedding gateway) builds a pipeline.
    Runs :func:`validate` first, so it fails exactly where ``check-config`` does."""
    config = config if config is not None else load_config()
    validate(config)
    backends: list[Backend] = []
    served = None
    for name in config.backends:
        if name == "memory":
            from gatewaymetrics.backends.memory import MemoryBackend

            backends.append(MemoryBackend())
        elif name == "prometheus":
            served = _prometheus_backend(config.prometheus)
            backends.append(served)
        elif name == "otel":
            from gatewaymetrics.backends.otel import OtelBackend

            backends.append(OtelBackend(series_cap=config.settings.series_cap))
        else:
            from gatewaymetrics.backends.statsd import StatsdBackend

            s = config.statsd
            backends.append(
                StatsdBackend.connect(
                    s.host, s.port, s.protocol, timeout=s.timeout, retry_after=s.retry_after,
                    dialect=s.dialect, prefix=s.prefix, max_packet_size=s.max_packet_size,
                )
            )  # fmt: skip
    pipeline = Pipeline([*backends, *extra_backends], config.settings)
    p = config.prometheus
    if served is not None and p.port:
        try:
            if serve_metrics(served, p, shared=served.multiprocess_dir is not None) is None:
                log.info("gatewaymetrics: /metrics already served on port %s", p.port)
        except GatewayMetricsError:
            pipeline.close()
            raise
    return pipeline
