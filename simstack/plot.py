"""Plotting API: ``simstack.plot.footprint(result)`` and friends.

Each function takes a Result (from ``simstack.run`` or ``simstack.read_results``), a
result directory, or frames (a dict of them, or one DataFrame), plus an optional
matplotlib ``Axes`` to draw on, and returns the Axes.  Bytes are labelled in
B/KiB/MiB/GiB and times in s/ms/µs; GC cycles are marked on time axes.

    >>> import simstack, simstack.plot
    >>> res = simstack.run("scenarios/walkthrough.yaml")
    >>> ax = simstack.plot.footprint(res)
    >>> ax = res.plot.stack_sizes(at="after_gc1")     # the same through the Result

The data each chart draws comes from ``simstack.analysis.data`` (``cache_occupancy``,
``class_summary``, ``stack_size_distribution``, ...).
"""
from __future__ import annotations

from .analysis.accessor import PlotAccessor  # registers ``Result.plot``
from .analysis.charts import plot_footprint as footprint
from .analysis.charts import plot_growth_shrink as growth_shrink
from .analysis.charts import plot_stacks_by_size as stacks_by_size
from .analysis.chartset import RUN_CHARTS  # the charts of one run, by the name `result.plot` and `simstack plot --only` use
from .analysis.plots import plot_cache_occupancy as cache_occupancy
from .analysis.plots import plot_class_summary as class_summary
from .analysis.plots import plot_compare_footprints as compare_footprints
from .analysis.plots import plot_free_bytes as free_bytes
from .analysis.plots import plot_stack_sizes as stack_sizes
from .analysis.plots import plot_sweep as sweep

__all__ = ["footprint", "stacks_by_size", "growth_shrink", "stack_sizes", "cache_occupancy", "free_bytes",
           "class_summary", "compare_footprints", "sweep", "PlotAccessor"]
