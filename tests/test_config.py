from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaymetrics import GatewayMetricsError, LabelSettings, Settings
from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.config import (
    Config,
    PrometheusConfig,
    StatsdConfig,
    build_pipeline,
    load_config,
)


def test_defaults_need_nothing() -> None:
    assert load_config(environ={}) == Config(
        settings=Settings(), backends=("prometheus",),
        prometheus=PrometheusConfig(), statsd=StatsdConfig(),
    )  # fmt: skip


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "gm.toml"
    path.write_text(
        'backends = ["memory", "statsd"]\nprefix = "gw_"\nseries_cap = 50\n'
        '[labels]\nopt_in = ["end_user"]\ncustom = { app = "requester_metadata.app" }\n'
        '[statsd]\nport = 9125\ndialect = "graphite"\n',
        encoding="utf-8",
    )
    environ = {"GATEWAYMETRICS_CONFIG": str(path), "GATEWAYMETRICS_STATSD_PORT": "8126",
               "GATEWAYMETRICS_SERIES_CAP": "75", "PATH": "/usr/bin"}  # fmt: skip
    config = load_config(environ=environ)
    assert config.backends == ("memory", "statsd")
    assert config.settings == Settings(
        prefix="gw_", series_cap=75,
        labels=LabelSettings(opt_in=("end_user",), custom=(("app", "requester_metadata.app"),)),
    )  # fmt: skip
    assert config.statsd == StatsdConfig(port=8126, dialect="graphite")


def test_environment_lists_and_pairs() -> None:
    config = load_config(environ={
        "GATEWAYMETRICS_BACKENDS": "memory, prometheus",
        "GATEWAYMETRICS_LABELS_IDENTITY": "model,team",
        "GATEWAYMETRICS_LABELS_CUSTOM": "app=requester_metadata.app, tier=requester_metadata.tier",
        "GATEWAYMETRICS_PROMETHEUS_PORT": "0",
        "GATEWAYMETRICS_STATSD_TIMEOUT": "1.5",
    })  # fmt: skip
    assert config.backends == ("memory", "prometheus")
    assert config.settings.labels.identity == ("model", "team")
    assert config.settings.labels.custom == (
        ("app", "requester_metadata.app"), ("tier", "requester_metadata.tier"),
    )  # fmt: skip
    assert (config.prometheus.port, config.statsd.timeout) == (0, 1.5)


ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"GATEWAYMETRICS_BACKENDS": "prometheus,influxdb"}, "backends", "memory, prometheus, statsd"),
    ({"GATEWAYMETRICS_BACKENDS": "memory,memory"}, "backends", "each once"),
    ({"GATEWAYMETRICS_STATSD_PORT": "0"}, "statsd.port", "an integer from 1 to 65535"),
    ({"GATEWAYMETRICS_STATSD_PORT": "eighty"}, "statsd.port", "an integer from 1 to 65535"),
    ({"GATEWAYMETRICS_STATSD_PROTOCOL": "quic"}, "statsd.protocol", "udp"),
    ({"GATEWAYMETRICS_STATSD_DIALECT": "datadog"}, "statsd.dialect", "dogstatsd"),
    ({"GATEWAYMETRICS_STATSD_TIMEOUT": "-1"}, "statsd.timeout", "more than 0"),
    ({"GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "maybe"}, "prometheus.multiprocess",
     "true or false"),
    ({"GATEWAYMETRICS_LABELS_IDENTITY": "model,colour"}, "labels.identity", "api_base"),
    ({"GATEWAYMETRICS_LABELS_CUSTOM": "app"}, "labels.custom", "label=dotted.path"),
    ({"GATEWAYMETRICS_SERIES_CAP": "0"}, "series_cap", "an integer from 1"),
    ({"GATEWAYMETRICS_STATSD_HOSTNAME": "x"}, "GATEWAYMETRICS_STATSD_HOSTNAME",
     "GATEWAYMETRICS_STATSD_HOST"),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "key", "allowed"), ERRORS)
