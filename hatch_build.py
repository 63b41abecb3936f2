"""The wheel ships the fast path's hot modules compiled with mypyc (a hatchling build hook).

Configured in ``pyproject.toml`` under ``[tool.hatch.build.targets.wheel.hooks.custom]``:
``mypyc-modules`` lists the modules, as paths in the wheel (and under ``src/``). For a
standard wheel (not an editable one) they are compiled in a temporary copy of ``src/``,
as one mypyc group whose runtime library is ``<package>/_compiled__mypyc`` (mypyc's
default would be a top-level module named by a hash), and every extension built goes
into the wheel at its import path, beside the module's ``.py`` source: the import
system prefers the extension.

Compiling is an optimisation, never a requirement: when it fails (no C compiler, no
mypyc, a mypyc error) the hook says why in one line on stderr and the wheel is pure
Python (``py3-none-any``). ``GATEWAYMETRICS_PURE_BUILD=1`` asks for the pure wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PURE_ENV = "GATEWAYMETRICS_PURE_BUILD"
MODULES_KEY = "mypyc-modules"
SOURCE = "src"

# Run by the build's Python in the copy of src/ (so that neither mypy nor setuptools
# finds the project's pyproject.toml): <build-lib> <build-temp> <group> <module>...
_SETUP = """\
import sys

from setuptools import setup  # before mypyc.build, which then builds with setuptools

from mypyc.build import mypycify

build_lib, build_temp, group, *modules = sys.argv[1:]
setup(
    name="gatewaymetrics-mypyc",
    script_args=["build_ext", "--build-lib", build_lib, "--build-temp", build_temp],
    ext_modules=mypycify(modules, group_name=group, target_dir=build_temp),
)
"""


class CompileError(Exception):
    """Compiling did not give an extension for every module; the message says why."""


class CustomBuildHook(BuildHookInterface[BuilderConfig]):
    """Adds the compiled modules to a standard wheel, which then has a platform tag."""

    _work: tempfile.TemporaryDirectory[str] | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "standard":
            return
        modules = self._modules()
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            print(f"gatewaymetrics: {PURE_ENV} is set: a pure Python wheel", file=sys.stderr)
            return
        self._work = tempfile.TemporaryDirectory(prefix="gatewaymetrics-mypyc-")
        try:
            built = compile_modules(Path(self.root) / SOURCE, modules, Path(self._work.name))
        except CompileError as exc:
            print(
                f"warning: gatewaymetrics: compiling {', '.join(modules)} with mypyc failed"
                f" ({exc}); building a pure Python wheel",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update({str(path): name for name, path in built.items()})

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._work is not None:
            self._work.cleanup()
            self._work = None

    def _modules(self) -> list[str]:
        """The configured modules; a wrong entry is a configuration error, and fails."""
        modules = self.config.get(MODULES_KEY)
        if not isinstance(modules, list) or not modules:
            raise ValueError(f"{MODULES_KEY} must be a non-empty list of module paths")
        for module in modules:
            if not (isinstance(module, str) and module.endswith(".py")):
                raise ValueError(f"{MODULES_KEY}: {module!r} is not the path of a .py module")
            if not (Path(self.root) / SOURCE / module).is_file():
                raise ValueError(f"{MODULES_KEY}: {module!r} is not a file under {SOURCE}/")
        packages = {Path(module).parent.parts[:1] for module in modules}
        if len(packages) != 1 or packages == {()}:
            raise ValueError(f"{MODULES_KEY}: the modules must be in one package")
        return modules


def compile_modules(source: Path, modules: list[str], work: Path) -> dict[str, Path]:
    """Compile ``modules`` (paths under ``source``) in a copy of ``source`` under
    ``work``: every file built, by its path in the wheel. Raises CompileError."""
    copy, build_lib, build_temp = work / "src", work / "lib", work / "temp"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    (work / "setup_mypyc.py").write_text(_SETUP, encoding="utf-8")
    group = f"{Path(modules[0]).parts[0]}._compiled"  # the runtime library's module
    try:
        result = subprocess.run(
            [sys.executable, work / "setup_mypyc.py", build_lib, build_temp, group, *modules],
            cwd=copy,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise CompileError(str(exc)) from exc
    if result.returncode != 0:
        raise CompileError(_reason(f"{result.stdout}\n{result.stderr}", result.returncode))
    built = {
        path.relative_to(build_lib).as_posix(): path
        for path in sorted(build_lib.rglob("*"))
        if path.is_file()
    }
    for module in modules:
        stem = module.removesuffix(".py")
        if not any(name.startswith(f"{stem}.") for name in built):
            raise CompileError(f"no extension module built for {module}")
    return built


def _reason(output: str, returncode: int) -> str:
    """Why compiling failed, in a few words: the last line of ``output`` that says
    error (a long compiler command cut in the middle)."""
    errors = [line.strip() for line in output.splitlines() if "error" in line.lower()]
    if not errors:
        return f"exit status {returncode}"
    reason = errors[-1]
    return reason if len(reason) <= 160 else f"{reason[:80]} ... {reason[-60:]}"
