"""Charts of a run: footprint over time, stacks by size, growth and shrink events.

Each function takes a Result (anything with the frames as attributes) and an optional
matplotlib Axes, draws on it and returns it; ``write_charts`` saves the standard set.
Figures are made with ``matplotlib.figure.Figure`` directly, so no pyplot state leaks.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from .data import as_frames, growth_shrink_both, stack_inuse_peak

_UNITS = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B"))


def format_bytes(n: float) -> str:
    """1572864 -> '1.5 MiB'."""
    for scale, unit in _UNITS:
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return "0 B"


def byte_scale(max_value: float) -> tuple[float, str]:
    """The unit to label an axis whose largest value is ``max_value``."""
    for scale, unit in _UNITS:
        if max_value >= scale:
            return scale, unit
    return 1, "B"


def time_scale(max_t: float) -> tuple[float, str]:
    """Seconds, milliseconds or microseconds for a time axis."""
    if max_t >= 2:
        return 1.0, "s"
    if max_t >= 2e-3:
        return 1e-3, "ms"
    return 1e-6, "µs"


def _axes(ax):
    if ax is None:
        ax = _new_figure().add_subplot()
    return ax


_OFFSCREEN = threading.local()


@contextmanager
def offscreen():
    """Within it, charts are plain Figures even in a notebook (files and reports, not cell output)."""
    before = getattr(_OFFSCREEN, "on", False)
    _OFFSCREEN.on = True
    try:
        yield
    finally:
        _OFFSCREEN.on = before


def _new_figure(figsize=(9, 4.5)):
    """A Figure of its own (no pyplot state), except in a notebook with the inline backend,
    where a pyplot figure is made so that it is shown under the cell (not within ``offscreen()``)."""
    import sys
    if "matplotlib.pyplot" in sys.modules and not getattr(_OFFSCREEN, "on", False):
        import matplotlib
        if "inline" in str(matplotlib.get_backend()):
            import matplotlib.pyplot as plt
            return plt.figure(figsize=figsize)
    return Figure(figsize=figsize)


def _mark_gc(ax, result, tscale):
    """GC cycles from ``result.gc``: a shaded band per cycle with a simulated mark phase,
    a dotted vertical line per instantaneous one. Each kind is one collection (thousands
    of cycles draw fast), spans the axes' full height and has gid "gc" and a legend label."""
    gc = result.gc
    start, end = gc["start"].to_numpy(float) / tscale, gc["end"].to_numpy(float) / tscale
    spans, lines = end > start, end <= start
    where = ax.get_xaxis_transform()  # x in data units, y in axes fraction (0..1)
    if spans.any():
        boxes = [[(a, 0), (a, 1), (b, 1), (b, 0)] for a, b in zip(start[spans], end[spans])]
        ax.add_collection(PolyCollection(boxes, transform=where, facecolor="tab:gray", alpha=0.2, lw=0,
                                         gid="gc", label="GC cycle"), autolim=False)
    if lines.any():
        ax.add_collection(LineCollection([[(x, 0), (x, 1)] for x in start[lines]], transform=where,
                                         color="tab:gray", alpha=0.6, lw=0.8, ls=":", gid="gc",
                                         label="GC cycle" if not spans.any() else None), autolim=False)


MAX_ROWS = 20_000  # footprint rows a chart draws at most (perf-1m samples 10,001; perf-10m 100,001)


