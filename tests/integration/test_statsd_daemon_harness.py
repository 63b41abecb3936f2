"""The StatsD harness against the real reference daemon (npm statsd 0.9.0), and the facts
about that daemon which the StatsD backend's tests rely on: stored keys, tag dialects,
bad lines, gauge and timer semantics, limits."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import statsd_daemon as harness
from tests.conftest import require_module
from tests.statsd_daemon import JsParseError, StatsdDaemon, parse_js, statsd_daemon

pytestmark = pytest.mark.integration

STATSD_CLIENT_HOW = "make test installs it: pip install -e '.[all,dev]'"

BASE_COUNTERS = {
    "statsd.bad_lines_seen": 0.0,
    "statsd.packets_received": 0.0,
    "statsd.metrics_received": 0.0,
}


def send_udp(daemon: StatsdDaemon, *packets: str | bytes) -> None:
    """One datagram per argument (a packet may hold several lines)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            data = packet.encode("utf-8") if isinstance(packet, str) else packet
            sock.sendto(data, daemon.address)


def base(lines: float, packets: float, bad: float = 0) -> dict[str, float]:
    return {
        "statsd.bad_lines_seen": float(bad),
        "statsd.packets_received": float(packets),
        "statsd.metrics_received": float(lines),
    }


def tcp_counters(daemon: StatsdDaemon) -> dict[str, float]:
    """Counters less ``statsd.packets_received``: over TCP a "packet" is one read of the
    stream, and how writes coalesce into reads is up to the kernel."""
    counters = daemon.counters()
    assert counters.pop("statsd.packets_received") >= 1
    return counters


def tcp_base(lines: float, bad: float = 0) -> dict[str, float]:
    return {"statsd.bad_lines_seen": float(bad), "statsd.metrics_received": float(lines)}


# --- the harness -------------------------------------------------------------------------


def test_udp_exact_values() -> None:
    with statsd_daemon() as daemon:
        assert not daemon.tcp
        assert daemon.counters() == BASE_COUNTERS
        assert daemon.gauges() == {}
        assert daemon.timers() == {}
        assert daemon.bad_lines_seen() == 0
        lines = ["a.b:1|c", "a.b:2|c", "g1:5|g", "g1:-2|g", "t1:120|ms", "this is garbage"]
        send_udp(daemon, *lines)
        daemon.wait_for_lines(len(lines))
        assert daemon.counters() == {**base(lines=6, packets=6, bad=1), "a.b": 3.0}
        assert daemon.gauges() == {"g1": 3.0}  # -2 on an existing gauge is a delta
        assert daemon.timers() == {"t1": [120.0]}
        assert daemon.bad_lines_seen() == 1
        stats = daemon.stats()
        assert set(stats) == {"uptime", "messages.last_msg_seen", "messages.bad_lines_seen"}
        assert stats["messages.bad_lines_seen"] == 1
        assert 'Bad line: 1 in msg "this is garbage"' in daemon.log()


def test_ports_are_loopback_only_and_everything_is_removed() -> None:
    with statsd_daemon() as daemon:
        assert daemon.running
        workdir = daemon.workdir
        config = daemon.config_path.read_text(encoding="utf-8")
        assert json.loads(config)["servers"] == [
            {"server": "./servers/udp", "address": "127.0.0.1", "port": daemon.port}
        ]
        if shutil.which("ss"):
            udp = subprocess.run(["ss", "-lun"], capture_output=True, text=True, check=True)
            tcp = subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=True)
            assert f"127.0.0.1:{daemon.port} " in udp.stdout
            assert f"127.0.0.1:{daemon.mgmt_port} " in tcp.stdout
            for port in (daemon.port, daemon.mgmt_port):
                for wildcard in (f"0.0.0.0:{port} ", f"*:{port} ", f"[::]:{port} "):
                    assert wildcard not in udp.stdout + tcp.stdout
    assert not daemon.running
    assert not workdir.exists()


