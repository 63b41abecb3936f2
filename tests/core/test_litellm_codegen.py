"""The fast reader is generated from the field table, and the table is the one place
that knows LiteLLM's field names: regenerating gives the checked-in file; adding an
identity label is one table row plus regenerating, and the label then shows on both
the general and the fast path."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gatewaymetrics.core.litellm_codegen import generate
from gatewaymetrics.core.litellm_fields import CONTAINERS, FIELDS, split_place

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCE = ROOT / "src" / "gatewaymetrics"
GENERATED = SOURCE / "core" / "litellm_fast.py"
RUFF = Path(sys.executable).parent / "ruff"


def formatted(source: str) -> str:
    """``source`` as ``make generate`` writes it (ruff format)."""
    result = subprocess.run(
        [str(RUFF), "format", "--stdin-filename", str(GENERATED), "-"],
        input=source, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return result.stdout


def test_the_fast_reader_is_current() -> None:
    assert formatted(generate()) == GENERATED.read_text(encoding="utf-8"), (
        "src/gatewaymetrics/core/litellm_fast.py is stale: run make generate"
    )


def test_every_place_of_the_table_is_read_by_the_generated_reader() -> None:
    text = GENERATED.read_text(encoding="utf-8")
    for field in FIELDS:
        if field.role.value in ("identity", "call", "budget"):
            for place in field.places:
                _, key = split_place(place)
                if key is not None:
                    assert f'"{key}"' in text, (field.name, place)


def _litellm_names() -> set[str]:
    """LiteLLM's own field names in the table: the distinctive ones (with an
    underscore, a dash or a capital; plain words like ``model`` are everyone's)."""
    places = [p for f in FIELDS for p in f.places] + [p for c in CONTAINERS for p in c.places]
    keys = {key for _, key in map(split_place, places) if key is not None}
    ours = {"api_base", "cache_hit", "end_user", "team_id", "team_alias", "stream", "exception",
            "status_code", "start_time", "end_time", "input_tokens", "output_tokens",
            "cached_tokens", "reasoning_tokens"}  # fmt: skip  # also record/label names
    return {k for k in keys - ours if re.search(r"[_A-Z-]", k)}


def test_litellm_field_names_live_only_in_the_table_and_the_generated_reader() -> None:
    names = _litellm_names()
    assert "user_api_key_team_alias" in names
    assert "standard_logging_object" in names
    # The litellm naming's help texts are LiteLLM's own, which quote its usage fields.
    allowed = {SOURCE / "core" / name for name in ("litellm_fields.py", "litellm_names.py")}
    allowed.add(GENERATED)
    # The demo driver configures a LiteLLM Router: its API, not the callback payload.
    router = {(SOURCE / "adapters" / "litellm_driver.py", "litellm_params"),
              # the call label user_agent (named as LiteLLM's key is), by its attribute name
              (SOURCE / "core" / "otel_names.py", "user_agent")}  # fmt: skip
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path in allowed:
            continue
        text = path.read_text(encoding="utf-8")
        for name in sorted(names):
            if re.search(rf"\b{re.escape(name)}\b", text) and (path, name) not in router:
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


_ROW = """\
    Field(name="region", kind=_T, role=_I, places=metadata_keys("user_api_key_region"),
          label="region"),
"""

_SCRIPT = """
import json, sys
from prometheus_client import CollectorRegistry, generate_latest
from gatewaymetrics import LabelSettings, Pipeline, Settings
from gatewaymetrics.backends.prometheus import PrometheusBackend

payloads = json.loads(sys.stdin.read())
settings = Settings(labels=LabelSettings(opt_in=tuple(sys.argv[1:])))
out = {}
for fast in (True, False):
    registry = CollectorRegistry()
    pipeline = Pipeline([PrometheusBackend(registry=registry)], settings, fast_path=fast)
    for payload in payloads:
        pipeline.record_litellm(payload, failed=False)
    out["fast" if fast else "general"] = {
        "events": pipeline.fast_events,
        "exposition": generate_latest(registry).decode(),
    }
print(json.dumps(out))
"""


