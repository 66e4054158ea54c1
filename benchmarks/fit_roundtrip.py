"""`simstack fit`'s round trip: record a trace, fit it, simulate the fit, compare with the trace.

    python benchmarks/fit_roundtrip.py [--programs perf-timed worker-pool fanout http-server httpserve chain
                                         runtime-stack json-tests] [--gomaxprocs 1 2] [-o DIR] [--go PATH]
    python benchmarks/fit_roundtrip.py --trace NAME:GOMAXPROCS:PATH ...   # traces recorded already

Programs: the real-time programs timed validation generates from the example scenarios
(``perf-timed``, ``worker-pool``, ``fanout``, ``http-server``: the model's own draws performed
by a generated Go program), and four real programs: ``httpserve`` (a net/http server driven
over loopback by 16 clients in the same program, benchmarks/fitprogs/httpserve, written for
this benchmark), and three nobody wrote for simstack: ``chain`` (the Go tree's
test/chan/goroutines.go: a chain of 10,000 goroutines, 10 rounds, benchmarks/fitprogs/chain),
``runtime-stack`` (the Go runtime's own TestStackMem, TestStackGrowth and TestStackCache,
``go test -trace``) and ``json-tests`` (the standard library's encoding/json tests, ``-test.short``: subtests one after
another, a few of them recursing to stacks of 1 to 8 MiB).  Each is
run once per GOMAXPROCS with ``GODEBUG=traceallocfree=1``; the trace is fitted with the
defaults of ``simstack fit`` (``laws``) and with ``--replay`` (``replay``: every goroutine its
own observed values), and each fit simulated with ``--seeds`` seeds (default 5; its own and the
next ones), each figure their median with the seeds' range beside it (a fit with laws draws its
goroutines anew with each seed); the comparison is
``simstack.validate.roundtrip`` over the whole trace (a generated program's up to its schedule's end:
``schedule_end``).  Targets (issue #13): time-averaged and peak
StackInuse and grows within 10 %, at most 5 % of the goroutines alive at the end at another
stack size than in the trace.  Prints one Markdown table row per program and GOMAXPROCS.
Recording and fitting hold the shared CPU lock (/tmp/simstack-cpu.lock) while they run.
Asserts nothing.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simstack.fit import fit_trace, observe_trace  # noqa: E402
from simstack.validate.roundtrip import roundtrip  # noqa: E402
from simstack.validate.toolchain import find_toolchain, offline_env  # noqa: E402

GENERATED = ("perf-timed", "worker-pool", "fanout", "http-server")
REAL = ("httpserve", "chain", "runtime-stack", "json-tests")
TEST_PACKAGES = {"runtime-stack": "runtime", "json-tests": "encoding/json"}  # `go test -c` binaries


@contextmanager
def cpu_lock():
    with open("/tmp/simstack-cpu.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def go_env(tc, work: Path, procs: int) -> dict:
    env = _env(work)
    env.update(GODEBUG="traceallocfree=1", GOMAXPROCS=str(procs))
    return env


def _env(work: Path) -> dict:
    from simstack.trace.gotool import cache_root
    env = offline_env(work, None)
    env["GOCACHE"] = str(cache_root() / "gocache")  # the runtime's test binary takes minutes to build cold
    return env


def build(tc, name: str, out: Path) -> Path:
    """The binary of a real program (built once per run of this script)."""
    binary = out / "bin" / name
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = _env(out / "gowork")
    if name in TEST_PACKAGES:
        cmd, cwd = [str(tc.go), "test", "-c", "-o", str(binary), TEST_PACKAGES[name]], out
    else:
        cmd, cwd = [str(tc.go), "build", "-o", str(binary), "."], ROOT / "benchmarks" / "fitprogs" / name
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, timeout=1200)
    return binary


def record(tc, name: str, procs: int, out: Path) -> Path:
    trace = out / f"{name}-p{procs}.trace"
    if name in GENERATED:
        from simstack.sweep.params import with_settings
        from simstack.validate.gotimed import generate_timed, run_timed
        sc = with_settings(ROOT / "scenarios" / f"{name}.yaml", {"runtime.gomaxprocs": procs})
        prog = generate_timed(sc, tc, out / f"{name}-p{procs}-program")
        with cpu_lock():
            run_timed(prog, trace)
        return trace
    binary = build(tc, name, out)
    args = {"httpserve": [str(trace), "1.5s"], "chain": [str(trace), "10000", "10"],
            "runtime-stack": ["-test.run", "^TestStack(Mem|Growth|Cache)$", "-test.count=1",
                              "-test.trace", str(trace)],
            "json-tests": ["-test.short", "-test.count=1", "-test.trace", str(trace)]}[name]
    with cpu_lock():
        done = subprocess.run([str(binary), *args], env=go_env(tc, out / "gowork", procs), capture_output=True,
                              text=True, timeout=600, cwd=out, check=False)
    if done.returncode != 0:
        crash = re.search(r"^(SIGSEGV|fatal error|panic)[^\n]*", done.stderr, re.MULTILINE)
        where = re.search(r"^(runtime\.\w+)", done.stderr[crash.end():], re.MULTILINE) if crash else None
        raise RuntimeError(f"{name} exited with status {done.returncode}"
                           + (f": {crash.group(0)}" + (f" in {where.group(1)}" if where else "") if crash else "")
                           + (" (Go 1.27.3 crashes in trace.Stop with traceallocfree now and then: docs/traces.md)"
                              if where and where.group(1).startswith("runtime.trace") else ""))
    return trace


def schedule_end(tc, name: str, trace: Path) -> float | None:
    """A generated program's trace is fitted and compared up to its schedule's end (its ``simstack.start``
    plus the scenario's duration): after it the program's goroutines park for good at their next op, and
    main, late for want of a P, still starts the goroutines due before the end, which park at once (in
    ``fanout`` at 1, 228 of 500 coordinators). None for the other programs: their whole trace."""
    if name not in GENERATED:
        return None
    from simstack import read_trace
    from simstack.scenario.loader import load_scenario

    start = read_trace(trace, go=tc.go, kinds=[]).summary["window"]["start"]
    return start + load_scenario(ROOT / "scenarios" / f"{name}.yaml").duration


def pct(row) -> str:
    """The median seed's difference, and the seeds' range where they differ."""
    mid = f"{100 * row['relative']:+.1f} %"
    lo, hi = (100 * (row[k] - row["real_mean"]) / row["real_mean"] for k in ("simulated_lo", "simulated_hi"))
    return mid if row["replications"] < 2 or f"{lo:+.1f}" == f"{hi:+.1f}" else f"{mid} ({lo:+.1f} to {hi:+.1f})"


def mib(v: float) -> str:
    return f"{v / 2**20:.2f} MiB" if v >= 2**20 else f"{v / 1024:.0f} KiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", nargs="+", default=list(GENERATED + REAL))
    ap.add_argument("--gomaxprocs", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--go", default=None)
    ap.add_argument("--trace", action="append", default=[], metavar="NAME:GOMAXPROCS:PATH",
                    help="a trace recorded already (repeatable): fitted and compared, nothing recorded")
    ap.add_argument("--seeds", type=int, default=5, help="simulations of each fit, each figure their median")
    ap.add_argument("-o", "--output", type=Path, default=Path("runs/fit-roundtrip"))
    args = ap.parse_args()
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tc = find_toolchain(args.go)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {tc.version}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}\n", flush=True)
    print("| program | GOMAXPROCS | goroutines | fit | classes | mean StackInuse fit / trace | peak | grows | GC cycles "
          "| live at the end, same size | live goroutines (mean) | within targets |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    given = [t.split(":", 2) for t in args.trace]
    jobs = [(n, int(p), Path(path)) for n, p, path in given] if given else \
        [(name, procs, None) for name in args.programs for procs in args.gomaxprocs]
    for name, procs, path in jobs:
        trace = observed = None
        for attempt in range(1, 4):  # Go 1.27.3's traceallocfree sometimes breaks a trace (docs/traces.md)
            try:
                trace = path or record(tc, name, procs, out)
                with cpu_lock():
                    observed = observe_trace(trace, go=tc.go, until=schedule_end(tc, name, trace))
                break
            except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                print(f"<!-- {name} GOMAXPROCS {procs}, attempt {attempt}: {type(exc).__name__}: "
                      f"{str(exc)[:200]} -->", flush=True)
                if path:
                    break
        if observed is None:
            print(f"| {name} | {procs} | no readable trace in 3 attempts |", flush=True)
            continue
        for replay in (False, True):
            mode = "replay" if replay else "laws"
            try:
                with cpu_lock():
                    rt = roundtrip(trace, fit=fit_trace(trace, replay=replay, observed=observed), seeds=args.seeds)
            except Exception as exc:  # noqa: BLE001
                print(f"| {name} | {procs} | | {mode} | {type(exc).__name__}: {str(exc)[:160]} |", flush=True)
                continue
            m, p, g = rt.figure("mean_stack_inuse"), rt.figure("peak_stack_inuse"), rt.figure("grows")
            gc, live = rt.figure("gc_cycles"), rt.figure("mean_live_goroutines")
            es = rt.end_sizes
            n_end = sum(es["trace"].values())
            fitted = [rt.fit.runtime["gomaxprocs"]] + [n for _, n in rt.fit.runtime.get("gomaxprocs_changes", ())]
            shown = f"{procs} (fit: {', then '.join(map(str, fitted))})" if fitted != [procs] else f"{procs}"
            print(f"| {name} | {shown} | {len(rt.fit.table):,} | {mode} | {len(rt.fit.classes)} | "
                  f"{mib(m['simulated'])} / {mib(m['real_mean'])} ({pct(m)}) | {pct(p)} | {g['simulated']:,.0f} / "
                  f"{g['real_mean']:,.0f} ({pct(g)}) | {gc['simulated']:.0f} / {gc['real_mean']:.0f} | "
                  f"{100 * rt.same_sizes:.0f} % of {n_end:,} (fit, first seed: {sum(es['simulated'].values()):,}) | "
                  f"{live['simulated']:,.1f} / {live['real_mean']:,.1f} | {'yes' if rt.ok else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
