"""Every ```python block of README.md and docs/*.md runs as written.

Each block runs alone, in a fresh interpreter (a fresh namespace and fresh registries),
with ``GATEWAYMETRICS_PROMETHEUS_PORT=0`` so that nothing binds the default port 9464.
A block that cannot run here by its nature (it needs a running LiteLLM proxy, or it is
an excerpt of a source file) carries ``<!-- snippet: no-run (why) -->`` on the line
before its fence; such a block must still compile.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
NO_RUN = re.compile(r"<!--\s*snippet:\s*no-run\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>\S*)")
TIMEOUT = 120


@attrs.frozen(kw_only=True)
class Snippet:
    document: Path
    line: int  # of the opening fence, 1-based
    code: str
    no_run: str | None  # the reason, when marked

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def snippets(document: Path) -> list[Snippet]:
    """The ```python blocks of one Markdown file, dedented to their fence."""
    lines = document.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if opening["lang"].lower() in ("python", "py"):
            body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
            marker = NO_RUN.search(lines[index - 1]) if index > 0 else None
            found.append(
                Snippet(
                    document=document,
                    line=index + 1,
                    code="\n".join(body) + "\n",
                    no_run=marker["reason"].strip() if marker else None,
                )
            )
        index = end + 1
    return found


ALL = [snippet for document in DOCUMENTS for snippet in snippets(document)]
RUN = [snippet for snippet in ALL if snippet.no_run is None]
NOT_RUN = [snippet for snippet in ALL if snippet.no_run is not None]


def snippet_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYMETRICS_")}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        GATEWAYMETRICS_PROMETHEUS_PORT="0",
    )
    return env


def test_the_documents_have_snippets() -> None:
    assert len(ALL) >= 10, [s.name for s in ALL]
    assert len(RUN) > 2 * len(NOT_RUN), "no-run is for the exception"


def test_no_run_markers_sit_on_a_python_fence() -> None:
    """A marker that no block takes (misplaced, or before another language) is an error."""
    marked = {(s.document, s.line - 2) for s in NOT_RUN}  # the line before, 0-based
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines()):
            if "snippet:" in line:
                assert NO_RUN.search(line), f"{document.name}:{number + 1}: malformed marker"
                assert (document, number) in marked, f"{document.name}:{number + 1}: stray"


@pytest.mark.parametrize("snippet", NOT_RUN, ids=lambda s: s.name)
def test_a_no_run_snippet_compiles(snippet: Snippet) -> None:
    compile(snippet.code, snippet.name, "exec")


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Popen[str]]]:
    """Every runnable snippet, started at once (importing litellm takes seconds)."""
    processes: dict[str, Popen[str]] = {}
    try:
        for snippet in RUN:
            processes[snippet.name] = Popen(
                [sys.executable, "-c", snippet.code],
                cwd=tmp_path_factory.mktemp("snippet"),
                env=snippet_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        yield processes
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.communicate()


@pytest.mark.parametrize("snippet", RUN, ids=lambda s: s.name)
def test_a_snippet_runs_as_written(snippet: Snippet, started: dict[str, Popen[str]]) -> None:
    process = started[snippet.name]
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, f"{snippet.name} failed:\n{snippet.code}\n{stderr}"
