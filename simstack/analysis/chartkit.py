"""What every chart shares: byte and time units for labels, a new figure (or the notebook's),
GC cycles marked on a time axis, the footprint rows worth drawing, and shaded bands (the
replications' min to max, or the measured runs').

The chart modules (:mod:`~simstack.analysis.charts`, :mod:`~simstack.analysis.plots`) and
anything else that labels bytes (reports, sweeps, validate) import these from here; no chart
lives here.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

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


def axes(ax):
    """``ax``, or the Axes of a new figure (:func:`new_figure`) when it is None."""
    if ax is None:
        ax = new_figure().add_subplot()
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


def new_figure(figsize=(9, 4.5)):
    """A Figure of its own (no pyplot state), except in a notebook with the inline backend,
    where a pyplot figure is made so that it is shown under the cell (not within ``offscreen()``)."""
    import sys
    if "matplotlib.pyplot" in sys.modules and not getattr(_OFFSCREEN, "on", False):
        import matplotlib
        if "inline" in str(matplotlib.get_backend()):
            import matplotlib.pyplot as plt
            return plt.figure(figsize=figsize)
    return Figure(figsize=figsize)


def mark_gc(ax, result, tscale):
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


def step_band(series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The band of step functions (each ``(times, values)``, a value holding until the next time):
    every time any of them steps, and the least and greatest value they hold there. Replications of
    a model run (issue #14) draw their band with it; before a series' first time it has no value."""
    series = [(np.asarray(t, float), np.asarray(v, float)) for t, v in series if len(t)]
    if not series:
        return np.array([]), np.array([]), np.array([])
    grid = np.unique(np.concatenate([t for t, _ in series]))
    held = np.full((len(series), len(grid)), np.nan)
    for i, (t, v) in enumerate(series):
        k = np.searchsorted(t, grid, side="right") - 1
        held[i, k >= 0] = v[k[k >= 0]]
    return grid, np.nanmin(held, axis=0), np.nanmax(held, axis=0)


def shade_band(ax, x, lo, hi, *, step=None, color="tab:blue", alpha=0.25, label=None, **kw):
    """A shaded band between ``lo`` and ``hi`` (``fill_between``; ``step`` as it takes it): where a
    figure is a range (replications, measured runs), not one line."""
    return ax.fill_between(np.asarray(x, float), np.asarray(lo, float), np.asarray(hi, float), step=step,
                           color=color, alpha=alpha, lw=0, label=label, **kw)
