"""Regenerate ``src/gatewaymetrics/core/litellm_fast.py`` from the field table.

    .venv/bin/python tools/generate.py        (make generate)

The table and the generator are loaded from ``src/`` without running the package's
``__init__`` (which imports the pipeline, which imports the very module being
regenerated: stale or broken while the table changes). The output is formatted with
ruff, as tests/core/test_litellm_codegen.py expects it.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "gatewaymetrics"
TARGET = PACKAGE / "core" / "litellm_fast.py"


def main() -> None:
    package = types.ModuleType("gatewaymetrics")
    package.__path__ = [str(PACKAGE)]
    sys.modules["gatewaymetrics"] = package
    from gatewaymetrics.core.litellm_codegen import generate

    ruff = Path(sys.executable).parent / "ruff"
    formatted = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(TARGET), "-"],
        input=generate(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    TARGET.write_text(formatted, encoding="utf-8")
    print(f"tools/generate.py: wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
