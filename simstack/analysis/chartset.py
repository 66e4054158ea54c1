"""The charts of one run, by name, and writing them as PNG files.

``RUN_CHARTS`` is the one list: ``simstack plot --only``, ``result.plot``, the HTML report
and ``write_charts`` take their charts from it; the first three (``STANDARD``) are what
``simstack run`` writes.  A new chart of a run goes in :mod:`~simstack.analysis.plots` and here.
"""
from __future__ import annotations

from pathlib import Path

from .chartkit import offscreen
from .charts import plot_footprint, plot_growth_shrink, plot_stacks_by_size
from .plots import plot_cache_occupancy, plot_class_summary, plot_free_bytes, plot_stack_sizes

RUN_CHARTS = {"footprint": plot_footprint, "stacks_by_size": plot_stacks_by_size, "growth_shrink": plot_growth_shrink,
              "stack_sizes": plot_stack_sizes, "cache_occupancy": plot_cache_occupancy,
              "free_bytes": plot_free_bytes, "class_summary": plot_class_summary}
STANDARD = ("footprint", "stacks_by_size", "growth_shrink")  # what ``simstack run`` writes


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
