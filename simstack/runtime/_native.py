"""Whether the runtime model (and the engine's Ps) run compiled (mypyc) or as plain Python,
decided once at import.

``pip install`` compiles the modules in :data:`COMPILED` with mypyc (``setup.py``) and
records a hash of each compiled source in ``_compiled.json``.  The compiled modules are
used only if every source still has the hash it was compiled from: after an edit (or a
checkout) the plain Python sources run, with a warning, until the next ``pip install
-e .``.  ``SIMSTACK_NO_COMPILE=1`` in the environment selects plain Python at run time
(and, at install time, skips compilation); so does a compiled build that fails to
import.  ``COMPILED_IN_USE`` says which one is running.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

# compiled by setup.py, in dependency order, named inside the simstack package: the runtime
# model and the engine's hot path (its Ps); the rest of simstack stays plain Python
COMPILED = ("runtime.tracer", "runtime.tracebuf", "runtime.mheap", "runtime.stack", "runtime.proc", "runtime.sched",
            "runtime.growth", "runtime.mgc", "runtime.runtime", "engine.draws", "engine.sysmon", "engine.ps")
TOP = __name__.split(".")[0]  # simstack
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent  # the simstack package's directory
BUILD_INFO = HERE / "_compiled.json"


def source_path(name: str) -> Path:
    return ROOT.joinpath(*name.split(".")).with_suffix(".py")


def source_hash(name: str) -> str:
    return hashlib.sha256(source_path(name).read_bytes()).hexdigest()


def disabled_by_env() -> bool:
    return os.environ.get("SIMSTACK_NO_COMPILE", "").strip().lower() not in ("", "0", "false", "no")


def _compiled_build_matches() -> bool:
    """A compiled build is present and was made from the sources as they are now."""
    try:
        info = json.loads(BUILD_INFO.read_text())
    except (OSError, ValueError):
        return False  # never compiled (SIMSTACK_NO_COMPILE at install, or no compiler): plain Python
    stale = [n for n in COMPILED if info.get("sources", {}).get(n) != source_hash(n)]
    if stale:
        warnings.warn(f"simstack: the compiled runtime model is older than its sources ({', '.join(stale)}.py "
                      "changed since it was built); running the plain Python sources instead. "
                      "Rebuild with `pip install -e .`.", RuntimeWarning, stacklevel=3)
        return False
    return True


class _SourceOnly(importlib.abc.MetaPathFinder):
    """Imports the compiled-module names from their ``.py`` sources, never the extension modules."""

    def find_spec(self, fullname, path=None, target=None):
        top, _, name = fullname.partition(".")
        if top != TOP or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(name))


def _use_sources() -> None:
    for name in COMPILED:
        sys.modules.pop(f"{TOP}.{name}", None)
    if not any(isinstance(f, _SourceOnly) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceOnly())


def _select() -> bool:
    if disabled_by_env() or not _compiled_build_matches():
        _use_sources()
        return False
    try:
        for name in COMPILED:
            mod = importlib.import_module(f"{TOP}.{name}")
            if not str(getattr(mod, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
                raise ImportError(f"{mod.__name__} is not compiled")
    except ImportError as exc:  # a partial or broken build: fall back as a whole
        warnings.warn(f"simstack: the compiled runtime model does not load ({exc}); running the plain "
                      "Python sources instead.", RuntimeWarning, stacklevel=3)
        _use_sources()
        return False
    return True


COMPILED_IN_USE = _select()

