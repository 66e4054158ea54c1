"""simstack: a discrete-event simulator of how the Go runtime manages goroutine stacks.

    >>> import simstack
    >>> result = simstack.run("scenarios/walkthrough.yaml")
    >>> result.footprint.plot(x="time", y="stack_inuse")

The runtime model (``simstack.runtime``) is importable on its own; the API below is
loaded on first use so that importing the model does not pull in SimPy or pandas.
"""
from ._version import __version__

__all__ = ["load_scenario", "run", "read_results", "read_trace", "fit_trace", "plot", "__version__"]


def __getattr__(name):
    if name in ("run", "read_results"):
        from . import api
        return getattr(api, name)
    if name == "read_trace":
        from .analysis import accessor  # noqa: F401  (registers ``Result.plot`` on the Results it makes)
        from .trace import read_trace
        return read_trace
    if name == "fit_trace":
        from .fit import fit_trace
        return fit_trace
    if name == "load_scenario":
        from .scenario import load_scenario
        return load_scenario
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'simstack' has no attribute {name!r}")
