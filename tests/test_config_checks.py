"""Issue 12: ``check-config`` runs exactly the validation ``build_pipeline`` runs.

``config.validate`` is that validation; ``build_pipeline`` runs it first and
``check-config`` runs it instead of building. The property at the end drives both with
generated environments, good values and bad, against real sockets, directories and TLS
files.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gatewaymetrics import GatewayMetricsError
from gatewaymetrics.__main__ import main
from gatewaymetrics.config import (
    _SCHEMA,
    MULTIPROC_ENV,
    PrometheusConfig,
    build_pipeline,
    load_config,
    validate,
)
from tests.promtools import free_port


class Places(NamedTuple):
    directory: str
    file: str
    missing: str
    cert: str
    key: str
    not_utf8: str
    busy_port: int


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    root = tmp_path_factory.mktemp("places")
    (root / "dir").mkdir()
    (root / "file").write_text("not a directory, not PEM\n")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "latin1.toml").write_bytes(b'prefix = "caf\xe9_"\n')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield Places(
            directory=str(root / "dir"), file=str(root / "file"), missing=str(root / "none"),
            cert=str(cert), key=str(key), not_utf8=str(root / "latin1.toml"),
            busy_port=busy.getsockname()[1],
        )  # fmt: skip


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """os.environ with only these GATEWAYMETRICS_* variables (and no multiprocess
    directory), restored afterwards: build_pipeline exports one."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("GATEWAYMETRICS_") or name == MULTIPROC_ENV:
            del os.environ[name]
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_config() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check-config"])
    return code, out.getvalue(), err.getvalue()


def builds() -> GatewayMetricsError | None:
    """None when build_pipeline succeeds (the pipeline is closed again), else its error."""
    try:
        pipeline = build_pipeline(load_config())
    except GatewayMetricsError as exc:
        return exc
    pipeline.close()
    return None


# -- each case of the issue ----------------------------------------------------------------


def refused(variables: dict[str, str]) -> tuple[GatewayMetricsError, str]:
    """The error validate raises and the line check-config prints (exit 2); build_pipeline
    refuses with the same error."""
    with environment(variables):
        with pytest.raises(GatewayMetricsError) as info:
            validate(load_config())
        code, out, err = check_config()
        built = builds()
    assert (code, out) == (2, "")
    assert err == f"gatewaymetrics: {info.value}\n"
    assert built is not None
    assert str(built) == str(info.value)
    return info.value, err


def test_multiprocess_without_a_directory() -> None:
    error, _ = refused({"GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS": "true"})
    assert (error.key, error.value) == ("prometheus.multiprocess_dir", "None")
    assert "PROMETHEUS_MULTIPROC_DIR" in error.allowed


def test_a_multiprocess_directory_that_is_a_file(places: Places) -> None:
    error, _ = refused({"GATEWAYMETRICS_PROMETHEUS_MULTIPROCESS_DIR": places.file})
    assert (error.key, error.value) == ("prometheus.multiprocess_dir", repr(places.file))


def test_an_unresolvable_host_is_named_as_the_host() -> None:
    error, _ = refused({"GATEWAYMETRICS_PROMETHEUS_HOST": "no-such-host.invalid"})
    assert (error.key, error.value) == ("prometheus.host", "'no-such-host.invalid'")
    assert error.allowed.startswith("a host name or address that resolves (")


def test_an_address_of_another_machine_is_named_as_the_host() -> None:
    error, _ = refused({"GATEWAYMETRICS_PROMETHEUS_HOST": "192.0.2.1"})  # TEST-NET-1
    assert (error.key, error.allowed) == (
        "prometheus.host", "an address of this machine (Cannot assign requested address)"
    )  # fmt: skip


def test_a_port_in_use(places: Places) -> None:
    error, _ = refused({"GATEWAYMETRICS_PROMETHEUS_PORT": str(places.busy_port)})
    assert (error.key, error.value, error.allowed) == (
        "prometheus.port", str(places.busy_port), "a free port (Address already in use)"
    )  # fmt: skip


