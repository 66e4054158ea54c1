"""Analysis of results: the data behind the charts, charts (matplotlib), reports, comparisons.

``simstack.plot`` is the public plotting API; ``data`` has the figures each chart draws.
Names are loaded on first use, so the command line does not import matplotlib to start.
"""
# name -> the module it is in (chartkit: helpers; charts: what `run` draws; chartset: the list; plots: the rest)
_WHERE = {"format_bytes": "chartkit", "write_charts": "chartset",
          **dict.fromkeys(("plot_footprint", "plot_growth_shrink", "plot_stacks_by_size"), "charts"),
          **dict.fromkeys(("plot_cache_occupancy", "plot_class_summary", "plot_compare_footprints", "plot_free_bytes",
                           "plot_stack_sizes", "plot_sweep"), "plots")}

__all__ = list(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'simstack.analysis' has no attribute {name!r}")