def test_tcp_exact_values_with_the_statsd_client() -> None:
    statsd: Any = require_module("statsd", STATSD_CLIENT_HOW)
    with statsd_daemon(tcp=True) as daemon:
        assert daemon.tcp
        client = statsd.TCPStatsClient(host="127.0.0.1", port=daemon.port, timeout=5)
        try:
            client.incr("a.b")
            client.incr("a.b", 2)
            client.decr("a.c", 4)
            client.gauge("g1", 5)
            client.gauge("g1", -2, delta=True)
            client.gauge("g2", -5)  # the client sends g2:0|g and g2:-5|g: absolute -5
            client.timing("t1", 120)  # sent as t1:120.000000|ms
            client.timing("t1", 0.5)
            with client.pipeline() as pipe:
                pipe.incr("p.x")
                pipe.incr("p.x")
        finally:
            client.close()
        daemon.wait_for_lines(11)
        assert tcp_counters(daemon) == {
            **tcp_base(lines=11),
            "a.b": 3.0,
            "a.c": -4.0,
            "p.x": 2.0,
        }
        assert daemon.gauges() == {"g1": 3.0, "g2": -5.0}
        assert daemon.timers() == {"t1": [120.0, 0.5]}
        assert daemon.bad_lines_seen() == 0


def test_tcp_restart_then_a_new_connection_delivers() -> None:
    statsd: Any = require_module("statsd", STATSD_CLIENT_HOW)
    with statsd_daemon(tcp=True) as daemon:
        client = statsd.TCPStatsClient(host="127.0.0.1", port=daemon.port, timeout=5)
        try:
            client.incr("before")
            daemon.wait_for_lines(1)
            assert daemon.counters()["before"] == 1
            ports = (daemon.port, daemon.mgmt_port)
            daemon.restart()
            assert (daemon.port, daemon.mgmt_port) == ports
            assert daemon.counters() == BASE_COUNTERS  # a new process: state starts empty
            client.reconnect()  # the old connection died with the old process
            client.incr("after", 2)
        finally:
            client.close()
        fresh = statsd.TCPStatsClient(host="127.0.0.1", port=daemon.port, timeout=5)
        try:
            fresh.incr("after")
        finally:
            fresh.close()
        daemon.wait_for_lines(2)
        assert tcp_counters(daemon) == {**tcp_base(lines=2), "after": 3.0}


def test_require_statsd_skips_or_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "STATSD_DIR", tmp_path / "statsd")
    monkeypatch.setattr(harness, "STATS_JS", tmp_path / "statsd" / "stats.js")
    monkeypatch.setattr(harness, "ROOT", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"run `make test`, which installs npm"):
        harness.require_statsd()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true and .*statsd/stats.js is missing"):
        harness.require_statsd()


# --- facts about statsd 0.9.0 that the backend's tests rely on ----------------------------

# (line sent, key stored, value) for counters; no line here is a bad line.
KEYS = [
    ("dd.name:1|c|#k:v,k2:v2", "dd.name;k=v;k2=v2", 1.0),  # DogStatsD tags
    ("gr.name;k=v:1|c", "gr.name;k=v", 1.0),  # Graphite tags: the same form
    ("inf.name,k=v:1|c", "inf.namek=v", 1.0),  # Influx tags: the comma is dropped
    ("tg.a:1|c|#k:v:w,k;x:y,flag,env:prod", "tg.a;k=vw;k_x=y;flag;env=prod", 1.0),
    ("e.empty:1|c|#", "e.empty", 1.0),
    ("e.gap:1|c|#k:v,,k2:v2", "e.gap;k=v;;k2=v2", 1.0),
    ("rate.first:1|c|@0.5|#k:v", "rate.first;k=v", 2.0),
    ("rate.last:1|c|#k:v|@0.5", "rate.last;k=v0.5", 1.0),  # after tags: part of a tag
    ("sl/ash name  x:1|c", "sl-ash_name_x", 1.0),
    ("  lead\ttab:1|c", "_lead_tab", 1.0),
    ("weird!@$%^&*()+[]{}<>?~`\"'x:1|c", "weirdx", 1.0),
    ("a-b_c.d:1|c", "a-b_c.d", 1.0),
    ("UP.Case09:1|c", "UP.Case09", 1.0),
    ("caf\u00e9.\u540d:1|c", "caf.", 1.0),  # UDP is read as UTF-8: non-ASCII is dropped
    (":1|c", "", 1.0),
    ("multi:1|c:2|c", "multi", 3.0),  # one line, two values
    ("neg:-3|c", "neg", -3.0),
    ("exp:1e3|c", "exp", 1000.0),
    ("hex:0x10|c", "hex", 16.0),
    ("frac:1.5|c", "frac", 1.5),
    ("sr:1|c|@0.1", "sr", 10.0),
    ("sr2:1|c|@2", "sr2", 0.5),
    ("hist:3|h", "hist", 3.0),  # an unknown type is a counter
    ("dist:4|d", "dist", 4.0),
    ("crlf:1|c\r", "crlf", 1.0),
]

