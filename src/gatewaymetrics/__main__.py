"""The ``gatewaymetrics`` command.

    gatewaymetrics demo [--calls N] [--serve]    real LiteLLM traffic, a summary, /metrics
    gatewaymetrics replay FILE [--exposition]    captured payloads (JSON lines) recorded
    gatewaymetrics serve [--host H] [--port P]   a standalone /metrics server
    gatewaymetrics check-config [FILE]           the effective settings and the catalog

Backends and settings come from ``GATEWAYMETRICS_*`` variables and the
``GATEWAYMETRICS_CONFIG`` file (see gatewaymetrics.config). Exit codes: 0 ok, 2 usage
or configuration error, 1 anything else; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

import attrs

from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.config import (
    Config,
    build_pipeline,
    load_config,
    parse_option,
    serve_metrics,
    validate,
)
from gatewaymetrics.core.catalog import NAMINGS
from gatewaymetrics.errors import GatewayMetricsError
from gatewaymetrics.pipeline import Pipeline
from gatewaymetrics.replay import replay
from gatewaymetrics.summary import render_summary

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # raise, not exit
        raise _UsageError(message)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    stop.wait()


def _without_server(config: Config) -> Config:
    """``config`` with no own ``/metrics`` server: for commands that only record."""
    return attrs.evolve(config, prometheus=attrs.evolve(config.prometheus, port=0))


def _metrics_url(pipeline: Pipeline) -> str | None:
    for backend in pipeline.backends:
        address = getattr(backend, "address", None)
        if address is not None:
            return f"http://{address[0]}:{address[1]}/metrics"
    return None


def _demo(config: Config, calls: int, serve: bool) -> int:
    import asyncio

    from gatewaymetrics.adapters.litellm import GatewayMetricsLogger
    from gatewaymetrics.adapters.litellm_driver import drive
    from gatewaymetrics.demo import demo_calls

    memory = MemoryBackend(name="summary", naming="native")
    pipeline = build_pipeline(config if serve else _without_server(config), extra_backends=[memory])
    url = _metrics_url(pipeline)

    def progress(done: int, total: int) -> None:
        print(f"\r  {done}/{total} calls", end="", file=sys.stderr, flush=True)

    print(f"Driving {calls} LiteLLM calls (mock responses, no network) through the adapter...",
          file=sys.stderr)  # fmt: skip
    try:
        asyncio.run(drive(demo_calls(calls), GatewayMetricsLogger(pipeline), progress=progress))
        print(file=sys.stderr)
        print(render_summary(memory, pipeline.plan), end="")
        requests = round(memory.sum(pipeline.plan.metrics["requests"].name))
        if requests > calls:
            extra = requests - calls
            print(f"\n{requests} requests from {calls} calls: {extra} more "
                  f"attempt{'s' if extra > 1 else ''} on a fallback deployment "
                  "(each attempt is a request)")  # fmt: skip
        backends = ", ".join(b.name for b in pipeline.backends if b is not memory)
        print(f"\nRecorded with: {backends}")
        if url is not None:
            print(f"Metrics: {url}")
        elif not serve and "prometheus" in config.backends:
            print("Metrics: not served (gatewaymetrics demo --serve keeps /metrics up)")
        if serve:
            print("Serving; Ctrl-C to stop.", flush=True)
            _wait_for_signal()
    finally:
        pipeline.close()
    return 0


def _replay(config: Config, path: str, exposition: bool) -> int:
    memory = MemoryBackend(name="summary", naming="native")
    pipeline = build_pipeline(_without_server(config), extra_backends=[memory])
    try:
        try:
            with open(path, encoding="utf-8") as lines:
                recorded, bad = replay(lines, pipeline)
        except OSError as exc:
            raise GatewayMetricsError("FILE", path, f"a readable file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise GatewayMetricsError("FILE", path, "a UTF-8 text file of JSON lines") from None
        for item in bad:
            print(f"gatewaymetrics: {path}:{item.line}: skipped, {item.reason}", file=sys.stderr)
        if exposition:
            from gatewaymetrics.backends.prometheus import PrometheusBackend

            for backend in pipeline.backends:
                if isinstance(backend, PrometheusBackend):
                    sys.stdout.write(backend.exposition()[0].decode("utf-8"))
                    return 0
            raise GatewayMetricsError("backends", config.backends, "a list with prometheus")
        print(f"Replayed {recorded} payloads from {path}\n")
        print(render_summary(memory, pipeline.plan), end="")
        return 0
    finally:
        pipeline.close()


def _serve(config: Config, host: str | None, port: int | None) -> int:
    """``/metrics`` of this process, or of the multiprocess directory, on ``--host`` and
    ``--port`` (default: the configuration's; 0 picks a free port). Errors name the
    flag when the value came from one."""
    p = config.prometheus
    p = attrs.evolve(
        p, host=p.host if host is None else host, port=p.port if port is None else port
    )
    config = attrs.evolve(config, backends=("prometheus",), prometheus=p)
    flags = {"prometheus.host": "--host" if host is not None else None,
             "prometheus.port": "--port" if port is not None else None}  # fmt: skip
    try:
        validate(config)
        pipeline = build_pipeline(attrs.evolve(config, prometheus=attrs.evolve(p, port=0)))
        try:
            bound = serve_metrics(pipeline.backends[0], p)  # type: ignore[arg-type]  # the one backend
            assert bound is not None  # not shared: a taken port is an error
        except GatewayMetricsError:
            pipeline.close()
            raise
    except GatewayMetricsError as exc:
        flag = flags.get(exc.key)
        raise exc if flag is None else exc.renamed(flag) from None
    source = getattr(pipeline.backends[0], "multiprocess_dir", None) or "this process"
    print(f"Serving http://{bound[0]}:{bound[1]}/metrics for {source}; Ctrl-C to stop.", flush=True)
    _wait_for_signal()
    pipeline.close()
    return 0


def _check_config(config: Config) -> int:
    validate(config)  # every check build_pipeline makes
    settings = config.settings
    labels = settings.labels
    print(f"backends = {list(config.backends)}")
    print(f"prefix = {settings.prefix!r}")
    print(
        f"naming = {settings.naming!r}  # native: gatewaymetrics' names;"
        " litellm: LiteLLM's PrometheusLogger names"
    )
    print(f"series_cap = {settings.series_cap}")
    buckets = settings.duration_buckets or NAMINGS[settings.naming].duration_buckets
    print(f"duration_buckets = {list(buckets)}")
    print(f"labels.call_labels = {list(labels.call_labels)}")
    print(f"labels.custom = {dict(labels.custom)}")
    print(
        f"labels.api_key = {labels.api_key!r}\nlabels.max_value_length = {labels.max_value_length}"
    )
    if "prometheus" in config.backends:
        p = config.prometheus
        shown = [f"host = {p.host!r}", f"port = {p.port}", f"multiprocess = {p.multiprocess}"]
        if p.bearer_token is not None:
            shown.append("bearer_token = <set>")  # a credential is never printed
        if p.basic_auth_user is not None:
            shown.append(f"basic_auth = {{user = {p.basic_auth_user!r}, password = <set>}}")
        if p.tls_cert_file is not None:
            shown.append(
                f"tls = {{cert_file = {p.tls_cert_file!r}, key_file = {p.tls_key_file!r}}}"
            )
        print(f"prometheus = {{{', '.join(shown)}}}")
    if "statsd" in config.backends:
        s = config.statsd
        print(f"statsd = {{host = {s.host!r}, port = {s.port}, protocol = {s.protocol!r}, "
              f"dialect = {s.dialect!r}, prefix = {s.prefix!r}}}")  # fmt: skip
    from gatewaymetrics.core.plan import Plan

    print("\nmetric catalog")
    for metric in Plan.build(settings).metrics.values():
        print(f"  {metric.name} {metric.kind.value} [{', '.join(metric.label_names)}]")
    return 0


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """The description as written; ``--help`` shows no reST markup."""


_DESCRIPTIONS = {
    "demo": "Drive LiteLLM calls with mock responses (no network) through the adapter\n"
    "into the configured backends and print a summary. Router fallbacks make\n"
    "more requests than calls: each attempt is a request.",
    "replay": "Record captured LiteLLM callback payloads (JSON lines) and print a\n"
    "summary, or the Prometheus exposition. Starts no server.",
    "serve": "Serve /metrics until SIGINT or SIGTERM. It records nothing itself: it\n"
    "serves what gateway workers write into a shared multiprocess directory\n"
    "(prometheus.multiprocess_dir or PROMETHEUS_MULTIPROC_DIR). Without one it\n"
    "shows only HELP and TYPE lines.",
    "check-config": "Validate the configuration as build_pipeline does, then print the\n"
    "effective settings and the metric catalog.",
}


def _parser() -> _Parser:
    description = (__doc__ or "").replace("``", "`")
    parser = _Parser(prog="gatewaymetrics", description=description, formatter_class=_Formatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, summary: str) -> _Parser:
        return commands.add_parser(
            name, help=summary, description=_DESCRIPTIONS[name], formatter_class=_Formatter
        )

    demo = command("demo", "drive real LiteLLM (mock responses) and summarise")
    demo.add_argument(
        "--calls", type=int, default=120, help="how many calls (default: %(default)s)"
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep serving /metrics afterwards, on prometheus.port (default: no server)",
    )
    replay_command = command("replay", "record captured LiteLLM payloads")
    replay_command.add_argument(
        "file", help="JSON lines: {kwargs, response_obj, start_time, end_time, hook}"
    )
    replay_command.add_argument(
        "--exposition",
        action="store_true",
        help="print the Prometheus exposition instead (default: the summary)",
    )
    serve = command("serve", "a standalone /metrics server")
    serve.add_argument("--host", help="address to listen on (default: prometheus.host)")
    serve.add_argument("--port", help="0 to 65535, 0 picks a free one (default: prometheus.port)")
    check = command("check-config", "validate and print the configuration")
    check.add_argument(
        "file", nargs="?", help="a TOML file (default: GATEWAYMETRICS_CONFIG, and the environment)"
    )
    return parser


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "check-config":
            return _check_config(load_config(args.file))
        config = load_config()
        if args.command == "demo":
            if args.calls < 1:
                raise _UsageError("--calls must be at least 1")
            return _demo(config, args.calls, args.serve)
        if args.command == "replay":
            return _replay(config, args.file, args.exposition)
        host = (
            None if args.host is None else parse_option("prometheus.host", args.host, name="--host")
        )
        port = (
            None if args.port is None else parse_option("prometheus.port", args.port, name="--port")
        )
        return _serve(config, host, port)
    except _UsageError as exc:
        print(f"gatewaymetrics: {exc}", file=sys.stderr)
        return 2
    except GatewayMetricsError as exc:
        print(f"gatewaymetrics: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1
    except BrokenPipeError:
        raise
    except Exception as exc:
        print(f"gatewaymetrics: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; output to a pipe its reader closed (``| head``) ends quietly."""
    try:
        code = _run(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Whatever is still buffered goes nowhere, not into an error at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
