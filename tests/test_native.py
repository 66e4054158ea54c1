"""The compiled (mypyc) runtime model and its plain Python fallback (``simstack/runtime/_native.py``).

``pip install -e .`` compiles ``simstack/runtime``; these tests hold whichever build is
installed: the selection follows ``SIMSTACK_NO_COMPILE`` and the build record, a stale
build is refused, hooks need a HookableRuntime, and both builds produce the same frames.
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
from simstack.runtime.hookable import HookableRuntime, is_hookable
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime

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


def test_hooks_need_a_hookable_runtime():
    from simstack.invariants import install
    prof = resolve_profile("go1.27", "linux/amd64")
    rt = HookableRuntime(prof, 2)
    assert is_hookable(rt) and is_hookable(rt.stacks) and is_hookable(rt.mheap)
    install(rt)  # wraps methods on the instance
    plain = Runtime(prof, 2)
    if R.COMPILED_IN_USE:
        with pytest.raises(TypeError, match="HookableRuntime"):
            install(plain)


def test_a_wrapper_on_a_hookable_runtime_sees_internal_calls():
    """Compiled code calling stackalloc from newproc1 must go through the instance's wrapper."""
    rt = HookableRuntime(resolve_profile("go1.27", "linux/amd64"), 1, baseline=False)
    seen = []
    orig = rt.stacks.stackalloc

    def spy(n, *a):
        seen.append(n)
        return orig(n, *a)
    rt.stacks.stackalloc = spy
    rt.newproc(rt.allp[0], 0, 64)
    assert seen == [rt.profile.fixed_stack]


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
