"""How far apart two real runs of one program are, beside how far a fit of one is from it and from the others.

    python benchmarks/trace_spread.py --program httpserve --gomaxprocs 1 --runs 5 [-o DIR] [--go PATH]
    python benchmarks/trace_spread.py --program chain --gomaxprocs 2 --trace A.trace --trace B.trace ...

The round trip (benchmarks/fit_roundtrip.py) compares a fit's simulation with the one trace it was fitted
to; its targets (issue #13: mean and peak StackInuse and grows within 10 %) mean something only where the
program itself repeats within them.  This records the program ``--runs`` times (the round trip's programs
and recording, ``fit_roundtrip.record``) and prints, per figure:

* each trace against the mean of the others (``trace vs others``): the program's own spread;
* each trace's fit (laws, and ``--replay``) simulated with ``--seeds`` seeds, against its own trace
  (``fit vs own``: the round trip) and against the mean of the other traces (``fit vs others``);
* the simulation's seed-to-seed spread (``seeds``: the largest against their mean).

Asserts nothing.  Recording, reading and fitting hold the shared CPU lock (/tmp/simstack-cpu.lock).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simstack.fit import fit_trace, observe_trace
from simstack.validate.roundtrip import end_sizes, live_sizes, whole_trace
from simstack.validate.timedcheck import _same_sizes, figures
from simstack.validate.toolchain import find_toolchain

_spec = importlib.util.spec_from_file_location("fit_roundtrip", ROOT / "benchmarks" / "fit_roundtrip.py")
rt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rt)

FIGURES = ("mean_stack_inuse", "peak_stack_inuse", "grows")


def real_figures(trace: Path, tc, name: str) -> tuple[dict, dict, object]:
    """(figures, live sizes at the end, observed) of one trace, over what the round trip compares (the live
    sizes in the classes its laws fit compares them in)."""
    with rt.cpu_lock():
        observed = observe_trace(trace, go=tc.go, until=rt.schedule_end(tc, name, trace))
        res, watch = observed
        table = watch.table(res.goroutines)
        fig = figures(whole_trace(res), sorted(set(table["class"])))
        sizes, _ = live_sizes(fit_trace(trace, observed=observed))
    return fig, sizes, observed


def simulated(trace: Path, observed, replay: bool, seeds: int) -> list[tuple[dict, dict]]:
    """(figures, live sizes at the end) of the trace's fit simulated with seeds 0 .. seeds-1."""
    from simstack.api import run
    with rt.cpu_lock():
        fit = fit_trace(trace, replay=replay, observed=observed)
        sc = fit.scenario()
        names = [c.name for c in fit.classes]
        _, counted = live_sizes(fit)
        out = []
        for seed in range(seeds):
            sim = run(sc.model_copy(update={"seed": seed}))
            out.append((figures(sim, names), end_sizes(sim, counted)))
    return out


def rel(x: float, ref: float) -> float:
    return (x - ref) / ref if ref else 0.0


def pct(v: float) -> str:
    return f"{100 * v:+.1f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", required=True, choices=rt.GENERATED + rt.REAL)
    ap.add_argument("--gomaxprocs", type=int, default=1)
    ap.add_argument("--runs", type=int, default=4, help="traces to record (without --trace)")
    ap.add_argument("--trace", action="append", default=[], type=Path, help="a trace recorded already (repeatable)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-fit", action="store_true", help="only the traces' spread")
    ap.add_argument("--go", default=None)
    ap.add_argument("-o", "--output", type=Path, default=Path("runs/trace-spread"))
    args = ap.parse_args()
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tc = find_toolchain(args.go)
    name, procs = args.program, args.gomaxprocs
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {tc.version}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}: {name} at GOMAXPROCS {procs}\n", flush=True)
    traces = list(args.trace)
    for i in range(0 if traces else args.runs):
        for attempt in range(3):  # Go 1.27.3's traceallocfree sometimes breaks a trace (docs/traces.md)
            try:
                t = rt.record(tc, name, procs, out)
                traces.append(t.rename(out / f"{name}-p{procs}-r{i}.trace"))
                break
            except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                print(f"<!-- run {i}, attempt {attempt + 1}: {type(exc).__name__}: {str(exc)[:200]} -->", flush=True)
    real = []
    for t in traces:
        try:
            real.append((t, *real_figures(t, tc, name)))
        except Exception as exc:  # noqa: BLE001
            print(f"<!-- {t.name}: unreadable: {type(exc).__name__}: {str(exc)[:200]} -->", flush=True)
    print("| trace | against | fit | " + " | ".join(FIGURES) + " | live at the end, same size |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in FIGURES) + " | --- |")
    for i, (t, fig, sizes, observed) in enumerate(real):
        others = [r for j, r in enumerate(real) if j != i]
        ref = {k: statistics.fmean(o[1][k] for o in others) for k in FIGURES} if others else None
        vals = " | ".join(f"{fig[k]:,.0f}" + (f" ({pct(rel(fig[k], ref[k]))})" if ref else "") for k in FIGURES)
        same = min((_same_sizes({"a": sizes}, {"a": o[2]}, ["a"]) for o in others), default=1.0)
        print(f"| {t.name} | others' mean | trace | {vals} | {100 * same:.0f} % of {sum(sizes.values())} "
              "(least, pairwise) |", flush=True)
        if args.no_fit:
            continue
        for replay in (False, True):
            mode = "replay" if replay else "laws"
            try:
                sims = simulated(t, observed, replay, args.seeds)
            except Exception as exc:  # noqa: BLE001
                print(f"| {t.name} | | {mode} | {type(exc).__name__}: {str(exc)[:160]} |", flush=True)
                continue
            med = {k: statistics.median(s[0][k] for s in sims) for k in FIGURES}
            spread = {k: max(abs(rel(s[0][k], statistics.fmean(x[0][k] for x in sims))) for s in sims)
                      for k in FIGURES}
            same = statistics.median(_same_sizes({"a": s[1]}, {"a": sizes}, ["a"]) for s in sims)
            print(f"| {t.name} | own trace | {mode} | " + " | ".join(
                f"{pct(rel(med[k], fig[k]))} (seeds ±{100 * spread[k]:.1f})" for k in FIGURES)
                + f" | {100 * same:.0f} % |", flush=True)
            if ref:
                print(f"| {t.name} | others' mean | {mode} | "
                      + " | ".join(pct(rel(med[k], ref[k])) for k in FIGURES) + " | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
