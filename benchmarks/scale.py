"""Scale benchmark: simstack against a bare-SimPy skeleton of the same workload.

    python benchmarks/scale.py                      # end to end (perf-1m, perf-10m), then 10k, 100k, 1M in process
    python benchmarks/scale.py --sizes 10000 100000 # a quicker look
    python benchmarks/scale.py --repeat 1           # one run of each (default 2: the faster counts)
    python benchmarks/scale.py --end-to-end perf-1m --sizes   # only the command, only perf-1m

**End to end** (``--end-to-end``, default ``perf-1m perf-10m``): what a user waits for.
``simstack run scenarios/NAME.yaml -o DIR -q`` (simulation, Parquet files, charts) is
timed as a whole process against ``../shared/bench/bare_skeleton.py scenarios/NAME.yaml``
(one SimPy process per goroutine, one timeout per program step, spawned a thousand per
timeout, no model), the two taking turns; each process's peak RSS is its own
(``os.wait4``).  It prints both, their ratio, and the command's time per goroutine
relative to the first scenario's.  A third process, ``norecord``, runs the same command on a
copy of the scenario with ``record: {events: [], goroutine_table: false}`` (no event and
no goroutine row kept; the footprint, checkpoints and charts as usual): the difference is
what recording every event costs the command.

**In process** (``--sizes``):

For each size the workload of ``scenarios/perf-1m.yaml`` is scaled to that many
goroutines (same arrival rates, so the same concurrency) and measured three ways, each
in a fresh subprocess so that peak RSS is the run's own:

* **bare**: a SimPy skeleton with one process per goroutine, arriving as the scenario
  says and holding the same timeouts (``run`` and ``block`` steps, drawn from the same
  distributions), with no runtime model and no recording: SimPy's own cost;
* **simstack**: ``simstack.run`` of the scaled scenario, frames built, full event recording;
* **norec**: the same with the recorder's methods replaced by no-ops, to measure the
  share of run time spent in recording.

It prints wall time, events per second (SimPy events processed), peak RSS, the
simstack/bare ratio, the cost per goroutine relative to the smallest size, and the
recording share.  Figures are whole-process wall time and ``ru_maxrss``.  Each kind
runs ``--repeat`` times, the three kinds taking turns (so that a machine getting
slower or faster affects them alike), and the fastest run of each kind counts, as
``timeit`` does: on a shared machine a slow run measures the neighbours.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "perf-1m.yaml"
SKELETON = ROOT.parent / "shared" / "bench" / "bare_skeleton.py"


def scaled(n: int):
    """perf-1m.yaml with its class counts scaled to ``n`` goroutines in total."""
    from simstack.scenario import load_scenario, scenario_from_dict

    doc = load_scenario(SCENARIO).to_yaml_dict()
    total = sum(c["count"] for c in doc["goroutines"])
    for c in doc["goroutines"]:
        c["count"] = max(1, round(c["count"] * n / total))
    return scenario_from_dict(doc)


def bare(n: int) -> dict:
    """The SimPy skeleton: processes and timeouts only."""
    import numpy as np
    import simpy

    sc = scaled(n)
    env = simpy.Environment()
    ss = np.random.SeedSequence(sc.seed)
    rngs = [np.random.default_rng(s) for s in ss.spawn(len(sc.goroutines) + 1)]
    arrival_rng = rngs[-1]

    def goroutine(cls, rng, index):
        for step in cls.program:
            if step.kind == "run":
                yield env.timeout(step.duration.sample(rng, index))
            elif step.kind == "block":
                yield env.timeout(step.duration.sample(rng, index))

    def arrivals(cls, rng):
        for i in range(cls.count):
            env.process(goroutine(cls, rng, i))
            yield env.timeout(arrival_rng.exponential(1.0 / cls.arrival.rate))

    for cls, rng in zip(sc.goroutines, rngs):
        env.process(arrivals(cls, rng))
    events = 0
    t0 = time.perf_counter()
    while True:
        try:
            env.step()
        except simpy.core.EmptySchedule:
            break
        events += 1
    return {"wall": time.perf_counter() - t0, "events": events, "goroutines": n}


def simstack_run(n: int, record: bool = True) -> dict:
    """simstack.run on the scaled scenario (frames built at the end)."""
    import simpy

    import simstack
    from simstack.recording import recorder as rec_mod
    from simstack.runtime.tracer import Tracer

    if not record:
        def _noop(self, *a, **k):
            pass

        init = rec_mod.Recorder.__init__

        def init_without_events(self, *a, **k):
            init(self, *a, **k)
            self.tracer = Tracer()  # what the runtime model reports every event to: here, no-ops

        rec_mod.Recorder.__init__ = init_without_events
        rec_mod.Recorder.sample = _noop
    sc = scaled(n)
    counter = {"events": 0}
    step = simpy.Environment.step

    def counting_step(self):
        counter["events"] += 1
        return step(self)

    simpy.Environment.step = counting_step
    t0 = time.perf_counter()
    res = simstack.run(sc)
    wall = time.perf_counter() - t0
    return {"wall": wall, "events": counter["events"], "goroutines": res.summary["headline"]["goroutines"],
            "recorded_events": res.summary["headline"]["events"]}


def child(kind: str, n: int) -> None:
    out = {"bare": lambda: bare(n), "simstack": lambda: simstack_run(n),
           "norec": lambda: simstack_run(n, record=False)}[kind]()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(kind: str, n: int) -> dict:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--child", kind, str(n)], capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{kind} {n} failed:\n{p.stderr}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_wall"] = time.perf_counter() - t0
    return out


def measure_process(argv: list[str]) -> dict:
    """Wall time and peak RSS of one process (its own ``ru_maxrss``, from ``os.wait4``)."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}):\n{err.read().decode()}")
    return {"wall": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}