BAD = [
    "this is garbage",  # no value: no type
    "novalue",
    "empty:|c",
    "word:abc|c",
    "rate:1|c|@abc",
    "negtimer:-1|ms",
    "gauge:abc|g",
]


def test_key_sanitising_and_tag_dialects() -> None:
    with statsd_daemon() as daemon:
        send_udp(daemon, *(line for line, _, _ in KEYS), *BAD)
        count = len(KEYS) + len(BAD)
        daemon.wait_for_lines(count)
        expected = {key: value for _, key, value in KEYS}
        assert len(expected) == len(KEYS)
        assert daemon.counters() == {**base(lines=count, packets=count, bad=len(BAD)), **expected}
        assert daemon.gauges() == {}
        assert daemon.timers() == {}
        assert daemon.bad_lines_seen() == len(BAD)


def test_tags_on_gauges_and_timers() -> None:
    with statsd_daemon() as daemon:
        send_udp(daemon, "gt:2|g|#k:v", "tt:1|ms|#k:v,env:prod", "tt:2|ms|#env:prod,k:v")
        daemon.wait_for_lines(3)
        assert daemon.gauges() == {"gt;k=v": 2.0}
        # Tag order is kept, not sorted: two orders are two keys.
        assert daemon.timers() == {"tt;k=v;env=prod": [1.0], "tt;env=prod;k=v": [2.0]}


def test_gauge_signs() -> None:
    with statsd_daemon() as daemon:
        # Order matters, so each sequence is one datagram.
        send_udp(
            daemon,
            "new:-5|g",  # no such gauge yet: sets -5
            "x:3|g\nx:+2|g\nx:-1|g",  # existing, non-zero: deltas
            "abs:7|g\nabs:0|g\nabs:-5|g",  # 0 first, then -5: absolute -5
            "zero:0|g\nzero:+7|g",  # a gauge at 0 is set, not moved (same result)
            "pos:4|g\npos:9|g",  # unsigned: sets
            "frac:-0.25|g",
        )
        daemon.wait_for_lines(12)
        assert daemon.gauges() == {
            "new": -5.0,
            "x": 4.0,
            "abs": -5.0,
            "zero": 7.0,
            "pos": 9.0,
            "frac": -0.25,
        }


def test_timers_keep_every_value_in_order() -> None:
    with statsd_daemon() as daemon:
        send_udp(daemon, "t:120|ms\nt:1.5|ms\nt:0|ms", "sampled:5|ms|@0.5")
        daemon.wait_for_lines(4)
        # A sample rate scales the timer's count (not shown), never repeats a value.
        assert daemon.timers() == {"t": [120.0, 1.5, 0.0], "sampled": [5.0]}


