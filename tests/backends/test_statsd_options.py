"""One rule per StatsD option, used by the configuration and by the backend (issue 12:
the schema allowed ``statsd.timeout`` up to 3600 where the backend allowed 60)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gatewaymetrics import GatewayMetricsError
from gatewaymetrics.backends.statsd_options import check_prefix, check_timeout
from gatewaymetrics.config import parse_option
from tests.conftest import require_module

require_module("statsd", "pip install 'gatewaymetrics[statsd]'")

from gatewaymetrics.backends.statsd import StatsdBackend  # noqa: E402  # after the check

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 60, 61, 63, 64, 3600, 3601, 65507, 65508, 0.0, 60.0, 60.000001]),
    st.booleans(), st.none(),
)  # fmt: skip
words = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", "llm", "gw.llm", "1bad", "a..b", "_x.y_", "é", "udp", "tcp", "quic",
                     "dogstatsd", "graphite", "influx", "plain", "datadog"]),
    st.none(), st.integers(0, 3),
)  # fmt: skip
options = st.one_of(
    st.tuples(st.sampled_from(["timeout", "retry_after", "max_packet_size"]), numbers),
    st.tuples(st.sampled_from(["prefix", "dialect", "protocol"]), words),
)


def error(make: Any) -> str | None:
    try:
        made = make()
    except GatewayMetricsError as exc:
        return str(exc)
    close = getattr(made, "close", None)
    if close is not None:
        close()
    return None


@given(options)
def test_the_configuration_accepts_an_option_exactly_when_the_backend_does(
    option: tuple[str, object],
) -> None:
    name, value = option
    from_config = error(lambda: parse_option(f"statsd.{name}", value))
    from_backend = error(lambda: StatsdBackend.connect(**{name: value}))
    assert from_config == from_backend


def test_the_rules() -> None:
    assert check_timeout(60) == 60.0
    assert check_prefix("gw.llm") == "gw.llm"
    assert error(lambda: check_timeout(60.5)) == (
        "invalid statsd.timeout: 60.5; allowed: seconds: a number more than 0, at most 60"
    )
    assert error(lambda: check_prefix("1bad")) == (
        "invalid statsd.prefix: '1bad'; allowed: empty, or dotted identifiers (letters, "
        "digits, _), e.g. llm or gw.llm"
    )
    assert error(lambda: parse_option("statsd.timeout", "120")) == (
        "invalid statsd.timeout: 120; allowed: seconds: a number more than 0, at most 60"
    )
