"""The scenario's GC section from the trace: the real cycle times, or GOGC pacing from its heap metrics."""
from __future__ import annotations

import numpy as np

GOGC = 100  # a trace does not record GOGC; the default is assumed (and said so)


def fit_gc(res, watch, table, end: float, mode: str, g_heap: int = 0, main: float = 0.0) -> tuple[dict, list]:
    """(gc section, notes).  ``times``: a cycle at each ``GC concurrent mark phase`` start, each
    lasting as long as its mark phase did (one the trace's end cut: the median).  ``gogc``: the live
    heap is the heap goal over (1 + GOGC/100), less what the model marks on top of ``live_heap``
    (``g_heap`` bytes for each goroutine made so far, and what the mark phase allocates), and the
    allocation rate the heap's growth between cycles over the goroutines' running time and ``main``
    seconds of main's own work (a class too)."""
    cycles = res.gc
    starts = cycles["start"].to_numpy(dtype=float) if len(cycles) else np.array([])
    ends = cycles["end"].to_numpy(dtype=float) if len(cycles) else np.array([])
    done = ~np.isnan(ends)
    mark = float(np.median(ends[done] - starts[done])) if done.any() else 0.0
    if mode == "times":
        keep = starts <= end
        at = [float(t) for t in starts[keep]]
        # each cycle's own mark phase: the phase a cycle shrinking hundreds of stacks takes is long (stacktrace:
        # 0.5 to 4.3 ms), and the old stacks stay in the pools until it ends
        marks = [float(e - t) if np.isfinite(e) else mark for t, e in zip(starts[keep], ends[keep])]
        notes = [f"trigger manual at the trace's {len(at)} GC cycle starts; mark_durations: each one's mark phase "
                 f"({1e3 * min(marks, default=0):.3g} to {1e3 * max(marks, default=0):.3g} ms), and mark_duration "
                 f"the median ({1e3 * mark:.3g} ms)"]
        return {"trigger": "manual", "at": at, "mark_duration": mark, "mark_durations": marks}, notes
    goals = np.array([v for _, v in watch.goals], dtype=float)
    heap = np.array([v for _, v in watch.heap], dtype=float)
    if not len(goals) or len(heap) < 2:
        raise ValueError("the trace has no heap metrics (/gc/heap/goal:bytes, /memory/classes/heap/objects:bytes) "
                         "to pace GC by: use gc times")
    grown = float(np.clip(np.diff(heap), 0, None).sum())  # heap bytes allocated, as far as the samples show
    running = float((table["run_first"] + table["run_after"]).sum()) + main
    rate = grown / running if running > 0 else 0.0
    # each goal's marked heap held the gs made by then and the bytes its mark phase allocated (black), which
    # the model adds to live_heap itself: g_heap x the most goroutines alive so far, rate x mark x busy Ps
    fp = res.footprint
    made = np.maximum.accumulate(fp["goroutines"].to_numpy(dtype=float)) if len(fp) else np.zeros(1)
    at = np.searchsorted(fp["time"].to_numpy(dtype=float), [t for t, _ in watch.goals], side="right") - 1
    gs = g_heap * made[np.clip(at, 0, len(made) - 1)] if len(fp) else np.zeros(len(goals))
    black = rate * mark * (running / end if end > 0 else 0.0)
    live = max(float(np.median(goals / (1 + GOGC / 100) - gs)) - black, 0.0)
    notes = [f"trigger gogc with GOGC {GOGC} (assumed: a trace does not record GOGC); live_heap: the median heap "
             f"goal ({np.median(goals) / 2**20:.3g} MiB) / {1 + GOGC / 100:g}, less the goroutines' g structs "
             f"({g_heap} B each; {float(np.median(gs)) / 2**20:.3g} MiB at the median) and the bytes a mark "
             f"phase allocates ({black / 2**20:.3g} MiB), which the model marks on top of it",
             f"alloc_rate of every class: {grown / 2**20:.3g} MiB the heap grew by between samples, over "
             f"{running:.3g} s the goroutines ran, main's own work included ({rate / 1e6:.3g} MB/s of running time)",
             f"the trace saw {len(starts)} cycles"]
    return {"trigger": "gogc", "gogc": GOGC, "live_heap": int(live), "mark_duration": mark, "alloc_rate": rate}, notes