def test_timer_dump_past_100_values_is_an_error_not_a_short_list() -> None:
    with statsd_daemon() as daemon:
        send_udp(daemon, "\n".join(f"many:{i}|ms" for i in range(100)))
        daemon.wait_for_lines(100)
        assert daemon.timers() == {"many": [float(i) for i in range(100)]}
        send_udp(daemon, "many:100|ms")
        daemon.wait_for_lines(101)
        with pytest.raises(JsParseError, match="truncated an array after 100 items"):
            daemon.timers()


def test_largest_udp_datagram_is_read_whole() -> None:
    line = b"big:1|c\n"
    count = 65507 // len(line)  # 65507 bytes: the largest IPv4 UDP payload
    with statsd_daemon() as daemon:
        send_udp(daemon, line * count)
        daemon.wait_for_lines(count)
        assert daemon.counters()["big"] == count
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
            pytest.raises(OSError, match="too long"),
        ):
            sock.sendto(b"x" * 65508, daemon.address)


def test_tcp_reads_whole_lines_only_and_as_7_bit_ascii() -> None:
    with (
        statsd_daemon(tcp=True) as daemon,
        socket.create_connection(daemon.address, timeout=5) as sock,
    ):
        sock.sendall(b"split.na")
        sock.sendall(b"me:1|c\nheld:1|c")  # no newline after held: kept back
        daemon.wait_for_lines(1)
        assert tcp_counters(daemon) == {**tcp_base(lines=1), "split.name": 1.0}
        sock.sendall(b"\n")
        daemon.wait_for_lines(2)
        # The stream is decoded as 7-bit ASCII: UTF-8 c3 a9 becomes "C)", then "C".
        sock.sendall("caf\u00e9:1|c\n".encode())
        daemon.wait_for_lines(3)
        assert tcp_counters(daemon) == {
            **tcp_base(lines=3),
            "split.name": 1.0,
            "held": 1.0,
            "cafC": 1.0,
        }


def test_real_dumps_with_many_keys_wrap_and_parse() -> None:
    names = [f"svc-{i}.req_count;model=gpt-4o-mini;env=prod" for i in range(30)]
    with statsd_daemon() as daemon:
        send_udp(daemon, "\n".join(f"{name}:{i}|c" for i, name in enumerate(names)))
        send_udp(daemon, "\n".join(f"lat.ms-x_y:{i * 1.5}|ms" for i in range(40)))
        daemon.wait_for_lines(70)
        raw = daemon.command("counters")
        assert raw.count("\n") > 30  # util.inspect broke it across lines
        assert daemon.counters() == {
            **base(lines=70, packets=2),
            **{name: float(i) for i, name in enumerate(names)},
        }
        assert daemon.timers() == {"lat.ms-x_y": [i * 1.5 for i in range(40)]}


# --- the parser on util.inspect text --------------------------------------------------------

REAL_COUNTERS = """{
  'statsd.bad_lines_seen': 2,
  'statsd.packets_received': 21,
  'statsd.metrics_received': 27,
  'dd.name;k=v;k2=v2': 1,
  'inf.namek=v': 1,
  weirdx: 1,
  'a-b_c.d': 1,
  'sr.c': 10,
  'c.neg': -3,
  'ctr.exp': 1000,
  e14: 0.5,
  '': 1
}"""

REAL_TIMERS = """{
  t: [
     1,  2,   3,  4,      5,
    26, 27, 1.5, -3, 100000
  ],
  e: [],
  s: [ 'a', "b'c" ]
}"""


def test_parse_real_outputs() -> None:
    assert parse_js(REAL_COUNTERS) == {
        "statsd.bad_lines_seen": 2.0,
        "statsd.packets_received": 21.0,
        "statsd.metrics_received": 27.0,
        "dd.name;k=v;k2=v2": 1.0,
        "inf.namek=v": 1.0,
        "weirdx": 1.0,
        "a-b_c.d": 1.0,
        "sr.c": 10.0,
        "c.neg": -3.0,
        "ctr.exp": 1000.0,
        "e14": 0.5,
        "": 1.0,
    }
    assert parse_js("{ 'g.neg': -5, 'g.abs': -5, 'g.x': 4, gz: 7, 'e11;k=v': 2 }") == {
        "g.neg": -5.0,
        "g.abs": -5.0,
        "g.x": 4.0,
        "gz": 7.0,
        "e11;k=v": 2.0,
    }
    assert parse_js(REAL_TIMERS) == {
        "t": [1.0, 2.0, 3.0, 4.0, 5.0, 26.0, 27.0, 1.5, -3.0, 100000.0],
        "e": [],
        "s": ["a", "b'c"],
    }
    assert parse_js("{}") == {}


