"""Analysis of results: the data behind the charts, charts (matplotlib), reports, comparisons.

``simstack.plot`` is the public plotting API; ``data`` has the figures each chart draws.
Names are loaded on first use, so the command line does not import matplotlib to start.
"""
_CHARTS = ("format_bytes", "plot_footprint", "plot_growth_shrink", "plot_stacks_by_size", "write_charts")
_PLOTS = ("plot_cache_occupancy", "plot_class_summary", "plot_compare_footprints", "plot_free_bytes",
          "plot_stack_sizes", "plot_sweep")

__all__ = [*_CHARTS, *_PLOTS]


def __getattr__(name):
    if name in _CHARTS:
        from . import charts
        return getattr(charts, name)
    if name in _PLOTS:
        from . import plots
        return getattr(plots, name)
    raise AttributeError(f"module 'simstack.analysis' has no attribute {name!r}")
