"""Analysis of results: charts (matplotlib)."""
from .charts import format_bytes, plot_footprint, plot_growth_shrink, plot_stacks_by_size, write_charts

__all__ = ["format_bytes", "plot_footprint", "plot_growth_shrink", "plot_stacks_by_size", "write_charts"]