def test_errors_name_the_key_and_what_is_allowed(
    environ: dict[str, str], key: str, allowed: str
) -> None:
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ=environ)
    assert info.value.key == key
    assert allowed in info.value.allowed


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[statsd]\nhostt = 'x'\n", encoding="utf-8")
    with pytest.raises(GatewayMetricsError, match=r"invalid statsd.hostt: 'x'") as info:
        load_config(bad, environ={})
    assert "statsd.host" in info.value.allowed
    broken = tmp_path / "broken.toml"
    broken.write_text("backends = [", encoding="utf-8")
    with pytest.raises(GatewayMetricsError, match="valid TOML"):
        load_config(broken, environ={})
    with pytest.raises(GatewayMetricsError, match="a readable TOML file"):
        load_config(tmp_path / "missing.toml", environ={})


def test_build_pipeline_makes_the_backends() -> None:
    pipeline = build_pipeline(load_config(environ={"GATEWAYMETRICS_BACKENDS": "memory,statsd",
                                                   "GATEWAYMETRICS_STATSD_PORT": "9"}))  # fmt: skip
    memory, statsd = pipeline.backends
    assert isinstance(memory, MemoryBackend)
    assert statsd.name == "statsd"
    pipeline.close()


def test_build_pipeline_serves_prometheus_and_refuses_a_busy_port() -> None:
    from tests.promtools import free_port, http_get

    port = free_port()
    pipeline = build_pipeline(load_config(environ={"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}))
    try:
        assert b"# TYPE llm_requests_total counter" in http_get(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(GatewayMetricsError, match="a free port") as info:
            build_pipeline(load_config(environ={"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}))
        assert info.value.key == "prometheus.port"
    finally:
        pipeline.close()


def test_duration_buckets_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text("duration_buckets = [0.5, 1, 2.5]\n", encoding="utf-8")
    assert load_config(path, environ={}).settings.duration_buckets == (0.5, 1.0, 2.5)
    config = load_config(environ={"GATEWAYMETRICS_DURATION_BUCKETS": "0.1, 1"})
    assert config.settings.duration_buckets == (0.1, 1.0)
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_DURATION_BUCKETS": "1, 0.5"})
    assert info.value.key == "duration_buckets"


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
              st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)  # fmt: skip
known_keys = st.sampled_from(
    ["backends", "prefix", "series_cap", "duration_buckets", "labels", "prometheus", "statsd",
     "opt_in", "custom", "port", "host", "dialect", "protocol", "timeout", "identity"]
)  # fmt: skip


@settings(max_examples=300)
@given(st.dictionaries(st.one_of(known_keys, st.text(max_size=8)), toml_values, max_size=5))
def test_any_toml_document_builds_or_raises_a_config_error(document: dict[str, Any]) -> None:
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):  # not representable as TOML: nothing to load
        return
    path = Path(tempfile.mkdtemp()) / "gm.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path, environ={})
    except GatewayMetricsError:
        return
    assert isinstance(config, Config)


def test_per_metric_include_and_exclude(tmp_path: Path) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(
        '[labels]\nopt_in = ["stream"]\n[labels.include]\nrequests = ["end_user"]\n'
        '[labels.exclude]\ntokens = ["user", "stream"]\n',
        encoding="utf-8",
    )
    labels = load_config(path, environ={}).settings.labels
    assert labels.include == (("requests", ("end_user",)),)
    assert labels.exclude == (("tokens", ("user", "stream")),)
    from_env = load_config(environ={"GATEWAYMETRICS_LABELS_EXCLUDE": "requests:error_type+team"})
    assert from_env.settings.labels.exclude == (("requests", ("error_type", "team")),)
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_LABELS_INCLUDE": "requests:colour"})
    assert info.value.key == "labels.include.requests"


def test_multiprocess_dir_key() -> None:
    config = load_config(environ={"GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS_DIR": "/run/gm"})
    assert config.prometheus == PrometheusConfig(multiprocess_dir="/run/gm")
