"""More charts of a run, of several runs, and of a sweep.

Like :mod:`simstack.analysis.charts`, with the same helpers
(:mod:`~simstack.analysis.chartkit`): each function takes a Result (or frames, see
:func:`~simstack.analysis.data.as_frames`) and an optional matplotlib Axes, draws
what a function of :mod:`simstack.analysis.data` returns, and returns the Axes.
Bytes are labelled in B/KiB/MiB/GiB, times in s/ms/µs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import data
from .chartkit import axes, byte_scale, format_bytes, mark_gc, time_scale


def _time_axis(ax, times):
    tscale, tunit = time_scale(float(np.max(times)) if len(times) else 0.0)
    ax.set_xlabel(f"simulated time ({tunit})")
    return tscale


def plot_stack_sizes(result, at=None, ax=None):
    """Live goroutines by stack size at a time (s), a checkpoint (label) or the end (None).

    Bars per stack size; for a checkpoint that recorded them, stacked by goroutine class.
    Each bar is labelled with the bytes its stacks hold.
    """
    ax = axes(ax)
    dist = data.stack_size_distribution(result, at)
    x = np.arange(len(dist))
    classes = [c for c in dist.columns if c not in ("size", "goroutines", "bytes")]
    if classes:
        bottom = np.zeros(len(dist))
        for cls in classes:
            ax.bar(x, dist[cls].to_numpy(), bottom=bottom, label=cls, gid="bar")
            bottom += dist[cls].to_numpy()
        ax.legend(loc="upper right", fontsize="small", title="class")
    else:
        ax.bar(x, dist["goroutines"].to_numpy(), color="tab:blue", gid="bar")
    for xi, n, b in zip(x, dist["goroutines"], dist["bytes"]):
        ax.annotate(format_bytes(int(b)), (xi, n), ha="center", va="bottom", fontsize="small",
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, [format_bytes(int(s)) for s in dist["size"]])
    ax.set_xlabel("stack size")
    ax.set_ylabel("goroutines")
    if len(dist):
        ax.set_ylim(0, max(1, dist["goroutines"].max()) * 1.12)
    if isinstance(at, str):
        when = f"checkpoint {at!r}"
    elif at is None:
        fp = data.as_frames(result).footprint
        when = f"end ({_fmt_time(float(fp['time'].iloc[-1]))})" if len(fp) else "end"
    else:
        when = _fmt_time(float(at))
    ax.set_title(f"Goroutine stack sizes at {when}")
    return ax


def _fmt_time(t: float) -> str:
    scale, unit = time_scale(t)
    return f"{t / scale:.4g} {unit}"


def plot_cache_occupancy(result, ax=None):
    """Bytes in each P's stack cache over time, stacked; the footprint's ``cached_bytes`` dashed on top."""
    ax = axes(ax)
    r = data.as_frames(result)
    occ = data.cache_occupancy(r)
    ps = [c for c in occ.columns if c != "time"]
    fp = r.footprint
    top = max([float(fp["cached_bytes"].max()) if len(fp) else 0.0,
               float(occ[ps].sum(axis=1).max()) if ps and len(occ) else 0.0, 1.0])
    scale, unit = byte_scale(top)
    tscale = _time_axis(ax, occ["time"])
    if ps:
        ax.stackplot(occ["time"] / tscale, *[occ[p].to_numpy() / scale for p in ps],
                     labels=[f"P{p}" for p in ps], alpha=0.85)
    if len(fp):
        ax.plot(fp["time"] / tscale, fp["cached_bytes"] / scale, color="black", ls="--", lw=1,
                label="all Ps (footprint)")
    mark_gc(ax, r, tscale)
    ax.set_ylabel(f"cached stacks ({unit})")
    ax.set_title("Per-P stack cache occupancy")
    handles, labels = ax.get_legend_handles_labels()
    if len(ps) > 16:  # keep the legend readable: the total and the first Ps
        keep = [i for i, lab in enumerate(labels) if not lab.startswith("P") or int(lab[1:]) < 8]
        handles, labels = [handles[i] for i in keep], [labels[i] for i in keep]
    ax.legend(handles, labels, loc="upper left", fontsize="x-small", ncols=2)
    return ax


def plot_free_bytes(result, ax=None):
    """Free bytes held in live pool spans and in stackLarge (fragmentation), and their share of StackInuse."""
    ax = axes(ax)
    r = data.as_frames(result)
    fb = data.free_bytes(r)
    top = max(float(fb[["pool_free_bytes", "large_free_bytes"]].to_numpy().max()) if len(fb) else 0.0, 1.0)
    scale, unit = byte_scale(top)
    tscale = _time_axis(ax, fb["time"])
    ax.plot(fb["time"] / tscale, fb["pool_free_bytes"] / scale, label="free in pool spans", color="tab:orange")
    ax.plot(fb["time"] / tscale, fb["large_free_bytes"] / scale, label="free large spans (stackLarge)",
            color="tab:purple")
    mark_gc(ax, r, tscale)
    ax.set_ylabel(f"free stack bytes ({unit})")
    ax2 = ax.twinx()
    ax2.plot(fb["time"] / tscale, fb["free_share"] * 100, color="tab:gray", lw=0.7, alpha=0.8,
             label="both, as a share of StackInuse (%)")
    ax2.set_ylabel("share of StackInuse (%)")
    ax2.set_ylim(0, max(5.0, float(fb["free_share"].max() * 100 * 1.1) if len(fb) else 5.0))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize="small")
    ax.set_title("Free stack memory held by the runtime (fragmentation)")
    return ax


def plot_class_summary(result, ax=None):
    """Per goroutine class: the median, 99th percentile and largest peak stack (bars), with
    goroutines, grows per goroutine and bytes copied written beside them."""
    ax = axes(ax)
    cs = data.class_summary(result)
    y = np.arange(len(cs))
    top = max(float(cs["max_stack_max"].max()) if len(cs) else 0.0, 1.0)
    scale, unit = byte_scale(top)
    h = 0.26
    for k, (col, label) in enumerate([("max_stack_p50", "median"), ("max_stack_p99", "p99"),
                                      ("max_stack_max", "max")]):
        ax.barh(y + (k - 1) * h, cs[col].to_numpy() / scale, height=h, label=f"peak stack, {label}", gid=col)
    for yi, (_, row) in zip(y, cs.iterrows()):
        ax.annotate(f"{int(row['goroutines']):,} goroutines, {row['grows_per_goroutine']:.2f} grows each, "
                    f"{format_bytes(int(row['bytes_copied']))} copied",
                    (0, yi + 1.5 * h + 0.02), fontsize="small", va="bottom", gid="class-note")
    ax.set_yticks(y, list(cs.index))
    ax.set_ylim(-0.55, len(cs) - 1 + 0.75)
    ax.set_xlim(0, top / scale * 1.15)
    ax.set_xlabel(f"peak stack size of a goroutine ({unit})")
    ax.set_title("Per-class summary")
    ax.legend(loc="lower right", fontsize="small")
    return ax


COLUMN_NAMES = {"stack_inuse": "StackInuse", "stack_sys": "StackSys", "stack_in_goroutines": "goroutine stacks",
                "stack_used": "bytes in use", "cached_bytes": "cached stacks", "pool_free_bytes": "free in pool spans",
                "large_free_bytes": "free large spans"}


def plot_compare_footprints(results, labels=None, column: str = "stack_inuse", ax=None):
    """One ``column`` of several runs' footprints (default StackInuse), overlaid."""
    ax = axes(ax)
    frames = [data.as_frames(r) for r in results]
    labels = list(labels) if labels is not None else [f"run {i + 1}" for i in range(len(frames))]
    fps = [f.footprint for f in frames]
    top = max([float(fp[column].max()) for fp in fps if len(fp)] + [1.0])
    tmax = max([float(fp["time"].max()) for fp in fps if len(fp)] + [0.0])
    scale, unit = byte_scale(top)
    tscale, tunit = time_scale(tmax)
    for fp, label in zip(fps, labels):
        ax.plot(fp["time"] / tscale, fp[column] / scale, label=label, lw=1.2)
    name = COLUMN_NAMES.get(column, column)
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel(f"{name} ({unit})")
    ax.set_title(f"{name} over time")
    ax.legend(loc="best", fontsize="small")
    return ax


