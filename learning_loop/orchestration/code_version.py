"""Code versions derived from the code itself, so they never go stale by hand."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any


def code_version_of(*objects: Any) -> str:
    """First 16 hex characters of the SHA-256 of the source of the given modules, classes or functions.

    An asset passes its own module and the pure-core modules whose results it
    writes; a change to any of them changes the version and Dagster marks the
    asset's materializations as stale.
    """
    digest = hashlib.sha256()
    for obj in objects:
        if isinstance(obj, ModuleType) and hasattr(obj, "__path__"):  # a package: all of its modules
            for path in sorted(Path(obj.__file__).parent.rglob("*.py")):
                digest.update(path.read_bytes())
        else:
            digest.update(inspect.getsource(obj).encode("utf-8"))
    return digest.hexdigest()[:16]
