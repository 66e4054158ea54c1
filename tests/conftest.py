"""What the test modules share: the command line in a real process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=ROOT, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """``python -m simstack.cli ARGS`` in a process of its own (arguments made strings), its output
    captured as text; ``env`` adds to (or replaces in) this process's environment, ``kw`` goes to
    ``subprocess.run`` (``timeout``, ``preexec_fn``)."""
    return subprocess.run([sys.executable, "-m", "simstack.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **env} if env else None, **kw)


def traced_toolchain(why: str):
    """The Go toolchain the tests build with, skipping the test (with the reason) without one, or with
    one older than Go 1.23, whose traces have no stack allocation events: ``why`` says what needs them."""
    import pytest

    from simstack.validate import ToolchainError, find_toolchain
    try:
        tc = find_toolchain()
    except ToolchainError as exc:
        pytest.skip(f"no Go toolchain: {exc}")
    if tc.numeric < (1, 23):
        pytest.skip(f"{tc.version}: {why} (Go 1.23+)")
    return tc
