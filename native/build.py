"""Compile the fast path's hot modules with mypyc, into the project's venv.

    .venv/bin/python native/build.py      (make does it; a failure only warns)

gatewaymetrics is complete in pure Python; this makes its per-event path cheaper.
Each module in ``MODULES`` is copied as ``gatewaymetrics_native.<name>`` with the
SHA-256 of its source appended, compiled, and installed into site-packages (never
into ``src/``). ``gatewaymetrics.native.compiled`` takes a compiled copy only when
that digest is the digest of the module's own source file, so an edited module runs
as written until this script runs again; ``GATEWAYMETRICS_PURE=1`` ignores the
copies altogether.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "gatewaymetrics"
#: The compiled copies, by name, and the module each is copied from.
MODULES = {
    "litellm_fast": SOURCE / "core" / "litellm_fast.py",
    "series_store": SOURCE / "backends" / "series_store.py",
}
PACKAGE = "gatewaymetrics_native"


def digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def main() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    mypyc = Path(sys.executable).parent / "mypyc"
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text(
            '"""mypyc-compiled copies of gatewaymetrics modules (native/build.py)."""\n'
        )
        for name, path in MODULES.items():
            source = path.read_bytes()
            (package / f"{name}.py").write_bytes(
                source + f"\nSOURCE_DIGEST = {digest(source)!r}\n".encode()
            )
            # One module per run: each gets its own library (<name>__mypyc) beside it.
            subprocess.run(
                [str(mypyc), f"{PACKAGE}/{name}.py"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "MYPYPATH": str(ROOT / "src")},
            )
        built = sorted(package.glob("*.so"))
        if {library.name.split(".")[0] for library in built} != {
            part for name in MODULES for part in (name, f"{name}__mypyc")
        }:
            sys.exit(f"native/build.py: mypyc built {[library.name for library in built]}")
        target = site / PACKAGE
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        shutil.copy2(package / "__init__.py", target)
        for library in built:
            shutil.copy2(library, target)
    print(f"native/build.py: {', '.join(MODULES)} compiled into {target}")


if __name__ == "__main__":
    main()