# --- sweeps --------------------------------------------------------------------------
BYTE_FIGURES = {"peak_stack_inuse", "final_stack_inuse", "mean_stack_inuse", "peak_stack_sys",
                "peak_stack_in_goroutines", "bytes_copied", "final_starting_size"}


def sweep_series(frame: pd.DataFrame, figure: str, param: str, by: list[str] | None = None) -> pd.DataFrame:
    """Per value of ``param`` (and of each other swept parameter in ``by``): mean, min, max,
    count, standard deviation and the 95 % confidence interval of the mean (``ci_low``,
    ``ci_high``; Student's t) of ``figure`` over replications (failed runs left out)."""
    from .sweep_stats import half_width

    df = frame
    if "status" in df.columns:
        df = df[df["status"] != "failed"]
    by = list(by or [])
    keys = by + [param]
    g = df.groupby(keys, sort=False, dropna=False)[figure]
    out = g.agg(["mean", "min", "max", "count", "std"]).reset_index()
    half = half_width(out["count"], out["std"])
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    order = {v: i for i, v in enumerate(pd.unique(frame[param]))}
    out["_x"] = out[param].map(order)
    return out.sort_values(by + ["_x"], kind="stable").reset_index(drop=True)


def plot_sweep(frame: pd.DataFrame, figure: str, param: str, by: list[str] | None = None, ax=None):
    """``figure`` against ``param`` as a categorical point plot: per value, the mean over
    replications (a marker; one series per combination of the parameters in ``by``, side by
    side, not joined: the values are categories), its 95 % confidence interval (error bar)
    and every replication (dots).  Values and legends in the user's units (2 KiB, not 2048)."""
    ax = axes(ax)
    ser = sweep_series(frame, figure, param, by)
    values = list(pd.unique(frame[param]))
    is_bytes = figure in BYTE_FIGURES
    top = float(np.nanmax(ser["max"].to_numpy(dtype=float))) if len(ser) else 0.0
    scale, unit = byte_scale(top) if is_bytes else (1, "")
    by = list(by or [])
    groups = ser.groupby(by, sort=False, dropna=False) if by else [((), ser)]
    ok = frame[frame["status"] != "failed"] if "status" in frame.columns else frame
    width = 0.3 / max(len(groups), 1)
    for n, (key, grp) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{_short(b)} {_value_label(b, v)}" for b, v in zip(by, key)) or figure
        x = grp["_x"].to_numpy(dtype=float)
        y = grp["mean"].to_numpy(dtype=float) / scale
        lo, hi = grp["ci_low"].to_numpy(dtype=float) / scale, grp["ci_high"].to_numpy(dtype=float) / scale
        off = (n - (len(groups) - 1) / 2) * width if len(groups) > 1 else 0.0
        (mark,) = ax.plot(x + off, y, marker="o", ls="none", label=label, gid="mean")
        has_ci = ~np.isnan(lo)
        if has_ci.any():
            ax.errorbar((x + off)[has_ci], y[has_ci], yerr=np.vstack([y - lo, hi - y])[:, has_ci], fmt="none",
                        ecolor=mark.get_color(), capsize=4, gid="ci")
        sel = ok
        for b, v in zip(by, key):
            sel = sel[(sel[b] == v) | (sel[b].isna() & pd.isna(v))]
        xs = sel[param].map({v: i for i, v in enumerate(values)}).to_numpy(dtype=float) + off
        ax.scatter(xs, sel[figure].to_numpy(dtype=float) / scale, s=10, color=mark.get_color(), alpha=0.4,
                   gid="replications")
    ax.set_xticks(range(len(values)), [_value_label(param, v) for v in values])
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_xlabel(_short(param))
    ax.set_ylabel(f"{figure} ({unit})" if is_bytes else figure)
    reps = int(frame["replication"].nunique()) if "replication" in frame.columns else 1
    ax.set_title(f"{figure} by {_short(param)} (mean and 95 % CI over {reps} replication{'s' * (reps != 1)})")
    if by:
        ax.legend(loc="best", fontsize="small")
    return ax


def _short(param: str) -> str:
    return param.rsplit(".", 1)[-1]


def _is_size(param: str) -> bool:
    return any(w in param for w in ("stack", "size", "frame")) and "policy" not in param


def _value_label(param: str, v) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and _is_size(param) and v >= 1024:
        return format_bytes(int(v))
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "default"
    return str(v)
