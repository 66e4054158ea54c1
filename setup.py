"""Build: compile the runtime model (``simstack/runtime``) with mypyc, or fall back to plain Python.

Everything else is declared in ``pyproject.toml``.  ``SIMSTACK_NO_COMPILE=1`` skips
compilation; so does a machine where mypyc or a C compiler is missing or fails: each
compiled module is an optional extension, and the package runs its plain Python
sources instead (``simstack/runtime/_native.py`` decides at import time, and also
refuses a compiled build whose sources have changed since).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
RUNTIME = ROOT / "simstack" / "runtime"
# the modules simstack/runtime/_native.py lists in COMPILED
COMPILED = ("runtime.tracer", "runtime.tracebuf", "runtime.mheap", "runtime.stack", "runtime.proc", "runtime.sched",
            "runtime.growth", "runtime.mgc", "runtime.runtime", "engine.draws", "engine.sysmon", "engine.ps")
BUILD_INFO = RUNTIME / "_compiled.json"
MYPY_OPTIONS = ["--ignore-missing-imports", "--follow-imports=silent",
                # a G's stack is None only once it is dead; None reaching these is a bug either way
                "--disable-error-code=union-attr", "--disable-error-code=arg-type"]


def _source(name: str) -> str:
    """A COMPILED name's source file, relative to the project."""
    return "simstack/" + name.replace(".", "/") + ".py"


def _note(msg: str) -> None:
    print(f"simstack setup: {msg}", file=sys.stderr)


def _ext_modules() -> list:
    if not set(sys.argv[1:]) & {"build_ext", "build", "bdist_wheel", "editable_wheel", "develop", "install"}:
        return []  # metadata only (egg_info, dist_info, sdist): nothing to compile
    in_place = bool(set(sys.argv[1:]) & {"editable_wheel", "develop", "--inplace", "-i"})
    if os.environ.get("SIMSTACK_NO_COMPILE", "").strip().lower() not in ("", "0", "false", "no"):
        _note("SIMSTACK_NO_COMPILE is set: the runtime model stays plain Python")
        if in_place and BUILD_INFO.exists():
            BUILD_INFO.unlink()  # an earlier in-place build is not used any more
        return []
    try:
        from mypyc.build import mypycify
        exts = mypycify([*MYPY_OPTIONS, *(_source(m) for m in COMPILED)], opt_level="3")
    except BaseException as exc:  # noqa: BLE001 - mypyc missing, or a type error: build without it
        _note(f"mypyc compilation unavailable ({type(exc).__name__}: {exc}); the runtime model stays plain Python")
        if in_place and BUILD_INFO.exists():
            BUILD_INFO.unlink()
        return []
    for ext in exts:
        ext.optional = True  # a C compiler error leaves plain Python, not a failed install
    return exts


class BuildExt(build_ext):
    """build_ext that records, beside the compiled modules, which sources they were made from."""

    def run(self):
        # in place (pip install -e): in the source tree; for a wheel: in its build directory
        target = Path(self.get_ext_fullpath("simstack.runtime.runtime")).parent / BUILD_INFO.name
        if target.exists():
            target.unlink()  # written again only when every compiled module builds
        super().run()
        outputs = [Path(self.get_ext_fullpath(ext.name)) for ext in self.extensions]
        if outputs and all(o.exists() for o in outputs):
            info = {"sources": {m: hashlib.sha256((ROOT / _source(m)).read_bytes()).hexdigest() for m in COMPILED}}
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(info, indent=1) + "\n")
        elif outputs:
            _note("some compiled modules failed to build; the runtime model stays plain Python")


os.chdir(ROOT)  # mypycify takes paths relative to the project
setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildExt})
