"""Fit a scenario to a real run: ``simstack fit TRACE -o SCENARIO.yaml`` (docs/fit.md)."""
from .fit import Fit, FitError, fit_trace, observe_trace, write_scenario

__all__ = ["Fit", "FitError", "fit_trace", "observe_trace", "write_scenario"]
