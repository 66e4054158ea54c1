"""The charts of one run, by name, and writing them (and a sweep's) as PNG files.

``RUN_CHARTS`` is the one list: ``simstack plot --only``, ``result.plot``, the HTML report
and ``write_charts`` take their charts from it; the first three (``STANDARD``) are what
``simstack run`` writes.  A new chart of a run goes in :mod:`~simstack.analysis.plots` and here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .chartkit import offscreen
from .charts import plot_footprint, plot_growth_shrink, plot_stacks_by_size
from .plots import plot_cache_occupancy, plot_class_summary, plot_free_bytes, plot_stack_sizes, plot_sweep

RUN_CHARTS = {"footprint": plot_footprint, "stacks_by_size": plot_stacks_by_size, "growth_shrink": plot_growth_shrink,
              "stack_sizes": plot_stack_sizes, "cache_occupancy": plot_cache_occupancy,
              "free_bytes": plot_free_bytes, "class_summary": plot_class_summary}
STANDARD = ("footprint", "stacks_by_size", "growth_shrink")  # what ``simstack run`` writes
# a sweep's figures charted against each swept parameter (``write_sweep_charts``)
CHART_FIGURES = ("peak_stack_inuse", "mean_stack_inuse", "grows", "bytes_copied", "shrinks")


def write_charts(result, directory, names=None, skip_unavailable: bool = False) -> list[Path]:
    """Save charts as PNG files (``NAME.png``) in ``directory``: the ``STANDARD`` ones by default,
    ``names="all"`` for every one of ``RUN_CHARTS``, or a list of file names.  With
    ``skip_unavailable`` a chart whose data the run did not record (ValueError) is left out
    instead of raising."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.png": fn for name, fn in RUN_CHARTS.items()}
    chosen = [f"{n}.png" for n in STANDARD] if names is None else list(files) if names == "all" else list(names)
    out = []
    for name in chosen:
        fn = files[name]
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


def write_sweep_charts(frame: pd.DataFrame, params: list[str], directory: Path) -> list[Path]:
    """``<figure>__<param>.png`` for each chart figure and each parameter column with more than one value
    (the runs' labels when nothing varies on its own, e.g. a list of points)."""
    directory.mkdir(parents=True, exist_ok=True)
    varying = [p for p in params if frame[p].nunique(dropna=False) > 1]
    axes_params = varying or ["label"]
    if len(frame) and frame["label"].nunique() > 1 and len(varying) > 1:
        grid_like = frame.groupby(varying, dropna=False)["point"].nunique().max() == 1
        if not grid_like:
            axes_params = ["label"]
    ok = frame[frame["status"] != "failed"]
    written = []
    if not len(ok):
        return written
    for fig_name in CHART_FIGURES:
        for p in axes_params:
            by = [q for q in varying if q != p] if p != "label" else []
            with offscreen():
                ax = plot_sweep(frame, fig_name, p, by=by)
            path = directory / f"{fig_name}__{p.rsplit('.', 1)[-1]}.png"
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=100)
            written.append(path)
    return written
