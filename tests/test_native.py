"""The compiled copies of the fast path's hot modules (native/build.py): used only when
built from the very source beside them, ignored on request, and equal to the pure
Python they are compiled from."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest

from gatewaymetrics import native
from gatewaymetrics import pipeline as pipeline_module
from gatewaymetrics.backends import prometheus, series_store
from gatewaymetrics.core import litellm_fast

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"
PURE = os.environ.get(native.PURE_ENV, "") not in ("", "0")


def _module(tmp_path: Path, source: bytes) -> ModuleType:
    """A module named ``tests_native_probe`` whose source file holds ``source``."""
    path = tmp_path / "tests_native_probe.py"
    path.write_bytes(source)
    module = ModuleType("somewhere.tests_native_probe")
    module.__file__ = str(path)
    return module


def _copy(monkeypatch: pytest.MonkeyPatch, digest: str) -> ModuleType:
    copy = ModuleType("gatewaymetrics_native.tests_native_probe")
    copy.SOURCE_DIGEST = digest  # type: ignore[attr-defined]  # what build.py appends
    monkeypatch.setitem(sys.modules, "gatewaymetrics_native", ModuleType("gatewaymetrics_native"))
    monkeypatch.setitem(sys.modules, copy.__name__, copy)
    return copy


def test_a_copy_built_from_the_modules_own_source_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    module = _module(tmp_path, b"X = 1\n")
    copy = _copy(monkeypatch, hashlib.sha256(b"X = 1\n").hexdigest())
    assert native.compiled(module) is copy


def test_a_copy_of_an_older_source_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    module = _module(tmp_path, b"X = 2  # edited since the build\n")
    _copy(monkeypatch, hashlib.sha256(b"X = 1\n").hexdigest())
    assert native.compiled(module) is module


@pytest.mark.parametrize("value", ["1", "true"])
def test_the_pure_setting_ignores_every_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(native.PURE_ENV, value)
    module = _module(tmp_path, b"X = 1\n")
    _copy(monkeypatch, hashlib.sha256(b"X = 1\n").hexdigest())
    assert native.compiled(module) is module


def test_without_a_copy_the_module_itself_is_used(tmp_path: Path) -> None:
    module = ModuleType("somewhere.no_such_compiled_module")
    module.__file__ = str(tmp_path / "no_such_compiled_module.py")
    assert native.compiled(module) is module


def test_the_compiled_copies_run_where_they_were_built() -> None:
    """Under CI (make builds them) the fast path runs compiled, unless told not to."""
    compiled = {
        "reader": pipeline_module.read_values is not litellm_fast.read_values,
        "store": prometheus._Store is not series_store.SeriesStore,
    }
    if PURE:
        assert compiled == {"reader": False, "store": False}
    elif os.environ.get("CI") == "true":
        assert compiled == {"reader": True, "store": True}, "run `make native`"
    elif compiled != {"reader": True, "store": True}:
        pytest.skip("the compiled copies are not built here: run `make native`")


def _successes() -> list[dict[str, object]]:
    lines = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    return [p for p in lines if p["kwargs"].get("standard_logging_object", {}).get("status")
            == "success"]  # fmt: skip


@pytest.mark.parametrize("captured", _successes(), ids=lambda p: str(p["scenario"]))
def test_the_reader_in_use_reads_what_the_python_reads(captured: dict[str, object]) -> None:
    kwargs = captured["kwargs"]
    start = datetime.fromisoformat(str(captured["start_time"]))
    end = datetime.fromisoformat(str(captured["end_time"]))
    ours = pipeline_module.identity_key(kwargs, False, ())
    python = litellm_fast.identity_key(kwargs, False, ())
    assert (ours is None) == (python is None)
    if ours is None or python is None:
        return
    keys = ("user_api_key_spend", "user_api_key_max_budget", "user_api_key_budget_reset_at",
            "user_api_key_team_spend", "user_api_key_team_max_budget", "nothing")  # fmt: skip
    read = (ours[1], captured["response_obj"], start, end, False, keys)
    assert pipeline_module.read_values(*read) == litellm_fast.read_values(*read)
