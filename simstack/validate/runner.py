"""Running the generated program and reading what it prints.

The program prints one JSON object per line: a header (``version``, ``gomaxprocs``,
``goroutines``), then the baseline (``"checkpoint": -1``) and one object per checkpoint
(``"checkpoint": k``, the k-th checkpoint in the order the model takes them). Output is
collected in memory and written once at the end, so the program makes no system call
between its baseline and its last checkpoint. If the program cannot reach the state the
model says it should be in, it prints ``{"error": ...}`` and exits with status 3.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .toolchain import Toolchain


class ProgramError(Exception):
    """The real program failed, crashed or printed something unexpected."""


def program_env(sc, extra: dict | None = None) -> dict:
    """The environment the program runs in: GOGC=off, GOMAXPROCS and GODEBUG as the scenario says."""
    env = {"GOGC": "off", "GOMAXPROCS": str(sc.runtime.gomaxprocs)}
    gd = ",".join(f"{k}={v}" for k, v in sorted(sc.runtime.godebug.items()))
    if gd:
        env["GODEBUG"] = gd
    if os.name == "nt":  # Windows needs its system root to start a process
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
    env.update(extra or {})
    return env


def parse_output(stdout: str, n_checkpoints: int) -> dict:
    """{"header": ..., "baseline": ..., "checkpoints": [...]} from the program's output."""
    header, baseline, cps = None, None, {}
    for i, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise ProgramError(f"line {i} of the program's output is not JSON: {line[:200]!r}") from None
        if "error" in obj:
            raise ProgramError(f"the program stopped: {obj['error']}")
        if "version" in obj:
            header = obj
        elif obj.get("checkpoint") == -1:
            baseline = obj
        else:
            cps[int(obj["checkpoint"])] = obj
    if header is None or baseline is None:
        raise ProgramError("the program printed no header or no baseline")
    missing = [k for k in range(n_checkpoints) if k not in cps]
    if missing:
        raise ProgramError(f"the program printed no figures for checkpoint(s) {missing}")
    return {"header": header, "baseline": baseline, "checkpoints": [cps[k] for k in range(n_checkpoints)]}


def run_program(dest: Path, sc, n_checkpoints: int, tc: Toolchain, timeout: float = 1800) -> dict:
    """Run ``dest/prog dest/plan.txt`` once; the parsed output."""
    dest = Path(dest).resolve()  # it runs with dest as cwd: a relative path would be looked up there
    exe = dest / ("prog.exe" if os.name == "nt" else "prog")
    try:
        r = subprocess.run([str(exe), str(dest / "plan.txt")], capture_output=True, text=True, env=program_env(sc),
                           timeout=timeout, cwd=dest)
    except subprocess.TimeoutExpired:
        raise ProgramError(f"the program did not finish within {timeout:g} s") from None
    if r.returncode not in (0, 3):
        tail = "\n".join(r.stderr.strip().splitlines()[:12])
        raise ProgramError(f"the program exited with status {r.returncode}:\n{tail}")
    out = parse_output(r.stdout, n_checkpoints)
    if out["header"]["version"] != tc.version:
        raise ProgramError(f"the program reports {out['header']['version']}, not the toolchain's {tc.version}")
    return out
