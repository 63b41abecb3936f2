"""The compiled copies of the fast path's hot modules, when they were built.

``native/build.py`` (run by ``make``) compiles ``core/litellm_fast.py`` and
``backends/series_store.py`` with mypyc into a ``gatewaymetrics_native`` package in
site-packages, each copy carrying the SHA-256 of the source it was compiled from. A
copy is used only when that digest matches the module's own source file: an edited
module runs as written, never stale compiled code. Without the copies (no compiler,
another install) everything runs in pure Python, alike; ``GATEWAYMETRICS_PURE=1``
in the environment when gatewaymetrics is imported ignores them.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from pathlib import Path
from types import ModuleType

__all__ = ["PURE_ENV", "compiled"]

#: Set (to anything but "" or "0") to run the pure-Python modules even when compiled
#: copies exist.
PURE_ENV = "GATEWAYMETRICS_PURE"

log = logging.getLogger("gatewaymetrics")


def compiled(module: ModuleType) -> ModuleType:
    """``module``'s compiled copy if one was built from exactly its source, else
    ``module`` itself."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return module
    name = module.__name__.rpartition(".")[2]
    try:
        copy = importlib.import_module(f"gatewaymetrics_native.{name}")
    except ImportError:
        return module
    source = Path(str(module.__file__)).read_bytes()
    if getattr(copy, "SOURCE_DIGEST", None) != hashlib.sha256(source).hexdigest():
        log.debug("gatewaymetrics: the compiled %s is stale; running it in Python", name)
        return module
    return copy
