"""Our callback against a no-op one inside ONE LiteLLM proxy process, swapped between
rounds: the per-process bias two separate processes show (benchmarks/proxy_throughput.py's
control: 5 to 9% here) drops out of the comparison.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python benchmarks/proxy_swap.py [--rounds 11]

The proxy's one callback is a switch that hands every hook to a no-op logger or to
``gatewaymetrics.adapters.litellm.proxy_logger``, whichever a mode file names (it checks
the file's modification time per event, in both modes alike). Each round runs three
segments in a rotating order: no-op, ours, no-op again (the control); the figures are
the medians over rounds of ours / no-op and of the second no-op / the first, within the
same round. Client and proxy are pinned to separate CPUs as in proxy_throughput.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import proxy_throughput as pt

SWITCH_MODULE = '''\
"""A callback that hands every hook to a no-op logger or to gatewaymetrics' proxy_logger,
as the mode file beside it says (written by benchmarks/proxy_swap.py)."""

import os

from litellm.integrations.custom_logger import CustomLogger

from gatewaymetrics.adapters.litellm import proxy_logger
from noop_callback import NoopLogger

MODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mode")


class Switch(CustomLogger):
    def __init__(self):
        super().__init__()
        self.noop = NoopLogger()
        self.seen = None
        self.target = self.noop

    def _current(self):
        stamp = os.stat(MODE).st_mtime_ns
        if stamp != self.seen:
            self.seen = stamp
            with open(MODE) as mode:
                self.target = proxy_logger if mode.read().strip() == "ours" else self.noop
        return self.target

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        return self._current().log_success_event(kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        return self._current().log_failure_event(kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        target = self._current()
        return await target.async_log_success_event(kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        target = self._current()
        return await target.async_log_failure_event(kwargs, response_obj, start_time, end_time)


switch = Switch()
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=pt.positive, default=300, help="per segment")
    parser.add_argument("--rounds", type=pt.positive, default=11)
    parser.add_argument("--concurrency", type=pt.positive, default=8)
    parser.add_argument("--warmup", type=pt.positive, default=200, help="per mode")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        pt.PINNING.client, pt.PINNING.proxy = {cpus[0]}, set(cpus[1:])
        os.sched_setaffinity(0, pt.PINNING.client)
    # The proxy named "gatewaymetrics" gets gatewaymetrics' environment; its callback
    # is the switch.
    pt.CALLBACKS[pt.GATEWAYMETRICS] = "switch_callback.switch"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        directory = root / pt.GATEWAYMETRICS
        directory.mkdir()
        (directory / "switch_callback.py").write_text(SWITCH_MODULE)
        (directory / "noop_callback.py").write_text(pt.NOOP_MODULE)  # the same no-op
        mode = directory / "mode"
        mode.write_text("noop")
        errors: Counter[str] = Counter()
        ours_requests = 0
        ratios: list[float] = []
        controls: list[float] = []
        with pt.running([pt.GATEWAYMETRICS], root) as proxies:
            proxy = proxies[pt.GATEWAYMETRICS]

            def segment(which: str, requests: int) -> float:
                mode.write_text(which)
                seconds, _ = pt.load(proxy.port, requests, args.concurrency, errors)
                proxy.settle()
                return requests / seconds

            segment("ours", args.warmup)
            segment("noop", args.warmup)
            ours_requests += args.warmup
            for index in range(args.rounds):
                order = ["noop", "ours", "noop2"]
                order = order[index % 3 :] + order[: index % 3]
                rps = {which: segment(which.rstrip("2"), args.requests) for which in order}
                ours_requests += args.requests
                ratios.append(rps["ours"] / rps["noop"])
                controls.append(rps["noop2"] / rps["noop"])
                figures = ", ".join(f"{w} {rps[w]:.1f}" for w in ("noop", "ours", "noop2"))
                pt.progress(f"round {index + 1}/{args.rounds}: {figures} req/s")
            counted = pt.requests_counted(proxy.metrics_port, ours_requests)
    print(f"one LiteLLM proxy process, callback swapped between segments; pinning: "
          f"client {sorted(pt.PINNING.client)}, proxy {sorted(pt.PINNING.proxy)}; "
          f"{args.rounds} rounds of 3 x {args.requests} requests")  # fmt: skip
    print(f"ours / no-op, same round:        median {statistics.median(ratios):.1%}, "
          f"mean {statistics.mean(ratios):.1%} (target >= 99%)")  # fmt: skip
    print(f"no-op again / no-op, same round: median {statistics.median(controls):.1%}, "
          f"mean {statistics.mean(controls):.1%} (the noise)")  # fmt: skip
    print(f"errors: {sum(errors.values())}; ours counted {counted} of {ours_requests} requests")
    return 0 if not errors and counted == ours_requests else 1


if __name__ == "__main__":
    sys.exit(main())
