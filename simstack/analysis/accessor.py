"""``result.plot``: the charts of one run as methods of its Result.

Registered on :class:`~simstack.recording.results.Result` from here, as a pandas accessor
is (``register_result_accessor``), so that results do not know how they are drawn.
Importing ``simstack.api`` or ``simstack.plot`` registers it; matplotlib is loaded only
when a chart is drawn.
"""
from __future__ import annotations

from ..recording.results import register_result_accessor


def _chart(name: str):
    from .chartset import RUN_CHARTS
    return RUN_CHARTS[name]


@register_result_accessor("plot")
class PlotAccessor:
    """``result.plot``: the charts of one run as methods, e.g. ``result.plot.footprint(ax=ax)``.

    Calling it directly draws the footprint: ``result.plot()``.
    """

    def __init__(self, result):
        self._result = result

    def __call__(self, ax=None):
        return _chart("footprint")(self._result, ax=ax)

    def footprint(self, ax=None):
        """StackInuse, StackSys, goroutine stacks and bytes in use over time; GC cycles marked."""
        return _chart("footprint")(self._result, ax=ax)

    def stacks_by_size(self, ax=None):
        """Live goroutines by stack size over time (stacked area)."""
        return _chart("stacks_by_size")(self._result, ax=ax)

    def growth_shrink(self, ax=None, bins: int = 100):
        """Grows and shrinks per time bin, cumulative bytes copied."""
        return _chart("growth_shrink")(self._result, ax=ax, bins=bins)

    def stack_sizes(self, at=None, ax=None):
        """Goroutine stack sizes at a time (s), a checkpoint label, or the end."""
        return _chart("stack_sizes")(self._result, at=at, ax=ax)

    def cache_occupancy(self, ax=None):
        """Bytes in each P's stack cache over time."""
        return _chart("cache_occupancy")(self._result, ax=ax)

    def free_bytes(self, ax=None):
        """Free bytes in pool spans and stackLarge (fragmentation)."""
        return _chart("free_bytes")(self._result, ax=ax)

    def class_summary(self, ax=None):
        """Peak stack percentiles, grows and bytes copied per goroutine class."""
        return _chart("class_summary")(self._result, ax=ax)

    def __dir__(self):
        from .chartset import RUN_CHARTS
        return list(RUN_CHARTS)

    def __repr__(self):
        from .chartset import RUN_CHARTS
        return f"<PlotAccessor: {', '.join(RUN_CHARTS)}>"
