from __future__ import annotations

import socket
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
    ({"GATEWAYMETRICS_BACKENDS": "prometheus,influxdb"}, "backends",
     "memory, otel, prometheus, statsd"),
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
    # An unknown key's value is never shown: it may be a misspelt credential.
    with pytest.raises(GatewayMetricsError) as info:
        load_config(bad, environ={"GATEWAYMETRICS_STATSD_HOST": "x"})
    assert str(info.value) == f"unknown key 'statsd.hostt' in {bad}; did you mean 'statsd.host'?"
    assert info.value.value == "<hidden>"
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
    finally:
        pipeline.close()
    # A port another program listens on (a second pipeline of this process takes its
    # own server over instead: tests/backends/test_server_takeover.py).
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (TIME_WAIT of the scrape)
        other.bind(("127.0.0.1", port))
        other.listen()
        with pytest.raises(GatewayMetricsError, match="a free port") as info:
            build_pipeline(load_config(environ={"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}))
        assert info.value.key == "prometheus.port"


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


# -- issue 12: one rule per option, secrets never shown, every documented variable --------

ROOT = Path(__file__).resolve().parent.parent


def test_the_statsd_options_hold_to_the_backends_rules() -> None:
    """The schema allowed statsd.timeout up to 3600 where the backend allows 60, and a
    prefix the backend refuses: check-config passed what build_pipeline refused."""
    for name, value, allowed in (
        ("GATEWAYMETRICS_STATSD_TIMEOUT", "120", "seconds: a number more than 0, at most 60"),
        ("GATEWAYMETRICS_STATSD_PREFIX", "1bad",
         "empty, or dotted identifiers (letters, digits, _), e.g. llm or gw.llm"),
        ("GATEWAYMETRICS_STATSD_RETRY_AFTER", "3601",
         "seconds: a number more than 0, at most 3600"),
    ):  # fmt: skip
        with pytest.raises(GatewayMetricsError) as info:
            load_config(environ={name: value})
        assert (info.value.key, info.value.allowed) == (
            name.removeprefix("GATEWAYMETRICS_").lower().replace("statsd_", "statsd.", 1),
            allowed,
        )
    with pytest.raises(GatewayMetricsError, match="at most 60"):
        StatsdConfig(timeout=120.0)


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('prefix = "caf\xe9_"\n'.encode("latin-1"))
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_CONFIG": str(path)})
    assert str(info.value) == (
        f"invalid GATEWAYMETRICS_CONFIG: '{path}'; "
        "allowed: a UTF-8 TOML file (byte 13 is not UTF-8)"
    )
    with pytest.raises(GatewayMetricsError) as info:
        load_config(path, environ={})
    assert info.value.key == "config file"
    assert "UTF-8 TOML" in info.value.allowed


def test_empty_identity_labels_mean_none() -> None:
    config = load_config(environ={"GATEWAYMETRICS_LABELS_IDENTITY": ""})
    assert config.settings.labels.identity == ()
    assert config.settings.labels.call_labels == ()


def _documented_names() -> set[str]:
    """Every GATEWAYMETRICS_* variable the project's docs and sources mention."""
    import re

    names: set[str] = set()
    places = [*ROOT.glob("docs/**/*.md"), *ROOT.glob("src/**/*.py"), ROOT / "README.md",
              ROOT / "CHANGELOG.md", ROOT / "hatch_build.py", ROOT / "pyproject.toml"]  # fmt: skip
    for place in places:
        names.update(re.findall(r"\bGATEWAYMETRICS_[A-Z0-9_]*[A-Z0-9]\b", place.read_text()))
    return names


def test_every_documented_variable_is_accepted() -> None:
    """GATEWAYMETRICS_PURE (in the changelog) and GATEWAYMETRICS_PURE_BUILD (the build)
    were refused as unknown, which switched the proxy's metrics off."""
    names = _documented_names()
    assert {"GATEWAYMETRICS_PURE", "GATEWAYMETRICS_PURE_BUILD", "GATEWAYMETRICS_CONFIG"} <= names
    values = {
        "GATEWAYMETRICS_CONFIG": "",
        "GATEWAYMETRICS_BACKENDS": "memory",
        "GATEWAYMETRICS_DURATION_BUCKETS": "1",
        "GATEWAYMETRICS_LABELS_API_KEY": "drop",
        "GATEWAYMETRICS_LABELS_CUSTOM": "app=requester_metadata.app",
        "GATEWAYMETRICS_LABELS_IDENTITY": "model",
        "GATEWAYMETRICS_LABELS_OPT_IN": "stream",
        "GATEWAYMETRICS_LABELS_INCLUDE": "requests:end_user",
        "GATEWAYMETRICS_LABELS_EXCLUDE": "requests:error_type",
        "GATEWAYMETRICS_LABELS_MAX_VALUE_LENGTH": "64",
        "GATEWAYMETRICS_NAMING": "native",
        "GATEWAYMETRICS_PREFIX": "llm_",
        "GATEWAYMETRICS_SERIES_CAP": "10",
        "GATEWAYMETRICS_PROMETHEUS_HOST": "127.0.0.1",
        "GATEWAYMETRICS_PROMETHEUS_PORT": "0",
        "GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "false",
        "GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS_DIR": "/run/gm",
        "GATEWAYMETRICS_PROMETHEUS_BEARER_TOKEN": "tok",
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_USER": "u",
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": "pw",
        "GATEWAYMETRICS_PROMETHEUS_TLS_CERT_FILE": "/c.pem",
        "GATEWAYMETRICS_PROMETHEUS_TLS_KEY_FILE": "/k.pem",
        "GATEWAYMETRICS_STATSD_HOST": "localhost",
        "GATEWAYMETRICS_STATSD_PORT": "8125",
        "GATEWAYMETRICS_STATSD_PROTOCOL": "tcp",
        "GATEWAYMETRICS_STATSD_DIALECT": "plain",
        "GATEWAYMETRICS_STATSD_PREFIX": "gw.llm",
        "GATEWAYMETRICS_STATSD_MAX_PACKET_SIZE": "1432",
        "GATEWAYMETRICS_STATSD_TIMEOUT": "2",
        "GATEWAYMETRICS_STATSD_RETRY_AFTER": "5",
    }
    for name in sorted(names):
        load_config(environ={name: values.get(name, "1")})  # raises if refused
    assert load_config(environ=values).statsd == StatsdConfig(
        host="localhost", port=8125, protocol="tcp", dialect="plain", prefix="gw.llm",
        max_packet_size=1432, timeout=2.0, retry_after=5.0,
    )  # fmt: skip


def test_credentials_are_never_shown() -> None:
    token, password = "sk-token-QWERTY1234", "pw-QWERTY5678"
    config = load_config(environ={
        "GATEWAYMETRICS_PROMETHEUS_BEARER_TOKEN": token,
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_USER": "scraper",
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": password,
    })  # fmt: skip
    assert config.prometheus.bearer_token == token
    assert config.prometheus.basic_auth == ("scraper", password)
    for text in (repr(config), repr(config.prometheus), str(config)):
        assert token not in text
        assert password not in text
    assert "bearer_token=<set>" in repr(config.prometheus)
    assert "basic_auth_password=<set>" in repr(config.prometheus)
    # A bad credential, a lone one, or one under a misspelt name: never in the error.
    for environ in (
        {"GATEWAYMETRICS_PROMETHEUS_BEARER_TOKEN": f"{token} x"},
        {"GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": f"{password}\n"},
        {"GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": password},
        {"GATEWAYMETRICS_PROMETHEUS_BEARER_TOKN": token},
    ):
        with pytest.raises(GatewayMetricsError) as info:
            load_config(environ=environ)
        for shown in (str(info.value), info.value.value):
            assert token not in shown
            assert password not in shown


def test_server_options_come_in_pairs() -> None:
    for environ, key, allowed in (
        ({"GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_USER": "u"}, "prometheus.basic_auth_user",
         "set together with prometheus.basic_auth_password"),
        ({"GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": "pw"},
         "prometheus.basic_auth_password", "set together with prometheus.basic_auth_user"),
        ({"GATEWAYMETRICS_PROMETHEUS_TLS_CERT_FILE": "/c.pem"}, "prometheus.tls_cert_file",
         "set together with prometheus.tls_key_file"),
        ({"GATEWAYMETRICS_PROMETHEUS_TLS_KEY_FILE": "/k.pem"}, "prometheus.tls_key_file",
         "set together with prometheus.tls_cert_file"),
        ({"GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_USER": "a:b",
          "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": "pw"}, "prometheus.basic_auth_user",
         "a non-empty user name without ':' or control characters"),
        ({"GATEWAYMETRICS_PROMETHEUS_BEARER_TOKEN": ""}, "prometheus.bearer_token",
         "a non-empty token without spaces or control characters"),
    ):  # fmt: skip
        with pytest.raises(GatewayMetricsError) as info:
            load_config(environ=environ)
        assert (info.value.key, info.value.allowed) == (key, allowed)


def test_the_server_gets_exactly_the_options_set() -> None:
    assert PrometheusConfig().server_options() == {}
    config = PrometheusConfig(
        bearer_token="tok", basic_auth_user="u", basic_auth_password="pw",
        tls_cert_file="/c.pem", tls_key_file="/k.pem",
    )  # fmt: skip
    assert config.server_options() == {
        "bearer_token": "tok", "basic_auth": ("u", "pw"),
        "tls_certfile": "/c.pem", "tls_keyfile": "/k.pem",
    }  # fmt: skip


def test_a_config_built_directly_holds_to_the_schema() -> None:
    for make, key in (
        (lambda: PrometheusConfig(port=70000), "prometheus.port"),
        (lambda: StatsdConfig(max_packet_size=65508), "statsd.max_packet_size"),
        (lambda: StatsdConfig(dialect="datadog"), "statsd.dialect"),  # type: ignore[arg-type]
        (lambda: Config(backends=("memory", "memory")), "backends"),
    ):
        with pytest.raises(GatewayMetricsError) as info:
            make()
        assert info.value.key == key


def test_every_key_and_variable_is_documented() -> None:
    from gatewaymetrics.config import _SCHEMA, OTHER_ENV

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in _SCHEMA:
        assert f"`{key}`" in text, key
    for name in OTHER_ENV:
        assert f"`{name}`" in text, name


# -- issue 13: errors that say what went wrong and where -----------------------------------


def test_an_unknown_key_is_not_a_bad_value_and_suggests_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "gm.toml"
    path.write_text("[prometheus]\nprot = 9465\n", encoding="utf-8")
    with pytest.raises(GatewayMetricsError) as info:
        load_config(path, environ={})
    assert str(info.value) == (
        f"unknown key 'prometheus.prot' in {path}; did you mean 'prometheus.port'?"
    )
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_CONFIG": str(path)})
    assert str(info.value).startswith(f"unknown key 'prometheus.prot' in {path};")
    path.write_text("colour = 'blue'\n", encoding="utf-8")
    with pytest.raises(GatewayMetricsError) as info:
        load_config(path, environ={})
    assert str(info.value).startswith(f"unknown key 'colour' in {path}; known: backends, ")


def test_an_unknown_variable_suggests_the_closest() -> None:
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_PROMETHEUS_PROT": "9465"})
    assert str(info.value) == (
        "unknown variable 'GATEWAYMETRICS_PROMETHEUS_PROT'; "
        "did you mean 'GATEWAYMETRICS_PROMETHEUS_PORT'?"
    )
    assert "9465" not in str(info.value)


def test_an_environment_error_names_the_variable_given() -> None:
    with pytest.raises(GatewayMetricsError) as info:
        load_config(environ={"GATEWAYMETRICS_STATSD_PORT": "eighty"})
    assert str(info.value) == (
        "invalid GATEWAYMETRICS_STATSD_PORT (statsd.port): 'eighty'; "
        "allowed: an integer from 1 to 65535"
    )
    assert info.value.key == "statsd.port"


def test_a_file_value_overridden_by_the_environment_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "gm.toml"
    path.write_text("[statsd]\nport = 'eighty'\n", encoding="utf-8")
    config = load_config(path, environ={"GATEWAYMETRICS_STATSD_PORT": "8126"})
    assert config.statsd.port == 8126


def test_a_busy_port_names_its_variable() -> None:
    import socket

    from gatewaymetrics.config import validate

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = load_config(environ={"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)})
        for check in (validate, build_pipeline):
            with pytest.raises(GatewayMetricsError) as info:
                check(config)
            assert str(info.value) == (
                f"invalid prometheus.port (GATEWAYMETRICS_PROMETHEUS_PORT): {port}; "
                "allowed: a free port (Address already in use)"
            )


def test_a_missing_extra_says_how_to_install_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from gatewaymetrics.config import validate

    monkeypatch.delitem(sys.modules, "gatewaymetrics.backends.statsd", raising=False)
    monkeypatch.setitem(sys.modules, "statsd", None)  # not installed
    with pytest.raises(GatewayMetricsError) as info:
        validate(load_config(environ={"GATEWAYMETRICS_BACKENDS": "statsd"}))
    message = str(info.value)
    assert message.startswith(
        "invalid backends: 'statsd'; "
        "allowed: install its extra: pip install 'gatewaymetrics[statsd]'"
    )
    assert message.count("pip install") == 1, message
