"""What-if sweeps: a scenario over a grid of parameter values × replications, in parallel.

    >>> from simstack.sweep import run_sweep
    >>> sw = run_sweep("scenarios/http-server.yaml",
    ...                grid={"runtime.version": ["go1.12", "go1.27"],
    ...                      "runtime.overrides.starting_stack": ["2KiB", "8KiB"]},
    ...                replications=3, jobs=2, out="runs/sweep")
    >>> sw.frame.groupby("runtime.version")["bytes_copied"].mean()

``simstack sweep FILE --set KEY=V1,V2 ... -o DIR`` is the same from the command line.
"""
_NAMES = {"SweepError": "params", "expand": "params", "parse_set": "params", "replication_seed": "params",
          "with_settings": "params", "Sweep": "runner", "SweepOutputError": "runner", "read_sweep": "runner",
          "run_sweep": "runner", "write_sweep_charts": "runner", "FIGURES": "worker"}

__all__ = sorted(_NAMES)


def __getattr__(name):  # loaded on first use: `simstack --help` does not import the sweep machinery
    if name in _NAMES:
        import importlib
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'simstack.sweep' has no attribute {name!r}")