def drawn_rows(fp, key):
    """The footprint rows a chart draws: all up to ``MAX_ROWS``; beyond, in each of
    ``MAX_ROWS / 2`` equal runs of rows, the two where ``key`` (a column's values) is
    smallest and largest, so that peaks and troughs stay.  A figure is about a thousand
    pixels wide, and drawing 100,000 rows took 10 s and 480 MB."""
    n = len(fp)
    if n <= MAX_ROWS:
        return fp
    v = np.asarray(key)
    edges = np.linspace(0, n, MAX_ROWS // 2 + 1).astype(np.int64)
    keep = [i for a, b in zip(edges[:-1], edges[1:]) for i in (a + v[a:b].argmin(), a + v[a:b].argmax())]
    return fp.iloc[np.unique(keep)]


def plot_footprint(result, ax=None):
    """StackInuse, StackSys, the sum of goroutine stacks and the bytes in use, over time."""
    result = as_frames(result)
    ax = _axes(ax)
    fp = result.footprint
    cols = [("stack_inuse", "StackInuse"), ("stack_sys", "StackSys"),
            ("stack_in_goroutines", "goroutine stacks"), ("stack_used", "bytes in use")]
    top = max([fp[c].max() for c, _ in cols] + [stack_inuse_peak(result)["stack_inuse"], 1]) if len(fp) else 1
    scale, unit = byte_scale(top)
    tscale, tunit = time_scale(fp["time"].max() if len(fp) else 0)
    fp = drawn_rows(fp, fp["stack_inuse"].to_numpy() if len(fp) else ())
    styles = {"stack_sys": dict(ls="--", lw=1)}
    for col, label in cols:
        ax.plot(fp["time"] / tscale, fp[col] / scale, label=label, **styles.get(col, {}))
    peak = stack_inuse_peak(result)
    if peak["exact"] and len(fp):
        # the peak often falls between samples (mid-GC, or a burst shorter than sample_every)
        ax.plot([peak["time"] / tscale], [peak["stack_inuse"] / scale], marker="v", color="tab:red", ls="none",
                gid="peak", label=f"peak StackInuse {format_bytes(peak['stack_inuse'])}")
        ax.annotate(format_bytes(peak["stack_inuse"]), (peak["time"] / tscale, peak["stack_inuse"] / scale),
                    xytext=(4, 4), textcoords="offset points", fontsize="small", color="tab:red")
        ax.set_ylim(top=max(ax.get_ylim()[1], peak["stack_inuse"] / scale * 1.08))
    _mark_gc(ax, result, tscale)
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel(f"bytes ({unit})")
    ax.set_title("Stack memory over time")
    ax.legend(loc="best", fontsize="small")
    return ax


def size_columns(frame) -> list[str]:
    """The n_<size> columns of a footprint or checkpoints frame, smallest size first."""
    return sorted((c for c in frame.columns if c.startswith("n_")), key=lambda c: int(c[2:]))


def plot_stacks_by_size(result, ax=None):
    """Live goroutines by stack size over time, as a stacked area."""
    result = as_frames(result)
    ax = _axes(ax)
    fp = result.footprint
    cols = size_columns(fp)
    tscale, tunit = time_scale(fp["time"].max() if len(fp) else 0)
    if cols:
        fp = drawn_rows(fp, fp[cols].to_numpy().sum(axis=1))
        ax.stackplot(fp["time"] / tscale, *[fp[c].to_numpy() for c in cols],
                     labels=[format_bytes(int(c[2:])) for c in cols])
    _mark_gc(ax, result, tscale)
    if cols:
        ax.legend(loc="upper left", fontsize="small", title="stack size")
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel("goroutines")
    ax.set_title("Goroutines by stack size")
    return ax


def plot_growth_shrink(result, ax=None, bins: int = 100):
    """Grow and shrink events of the scenario's goroutines per time bin (bars; the runtime's own
    goroutines' in gray on top) and their cumulative bytes copied (line, right axis)."""
    result = as_frames(result)
    ax = _axes(ax)
    both = growth_shrink_both(result, bins)  # one pass over the events for both
    edges, g, s, cum = both[False]
    tscale, tunit = time_scale(edges[-1])
    x = edges[:-1] / tscale
    w = (edges[1] - edges[0]) / tscale
    ax.bar(x, g, width=w, align="edge", label=f"grow (morestack): {int(g.sum()):,}", color="tab:red", alpha=0.8)
    ax.bar(x, -s, width=w, align="edge", label=f"shrink (GC): {int(s.sum()):,}", color="tab:blue", alpha=0.8)
    _, rg, rs, _ = both[True]
    if rg.any() or rs.any():  # the runtime's own goroutines, not in the headline: shown apart
        ax.bar(x, rg, bottom=g, width=w, align="edge", color="tab:gray", alpha=0.6,
               label=f"runtime goroutines' grows: {int(rg.sum()):,} (not in the headline)")
        if rs.any():
            ax.bar(x, -rs, bottom=-s, width=w, align="edge", color="tab:gray", alpha=0.6)
    _mark_gc(ax, result, tscale)
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel(f"events per {w:.3g} {tunit} (shrinks below 0)")
    ax2 = ax.twinx()
    scale, unit = byte_scale(cum[-1] if len(cum) else 0)
    ax2.plot(edges[1:] / tscale, cum / scale, color="black", lw=1.2,
             label="bytes copied (cumulative, the scenario's goroutines)")
    ax2.set_ylabel(f"bytes copied ({unit})")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize="small")
    ax.set_title("Stack growth and shrinking")
    return ax


CHARTS = {"footprint.png": plot_footprint, "stacks_by_size.png": plot_stacks_by_size,
          "growth_shrink.png": plot_growth_shrink}


def extra_charts() -> dict:
    """The charts ``simstack plot`` adds to the standard set (see ``simstack.analysis.plots``)."""
    from . import plots
    return {"stack_sizes.png": plots.plot_stack_sizes, "cache_occupancy.png": plots.plot_cache_occupancy,
            "free_bytes.png": plots.plot_free_bytes, "class_summary.png": plots.plot_class_summary}


def write_charts(result, directory, names=None, skip_unavailable: bool = False) -> list[Path]:
    """Save charts as PNG files in ``directory``: the standard ones (``CHARTS``, what
    ``simstack run`` writes) by default, ``names="all"`` for those and ``extra_charts()``,
    or a list of file names.  With ``skip_unavailable`` a chart whose data the run did not
    record (ValueError) is left out instead of raising."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    available = dict(CHARTS)
    if names is not None:
        available.update(extra_charts())
    chosen = list(CHARTS) if names is None else list(available) if names == "all" else list(names)
    out = []
    for name in chosen:
        fn = available[name]
        try:
            with offscreen():
                ax = fn(result)
        except ValueError:
            if skip_unavailable:
                continue
            raise
        fig = ax.figure
        fig.tight_layout()
        fig.savefig(d / name, dpi=110)
        out.append(d / name)
    return out