def test_tls_files_that_do_not_load(places: Places) -> None:
    error, _ = refused({
        "GATEWAYMETRICS_PROMETHEUS_PORT": str(free_port()),
        "GATEWAYMETRICS_PROMETHEUS_TLS_CERT_FILE": places.file,
        "GATEWAYMETRICS_PROMETHEUS_TLS_KEY_FILE": places.key,
    })  # fmt: skip
    assert error.key == "prometheus.tls_cert_file"
    error, _ = refused({
        "GATEWAYMETRICS_PROMETHEUS_PORT": str(free_port()),
        "GATEWAYMETRICS_PROMETHEUS_TLS_CERT_FILE": places.cert,
        "GATEWAYMETRICS_PROMETHEUS_TLS_KEY_FILE": places.missing,
    })  # fmt: skip
    assert (error.key, error.allowed) == ("prometheus.tls_key_file", "a readable PEM file")


def test_validate_leaves_the_port_free() -> None:
    port = free_port()
    with environment({"GATEWAYMETRICS_PROMETHEUS_PORT": str(port)}):
        validate(load_config())
        assert check_config()[0] == 0
        pipeline = build_pipeline(load_config())
    try:
        assert pipeline.backends[0].address == ("127.0.0.1", port)  # type: ignore[attr-defined]
    finally:
        pipeline.close()


def test_check_config_prints_credentials_as_set(places: Places) -> None:
    token, password = "sk-token-QWERTY1234", "pw-QWERTY5678"
    with environment({
        "GATEWAYMETRICS_PROMETHEUS_PORT": str(free_port()),
        "GATEWAYMETRICS_PROMETHEUS_BEARER_TOKEN": token,
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_USER": "scraper",
        "GATEWAYMETRICS_PROMETHEUS_BASIC_AUTH_PASSWORD": password,
        "GATEWAYMETRICS_PROMETHEUS_TLS_CERT_FILE": places.cert,
        "GATEWAYMETRICS_PROMETHEUS_TLS_KEY_FILE": places.key,
    }):  # fmt: skip
        code, out, err = check_config()
        built = builds()
    assert (code, err, built) == (0, "", None)
    assert token not in out
    assert password not in out
    line = next(line for line in out.splitlines() if line.startswith("prometheus = "))
    assert line.endswith(
        "bearer_token = <set>, basic_auth = {user = 'scraper', password = <set>}, "
        f"tls = {{cert_file = {places.cert!r}, key_file = {places.key!r}}}}}"
    )


def test_no_own_server_checks_no_address() -> None:
    config = load_config(environ={"GATEWAYMETRICS_PROMETHEUS_HOST": "no-such-host.invalid",
                                  "GATEWAYMETRICS_PROMETHEUS_PORT": "0"})  # fmt: skip
    validate(config)
    assert config.prometheus == PrometheusConfig(host="no-such-host.invalid", port=0)


# -- the property -------------------------------------------------------------------------


