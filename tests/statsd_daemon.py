"""A real StatsD daemon for integration tests: the reference Etsy ``statsd`` 0.9.0 (npm),
run with ``node`` on 127.0.0.1 with free ports and a temporary config, stopped by its user.

``make test`` installs it into ``.tools/statsd``. What it is asserted against lives in its
management console (a TCP line protocol): ``counters``, ``gauges`` and ``timers`` answer
with a ``util.inspect`` dump (JavaScript object notation, not JSON) followed by
``END\\n\\n``; ``stats`` answers ``name: value`` lines. Facts about 0.9.0 that tests rely on
(all checked against the real daemon, see ``tests/integration/test_statsd_daemon_harness``):

* Names are sanitised on ingest: runs of whitespace become ``_``, ``/`` becomes ``-``,
  then every character outside ``[a-zA-Z0-9_\\-.;=]`` is removed (``:`` cannot be part of
  a name, it ends it). ``a b/c!d`` is stored as ``a_b-cd``.
* DogStatsD tags are understood: ``name:1|c|#k:v,k2:v2`` is stored as ``name;k=v;k2=v2``
  (tag order kept; in each tag the first ``;`` becomes ``_``, then the first ``:`` becomes
  ``=``). Graphite-style ``name;k=v:1|c`` is stored as ``name;k=v`` (the same key).
  Influx-style ``name,k=v:1|c`` loses the comma: ``namek=v``. None is a bad line.
* A bad line adds 1 both to the counter ``statsd.bad_lines_seen`` (reset at each flush) and
  to ``messages.bad_lines_seen`` of the ``stats`` command (never reset);
  :meth:`StatsdDaemon.bad_lines_seen` reads the latter.
* ``name:-5|g`` is a delta when the gauge exists with a non-zero value, else it sets -5.
* ``util.inspect`` shows at most 100 elements of an array: :meth:`StatsdDaemon.timers`
  raises rather than return a truncated list.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeAlias, TypeVar

import pytest

STATSD_VERSION = "0.9.0"
ROOT = Path(__file__).resolve().parents[1]
STATSD_DIR = ROOT / ".tools" / "statsd" / "node_modules" / "statsd"
STATS_JS = STATSD_DIR / "stats.js"
HOW = f"run `make test`, which installs npm statsd@{STATSD_VERSION} into .tools/statsd"
HOST = "127.0.0.1"

T = TypeVar("T")
JsValue: TypeAlias = "float | int | str | bool | list[JsValue] | dict[str, JsValue] | None"


def _missing_statsd() -> str | None:
    """Why the daemon cannot run here, or None when it can."""
    problems: list[str] = []
    if shutil.which("node") is None:
        problems.append("`node` is not on PATH")
    package = STATSD_DIR / "package.json"
    if not STATS_JS.is_file() or not package.is_file():
        problems.append(f"{STATS_JS.relative_to(ROOT)} is missing")
    else:
        version = json.loads(package.read_text(encoding="utf-8")).get("version")
        if version != STATSD_VERSION:
            problems.append(f"{STATSD_DIR.relative_to(ROOT)} is statsd {version}")
    return "; ".join(problems) if problems else None


def require_statsd() -> Path:
    """The path of statsd 0.9.0's ``stats.js`` (with ``node`` on PATH), or skip the module
    saying how to get it; under ``CI=true`` fail instead, since nothing may skip there."""
    problem = _missing_statsd()
    if problem is not None:
        message = f"the reference StatsD daemon cannot run: {problem}; {HOW}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return STATS_JS


# --- a parser for the util.inspect subset the management console prints -------------------

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?n?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SPACE = re.compile(r"\s*")
_MORE_ITEMS = re.compile(r"\.\.\. (\d+) more items?")
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
}
_WORDS: dict[str, JsValue] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": None,
    "NaN": math.nan,
    "Infinity": math.inf,
}


class JsParseError(ValueError):
    """The text is not in the supported subset of JavaScript object notation."""


class _JsParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> JsParseError:
        start = max(0, self.pos - 30)
        context = self.text[start : self.pos + 30]
        return JsParseError(f"{what} at offset {self.pos}: {context!r}")

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        assert match is not None  # \s* always matches
        self.pos = match.end()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def document(self) -> JsValue:
        value = self.value()
        self.skip_space()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the value")
        return value

    def value(self) -> JsValue:
        self.skip_space()
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            if _IDENT.match(self.text, self.pos + 1):  # [Object], [Array], [Circular *1], ...
                raise self.fail("util.inspect elided a nested value (depth limit or a non-data)")
            return self.array()
        if char in "'\"`":
            return self.string()
        if self.text.startswith("-Infinity", self.pos):
            self.pos += len("-Infinity")
            return -math.inf
        match = _NUMBER.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
            token = match.group()
            if token.endswith("n"):  # a BigInt
                return int(token[:-1])
            return float(token)
        match = _IDENT.match(self.text, self.pos)
        if match is not None and match.group() in _WORDS:
            self.pos = match.end()
            return _WORDS[match.group()]
        raise self.fail("expected a value")

    def object(self) -> dict[str, JsValue]:
        self.expect("{")
        result: dict[str, JsValue] = {}
        while True:
            self.skip_space()
            if self.peek() == "}":
                self.pos += 1
                return result
            key = self.key()
            self.expect(":")
            result[key] = self.value()
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")

    def key(self) -> str:
        if self.peek() in "'\"`":
            return self.string()
        if self.text.startswith(("['", '["', "[`"), self.pos):  # an own ['__proto__']
            self.pos += 1
            key = self.string()
            self.expect("]")
            return key
        match = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a property name")
        self.pos = match.end()
        return match.group()

    def array(self) -> list[JsValue]:
        self.expect("[")
        result: list[JsValue] = []
        while True:
            self.skip_space()
            if self.peek() == "]":
                self.pos += 1
                return result
            more = _MORE_ITEMS.match(self.text, self.pos)
            if more is not None:
                raise self.fail(
                    f"util.inspect truncated an array after {len(result)} items"
                    f" ({more.group(1)} more not shown)"
                )
            result.append(self.value())
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")

    def string(self) -> str:
        parts = [self.one_string()]
        # Old Node versions wrapped long strings as 'abc' +\n 'def'.
        while True:
            saved = self.pos
            self.skip_space()
            if self.peek() != "+":
                self.pos = saved
                return "".join(parts)
            self.pos += 1
            self.skip_space()
            if self.peek() not in "'\"`":
                raise self.fail("expected a string after '+'")
            parts.append(self.one_string())

    def one_string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.fail("unterminated string")
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(out)
            if char != "\\":
                out.append(char)
                continue
            if self.pos >= len(self.text):
                raise self.fail("unterminated escape")
            esc = self.text[self.pos]
            self.pos += 1
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
            elif esc == "x":
                out.append(chr(self.hex_digits(2)))
            elif esc == "u" and self.peek() == "{":
                end = self.text.find("}", self.pos)
                if end < 0:
                    raise self.fail("unterminated \\u{...} escape")
                digits = self.text[self.pos + 1 : end]
                self.pos = end + 1
                try:
                    out.append(chr(int(digits, 16)))
                except ValueError:
                    raise self.fail("bad \\u{...} escape") from None
            elif esc == "u":
                code = self.hex_digits(4)
                # A surrogate pair written as two escapes is one character.
                if 0xD800 <= code < 0xDC00 and self.text.startswith("\\u", self.pos):
                    saved = self.pos
                    self.pos += 2
                    low = self.hex_digits(4)
                    if 0xDC00 <= low < 0xE000:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    else:
                        self.pos = saved
                out.append(chr(code))
            elif esc == "\n":  # a line continuation
                continue
            else:  # \\ \' \" \` and any other character stand for themselves
                out.append(esc)

    def hex_digits(self, count: int) -> int:
        digits = self.text[self.pos : self.pos + count]
        if len(digits) != count or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.fail(f"expected {count} hex digits")
        self.pos += count
        return int(digits, 16)


def parse_js(text: str) -> JsValue:
    """Parse ``util.inspect`` output of plain data: objects (keys bare or quoted with
    ``'``, ``"`` or a backtick), arrays, numbers (negative, exponent, ``-0``, ``NaN``,
    ``Infinity``, BigInt), strings with escapes, ``true``/``false``/``null``/``undefined``
    (both None). Elided parts (``[Object]``, ``... N more items``) raise JsParseError."""
    return _JsParser(text).document()


def _number_map(value: JsValue, what: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise JsParseError(f"{what} dump is not an object: {value!r}")
    out: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(item, float | int) or isinstance(item, bool):
            raise JsParseError(f"{what} dump: {key!r} is not a number: {item!r}")
        out[key] = float(item)
    return out


def _list_map(value: JsValue, what: str) -> dict[str, list[float]]:
    if not isinstance(value, dict):
        raise JsParseError(f"{what} dump is not an object: {value!r}")
    out: dict[str, list[float]] = {}
    for key, items in value.items():
        if not isinstance(items, list):
            raise JsParseError(f"{what} dump: {key!r} is not an array: {items!r}")
        values: list[float] = []
        for item in items:
            if not isinstance(item, float | int) or isinstance(item, bool):
                raise JsParseError(f"{what} dump: {key!r} holds a non-number: {item!r}")
            values.append(float(item))
        out[key] = values
    return out


# --- the daemon ---------------------------------------------------------------------------


def _free_ports(ingest: socket.SocketKind) -> tuple[int, int]:
    """Two distinct free ports on 127.0.0.1: one for ``ingest`` (UDP or TCP), one TCP."""
    with (
        socket.socket(socket.AF_INET, ingest) as first,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as second,
    ):
        first.bind((HOST, 0))
        second.bind((HOST, 0))
        return int(first.getsockname()[1]), int(second.getsockname()[1])


def _listening(proto: str, port: int) -> bool | None:
    """Whether 127.0.0.1:port is bound (udp) or listening (tcp), per /proc/net; None when
    /proc/net is not there to tell."""
    table = Path("/proc/net") / proto
    try:
        lines = table.read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return None
    wanted = f"0100007F:{port:04X}"
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[1] == wanted and (proto == "udp" or fields[3] == "0A"):
            return True
    return False


class StatsdDaemon:
    """A running ``node stats.js config.js``: ingest on 127.0.0.1:``port`` (UDP, or TCP when
    ``tcp``), management console on 127.0.0.1:``mgmt_port``; no backend, no flush."""

    def __init__(self, *, workdir: Path, port: int, mgmt_port: int, tcp: bool) -> None:
        self.workdir = workdir
        self.port = port
        self.mgmt_port = mgmt_port
        self.tcp = tcp
        self.config_path = workdir / "config.js"
        self.log_path = workdir / "statsd.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.write_config()

    @property
    def address(self) -> tuple[str, int]:
        """Where metrics go: ``(host, port)``."""
        return (HOST, self.port)

    def write_config(self) -> None:
        # JSON is valid JavaScript object notation; stats.js eval()s the file.
        server = "./servers/tcp" if self.tcp else "./servers/udp"
        config = {
            "servers": [{"server": server, "address": HOST, "port": self.port}],
            "mgmt_address": HOST,
            "mgmt_port": self.mgmt_port,
            # First flush an hour after start: nothing is flushed or reset during a test.
            "flushInterval": 3_600_000,
            "backends": [],  # no graphite
            "deleteIdleStats": False,
            "deleteCounters": False,
            "deleteGauges": False,
            "deleteTimers": False,
            "deleteSets": False,
            "keyNameSanitize": True,  # the default, stated: tests assert sanitised keys
            "prefixStats": "statsd",
            "automaticConfigReload": False,
            "log": {"backend": "stdout"},
        }
        self.config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    # -- process ----------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Start the daemon; return once both ports answer."""
        if self._process is not None:
            raise RuntimeError("statsd is already running")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(f"`node` is not on PATH; {HOW}")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [node, str(require_statsd()), str(self.config_path)],
            cwd=STATSD_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._reap()
                raise RuntimeError(f"statsd exited with {code} while starting:\n{self.log()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"statsd did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.02)

    def _ready(self) -> bool:
        try:
            if self.command("health", until=b"\n", timeout=1.0).strip() != "health: up":
                return False
        except OSError:
            return False
        # The console listens after the ingest server binds (same tick); check anyway.
        return _listening("tcp" if self.tcp else "udp", self.port) is not False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (statsd exits at once), SIGKILL after ``timeout``; idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()

    def _reap(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start the same daemon on the same ports. Its state starts empty again;
        TCP clients must reconnect."""
        self.stop()
        self.start()

    def client_connections(self) -> int:
        """TCP connections made to the ingest port: those open and those closed within
        the last minute (TIME_WAIT), counted on the client side of /proc/net/tcp and
        tcp6 (entries whose remote port is the ingest port; the daemon's own sockets
        have it as their local port). Fails where /proc/net is not there to tell."""
        wanted = f":{self.port:04X}"
        count = 0
        for proto in ("tcp", "tcp6"):
            try:
                lines = (Path("/proc/net") / proto).read_text(encoding="ascii").splitlines()
            except FileNotFoundError:
                continue  # no IPv6 here
            for line in lines[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[2].endswith(wanted) and fields[3] != "0A":
                    count += 1
        return count

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the daemon printed (its ``Bad line: ...`` messages among others)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # -- management console -----------------------------------------------------------------

    def command(self, command: str, *, until: bytes = b"END\n\n", timeout: float = 5.0) -> str:
        """Send one management command; return the answer up to and excluding ``until``."""
        with socket.create_connection((HOST, self.mgmt_port), timeout=timeout) as sock:
            sock.sendall(command.encode("ascii") + b"\n")
            buffer = b""
            while not buffer.endswith(until):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(
                        f"statsd closed the console during {command!r}; got {buffer!r}"
                    )
                buffer += chunk
        return buffer[: -len(until)].decode("utf-8")

    def _dump(self, command: str) -> JsValue:
        return parse_js(self.command(command))

    def counters(self) -> dict[str, float]:
        """Every counter, including ``statsd.bad_lines_seen``, ``statsd.packets_received`` and
        ``statsd.metrics_received`` (one per non-empty line)."""
        return _number_map(self._dump("counters"), "counters")

    def gauges(self) -> dict[str, float]:
        return _number_map(self._dump("gauges"), "gauges")

    def timers(self) -> dict[str, list[float]]:
        """Every timer's values in arrival order (a sample rate does not repeat a value).
        Raises JsParseError beyond 100 values of one timer (util.inspect elides them)."""
        return _list_map(self._dump("timers"), "timers")

    def stats(self) -> dict[str, float | str]:
        """The ``stats`` command: ``uptime``, ``messages.last_msg_seen`` (seconds ago),
        ``messages.bad_lines_seen`` (since start, never reset) and backends' lines."""
        out: dict[str, float | str] = {}
        for line in self.command("stats").splitlines():
            if not line.strip():
                continue
            name, sep, raw = line.partition(": ")
            if not sep:
                raise ValueError(f"unexpected stats line {line!r}")
            try:
                out[name] = float(raw)
            except ValueError:
                out[name] = raw
        return out

    def bad_lines_seen(self) -> float:
        """Bad lines since the daemon started (``messages.bad_lines_seen`` of ``stats``;
        the counter ``statsd.bad_lines_seen`` holds the same until a flush zeroes it)."""
        value = self.stats()["messages.bad_lines_seen"]
        assert isinstance(value, float), value
        return value

    def metrics_received(self) -> float:
        """Non-empty lines received since start (good and bad), until a flush."""
        return self.counters()["statsd.metrics_received"]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value and return that value; raise
        AssertionError after ``timeout`` seconds with the last value and the daemon's log."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"still {value!r} after {timeout} s; statsd log:\n{self.log()[-4000:]}"
                )
            time.sleep(interval)

    def wait_for_lines(self, count: float, timeout: float = 5.0) -> None:
        """Wait until exactly ``count`` lines have arrived since start; then every metric
        they carry is stored (the daemon handles a packet at once). Fails past ``count``."""
        seen = self.wait_for(lambda: (n := self.metrics_received()) >= count and n, timeout)
        assert seen == count, f"statsd received {seen} lines, expected {count}"


@contextmanager
def statsd_daemon(*, tcp: bool = False) -> Iterator[StatsdDaemon]:
    """Run the reference daemon (UDP ingest, or TCP when ``tcp``) for the ``with`` block:
    free ports on 127.0.0.1, a temporary config; stopped and removed after."""
    require_statsd()
    with tempfile.TemporaryDirectory(prefix="gm-statsd-") as tmp:
        daemon: StatsdDaemon | None = None
        for attempt in range(3):  # a free port can be taken before node binds it
            port, mgmt_port = _free_ports(socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            daemon = StatsdDaemon(workdir=Path(tmp), port=port, mgmt_port=mgmt_port, tcp=tcp)
            try:
                daemon.start()
                break
            except RuntimeError:
                if attempt == 2 or "EADDRINUSE" not in daemon.log():
                    raise
        assert daemon is not None
        try:
            yield daemon
        finally:
            daemon.stop()
