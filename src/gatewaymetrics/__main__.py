"""The ``gatewaymetrics`` command. For now: ``replay FILE`` records captured LiteLLM
payloads into a memory backend and prints a summary table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gatewaymetrics.backends.memory import MemoryBackend
from gatewaymetrics.pipeline import Pipeline
from gatewaymetrics.replay import replay
from gatewaymetrics.summary import render_summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gatewaymetrics", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    replay_parser = commands.add_parser("replay", help="replay captured LiteLLM payloads")
    replay_parser.add_argument(
        "file", help="JSON lines: {kwargs, response_obj, start_time, end_time, hook}"
    )
    args = parser.parse_args(argv)

    backend = MemoryBackend()
    pipeline = Pipeline([backend])
    try:
        with open(args.file, encoding="utf-8") as lines:
            recorded, bad = replay(lines, pipeline)
    except OSError as exc:
        print(f"gatewaymetrics: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    for item in bad:
        print(f"gatewaymetrics: {args.file}:{item.line}: skipped, {item.reason}", file=sys.stderr)
    print(f"Replayed {recorded} payloads from {args.file}\n")
    print(render_summary(backend, pipeline.plan), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
