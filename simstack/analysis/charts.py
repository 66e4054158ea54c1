"""The charts ``simstack run`` writes: footprint over time, stacks by size, growth and shrinking.

Each function takes a Result (anything with the frames as attributes) and an optional
matplotlib Axes, draws on it and returns it.  Figures are made with
``matplotlib.figure.Figure`` directly, so no pyplot state leaks.  The other charts of a run
are in :mod:`~simstack.analysis.plots`, what both use in :mod:`~simstack.analysis.chartkit`,
and the list of a run's charts (``write_charts``) in :mod:`~simstack.analysis.chartset`.
"""
from __future__ import annotations

from .chartkit import axes, byte_scale, drawn_rows, format_bytes, mark_gc, time_scale
from ..recording.tidy import size_columns
from .data import as_frames, growth_shrink_both, stack_inuse_peak


def plot_footprint(result, ax=None):
    """StackInuse, StackSys, the sum of goroutine stacks and the bytes in use, over time."""
    result = as_frames(result)
    ax = axes(ax)
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
    mark_gc(ax, result, tscale)
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel(f"bytes ({unit})")
    ax.set_title("Stack memory over time")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_stacks_by_size(result, ax=None):
    """Live goroutines by stack size over time, as a stacked area."""
    result = as_frames(result)
    ax = axes(ax)
    fp = result.footprint
    cols = size_columns(fp)
    tscale, tunit = time_scale(fp["time"].max() if len(fp) else 0)
    if cols:
        fp = drawn_rows(fp, fp[cols].to_numpy().sum(axis=1))
        ax.stackplot(fp["time"] / tscale, *[fp[c].to_numpy() for c in cols],
                     labels=[format_bytes(int(c[2:])) for c in cols])
    mark_gc(ax, result, tscale)
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
    ax = axes(ax)
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
    mark_gc(ax, result, tscale)
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
