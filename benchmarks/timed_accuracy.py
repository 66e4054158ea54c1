"""How closely the timed validation program keeps to its schedule, read from its own trace.

    python benchmarks/timed_accuracy.py scenarios/perf-timed.yaml --gomaxprocs 1 2 [--runs 2] [--go PATH]

For each GOMAXPROCS the scenario is generated as a real-time program (simstack.validate.gotimed),
run with tracing, and the trace (``go tool trace -d=parsed``, the toolchain's parser) is compared
with the schedule:

* arrivals: each goroutine main starts, its creation time in the trace (from ``simstack.start``)
  minus the model's arrival time (main starts them in schedule order, so the k-th creation of
  class C by ``main.spawn_C`` is the k-th arrival of C);
* CPU: each main-started goroutine that ran to its end, its time in state Running in the trace
  against the sum of its scheduled ``run`` steps;
* what the program measured itself: wake-up lateness of ``block`` steps, wall time of ``run`` steps.

Prints the figures; asserts nothing (the machine's load decides them).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from simstack.scenario import load_scenario, scenario_from_dict
from simstack.validate import default_cache_dir, find_toolchain
from simstack.validate.gotimed import generate_timed, run_timed
from simstack.validate.toolchain import offline_env

TRANS = re.compile(r"StateTransition Time=(\d+) GoID=(\d+) (\w+)->(\w+)")
START = re.compile(r'Log Time=(\d+) .*Category="simstack.start"')


def read_trace(go: Path, trace: Path):
    """(t0, creations [(time, goid, start function, creator function)], running ns per goid, exited goids)."""
    text = subprocess.run([str(go), "tool", "trace", "-d=parsed", str(trace)], capture_output=True, text=True,
                          env=offline_env(default_cache_dir()), check=True).stdout
    lines = text.splitlines()
    t0, created, running, since, exited = None, [], defaultdict(int), {}, set()
    for i, line in enumerate(lines):
        m = TRANS.search(line)
        if m:
            t, g, a, b = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
            if a == "NotExist" and lines[i + 1] == "TransitionStack=":
                fn = lines[i + 2].strip().split(" @")[0]
                j = i + 3
                while j < len(lines) and lines[j] != "Stack=" and not lines[j].startswith("M="):
                    j += 1
                creator = lines[j + 1].strip().split(" @")[0] if j + 1 < len(lines) and lines[j] == "Stack=" else ""
                created.append((t, g, fn, creator))
            if b == "Running":
                since[g] = t
            elif a == "Running" and g in since:
                running[g] += t - since.pop(g)
            if b == "NotExist":
                exited.add(g)
            continue
        if t0 is None:
            m = START.search(line)
            if m:
                t0 = int(m.group(1))
    return t0, created, running, exited


def q(xs, ps=(50, 90, 99, 100)) -> str:
    if not len(xs):
        return "-"
    return " / ".join(f"{v:.3g}" for v in np.percentile(np.asarray(xs, dtype=float), ps))


def measure(path: str, gomaxprocs: int, runs: int, tc, workdir: Path) -> None:
    doc = load_scenario(path).to_yaml_dict()
    doc["runtime"]["gomaxprocs"] = gomaxprocs
    sc = scenario_from_dict(doc, source=path)
    prog = generate_timed(sc, tc, workdir / f"p{gomaxprocs}")
    sched = prog.schedule
    by_class_arrivals = {c: sorted(sched.arrivals(c)) for c in sched.counts()}
    gids = defaultdict(list)
    for g in sorted((g for g in sched.goroutines if g.parent is None), key=lambda g: g.created):
        gids[g.cls].append(g)
    for k in range(runs):
        res = run_timed(prog, workdir / f"trace{gomaxprocs}_{k}.out", timeout=1200)
        out = res["output"]
        t0, created, running, exited = read_trace(tc.go, Path(res["trace"]))
        late, cpu_ratio, cpu_extra = [], [], []
        for c, fn in prog.class_functions.items():
            mine = [(t, g) for t, g, f, creator in created if f == fn and creator == prog.spawner_functions[c]]
            for (t, goid), want, sg in zip(mine, by_class_arrivals.get(c, []), gids.get(c, [])):
                late.append((t - t0) / 1e6 - want * 1e3)
                sched_run = sum(o.value for o in sg.ops if o.kind == "run")
                if sg.exits and goid in exited and sched_run > 0 and not any(o.kind == "spawn" for o in sg.ops):
                    cpu_ratio.append(running[goid] / 1e9 / sched_run)
                    cpu_extra.append((running[goid] / 1e9 - sched_run) * 1e6)
        print(f"GOMAXPROCS={gomaxprocs} run {k + 1}: wall {res['wall_time']:.2f} s for {sc.duration or 0:g} s "
              f"scheduled; {len(sched.goroutines)} goroutines, {out['gc_cycles'] - out['gc_cycles_start']} GC "
              f"cycles; {out['samples']} samples")
        print(f"  arrival lateness (ms) p50/p90/p99/max: {q(late)}  (n={len(late)})")
        print(f"  Running / scheduled run time per goroutine p50/p90/p99/max: {q(cpu_ratio)}; "
              f"excess (us) p50/p90/p99/max: {q(cpu_extra)}  (n={len(cpu_ratio)})")
        if out["wakes"]:
            print(f"  block wake-up lateness (ms): mean {out['wake_late_ns_sum'] / out['wakes'] / 1e6:.3g}, "
                  f"max {out['wake_late_ns_max'] / 1e6:.3g} (n={out['wakes']})")
        if out["runs"]:
            print(f"  run steps: wall / scheduled {out['run_wall_ns'] / max(1, out['run_sched_ns']):.3g}, "
                  f"largest overrun {out['run_over_ns_max'] / 1e6:.3g} ms (n={out['runs']})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="+")
    ap.add_argument("--gomaxprocs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--go")
    a = ap.parse_args(argv)
    tc = find_toolchain(a.go)
    print(f"toolchain: {tc.describe()}")
    with tempfile.TemporaryDirectory(prefix="simstack-timed-") as tmp:
        for path in a.scenario:
            print(f"== {path}")
            for n in a.gomaxprocs:
                measure(path, n, a.runs, tc, Path(tmp) / Path(path).stem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
