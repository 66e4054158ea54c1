"""Recording: columnar buffers during the run, frames and files at the end."""
from .recorder import EVENT_KINDS, Recorder
from .results import Result, read_results

__all__ = ["EVENT_KINDS", "Recorder", "Result", "read_results"]
