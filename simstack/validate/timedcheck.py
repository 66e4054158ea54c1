"""Timed validation: a timed scenario performed in real time, traced, and compared with the model.

A scenario whose outcome depends on timing (Poisson arrivals, timed blocks, GC paced by
GOGC, several Ps) cannot be replayed phase by phase. :mod:`.gotimed` generates a program
that performs it in real time, with exactly the model's draws (the schedule), and runs it
with ``GODEBUG=traceallocfree=1``; :mod:`simstack.trace` reads each run's execution trace
into a Result; this module simulates the same schedule and compares, over the window the
program marks (``simstack.start`` … ``simstack.end``):

* time-averaged and peak StackInuse, stack growths (all of the scenario's classes): the
  model's band within ``tolerance`` (10 %) of the real runs' range;
* GC cycles: within ``gc_slack`` (1) of the real runs' range;
* beside them, not deciding the verdict: growths and shrinks per class, shrinks, StackInuse
  at each checkpoint, how many goroutines have the same stack size at each checkpoint, the
  run's length and its mean number of live goroutines (a real run that could not keep to its
  schedule, because the machine's CPUs were busy or fewer than GOMAXPROCS, has more goroutines
  alive at once than the model, and a note says so).

The model is simulated ``replications`` times on the same schedule (every class's and arrival's
draw stays the one the program performs): at GOMAXPROCS >= 2 each with another seed of the race
model (``engine/races.py``), which draws what timing decides between the Ps; and, when the model is
given this machine's measured CPU costs (``cpucost.py``), the first with the medians of the cost
program's rounds and each other with one round's costs, at any GOMAXPROCS: on a saturated P the
model's outcome is chaotic in those costs (a few ns of ``park`` moved ``fanout`` at GOMAXPROCS 1 by
30 points), so one run is one draw, and the rounds give the spread. Each figure's
row gives the replications' median and band (min–max) beside the real runs' mean and range,
and a goal figure passes by ``simstack reference``'s band criterion
(:func:`simstack.reference.compare.band_ok`): the model's band overlaps the real runs' range
widened by ``tolerance`` of its largest value (GC cycles: by ``gc_slack``), and is no wider
than twice that range plus the widening on both sides.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..reference.compare import band_ok

TOLERANCE = 0.10
GC_SLACK = 1
LATE = 1.05  # a real run that took this much longer than its schedule did not keep to it
RETRIES = 2  # a run whose trace the Go runtime broke is run again at most this many times
GOAL = ("mean_stack_inuse", "peak_stack_inuse", "grows", "gc_cycles")


@dataclass
class TimedValidation:
    """The outcome of :func:`validate_timed`: the comparison table, the simulated run, the real runs."""

    program: object  # gotimed.TimedProgram
    simulated: object  # Result (the scenario's own seed)
    real: list = field(default_factory=list)  # Results read from the traces
    traces: list = field(default_factory=list)
    table: pd.DataFrame | None = None
    tolerance: float = TOLERANCE
    gc_slack: int = GC_SLACK
    notes: list = field(default_factory=list)
    replicas: list = field(default_factory=list)  # every replication's Result, ``simulated`` first

    @property
    def ok(self) -> bool:
        goal = self.table[self.table["goal"]]
        return bool(self.real) and bool(goal["ok"].all())

    @property
    def failed(self) -> list[str]:
        goal = self.table[self.table["goal"]]
        return [f"{r.metric}" for r in goal.itertuples() if not r.ok]

    def meta(self) -> dict:
        p, tc = self.program, self.program.toolchain
        sc = p.simulated
        return {"mode": "timed", "scenario": p.scenario.name, "source": p.scenario.source,
                "toolchain": {"version": tc.version, "platform": tc.platform, "go": str(tc.go)},
                "profile": sc.runtime.version, "gomaxprocs": sc.runtime.gomaxprocs, "runs": len(self.real),
                "replications": len(self.replicas) or 1,
                "tolerance": self.tolerance, "gc_slack": self.gc_slack, "ok": self.ok, "failed": self.failed,
                "goroutines": len(p.schedule.goroutines), "traces": [str(t) for t in self.traces],
                "real": [r.summary for r in self.real], "notes": list(self.notes) + list(p.notes)}

    def render(self) -> str:
        return render(self.table)

    def write(self, out) -> list[Path]:
        from .compare import _atomic
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "validation.csv", out / "validation.json", out / "validation.png"]
        _atomic(paths[0], lambda p: self.table.to_csv(p, index=False))
        _atomic(paths[1], lambda p: p.write_text(json.dumps({**self.meta(), "rows": _records(self.table)},
                                                            indent=1, default=_default)))
        fig = chart(self)
        _atomic(paths[2], lambda p: fig.savefig(p, dpi=110, format="png"))
        import matplotlib.pyplot as plt
        plt.close(fig)
        return paths


def window_mean(footprint: pd.DataFrame, start: float, end: float) -> float:
    """StackInuse averaged over [start, end], each footprint row holding until the next."""
    t = footprint["time"].to_numpy(dtype=float)
    v = footprint["stack_inuse"].to_numpy(dtype=float)
    if end <= start or not len(t):
        return float(v[-1]) if len(v) else 0.0
    edges = np.clip(np.append(t, end), start, end)
    return float((v * np.diff(edges)).sum() / (end - start))


def figures(res, classes: list[str]) -> dict:
    """The compared figures of one run, simulated or read from a trace."""
    s = res.summary
    h = s["headline"]
    if s.get("source") == "trace":
        w = s.get("window") or {}
        start, end = w.get("start", 0.0), w.get("end", s["sim_time"])
        mean, peak = w.get("mean", h["mean_stack_inuse"]), w.get("peak", h["peak_stack_inuse"])
        marks = s.get("mark_values") or {}
        if "gc_cycles" in marks.get("start", {}) and "gc_cycles" in marks.get("end", {}):
            gc = int(marks["end"]["gc_cycles"]) - int(marks["start"]["gc_cycles"])
        else:
            gc = int(((res.gc["start"] >= start) & (res.gc["start"] <= end)).sum())
    else:
        start, end = 0.0, float(s["sim_time"])
        mean, peak, gc = window_mean(res.footprint, start, end), h["peak_stack_inuse"], h["gc_cycles"]
    g = res.goroutines
    g = g[g["class"].isin(classes)]
    by = g.groupby("class")[["grows", "shrinks"]].sum()
    # the scenario's goroutines alive on average over the window (the runtime's own, and main, apart)
    born = g["created"].clip(lower=start)
    died = g["exited"].fillna(end).clip(upper=end)
    alive = float((died - born).clip(lower=0).sum() / (end - start)) if end > start else math.nan
    out = {"mean_stack_inuse": float(mean), "peak_stack_inuse": float(peak), "grows": float(g["grows"].sum()),
           "gc_cycles": float(gc), "shrinks": float(g["shrinks"].sum()), "run_time_s": float(end - start),
           "mean_live_goroutines": alive}
    for c in classes:
        out[f"grows[{c}]"] = float(by["grows"].get(c, 0))
        out[f"shrinks[{c}]"] = float(by["shrinks"].get(c, 0))
    cp = res.checkpoints
    for row in cp.itertuples():
        out[f"stack_inuse@{row.label}"] = float(row.stack_inuse)
        hist = getattr(row, "goroutine_stacks", None)
        out[f"stacks@{row.label}"] = json.loads(hist) if isinstance(hist, str) else (hist or {})
    return out


def _same_sizes(a: dict, b: dict, classes: list[str]) -> float:
    """The fraction of goroutines whose stack size the other side has too (1.0: equal histograms)."""
    same = total = 0
    for c in classes:
        x, y = a.get(c, {}), b.get(c, {})
        sizes = set(x) | set(y)
        same += sum(min(int(x.get(k, 0)), int(y.get(k, 0))) for k in sizes)
        total += max(sum(map(int, x.values())), sum(map(int, y.values())))
    return same / total if total else 1.0


def compare(sim, real: list[dict], classes: list[str], tolerance: float = TOLERANCE,
            gc_slack: int = GC_SLACK) -> pd.DataFrame:
    """One row per figure: simulated (median, band), the real runs (mean, min, max, each), difference,
    verdict. ``sim``: the figures of one model run, or a list of them (the replications)."""
    sims = [sim] if isinstance(sim, dict) else list(sim)
    rows = []
    for key in sims[0]:
        if key.startswith("stacks@"):
            continue
        reps = [float(x[key]) for x in sims]
        s = statistics.median_low(reps)  # as simstack reference's: one of the runs
        vals = [r.get(key) for r in real]
        vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
        mean = float(np.mean(vals)) if vals else math.nan
        goal = key in GOAL
        floor, rel = (float(gc_slack), 0.0) if key == "gc_cycles" else (0.0, tolerance)
        allowed = max(floor, rel * max(abs(v) for v in vals)) if vals else math.nan
        diff = s - mean if vals else math.nan
        rows.append({"metric": key, "goal": goal, "simulated": s, "simulated_lo": min(reps),
                     "simulated_hi": max(reps), "replications": len(reps), "real_mean": mean,
                     "real_min": min(vals) if vals else math.nan, "real_max": max(vals) if vals else math.nan,
                     "real_runs": json.dumps(vals), "difference": diff,
                     "relative": diff / mean if vals and mean else (0.0 if diff == 0 else math.nan),
                     "allowed": allowed, "ok": band_ok(reps, vals, floor, rel) if goal and vals else None})
    for key in [k for k in sims[0] if k.startswith("stacks@")]:
        agree = [_same_sizes(sims[0][key], r.get(key, {}), classes) for r in real if key in r]
        rows.append({"metric": key, "goal": False, "simulated": math.nan, "real_mean": float(np.mean(agree))
                     if agree else math.nan, "real_min": min(agree) if agree else math.nan,
                     "real_max": max(agree) if agree else math.nan, "real_runs": json.dumps(agree),
                     "difference": math.nan, "relative": math.nan, "allowed": math.nan, "ok": None,
                     "note": "fraction of goroutines with the same stack size as the model"})
    return pd.DataFrame(rows)


def render(table: pd.DataFrame) -> str:
    from .compare import format_bytes
    banded = "replications" in table and len(table) and table["replications"].max() > 1
    lines = [f"{'figure':<34} {'simulated':>12} " + (f"{'model band':>25} " if banded else "")
             + f"{'real mean':>12} {'real min-max':>25} {'diff':>8}  ok"]
    for r in table.itertuples():
        if r.metric.startswith("stacks@"):
            lines.append(f"{r.metric:<34} {'':>12} " + (f"{'':>25} " if banded else "")
                         + f"{100 * r.real_mean:>11.1f}% {'same stack size':>25}")
            continue
        byt = "stack_inuse" in r.metric
        f = (lambda v: format_bytes(v)) if byt else (lambda v: f"{v:,.1f}")
        rel = f"{100 * r.relative:+.1f}%" if isinstance(r.relative, float) and not math.isnan(r.relative) else ""
        ok = "" if r.ok is None or (isinstance(r.ok, float) and math.isnan(r.ok)) else ("yes" if r.ok else "NO")
        band = f"{f(r.simulated_lo) + ' - ' + f(r.simulated_hi):>25} " if banded else ""
        lines.append(f"{r.metric:<34} {f(r.simulated):>12} {band}{f(r.real_mean):>12} "
                     f"{f(r.real_min) + ' - ' + f(r.real_max):>25} {rel:>8}  {ok}")
    if banded:
        lines.append(f"simulated: the median of {int(table['replications'].max())} replications (race model seeds); "
                     "ok: their band overlaps the real runs' range widened by the tolerance, and is no wider than "
                     "twice that range plus the widening")
    return "\n".join(lines)


def chart(v: TimedValidation):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..analysis.chartkit import shade_band, step_band

    fig, ax = plt.subplots(figsize=(10, 4.5))
    fp = v.simulated.footprint
    if len(v.replicas) > 1:  # the race model's replications: their band, shaded
        t, lo, hi = step_band([(r.footprint["time"], r.footprint["stack_inuse"]) for r in v.replicas])
        shade_band(ax, t * 1e3, lo / 2**20, hi / 2**20, step="post", color="C0",
                   label=f"simulated, {len(v.replicas)} replications (band)")
    ax.plot(fp["time"] * 1e3, fp["stack_inuse"] / 2**20, color="C0", lw=2,
            label="simulated" + (" (the scenario's seed)" if len(v.replicas) > 1 else ""))
    for i, r in enumerate(v.real):
        w = r.summary.get("window") or {}
        t0, t1 = w.get("start", 0.0), w.get("end", r.summary["sim_time"])
        f = r.footprint[(r.footprint["time"] >= t0) & (r.footprint["time"] <= t1)]
        ax.plot((f["time"] - t0) * 1e3, f["stack_inuse"] / 2**20, color="C1", lw=1, alpha=0.7,
                label="real runs" if i == 0 else None)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("StackInuse (MiB)")
    ax.set_title(f"{v.program.scenario.name}: the model and {len(v.real)} real run(s), "
                 f"{v.program.toolchain.version}, GOMAXPROCS {v.program.simulated.runtime.gomaxprocs}")
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _records(table: pd.DataFrame) -> list[dict]:
    return json.loads(table.to_json(orient="records"))


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def threads_seen(res) -> list[tuple[float, int]] | None:
    """A real run's Ms: ``[(0, at time zero), (t, count from t on), ...]``, from the counts the program
    logged at its start and end (``runtime.ThreadCreateProfile``) and the time each further M first
    shows in the trace; None when the run did not log them."""
    s = res.summary
    marks, values = s.get("marks") or {}, s.get("mark_values") or {}
    n0, n1 = values.get("start", {}).get("threads"), values.get("end", {}).get("threads")
    if n0 is None or n1 is None or "start" not in marks:
        return None
    t0 = marks["start"]
    later = [t - t0 for t in s.get("m_first_seen", []) if t > t0]
    return [(0.0, n0)] + [(t, min(n0 + i + 1, n1)) for i, t in enumerate(later) if n0 + i + 1 <= n1]


# hi - sp of the timed program's main asleep, beyond main.main's $FRAME: its return address and frame
# pointer, sleepUntil, time.Sleep down to gopark, and runtime.main above it (go1.27.3 rebuilt with a
# println in scanstack: 12,576 bytes with main.main's $FRAME at 12,096)
MAIN_ASLEEP_BEYOND_FRAME = 480


# runtime.makeslice's frame (go1.27.3 linux/amd64, go tool objdump: SUBQ $0x18 + the frame pointer):
# spin's garbage is made with make([]byte, n), so mallocgc runs below spin and makeslice
MAKESLICE_FRAME = 32


def program_changes(prog) -> dict:
    """The profile as the timed program runs: runtime/trace.Start's goroutines among the runtime's own
    (each GC scans them into the adaptive starting size's average), main's hi - sp as its own
    frame makes it (main.main's ``$FRAME``, 12 KiB, where the quiet programs' main has 4 KiB), and
    mallocgc's paths below ``spin`` and ``makeslice``, where the program allocates a step's garbage (the
    sweeping one as runtime/trace makes it: its first span swept records a stack)."""
    from ..runtime.profiles import Frame, resolve_profile
    rs = prog.simulated.runtime
    prof = resolve_profile(rs.version, rs.platform, godebug=rs.godebug)  # the goroutines the runtime starts
    changes = {"system_goroutines": prof.system_goroutines + prof.trace_goroutines}
    frame = prog.layout.others.get("main")
    if frame:
        changes["main_gc_wait_used"] = frame + MAIN_ASLEEP_BEYOND_FRAME
    spin = prog.layout.others.get("spin")
    if spin and prof.malloc_path:
        below = (Frame(spin, False, "main.spin"), Frame(MAKESLICE_FRAME, False, "runtime.makeslice"))
        changes["malloc_path"] = below + prof.malloc_path
        # the program is traced: an allocation that sweeps records the sweep's stack, deeper still
        sweep = prof.trace_sweep_path or prof.malloc_sweep_path
        if sweep:
            changes["malloc_sweep_path"] = below + sweep
    return changes


def _ms_as_run(sc, real: list, notes: list):
    """(scenario, Ms timeline) for the model: the Ms one real run had, the run whose final count is
    the median (``median_low``), as quiet validation starts its model as each run started. The
    program's tracer starts Ms of its own (its writer blocks in write syscalls, and its P goes to
    another M), each with a g0 and a gsignal stack, which a scenario does not describe."""
    seen = [threads_seen(r) for r in real]
    if not seen or None in seen or sc.runtime.baseline != "auto" or sc.runtime.threads_at_start:
        return sc, None
    finals = [tl[-1][1] for tl in seen]
    pick = seen[finals.index(statistics.median_low(finals))]
    notes.append(f"the model is given the Ms of the real run with the median count: {pick[0][1]} at time zero, "
                 f"{pick[-1][1]} by the end ({', '.join(f'{t * 1e3:.0f} ms' for t, _ in pick[1:]) or 'none started'}"
                 f"{' in between' if len(pick) > 1 else ''}; the runs ended with {', '.join(map(str, finals))}: "
                 "runtime.ThreadCreateProfile), as many as the traced program started")
    return sc.model_copy(update={"runtime": sc.runtime.model_copy(update={"threads_at_start": pick[0][1]})}), pick[1:]


def _cpu_as_measured(sc, tc, cache_dir, notes: list, log):
    """The scenario with this machine's runtime CPU costs (``cpucost.py``: the rounds' medians), unless it
    sets its own, and each round's costs for the other replications ([] when the scenario sets them).

    A saturated P makes the model chaotic in these costs: ``fanout`` at GOMAXPROCS 1 measured +32 % and
    −2 % (mean StackInuse against the same real runs) with ``park`` at 0.70 and 0.73 µs. So one model
    run says little; the rounds, each a measurement of the same machine, give the spread of its outcomes."""
    from . import default_cache_dir
    from .cpucost import describe, measure_cpu_costs, measured_rounds

    if sc.runtime.cpu:
        return sc, []
    log("measuring this machine's runtime CPU costs (traced, GOMAXPROCS 1)")
    costs = measure_cpu_costs(tc, Path(cache_dir) if cache_dir else default_cache_dir())
    rounds = measured_rounds(tc)
    notes.append(f"the model is given this machine's runtime CPU costs, measured traced at GOMAXPROCS 1 "
                 f"(runtime.cpu): {describe(costs)}, the medians of {len(rounds) or 'its'} rounds"
                 + ("; the other replications each a round's (park " + ", ".join(
                     f"{r['park'] * 1e6:.2f}" for r in rounds) + " µs)" if rounds else ""))
    return _with_cpu(sc, costs), rounds


def replica_scenarios(sc, rounds: list, n: int) -> list:
    """The scenario of each of ``n`` replications: ``sc`` first (the rounds' medians), then ``sc`` with
    each round's costs in turn (``sc`` again for every one without rounds)."""
    return [sc] + [_with_cpu(sc, rounds[(i - 1) % len(rounds)]) if rounds else sc for i in range(1, n)]


def _with_cpu(sc, costs: dict):
    """``sc`` with ``runtime.cpu`` set to ``costs``."""
    cpu = sc.runtime.cpu.model_copy(update=costs)
    return sc.model_copy(update={"runtime": sc.runtime.model_copy(update={"cpu": cpu})})


def validate_timed(scenario_or_path, *, go=None, toolchain=None, runs: int = 3, tolerance: float = TOLERANCE,
                   gc_slack: int = GC_SLACK, program_dir=None, cache_dir=None, trace_dir=None,
                   timeout: float = 600, log=None, replications: int | None = None) -> TimedValidation:
    """Generate the real-time program for a timed scenario, run it ``runs`` times with tracing, read
    the traces, simulate the same schedule ``replications`` times (``validate.replications_for``), and
    compare (see the module docstring)."""
    import atexit
    import shutil
    import tempfile

    from ..api import run as simulate
    from ..reference.runner import REPLICATIONS
    from ..trace import TraceError, read_trace
    from . import _load, find_toolchain, replications_for
    from .gotimed import generate_timed, run_timed
    from .runner import ProgramError
    from .toolchain import ToolchainError

    log = log or (lambda _m: None)
    sc = _load(scenario_or_path)
    tc = toolchain or find_toolchain(go)
    if tc.numeric < (1, 23):
        raise ToolchainError(f"{tc.describe()}: timed validation reads execution traces with stack events, "
                             "which need Go 1.23 or later (pip install 'simstack[go]' gives Go 1.27)")
    log(f"toolchain: {tc.describe()}")
    if program_dir is None:
        program_dir = Path(tempfile.mkdtemp(prefix="simstack-timed-"))
        atexit.register(shutil.rmtree, program_dir, True)
    program_dir = Path(program_dir).resolve()
    program_dir.mkdir(parents=True, exist_ok=True)
    prog = generate_timed(sc, tc, program_dir, cache_dir=cache_dir, log=log)
    classes = [c.name for c in prog.simulated.goroutines]
    start_fns = {fn: c for c, fn in prog.class_functions.items()}

    def classify(creator, start):
        return start_fns.get(start)

    trace_dir = Path(trace_dir).resolve() if trace_dir else program_dir
    trace_dir.mkdir(parents=True, exist_ok=True)
    real, traces, notes = [], [], []
    for i in range(runs):
        path = trace_dir / f"run{i + 1}.trace"
        log(f"run {i + 1}/{runs} (traced)")
        for attempt in range(1, RETRIES + 2):
            try:
                out = run_timed(prog, path, timeout=timeout)
                res = read_trace(path, go=tc.go, classify=classify)
                break
            except (ProgramError, TraceError) as exc:
                # Go 1.27.3's traceallocfree can crash in trace.Stop or write a broken trace under heavy
                # allocation (docs/traces.md): that run says nothing about stacks, so it is run again
                broken = "runtime.traceAdvance" in str(exc) or "broken or truncated" in str(exc)
                if not broken or attempt > RETRIES:
                    raise ProgramError(f"run {i + 1}: {exc}") from None
                first = str(exc).strip().splitlines()
                notes.append(f"run {i + 1}, attempt {attempt}: the Go runtime's tracer failed ({first[0][:120]}"
                             f"{' ...' if len(first) > 1 else ''}); run again (docs/traces.md)")
                log(notes[-1])
        lg = res.summary["logged_stack_inuse"]
        if lg["n"] and lg["equal"] != lg["n"]:
            notes.append(f"run {i + 1}: {lg['n'] - lg['equal']} of {lg['n']} logged StackInuse readings differ "
                         f"from the trace's (first: {lg['first_mismatch']})")
        res.summary["program_output"] = out.get("output")
        w = res.summary.get("window") or {}
        took = w.get("end", res.summary["sim_time"]) - w.get("start", 0.0)
        planned = prog.simulated.duration or prog.schedule.events[-1].time
        if planned and took > LATE * planned:
            notes.append(f"run {i + 1} took {took:.3g} s for a {planned:.3g} s schedule: the machine could not keep "
                         "to it (CPUs busy, or GOMAXPROCS above their number), so its goroutines lived longer than "
                         "the model's; its figures say more about the machine than about the runtime")
        real.append(res)
        traces.append(path)
    simulated, ms = _ms_as_run(prog.simulated, real, notes)
    simulated, rounds = _cpu_as_measured(simulated, tc, cache_dir, notes, log)
    seed, racing = simulated.seed, replications_for(simulated.runtime, replications)
    # the measured rounds are replications too, at any GOMAXPROCS
    n = max(racing, REPLICATIONS if replications is None else replications) if rounds else racing
    varied = [f"race model seeds {seed}..{seed + n - 1}"] if racing > 1 else []
    varied += ["the measured rounds' costs"] if rounds else []
    times = f" {n} times ({', '.join(varied)})" if n > 1 else ""
    log(f"simulating the same schedule{times}")
    changes = program_changes(prog)
    sims = [simulate(sc_i, races_seed=seed + i, main_ticks=prog.schedule.sample_every, threads_seen=ms,
                     profile_changes=changes) for i, sc_i in enumerate(replica_scenarios(simulated, rounds, n))]
    table = compare([figures(x, classes) for x in sims], [figures(r, classes) for r in real], classes, tolerance,
                    gc_slack)
    return TimedValidation(prog, sims[0], real, traces, table, tolerance, gc_slack, notes, sims)
