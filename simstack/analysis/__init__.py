"""Analysis of results: the data behind the charts, charts (matplotlib), reports, comparisons.

``simstack.plot`` is the public plotting API; ``data`` has the figures each chart draws.
"""
from .charts import format_bytes, plot_footprint, plot_growth_shrink, plot_stacks_by_size, write_charts
from .plots import (plot_cache_occupancy, plot_class_summary, plot_compare_footprints, plot_free_bytes,
                    plot_stack_sizes, plot_sweep)

__all__ = ["format_bytes", "plot_footprint", "plot_growth_shrink", "plot_stacks_by_size", "write_charts",
           "plot_cache_occupancy", "plot_class_summary", "plot_compare_footprints", "plot_free_bytes",
           "plot_stack_sizes", "plot_sweep"]
