"""Comparing the model's checkpoints with the real program's, and writing the report.

The figure compared is StackInuse minus the baseline (the model's own baseline: a
ReadMemStats before anything; the program's: its baseline checkpoint). Threads (Ms) are
the one thing timing decides that changes stack memory, so the comparison takes them
from the run. A run that *starts* with another number of Ms than the profile has for its
GOMAXPROCS (3 or 4 at GOMAXPROCS 1, say) is compared with the model run with that many
Ms at start (their g0 stacks change how full the pool spans are). An M started *after*
the baseline beyond those the model starts (``startm``), when a GC's worker finds no idle
M, say, brings a 32 KiB signal stack (a span of its own) and a g0 stack from the stack
pools, which either fits in a pool span that has room or opens a new 32 KiB span; so each
such M stands for 32 KiB to 64 KiB, and ``corrected`` is the point of ``[measured − 64 KiB
× extra, measured − 32 KiB × extra]`` nearest the simulated delta (the other way round
for Ms the model started and the run did not; ``measured`` itself when they agree).

At GOMAXPROCS >= 2 the model is run several times (replications, issue #14): the race
model's seed varies, nothing else, and the simulated figure is a band, the replications'
min to max, with their median beside it (at GOMAXPROCS 1 there is one run, a band of width
zero). Each run's corrected delta is brought to the model's start (minus what its own
start changes in the model: its model's median replication less the model's), and a
checkpoint passes by ``simstack reference``'s band criterion
(:func:`simstack.reference.compare.band_ok`): the simulated band overlaps the runs' range
widened by ``max(tolerance x |largest|, tolerance_bytes)`` (``tolerance_bytes`` defaults to
0: the relative tolerance alone), and is no wider than twice the runs' range plus that
widening on both sides.

Per-goroutine stack sizes (by class), the adaptive starting size, the main goroutine's
stack and the thread counts are reported beside it; they do not decide the verdict.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..reference.compare import band_ok

SIGNAL_STACK = 32768  # gsignal: malg(32 KiB), a large stack with a span of its own (linux)
G0_SPAN = 32768  # an M's g0 (8 or 16 KiB) comes from a pool span: none or one new _StackCacheSize span


def _hist(h) -> dict:
    return {str(c): {int(s): int(n) for s, n in d.items() if n} for c, d in (h or {}).items() if d}


def _corrected(measured: int, extra: int, target: int) -> int:
    """The value nearest ``target`` of what ``measured`` is without ``extra`` Ms the model did not start
    (each: its 32 KiB signal span and at most one g0 pool span; ``extra`` < 0: Ms the model started and
    the run did not)."""
    if extra >= 0:
        lo, hi = measured - extra * (SIGNAL_STACK + G0_SPAN), measured - extra * SIGNAL_STACK
    else:
        lo, hi = measured - extra * SIGNAL_STACK, measured - extra * (SIGNAL_STACK + G0_SPAN)
    return min(max(target, lo), hi)


def _delta(model, k: int) -> int:
    return model.checkpoints[k]["stack_inuse"] - model.baseline["stack_inuse"]


def _median_index(models, k: int) -> int:
    """The replication whose delta at checkpoint ``k`` is the median (the lower one of an even count)."""
    order = sorted(range(len(models)), key=lambda r: (_delta(models[r], k), r))
    return order[(len(order) - 1) // 2]


def compare(plan, runs: list[dict], tolerance: float = 0.02, tolerance_bytes: int = 0,
            sims: list | None = None, replicas: list | None = None) -> pd.DataFrame:
    """One row per checkpoint: the simulated median and band, the runs' corrected deltas, the verdict.

    ``replicas``: the model's replications (``plan`` first; default ``[plan]``). ``sims``: per run,
    the replications of the model started as that run was (threads, main's stack; default
    ``replicas`` for every run); each run is corrected against its own."""
    replicas = replicas or [plan]
    sims = sims or [replicas] * len(runs)
    rows = []
    base_sim = plan.baseline["stack_inuse"]
    for k, sim in enumerate(plan.checkpoints):
        sim_delta = sim["stack_inuse"] - base_sim
        reps = [_delta(m, k) for m in replicas]
        mid = replicas[_median_index(replicas, k)]
        meas, corr, threads, hists, ss, mains, ngo, own = [], [], [], [], [], [], [], []
        for r, models in zip(runs, sims):
            cp, b = r["checkpoints"][k], r["baseline"]
            model = models[_median_index(models, k)]
            mcp, mb = model.checkpoints[k], model.baseline
            own_delta = _delta(model, k)
            d = cp["stack_inuse"] - b["stack_inuse"]
            model_added = (mcp.get("threads") or 0) - (mb.get("threads") or 0)
            extra = cp["num_threads"] - b["num_threads"] - model_added
            meas.append(d)
            own.append(own_delta)
            # the run's delta as had it started as the model did
            corr.append(_corrected(d, extra, own_delta) - own_delta + _delta(mid, k))
            threads.append(f"{b['num_threads']}->{cp['num_threads']}")
            hists.append(_hist(cp.get("goroutine_stacks")))
            ss.append(cp.get("starting_size"))
            mains.append(cp.get("main_stack"))
            ngo.append(cp.get("num_goroutine"))
        median = _delta(mid, k)
        row = {"checkpoint": sim["label"], "time_s": sim["time"], "via": sim["via"], "simulated_delta": sim_delta,
               "simulated_stack_inuse": sim["stack_inuse"]}
        if runs:
            nearest = min(corr, key=lambda c: (abs(median - c), c))
            diff = median - nearest
            widening = max(tolerance * max(abs(c) for c in corr), tolerance_bytes)
            rel = abs(diff) / abs(nearest) if nearest else (0.0 if diff == 0 else math.inf)
            mcp = mid.checkpoints[k]
            sim_hist = _hist(mcp["goroutine_stacks"])
            rep_hists = [_hist(m.checkpoints[k]["goroutine_stacks"]) for m in replicas]
            row.update({
                "simulated_delta": median, "simulated_lo": min(reps), "simulated_hi": max(reps),
                "replications": len(reps), "simulated_replications": reps, "simulated_deltas": own,
                "model_threads": [m[0].baseline.get("threads") for m in sims],
                "measured_delta_min": min(meas), "measured_delta_max": max(meas),
                "measured_deltas": meas, "threads": threads, "simulated_threads": mcp.get("threads"),
                "corrected_deltas": corr,
                "corrected_min": min(corr), "corrected_max": max(corr),
                "nearest_measured": nearest, "difference": diff, "relative_error": rel, "allowed": widening,
                "ok": band_ok(reps, corr, tolerance_bytes, tolerance),
                "simulated_goroutine_stacks": sim_hist, "measured_goroutine_stacks": hists,
                "goroutine_stacks_match": any(h == s for h in hists for s in rep_hists),
                "simulated_starting_size": mcp["starting_size"], "measured_starting_size": ss,
                "starting_size_match": all(v == m.checkpoints[k]["starting_size"] for v in ss if v is not None
                                           for m in replicas),
                "simulated_main_stack": mcp["main_stack"], "measured_main_stack": mains,
                "simulated_goroutines": mcp["goroutines"], "measured_goroutines": ngo,
            })
        rows.append(row)
    return pd.DataFrame(rows)


def stacks_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per-goroutine stack sizes, long form: checkpoint, class, size, simulated count, count per run."""
    out = []
    if "simulated_goroutine_stacks" not in table:
        return pd.DataFrame(out)
    for _, r in table.iterrows():
        sim, meas = r["simulated_goroutine_stacks"], r["measured_goroutine_stacks"]
        keys = {(c, s) for c, d in sim.items() for s in d} | {(c, s) for h in meas for c, d in h.items() for s in d}
        for c, s in sorted(keys):
            row = {"checkpoint": r["checkpoint"], "class": c, "stack_size": s, "simulated": sim.get(c, {}).get(s, 0)}
            for i, h in enumerate(meas, start=1):
                row[f"run{i}"] = h.get(c, {}).get(s, 0)
            out.append(row)
    return pd.DataFrame(out)