def test_parse_numbers_words_and_strings() -> None:
    parsed = parse_js(
        "{ 'x-y': 1e+21, n: -1e-7, z: -0, nan: NaN, inf: Infinity, ninf: -Infinity,"
        " big: 12345678901234567000, bi: -12n, \"q'k\": 1, 'dq\"k': 2, `both'\"`: 3,"
        " 'tab\\tnl\\n\\x1B\\u00e9\\uD83D\\uDE00\\\\': 4, '1abc': 5, u: undefined,"
        " nl: null, b: true, f: false, x: { y: { z: [ 'w' ] } },"
        " s: 'abc' +\n  'def', ['__proto__']: 6, 'a\\x85\\x7F': [ '\\ud800x' ] }"
    )
    assert isinstance(parsed, dict)
    nan = parsed.pop("nan")
    assert isinstance(nan, float)
    assert math.isnan(nan)
    z = parsed.pop("z")
    assert isinstance(z, float)
    assert math.copysign(1, z) == -1
    assert parsed == {
        "x-y": 1e21,
        "n": -1e-7,
        "inf": math.inf,
        "ninf": -math.inf,
        "big": 12345678901234567000.0,
        "bi": -12,
        "q'k": 1.0,
        'dq"k': 2.0,
        "both'\"": 3.0,
        "tab\tnl\n\x1b\u00e9\U0001f600\\": 4.0,
        "1abc": 5.0,
        "u": None,
        "nl": None,
        "b": True,
        "f": False,
        "x": {"y": {"z": ["w"]}},
        "s": "abcdef",
        "__proto__": 6.0,
        "a\x85\x7f": ["\ud800x"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "{ t: [ 1, 2, ... 2 more items ] }",
        "{ x: { y: { z: [Object] } } }",
        "{ a: 1 ",
        "{ a 1 }",
        "{ a: 'x }",
        "{ a: 1 } trailing",
        "{ a: 1, b: }",
    ],
)
def test_parse_rejects_elided_or_broken_text(text: str) -> None:
    with pytest.raises(JsParseError):
        parse_js(text)


LEAF = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=20)
    | st.booleans()
    | st.none()
)
KEY = st.text(max_size=12) | st.sampled_from(["__proto__", "constructor", "a.b;k=v", "$x"])
OBJECTS = st.dictionaries(
    KEY,
    LEAF
    | st.lists(LEAF, max_size=20)
    | st.dictionaries(st.text(max_size=8), LEAF | st.lists(LEAF, max_size=8), max_size=5),
    max_size=12,
)
INSPECT = (
    "const u=require('util');let d='';process.stdin.on('data',c=>d+=c).on('end',()=>"
    "process.stdout.write(JSON.parse(d).map(o=>u.inspect(o)).join('\\u0000')))"
)


@pytest.fixture(scope="module")
def node() -> str:
    harness.require_statsd()
    path = shutil.which("node")
    assert path is not None
    return path


@settings(max_examples=25)
@given(st.lists(OBJECTS, min_size=1, max_size=30))
def test_parse_agrees_with_node_util_inspect(node: str, objects: list[dict[str, object]]) -> None:
    env = {**os.environ, "NODE_OPTIONS": ""}
    result = subprocess.run(
        [node, "-e", INSPECT],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    texts = result.stdout.split("\0")
    assert len(texts) == len(objects)
    for text, obj in zip(texts, objects, strict=True):
        assert parse_js(text) == obj, text
