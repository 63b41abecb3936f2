"""What ``pip install .`` builds is what runs: the wheel ships the modules listed under
``mypyc-modules`` in pyproject.toml compiled with mypyc (hatch_build.py), and the
compiled reader reads what its Python source reads. A build whose compiling fails, or
asked for with ``GATEWAYMETRICS_PURE_BUILD=1``, is a pure Python wheel.

``make test`` runs these tests twice: against the installed package (compiled), and
with ``src/`` on ``PYTHONPATH`` (its sources shadow the installed package: pure).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Callable
from datetime import datetime
from importlib.machinery import ExtensionFileLoader
from importlib.metadata import distribution
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, NoReturn

import pytest

import gatewaymetrics
from gatewaymetrics.core import litellm_fast

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples" / "litellm_payloads.jsonl"
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
HOOK: dict[str, Any] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]
#: The compiled modules, as paths in the wheel (and under src/).
COMPILED: tuple[str, ...] = tuple(HOOK["mypyc-modules"])
VERSION: str = PYPROJECT["project"]["version"]
#: The file name ending of an extension module built for this interpreter.
EXTENSION: str = sysconfig.get_config_var("EXT_SUFFIX")
#: The tests run against src/ (make's pure run), not against the installed package.
PURE = Path(gatewaymetrics.__file__).resolve().parent == SRC / "gatewaymetrics"
INSTALLED = Path(gatewaymetrics.__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"


def _skip_unless_ci(message: str) -> NoReturn:
    """Skip saying how to get the compiled modules; under CI=true, fail."""
    if CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.mark.parametrize("path", COMPILED)
def test_the_listed_modules_run_compiled(path: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    if PURE:  # src/ on the path: the sources, never an extension beside them
        assert Path(str(module.__file__)).resolve() == SRC / path
        return
    # (mypyc gives a module of a subpackage a __file__ that does not exist: the loader
    # and the installed file tell instead.)
    compiled = INSTALLED / (path.removesuffix(".py") + EXTENSION)
    if not isinstance(module.__loader__, ExtensionFileLoader) or not compiled.is_file():
        _skip_unless_ci(
            f"{module.__name__} is not compiled: make test builds it (needs a C compiler)"
        )
    assert isinstance(module.__loader__, ExtensionFileLoader)
    assert compiled.is_file()


def _files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
            and not path.name.endswith((EXTENSION, ".so", ".pyd"))}  # fmt: skip


def test_the_installed_package_is_the_source() -> None:
    """The tests run the installed package (not editable): it must hold what src/ holds
    now, or they test an older build (make reinstalls whenever src/ changes)."""
    source = _files(SRC / "gatewaymetrics")
    installed = _files(Path(str(distribution("gatewaymetrics").locate_file("gatewaymetrics"))))
    differ = sorted(name for name in source.keys() | installed.keys()
                    if source.get(name) != installed.get(name))  # fmt: skip
    assert differ == [], "the installed gatewaymetrics is not src/: run `make venv`"


def test_the_wheel_builds_with_the_tools_this_venv_pins() -> None:
    """The build tests below build with this venv's tools (no build isolation): the dev
    extra pins every build dependency of the hook, the same way."""
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert [tool for tool in HOOK["dependencies"] if tool not in dev] == []


# The compiled reader reads what its Python source reads.

#: The fast path's reader as installed, and its Python source loaded as another module.
READER = litellm_fast
READER_PATH = READER.__name__.replace(".", "/") + ".py"


def _load_source(path: str) -> ModuleType:
    name = "tests_pure_" + Path(path).stem
    spec = importlib.util.spec_from_file_location(name, SRC / path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE_READER = _load_source(READER_PATH)


def test_the_reader_is_a_listed_module() -> None:
    assert READER_PATH in COMPILED
    assert Path(str(PURE_READER.__file__)) == SRC / READER_PATH


def _plain(value: object, like: object) -> object:
    """``value`` as data to compare, read the way ``like`` (the pure reader's result)
    is built: a tuple or list as its type's name and items, an object with
    ``__slots__`` as its class name and attributes (mypyc's native classes have no
    ``__slots__``), anything else as itself."""
    if isinstance(like, tuple | list):
        assert isinstance(value, tuple | list)
        items = [_plain(item, pure) for item, pure in zip(value, like, strict=True)]
        return type(value).__name__, items
    slots = getattr(type(like), "__slots__", None)
    if slots is None:
        return value
    return type(value).__name__, {name: _plain(getattr(value, name), getattr(like, name))
                                  for name in slots}  # fmt: skip


def _outcome(read: Callable[..., object], *args: object) -> object:
    """What ``read`` returns, or the name of the exception it raises (each reader has
    its own ``Uncommon``)."""
    try:
        return read(*args)
    except Exception as exc:  # compared by name below: the readers' classes differ
        return type(exc).__name__


def _successes() -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    return [p for p in lines if p["kwargs"].get("standard_logging_object", {}).get("status")
            == "success"]  # fmt: skip


@pytest.mark.parametrize("captured", _successes(), ids=lambda p: str(p["scenario"]))
def test_the_compiled_reader_reads_what_its_source_reads(captured: dict[str, Any]) -> None:
    kwargs = captured["kwargs"]
    ours = READER.identity(kwargs, False, ())
    python = PURE_READER.identity(kwargs, False, ())
    assert _plain(ours, python) == _plain(python, python)
    if ours is None or python is None:
        return
    start = datetime.fromisoformat(captured["start_time"])
    end = datetime.fromisoformat(captured["end_time"])
    for stream in (False, True):
        for budgets in ((False,) * READER.BUDGET_COUNT, (True,) * READER.BUDGET_COUNT):
            read = (captured["response_obj"], start, end, stream, budgets)
            compiled = _outcome(READER.read_values, ours, *read)
            pure = _outcome(PURE_READER.read_values, python, *read)
            assert _plain(compiled, pure) == _plain(pure, pure)


# Building the wheel: `pip wheel` of this checkout with this venv's tools.


class Wheel(NamedTuple):
    name: str
    files: frozenset[str]
    #: The lines of the WHEEL metadata file that say how it installs.
    tags: tuple[str, ...]
    #: What hatch_build.py said (stderr lines starting with its name).
    said: tuple[str, ...]


def _build(directory: Path, **env: str) -> Wheel:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(directory), str(ROOT)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (path,) = directory.glob("*.whl")
    with zipfile.ZipFile(path) as wheel:
        files = frozenset(wheel.namelist())
        metadata = wheel.read(f"gatewaymetrics-{VERSION}.dist-info/WHEEL").decode()
    output = (result.stdout + result.stderr).splitlines()
    return Wheel(
        name=path.name,
        files=files,
        tags=tuple(line for line in metadata.splitlines() if line.startswith(("Root", "Tag"))),
        said=tuple(line.strip() for line in output
                   if line.strip().startswith(("gatewaymetrics: ", "warning: gatewaymetrics: "))),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pure_wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    return _build(tmp_path_factory.mktemp("pure"), GATEWAYMETRICS_PURE_BUILD="1")


def _extensions(wheel: Wheel) -> list[str]:
    return sorted(name for name in wheel.files if name.endswith((EXTENSION, ".so", ".pyd")))


PURE_NAME = f"gatewaymetrics-{VERSION}-py3-none-any.whl"
TOP_LEVEL = {"gatewaymetrics", f"gatewaymetrics-{VERSION}.dist-info"}


@pytest.mark.integration
def test_a_pure_build_on_request_is_a_pure_python_wheel(pure_wheel: Wheel) -> None:
    assert pure_wheel.name == PURE_NAME
    assert pure_wheel.tags == ("Root-Is-Purelib: true", "Tag: py3-none-any")
    said = "gatewaymetrics: GATEWAYMETRICS_PURE_BUILD is set: a pure Python wheel"
    assert pure_wheel.said == (said,)
    assert _extensions(pure_wheel) == []
    assert [path for path in COMPILED if path not in pure_wheel.files] == []
    assert {name.split("/")[0] for name in pure_wheel.files} == TOP_LEVEL


@pytest.mark.integration
def test_the_wheel_ships_the_listed_modules_compiled(tmp_path: Path, pure_wheel: Wheel) -> None:
    wheel = _build(tmp_path)
    if wheel.name == PURE_NAME:
        _skip_unless_ci(f"the wheel is pure Python ({' '.join(wheel.said)}): needs a C compiler")
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"{interpreter}-{interpreter}-{platform}"
    assert wheel.name == f"gatewaymetrics-{VERSION}-{tag}.whl"
    assert wheel.tags == ("Root-Is-Purelib: false", f"Tag: {tag}")
    assert wheel.said == ()
    # Each listed module beside its source, and mypyc's runtime library for them, in the
    # package (not a top-level module named by a hash, mypyc's default).
    modules = [path.removesuffix(".py") + EXTENSION for path in COMPILED]
    runtime = re.compile(rf"gatewaymetrics/\w+__mypyc{re.escape(EXTENSION)}")
    libraries = [name for name in _extensions(wheel) if runtime.fullmatch(name)]
    assert len(libraries) == 1
    assert _extensions(wheel) == sorted([*modules, *libraries])
    # Otherwise the very files of the pure wheel (the sources of the listed modules too).
    assert wheel.files - set(_extensions(wheel)) == pure_wheel.files
    # Built elsewhere: nothing compiled lands in src/.
    assert sorted(SRC.rglob(f"*{EXTENSION}")) == []


@pytest.mark.integration
def test_a_build_without_a_c_compiler_is_a_pure_python_wheel(
    tmp_path: Path, pure_wheel: Wheel
) -> None:
    compiler = tmp_path / "no-such-cc"
    wheel = _build(tmp_path, CC=str(compiler))
    assert wheel.name == PURE_NAME
    assert wheel.files == pure_wheel.files
    assert wheel.said == (
        f"warning: gatewaymetrics: compiling {', '.join(COMPILED)} with mypyc failed"
        f" (error: [Errno 2] No such file or directory: '{compiler}');"
        " building a pure Python wheel",
    )