def format_bytes(n: float) -> str:
    from ..analysis.chartkit import format_bytes as fb
    return ("-" if n < 0 else "") + fb(abs(n)) if n else "0 B"


def substituted(frames: list[dict] | None) -> list[dict]:
    """The frames the compiler could not hit exactly: the model was simulated with ``reported`` instead."""
    return [f for f in frames or () if f.get("reported") is not None and f["reported"] != f["target"]]


def _frames_lines(frames: list[dict] | None, markdown: bool = False) -> list[str]:
    """The substituted frames under the table: the simulated figures are for these frames, not the scenario's."""
    subs = substituted(frames)
    if not subs:
        return []
    head = (f"* simulated with {len(subs)} frame(s) other than the scenario's (the nearest the compiler "
            "reports; the real program has the same):")
    if markdown:
        return ["", head, "", "| function | role | scenario | simulated and built |", "| --- | --- | --- | --- |"] + \
            [f"| `{f['function']}` | {f['role']} | {f['target']} B | {f['reported']} B |" for f in subs]
    return [head] + [f"    {f['function']:<24} {f['role']:<10} {f['target']:>6} B -> {f['reported']} B" for f in subs]


def render(table: pd.DataFrame, frames: list[dict] | None = None) -> str:
    """The per-checkpoint table as text (what ``simstack validate`` prints); ``frames`` (the layout's
    target and reported sizes) marks the simulated column when some frame is not the scenario's."""
    mark = "*" if substituted(frames) else ""
    if "ok" not in table:
        return "\n".join([table[["checkpoint", "time_s", "simulated_delta"]].to_string(index=False)]
                         + _frames_lines(frames))
    banded = _banded(table)
    lines = []
    hdr = (f"{'checkpoint':<16} {'simulated' + mark:>11} " + (f"{'model band':>25} " if banded else "")
           + f"{'measured (runs)':>25} {'threads':>9} {'difference':>11} {'rel.err':>8} {'':>3} {'stacks':>6} "
           f"{'start':>5}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for _, r in table.iterrows():
        lo, hi = r["measured_delta_min"], r["measured_delta_max"]
        meas = format_bytes(lo) if lo == hi else f"{format_bytes(lo)} .. {format_bytes(hi)}"
        band = f"{_span(r['simulated_lo'], r['simulated_hi'], format_bytes):>25} " if banded else ""
        thr = sorted(set(r["threads"]))
        rel = "inf" if math.isinf(r["relative_error"]) else f"{100 * r['relative_error']:.2f}%"
        lines.append(f"{str(r['checkpoint'])[:16]:<16} {format_bytes(r['simulated_delta']):>11} {band}{meas:>25} "
                     f"{','.join(thr)[:9]:>9} {format_bytes(r['difference']):>11} {rel:>8} "
                     f"{'ok' if r['ok'] else 'BAD':>3} {'=' if r['goroutine_stacks_match'] else '!=':>6} "
                     f"{'=' if r['starting_size_match'] else '!=':>5}")
    if banded:
        lines.append(f"simulated: the median of {int(table['replications'].max())} replications (race model seeds); "
                     "within tolerance: their band overlaps the runs' range widened by the tolerance and is no "
                     "wider than twice that range plus the widening")
    return "\n".join(lines + _frames_lines(frames))


def _banded(table: pd.DataFrame) -> bool:
    """The model was replicated: the tables show its band beside its median."""
    return "replications" in table and len(table) > 0 and int(table["replications"].max()) > 1


def _span(lo, hi, fmt) -> str:
    return fmt(lo) if lo == hi else f"{fmt(lo)} .. {fmt(hi)}"


def markdown(table: pd.DataFrame, frames: list[dict] | None = None) -> str:
    """The per-checkpoint table as Markdown (for README and reports), substituted frames below it."""
    mark = "*" if substituted(frames) else ""
    banded = _banded(table)
    lines = [f"| checkpoint | simulated Δ{mark}{' (median)' if banded else ''} | "
             + ("model band | " if banded else "") + "measured Δ (runs) | threads | nearest run, thread-corrected | "
             "difference | rel. error | ok | goroutine stacks |",
             "| --- " * (10 if banded else 9) + "|"]
    for _, r in table.iterrows():
        lo, hi = r["measured_delta_min"], r["measured_delta_max"]
        meas = f"{lo:,}" if lo == hi else f"{lo:,} – {hi:,}"
        rel = "inf" if math.isinf(r["relative_error"]) else f"{100 * r['relative_error']:.2f} %"
        stacks = ", ".join(f"{c}: " + " ".join(f"{n}×{format_bytes(s)}" for s, n in sorted(d.items()))
                           for c, d in r["simulated_goroutine_stacks"].items()) or "—"
        same = "equal" if r["goroutine_stacks_match"] else "differ"
        band = f"{_span(r['simulated_lo'], r['simulated_hi'], lambda v: f'{v:,}').replace(' .. ', ' – ')} | " \
            if banded else ""
        lines.append(f"| {r['checkpoint']} | {r['simulated_delta']:,} | {band}{meas} | "
                     f"{', '.join(sorted(set(r['threads'])))} | {r['nearest_measured']:,} | {r['difference']:,} | {rel} | "
                     f"{'yes' if r['ok'] else 'no'} | {stacks} ({same}) |")
    return "\n".join(lines + _frames_lines(frames, markdown=True))


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and math.isinf(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def write_report(out: Path, table: pd.DataFrame, meta: dict, plan, runs: list[dict],
                 replicas: list | None = None) -> list[Path]:
    """validation.csv, validation_stacks.csv, validation.json and validation.png in ``out``;
    ``replicas``: the model's replications (``plan`` first), whose band the chart shades."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    csv = table.copy()
    for c in csv.columns:
        if csv[c].map(lambda v: isinstance(v, (list, dict))).any():
            csv[c] = csv[c].map(lambda v: json.dumps(_jsonable(v), sort_keys=True))
    _atomic(out / "validation.csv", lambda p: csv.to_csv(p, index=False))
    written.append(out / "validation.csv")
    st = stacks_table(table)
    if len(st):
        _atomic(out / "validation_stacks.csv", lambda p: st.to_csv(p, index=False))
        written.append(out / "validation_stacks.csv")
    doc = {**meta, "checkpoints": [_jsonable(r) for r in table.to_dict("records")],
           "model_baseline": plan.baseline, "runs": [{"header": r["header"], "baseline": r["baseline"],
                                                      "checkpoints": r["checkpoints"]} for r in runs]}
    _atomic(out / "validation.json", lambda p: p.write_text(json.dumps(_jsonable(doc), indent=1, sort_keys=False)))
    written.append(out / "validation.json")
    if runs:
        fig = chart(plan, table, runs, meta, replicas)
        _atomic(out / "validation.png", lambda p: fig.savefig(p, format="png", dpi=110))
        written.append(out / "validation.png")
    return written


def _atomic(path: Path, write):
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)


def chart(plan, table: pd.DataFrame, runs: list[dict], meta: dict, replicas: list | None = None):
    """Above: the model's StackInuse − baseline over simulated time (its replications' band shaded,
    the scenario's seed as a line), each run at the checkpoints. Below, per checkpoint around the
    runs' corrected deltas: their range, widened by the allowance (shaded), and the model's band
    (its median marked), green when within tolerance."""
    from matplotlib.figure import Figure

    from ..analysis.chartkit import byte_scale, shade_band, step_band, time_scale

    replicas = replicas or [plan]
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, height_ratios=[3, 1.6])
    fp = plan.footprint
    base = plan.baseline["stack_inuse"]
    tmax = max([float(fp["time"].max()) if len(fp) else 0.0] + list(table["time_s"]))
    ts, tu = time_scale(tmax or 1.0)
    hi_col = "simulated_hi" if "simulated_hi" in table else "simulated_delta"
    peak = max([abs(float((fp["stack_inuse"] - base).max())) if len(fp) else 0.0]
               + [abs(v) for v in table[hi_col]] + [abs(v) for v in table["measured_delta_max"]])
    bs, bu = byte_scale(peak or 1)
    many = len(replicas) > 1
    if many and all(len(getattr(m, "footprint", ())) for m in replicas):
        t, lo, hi = step_band([(m.footprint["time"], m.footprint["stack_inuse"] - m.baseline["stack_inuse"])
                               for m in replicas])
        shade_band(ax, t / ts, lo / bs, hi / bs, step="post", color="tab:blue",
                   label=f"model, {len(replicas)} replications (band)")
    if len(fp):
        ax.step(fp["time"] / ts, (fp["stack_inuse"] - base) / bs, where="post", color="tab:blue", lw=1.2,
                label="model (footprint)" + (", the scenario's seed" if many else ""))
    ax.plot(table["time_s"] / ts, table["simulated_delta"] / bs, "o", color="tab:blue", ms=7, mfc="none",
            label="model at checkpoints" + (" (median)" if many else ""))
    for i in range(len(runs)):
        ys = [r["measured_deltas"][i] / bs for _, r in table.iterrows()]
        ax.plot(table["time_s"] / ts, ys, "x", color="tab:red", ms=7, alpha=0.8,
                label="real program (each run)" if i == 0 else None)
    for _, r in table.iterrows():
        ax.annotate(str(r["checkpoint"]), (r["time_s"] / ts, r["simulated_delta"] / bs), fontsize=7,
                    xytext=(3, 5), textcoords="offset points")
    ax.set_xlabel(f"simulated time ({tu}); the program runs these as phases")
    ax.set_ylabel(f"StackInuse − baseline ({bu})")
    ax.set_title(f"{meta.get('scenario', '')}: model vs {meta.get('toolchain', {}).get('version', 'Go')} "
                 f"({len(runs)} runs{f', {len(replicas)} model replications' if many else ''})", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    # below: everything relative to the middle of the runs' corrected range, in KiB
    x = list(range(len(table)))
    mid = [(r["corrected_min"] + r["corrected_max"]) / 2 for _, r in table.iterrows()]
    rel = lambda col: [(r[col] - m) / 1024 for (_, r), m in zip(table.iterrows(), mid)]  # noqa: E731
    w = [r["allowed"] / 1024 for _, r in table.iterrows()]
    c_lo, c_hi = rel("corrected_min"), rel("corrected_max")
    for i in x:  # a block per checkpoint: the runs' range, and widened by the allowance
        shade_band(ax2, [i - 0.3, i + 0.3], [c_lo[i] - w[i]] * 2, [c_hi[i] + w[i]] * 2, color="tab:gray", alpha=0.25,
                   label="runs' range + allowance" if i == 0 else None)
        shade_band(ax2, [i - 0.3, i + 0.3], [c_lo[i]] * 2, [c_hi[i]] * 2, color="tab:red", alpha=0.3,
                   label="runs' range (thread-corrected)" if i == 0 else None)
    s_med, s_lo, s_hi = rel("simulated_delta"), rel("simulated_lo"), rel("simulated_hi")
    for i, (_, r) in enumerate(table.iterrows()):
        color = "tab:green" if r["ok"] else "tab:red"
        ax2.plot([i, i], [s_lo[i], s_hi[i]], color=color, lw=4, alpha=0.8, solid_capstyle="butt")
        ax2.plot(i, s_med[i], "o", color=color, ms=4)
    ax2.plot([], [], color="tab:gray", lw=4, label="model's band (median •), green: within tolerance")
    ax2.axhline(0, color="k", lw=0.6)
    ax2.set_xticks(x, [str(c) for c in table["checkpoint"]], rotation=30, ha="right", fontsize=7)
    ax2.set_ylabel("around the runs (KiB)")
    ax2.legend(fontsize=7, loc="best")
    ax2.grid(alpha=0.3, axis="y")
    return fig
