"""Running a benchmark on gatewaymetrics as users get it: a wheel in a fresh venv.

The project's own venv imports gatewaymetrics from ``src/`` (an editable install), which
is not what ``pip install gatewaymetrics`` gives (the wheel may ship compiled modules).
:func:`relaunch` builds the wheel as ``pip install .`` would (``pip wheel``, with build
isolation), installs it with ``--no-deps`` into a fresh venv whose ``.pth`` file appends
the project venv's site-packages (litellm, prometheus_client, attrs: nothing else is
downloaded, and the fresh venv's own gatewaymetrics comes first on ``sys.path``), and
runs the benchmark script again there with ``--inside``. Inside, :func:`provenance`
says which gatewaymetrics runs and refuses the one in ``src/``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src"
INSIDE = "--inside"
#: The build hook's switch for a wheel without compiled modules.
PURE_BUILD_ENV = "GATEWAYMETRICS_PURE_BUILD"
#: The hot modules when pyproject.toml does not list them (its build hook's
#: ``mypyc-modules``).
HOT_MODULES = ("gatewaymetrics.core.litellm_fast", "gatewaymetrics.backends.series_store")
_PTH = "gatewaymetrics_benchmark_project_venv.pth"


@attrs.frozen(kw_only=True)
class Build:
    """One wheel to run the benchmark on: one given (``wheel``), or one built from the
    project, pure (with ``GATEWAYMETRICS_PURE_BUILD=1``) or not."""

    title: str
    wheel: Path | None = None
    pure: bool = False


def hot_modules(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The modules the wheel may ship compiled: the build hook's ``mypyc-modules``
    (paths such as ``gatewaymetrics/core/litellm_fast.py``) as module names, or
    :data:`HOT_MODULES` when pyproject.toml does not list them."""
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        paths = table["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"][
            "mypyc-modules"
        ]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return HOT_MODULES
    if not isinstance(paths, list):
        return HOT_MODULES
    names = []
    for path in paths:
        if isinstance(path, str) and path.endswith(".py") and "*" not in path:
            name = path.removeprefix("src/").removesuffix(".py").replace("/", ".")
            names.append(name.removesuffix(".__init__"))
    return tuple(names) or HOT_MODULES


def build_wheel(out: Path, *, pure: bool) -> Path:
    """The project's wheel, built into ``out`` as ``pip install .`` builds it. What the
    build hook says (its lines naming gatewaymetrics: why a wheel came out pure) is
    shown on stderr."""
    env = dict(os.environ)
    env.pop(PURE_BUILD_ENV, None)
    if pure:
        env[PURE_BUILD_ENV] = "1"
    # -v: pip shows the build backend's output only when verbose.
    command = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", str(ROOT),
               "-w", str(out)]  # fmt: skip
    output = _run(command, env=env)
    for line in output.splitlines():
        if line.lstrip().startswith(("gatewaymetrics:", "warning: gatewaymetrics:")):
            _note(f"  build: {line.strip()}")
    wheels = sorted(out.glob("gatewaymetrics-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"pip wheel left {len(wheels)} gatewaymetrics wheels in {out}")
    return wheels[0]


def fresh_venv(directory: Path, wheel: Path) -> Path:
    """A new venv in ``directory`` with ``wheel`` installed (no dependencies) and the
    running interpreter's site-packages appended to its ``sys.path``; its python."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(directory)])
    python = directory / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
          "--no-deps", "--no-index", str(wheel)])  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    (Path(site) / _PTH).write_text("".join(f"{path}\n" for path in ours), encoding="utf-8")
    return python


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose the builds to measure (``--pure``, ``--both``,
    ``--wheel``) and the hidden one of the relaunched run (:data:`INSIDE`)."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--pure", action="store_true",
                        help="build the wheel with GATEWAYMETRICS_PURE_BUILD=1")  # fmt: skip
    choice.add_argument("--both", action="store_true",
                        help="run the default build, then the pure build")  # fmt: skip
    choice.add_argument("--wheel", type=Path, action="append",
                        help="run this wheel instead of building one (repeatable)")  # fmt: skip
    parser.add_argument(INSIDE, action="store_true", help=argparse.SUPPRESS)


def chosen_builds(options: argparse.Namespace) -> list[Build]:
    """The builds :func:`add_build_options`' options ask for."""
    if options.wheel:
        return [Build(title=f"given wheel {path}", wheel=path) for path in options.wheel]
    default = Build(title="default build")
    pure = Build(title="pure build (GATEWAYMETRICS_PURE_BUILD=1)", pure=True)
    return [pure] if options.pure else [default, pure] if options.both else [default]


def relaunch(script: Path, arguments: Sequence[str], builds: Sequence[Build]) -> int:
    """Run ``script`` with ``arguments`` and :data:`INSIDE` on each build's wheel, one
    after the other, each in its own fresh venv; the first non-zero exit status, or 0."""
    status = 0
    with tempfile.TemporaryDirectory(prefix="gatewaymetrics-bench-") as tmp:
        for index, build in enumerate(builds):
            place = Path(tmp) / str(index)
            wheel = build.wheel
            if wheel is None:
                started = time.perf_counter()
                _note(f"building the wheel ({build.title}) ...")
                wheel = build_wheel(place / "wheel", pure=build.pure)
                _note(f"built {wheel.name} in {time.perf_counter() - started:.0f} s")
            python = fresh_venv(place / "venv", wheel.resolve())
            print(f"== {build.title}: {wheel.name}, installed into a fresh venv "
                  f"(other packages from {sys.prefix}) ==", flush=True)  # fmt: skip
            env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
            command = [str(python), str(script), INSIDE, *arguments]
            code = subprocess.run(command, check=False, env=env).returncode
            status = status or code
            print(flush=True)
    return status


def provenance(package: str = "gatewaymetrics") -> list[str]:
    """Lines saying which ``package`` runs (its file, its wheel's tag) and which hot
    modules are compiled. Exits with a message if it is imported from ``src/``."""
    module = importlib.import_module(package)
    where = Path(module.__file__ or "")
    if where.resolve().is_relative_to(SOURCE.resolve()):
        raise SystemExit(
            f"refusing to run: {package} was imported from the source tree ({where}), "
            f"not from an installed wheel; run this script with the project venv's "
            f"python, without {INSIDE}"
        )
    tags = [
        line.split(":", 1)[1].strip()
        for line in (importlib.metadata.distribution(package).read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    lines = [f"{package} {importlib.metadata.version(package)} from {where} "
             f"(wheel tag {', '.join(tags) or 'unknown'})"]  # fmt: skip
    compiled = 0
    for name in hot_modules():
        try:
            hot = importlib.import_module(name)
        except ImportError:
            lines.append(f"  {name}: not in this wheel")
            continue
        path = Path(hot.__file__ or "")
        is_compiled = path.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        compiled += is_compiled
        state = "compiled" if is_compiled else "pure Python"
        lines.append(f"  {name}: {state} ({path.name})")
    if not compiled:
        lines.append("  (no hot module compiled: a pure build, or a wheel built without the hook)")
    return lines


def _run(command: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run ``command``; its output (stdout and stderr), or on failure show it and exit."""
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return done.stdout + done.stderr


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
