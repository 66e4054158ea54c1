"""The compiled (mypyc) runtime model and its plain Python fallback (``simstack/runtime/_native.py``).

``pip install -e .`` compiles ``simstack/runtime``; these tests hold whichever build is
installed: the selection follows ``SIMSTACK_NO_COMPILE`` and the build record, a stale
build is refused, a plain Python tracer hears the compiled model, and both builds produce the
same frames.
"""
from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simstack.runtime as R
import simstack.engine.ps  # noqa: F401  (every compiled module loaded)
import simstack.runtime.mgc  # noqa: F401
from simstack.runtime import _native
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime
from simstack.runtime.tracer import Tracer

ROOT = Path(__file__).resolve().parents[1]
WALK = ROOT / "scenarios" / "walkthrough.yaml"


def _in_subprocess(code: str, **env) -> str:
    e = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env=e).stdout.strip()


def test_the_selection_matches_what_is_loaded():
    for name in _native.COMPILED:
        path = sys.modules[f"simstack.{name}"].__file__
        assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) == R.COMPILED_IN_USE, path


def test_no_compile_env_selects_the_python_sources():
    out = _in_subprocess("import simstack.runtime as R, simstack.runtime.growth as g; print(R.COMPILED_IN_USE, g.__file__)",
                         SIMSTACK_NO_COMPILE="1")
    flag, path = out.split()
    assert flag == "False" and path.endswith("growth.py")


def test_a_build_of_other_sources_is_refused(tmp_path, monkeypatch):
    rec = tmp_path / "_compiled.json"
    rec.write_text(json.dumps({"sources": {m: "0" * 64 for m in _native.COMPILED}}))
    monkeypatch.setattr(_native, "BUILD_INFO", rec)
    with pytest.warns(RuntimeWarning, match="older than its sources"):
        assert not _native._compiled_build_matches()
    rec.write_text(json.dumps({"sources": {m: _native.source_hash(m) for m in _native.COMPILED}}))
    assert _native._compiled_build_matches()


class _Spy(Tracer):
    """A tracer in plain Python (a subclass of the compiled Tracer)."""

    def __init__(self):
        self.seen = []

    def on_stackalloc(self, g, p, n, stk):
        self.seen.append(("stackalloc", g, n, stk.size))

    def on_spawn(self, gp, p):
        self.seen.append(("spawn", gp.goid, gp.kind))

    def on_park(self, gp, p):
        self.seen.append(("park", gp.goid, gp.status))


def test_a_python_tracer_hears_the_compiled_model():
    """The allocator's event inside newproc1 (compiled code calling compiled code) reaches a tracer
    written in Python, given at construction or added later; the model's objects cannot be patched."""
    spy = _Spy()
    rt = Runtime(resolve_profile("go1.27", "linux/amd64"), 1, baseline=False, tracer=spy)
    gp = rt.newproc(rt.allp[0], 0, 64)
    assert spy.seen == [("stackalloc", gp.goid, rt.profile.fixed_stack, rt.profile.fixed_stack),
                        ("spawn", gp.goid, "user")]
    later = _Spy()
    rt.add_tracer(later)
    rt.enter(gp, rt.allp[0])
    rt.park(gp, rt.allp[0])
    assert spy.seen[-1] == later.seen[-1] == ("park", gp.goid, "waiting")
    if R.COMPILED_IN_USE:  # native classes: no method can be replaced on one instance
        with pytest.raises(AttributeError):
            rt.stacks.stackalloc = lambda *a: None


def test_compiled_and_python_builds_give_the_same_frames(tmp_path):
    code = ("import sys, simstack; r = simstack.run(sys.argv[1]); "
            "[getattr(r, n).to_parquet(f'{sys.argv[2]}/{n}.parquet') for n in ('events', 'footprint', 'goroutines', 'gc')]")
    outs = []
    for flag in ("0", "1"):
        d = tmp_path / flag
        d.mkdir()
        subprocess.run([sys.executable, "-c", code, str(WALK), str(d)], check=True, cwd=ROOT,
                       env={**os.environ, "SIMSTACK_NO_COMPILE": flag})
        outs.append({p.name: p.read_bytes() for p in d.iterdir()})
    assert outs[0] == outs[1]



def test_the_compiled_modules_type_check():
    """mypyc compiles only what mypy accepts; anything else makes setup.py fall back to plain Python
    silently (about 1.5x slower), so a type error in the runtime model fails here instead."""
    pytest.importorskip("mypy")
    import ast
    tree = ast.parse((ROOT / "setup.py").read_text())
    options = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                   and any(getattr(t, "id", None) == "MYPY_OPTIONS" for t in node.targets))
    files = [str(_native.source_path(m).relative_to(ROOT)) for m in _native.COMPILED]
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *options, *files], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_setup_compiles_what_the_selector_lists():
    import ast
    tree = ast.parse((ROOT / "setup.py").read_text())
    listed = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "COMPILED" for t in node.targets))
    assert tuple(listed) == _native.COMPILED