def _without_recording(path: Path) -> Path:
    """A copy of the scenario at ``path`` that records no event and no goroutine row (beside it,
    so that relative paths in it still resolve)."""
    import tempfile

    import yaml

    doc = yaml.safe_load(path.read_text())
    doc["record"] = {**(doc.get("record") or {}), "events": [], "goroutine_table": False}
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-norecord-", suffix=".yaml", dir=path.parent)
    with open(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return Path(name)


def end_to_end(names: list[str], repeat: int) -> None:
    """The command against the bare skeleton, per scenario; see the module's docstring."""
    import shutil
    import tempfile

    from simstack.scenario import load_scenario

    print(f"{'scenario':>10} {'kind':>9} {'wall s':>8} {'cpu s':>7} {'peak RSS MB':>11} {'us/goroutine':>12}")
    per: dict = {}
    for name in names:
        path = ROOT / "scenarios" / f"{name}.yaml"
        n = sum(c.count for c in load_scenario(path).goroutines)
        best: dict = {}
        norec = _without_recording(path)
        for _ in range(max(1, repeat)):
            for kind in ("skeleton", "command", "norecord"):
                out = Path(tempfile.mkdtemp(prefix="scale-")) / "run"
                argv = ([sys.executable, str(SKELETON), str(path)] if kind == "skeleton" else
                        [sys.executable, "-m", "simstack.cli", "run", str(path if kind == "command" else norec),
                         "-o", str(out), "-q"])
                try:
                    m = measure_process(argv)
                finally:
                    shutil.rmtree(out.parent, ignore_errors=True)
                if kind not in best or m["wall"] < best[kind]["wall"]:
                    best[kind] = m
                # peak RSS does not depend on the load: the largest seen is the process's own
                best[kind]["peak_rss_mb"] = max(best[kind]["peak_rss_mb"], m["peak_rss_mb"])
        norec.unlink()
        for kind in ("skeleton", "command", "norecord"):
            m = best[kind]
            print(f"{name:>10} {kind:>9} {m['wall']:>8.2f} {m['cpu']:>7.2f} {m['peak_rss_mb']:>11,.0f} "
                  f"{1e6 * m['wall'] / n:>12.2f}", flush=True)
        per[name] = (n, best)
    print()
    first = names[0]
    n0, b0 = per[first]
    for name in names:
        n, b = per[name]
        c, k, nr = b["command"], b["skeleton"], b["norecord"]
        print(f"{name:>10}: command/skeleton {c['wall'] / k['wall']:.2f}x   time per goroutine vs {first}: "
              f"{(c['wall'] / n) / (b0['command']['wall'] / n0):.2f}x (skeleton "
              f"{(k['wall'] / n) / (b0['skeleton']['wall'] / n0):.2f}x)   peak RSS {c['peak_rss_mb']:,.0f} MB   "
              f"recording {100 * max(0.0, c['wall'] - nr['wall']) / c['wall']:.1f}% of the command's wall time",
              flush=True)
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--end-to-end", nargs="*", default=["perf-1m", "perf-10m"], metavar="NAME",
                    help="scenarios/NAME.yaml to run end to end against the bare skeleton (none: skip)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000],
                    help="perf-1m scaled to these numbers of goroutines, in process (none: skip)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each kind per size; the fastest counts")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from simstack.runtime import COMPILED_IN_USE

    # plain Python is about 1.5x slower: figures from it say nothing about the compiled build
    print(f"runtime model: {'compiled (mypyc)' if COMPILED_IN_USE else 'PLAIN PYTHON (not compiled, or stale)'}; "
          f"load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
    if args.end_to_end:
        end_to_end(args.end_to_end, args.repeat)
    if not args.sizes:
        return
    rows = []
    print(f"{'goroutines':>11} {'kind':>9} {'wall s':>8} {'process s':>9} {'events/s':>11} {'peak RSS MB':>11} "
          f"{'us/goroutine':>12}")
    for n in args.sizes:
        best: dict = {}
        for _ in range(max(1, args.repeat)):
            for kind in ("bare", "simstack", "norec"):
                m = measure(kind, n)
                if kind not in best or m["wall"] < best[kind]["wall"]:
                    best[kind] = m
        for kind in ("bare", "simstack", "norec"):
            m = best[kind]
            m.update(kind=kind, n=n)
            rows.append(m)
            print(f"{n:>11,} {kind:>9} {m['wall']:>8.2f} {m['process_wall']:>9.2f} "
                  f"{m['events'] / m['wall']:>11,.0f} {m['peak_rss_mb']:>11,.0f} {1e6 * m['wall'] / n:>12.1f}",
                  flush=True)
    print()
    by = {(r["kind"], r["n"]): r for r in rows}
    first = args.sizes[0]
    for n in args.sizes:
        s, b, nr = by[("simstack", n)], by[("bare", n)], by[("norec", n)]
        per = s["wall"] / n
        per0 = by[("simstack", first)]["wall"] / first
        rec_share = max(0.0, (s["wall"] - nr["wall"]) / s["wall"])
        print(f"{n:>11,}: simstack/bare {s['wall'] / b['wall']:.2f}x   cost per goroutine vs {first:,}: "
              f"{per / per0:.2f}x   recording {100 * rec_share:.1f}% of run time   "
              f"peak RSS {s['peak_rss_mb']:,.0f} MB   ({s['recorded_events']:,} events recorded)")


if __name__ == "__main__":
    main()