def _source_with(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> dict[str, str]:
    """A copy of the source with ``edits`` (file under gatewaymetrics/ -> text inserted
    before an anchor) and the reader regenerated as ``make generate`` does; the
    environment that imports it."""
    copy = tmp_path / "src"
    shutil.copytree(SOURCE, copy / "gatewaymetrics", ignore=shutil.ignore_patterns("*.so"))
    for name, (anchor, text) in edits.items():
        path = copy / "gatewaymetrics" / name
        source = path.read_text(encoding="utf-8")
        assert anchor in source, (name, anchor)
        path.write_text(source.replace(anchor, text + anchor, 1), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    generated = subprocess.run(
        [sys.executable, "-m", "gatewaymetrics.core.litellm_codegen"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    (copy / "gatewaymetrics" / "core" / "litellm_fast.py").write_text(
        formatted(generated), encoding="utf-8"
    )
    return env


def _record(
    env: dict[str, str], payloads: list[dict[str, object]], opt_in: tuple[str, ...], cwd: Path
) -> dict[str, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), *opt_in],
        input=json.dumps(payloads), capture_output=True, text=True, env=env, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out: dict[str, dict[str, object]] = json.loads(result.stdout)
    return out


def _payload(**slo: object) -> dict[str, object]:
    return {
        "litellm_call_id": "call-1",
        "model": "gpt-4o-mini",
        "standard_logging_object": {
            "status": "success", "litellm_call_id": "call-1", "model": "gpt-4o-mini",
            "custom_llm_provider": "openai", "call_type": "acompletion",
            "prompt_tokens": 3, "completion_tokens": 5, "response_cost": 0.25,
            "startTime": 1795762550.0, "endTime": 1795762551.5,
            "metadata": {"user_api_key_team_id": "team-a"}, **slo,
        },
    }  # fmt: skip


def _lines(exposition: object, name: str) -> list[str]:
    assert isinstance(exposition, str)
    return [line for line in exposition.splitlines() if line.startswith(name + "{")]


def test_an_identity_label_is_one_table_row(tmp_path: Path) -> None:
    """The steps of docs/architecture.md, on a copy of the source: add the row, run
    the generator, and the label is on the series of both paths."""
    pytest.importorskip("prometheus_client")
    env = _source_with(tmp_path, {"core/litellm_fields.py": ("    # -- per call ---", _ROW)})
    payload = _payload()
    payload["standard_logging_object"]["metadata"]["user_api_key_region"] = "eu-west"  # type: ignore[index]
    # Two callers alike but for the region: a reader generated without the row would
    # give them one identity, and the third event would land in the first's series.
    other = json.loads(json.dumps(payload))
    other["standard_logging_object"]["metadata"]["user_api_key_region"] = "us-east"
    out = _record(env, [payload, payload, other], ("region",), tmp_path)
    assert out["fast"]["events"] == 1  # the second event took the fast path
    assert out["general"]["events"] == 0
    for path in ("fast", "general"):
        assert _lines(out[path]["exposition"], "llm_requests_total") == [
            'llm_requests_total{api_key="",api_key_alias="",error_type="",model="gpt-4o-mini",'
            f'operation="chat",provider="openai",region="{region}",requested_model="gpt-4o-mini",'
            f'status="success",team="team-a",team_alias="",user=""}} {count}'
            for region, count in (("eu-west", "2.0"), ("us-east", "1.0"))
        ], path


_METRIC_ROW = (
    '    Field(name="tokens.audio", kind=Kind.COUNT, role=_C,\n'
    '          places=("slo.audio_tokens",)),\n'
)
_METRIC_ENTRY = """    "audio_tokens": _Entry(
        kind=_C, help="Audio tokens.", unit="tokens", labels=(), identity=True,
        fed_by="tokens.audio", source="tokens.audio",
    ),
"""


def test_a_metric_is_one_table_row_and_one_catalog_entry(tmp_path: Path) -> None:
    """A per-call number: its row in the field table, its entry (and name) in the
    catalog, the generator run; both paths count it."""
    pytest.importorskip("prometheus_client")
    env = _source_with(
        tmp_path,
        {
            "core/litellm_fields.py": ("    # -- outcome ---", _METRIC_ROW),
            "core/catalog.py": ('    "fallbacks": _Entry(', _METRIC_ENTRY),
        },
    )
    names = tmp_path / "src" / "gatewaymetrics" / "core" / "naming.py"
    text = names.read_text(encoding="utf-8")
    anchor = '    "fallbacks": "fallbacks_total",'
    names.write_text(
        text.replace(anchor, '    "audio_tokens": "audio_tokens_total",\n' + anchor, 1),
        encoding="utf-8",
    )
    payloads = [_payload(audio_tokens=7), _payload(audio_tokens=5), _payload()]
    out = _record(env, payloads, (), tmp_path)
    assert out["fast"]["events"] == 2  # the second and third events
    for path in ("fast", "general"):
        assert _lines(out[path]["exposition"], "llm_audio_tokens_total") == [
            'llm_audio_tokens_total{api_key="",api_key_alias="",model="gpt-4o-mini",'
            'operation="chat",provider="openai",requested_model="gpt-4o-mini",team="team-a",'
            'team_alias="",user=""} 12.0'
        ], path
