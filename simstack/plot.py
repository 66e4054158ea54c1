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

from .analysis.charts import plot_footprint as footprint
from .analysis.charts import plot_growth_shrink as growth_shrink
from .analysis.charts import plot_stacks_by_size as stacks_by_size
from .analysis.plots import plot_cache_occupancy as cache_occupancy
from .analysis.plots import plot_class_summary as class_summary
from .analysis.plots import plot_compare_footprints as compare_footprints
from .analysis.plots import plot_free_bytes as free_bytes
from .analysis.plots import plot_stack_sizes as stack_sizes
from .analysis.plots import plot_sweep as sweep

__all__ = ["footprint", "stacks_by_size", "growth_shrink", "stack_sizes", "cache_occupancy", "free_bytes",
           "class_summary", "compare_footprints", "sweep", "PlotAccessor"]

# the charts of one run, by the name the accessor and `simstack plot --only` use
RUN_CHARTS = {"footprint": footprint, "stacks_by_size": stacks_by_size, "growth_shrink": growth_shrink,
              "stack_sizes": stack_sizes, "cache_occupancy": cache_occupancy, "free_bytes": free_bytes,
              "class_summary": class_summary}


class PlotAccessor:
    """``result.plot``: the charts of one run as methods, e.g. ``result.plot.footprint(ax=ax)``.

    Calling it directly draws the footprint: ``result.plot()``.
    """

    def __init__(self, result):
        self._result = result

    def __call__(self, ax=None):
        return footprint(self._result, ax=ax)

    def footprint(self, ax=None):
        """StackInuse, StackSys, goroutine stacks and bytes in use over time; GC cycles marked."""
        return footprint(self._result, ax=ax)

    def stacks_by_size(self, ax=None):
        """Live goroutines by stack size over time (stacked area)."""
        return stacks_by_size(self._result, ax=ax)

    def growth_shrink(self, ax=None, bins: int = 100):
        """Grows and shrinks per time bin, cumulative bytes copied."""
        return growth_shrink(self._result, ax=ax, bins=bins)

    def stack_sizes(self, at=None, ax=None):
        """Goroutine stack sizes at a time (s), a checkpoint label, or the end."""
        return stack_sizes(self._result, at=at, ax=ax)

    def cache_occupancy(self, ax=None):
        """Bytes in each P's stack cache over time."""
        return cache_occupancy(self._result, ax=ax)

    def free_bytes(self, ax=None):
        """Free bytes in pool spans and stackLarge (fragmentation)."""
        return free_bytes(self._result, ax=ax)

    def class_summary(self, ax=None):
        """Peak stack percentiles, grows and bytes copied per goroutine class."""
        return class_summary(self._result, ax=ax)

    def __dir__(self):
        return list(RUN_CHARTS)

    def __repr__(self):
        return f"<PlotAccessor: {', '.join(RUN_CHARTS)}>"
