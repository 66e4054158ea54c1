"""What-if sweeps: a scenario over a grid of parameter values × replications, in parallel.

    >>> from simstack.sweep import run_sweep
    >>> sw = run_sweep("scenarios/http-server.yaml",
    ...                grid={"runtime.version": ["go1.12", "go1.27"],
    ...                      "runtime.overrides.starting_stack": ["2KB", "8KB"]},
    ...                replications=3, jobs=2, out="runs/sweep")
    >>> sw.frame.groupby("runtime.version")["bytes_copied"].mean()

``simstack sweep FILE --set KEY=V1,V2 ... -o DIR`` is the same from the command line.
"""
from .params import SweepError, expand, parse_set, replication_seed
from .runner import Sweep, SweepOutputError, read_sweep, run_sweep, write_sweep_charts
from .worker import FIGURES

__all__ = ["FIGURES", "Sweep", "SweepError", "SweepOutputError", "expand", "parse_set", "read_sweep",
           "replication_seed", "run_sweep", "write_sweep_charts"]