def _values(places: Places) -> dict[str, tuple[list[str], list[str]]]:
    """Values for every configuration key: (inside its domain, outside). "FREE" is a
    free port, chosen when used."""
    return {
        "backends": (["memory", "prometheus", "statsd", "memory,prometheus", "prometheus,statsd",
                      "statsd,memory,prometheus"], ["influxdb", "", "memory,memory"]),
        "prefix": (["llm_", "gw_"], ["1x", ""]),
        "naming": (["native"], ["litellm", "foo"]),
        "series_cap": (["1", "10000"], ["0", "many"]),
        "duration_buckets": (["0.1,1"], ["1,0.5", "x", ""]),
        "labels.identity": (["", "model", "model,team"], ["model,colour", "model,model"]),
        "labels.opt_in": (["", "end_user"], ["colour"]),
        "labels.custom": (["app=requester_metadata.app"],
                          ["app", "key=metadata.api_key", "model=requester_metadata.m"]),
        "labels.include": (["requests:end_user"], ["requests:colour", "nope:user"]),
        "labels.exclude": (["requests:error_type", "tokens:requested_model"],
                           ["requests:colour"]),
        "labels.api_key": (["fingerprint", "alias", "drop"], ["hash"]),
        "labels.max_value_length": (["1", "4096"], ["0", "4097"]),
        "prometheus.host": (["127.0.0.1", "localhost"], ["no-such-host.invalid", "192.0.2.1", ""]),
        "prometheus.port": (["0", "FREE"], [str(places.busy_port), "70000", "-1", "x"]),
        "prometheus.multiprocess": (["false"], ["true", "maybe"]),
        "prometheus.multiprocess_dir": ([places.directory], [places.file, places.missing]),
        "prometheus.bearer_token": (["tok"], ["", "a b"]),
        "prometheus.basic_auth_user": (["u"], ["", "a:b"]),
        "prometheus.basic_auth_password": (["pw"], [""]),
        "prometheus.tls_cert_file": ([places.cert], [places.key, places.file, places.missing]),
        "prometheus.tls_key_file": ([places.key], [places.cert, places.file, places.missing]),
        "statsd.host": (["127.0.0.1", "no-such-host.invalid"], []),  # resolved later, off-path
        "statsd.port": (["8125"], ["0", "65536"]),
        "statsd.protocol": (["udp", "tcp"], ["quic"]),
        "statsd.dialect": (["dogstatsd", "graphite"], ["datadog"]),
        "statsd.prefix": (["llm", "gw.llm", ""], ["1bad", "a..b", "é"]),
        "statsd.max_packet_size": (["64", "8192", "65507"], ["63", "65508"]),
        "statsd.timeout": (["0.25", "60"], ["61", "120", "3600", "-1", "nan", "inf", "abc"]),
        "statsd.retry_after": (["1", "3600"], ["0", "3601"]),
    }  # fmt: skip


def environments(places: Places) -> st.SearchStrategy[dict[str, str]]:
    values = _values(places)
    assert sorted(values) == sorted(_SCHEMA)  # a new key needs its values here

    def value(key: str) -> st.SearchStrategy[str]:
        good, bad = values[key]
        # Mostly good values, so that most environments build and every bad one is alone.
        return (
            st.sampled_from(good)
            if not bad
            else st.one_of(*([st.sampled_from(good)] * 4), st.sampled_from(bad))
        )

    pairs = st.sampled_from(sorted(values)).flatmap(lambda key: st.tuples(st.just(key), value(key)))
    prefix = "GATEWAYMETRICS_PROMETHEUS_"
    extra = st.one_of(
        st.just({}),
        st.sampled_from([
            {"GATEWAYMETRICS_PURE": "1"}, {"GATEWAYMETRICS_PURE_BUILD": "1"},
            {f"{prefix}PORT": "FREE", f"{prefix}BASIC_AUTH_USER": "u",
             f"{prefix}BASIC_AUTH_PASSWORD": "pw"},
            {f"{prefix}PORT": "FREE", f"{prefix}TLS_CERT_FILE": places.cert,
             f"{prefix}TLS_KEY_FILE": places.key},
        ]),
        st.sampled_from([
            {"GATEWAYMETRICS_STATSD_HOSTNAME": "x"}, {"GATEWAYMETRICS_CONFIG": places.not_utf8},
            {MULTIPROC_ENV: places.directory},
        ]),
    )  # fmt: skip
    return st.builds(
        lambda chosen, more: (
            {"GATEWAYMETRICS_" + key.upper().replace(".", "_"): value for key, value in chosen}
            | more
        ),
        st.lists(pairs, max_size=4, unique_by=lambda pair: pair[0]),
        extra,
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_check_config_passes_exactly_when_build_pipeline_does(
    places: Places, data: st.DataObject
) -> None:
    variables = data.draw(environments(places))
    variables = {
        name: str(free_port()) if value == "FREE" else value for name, value in variables.items()
    }
    with environment(variables):
        code, _, err = check_config()
        built = builds()
    assert code in (0, 2), err
    event(f"exit {code}")
    assert (code == 0) == (built is None), (variables, err, built)
    if built is not None:
        assert err == f"gatewaymetrics: {built}\n"
