"""Real runs from Go execution traces: ``simstack trace read`` and :func:`read_trace`.

>>> real = read_trace("trace.out")                       # doctest: +SKIP
>>> real.footprint.plot(x="time", y="stack_inuse")        # doctest: +SKIP

A trace recorded with Go 1.23 or later and ``GODEBUG=traceallocfree=1`` holds every
stack allocation and free and every span; :mod:`.parsed` streams it through the Go
toolchain's own parser, :mod:`.reader` replays it into the same frames a simulation
makes (through :mod:`simstack.recording`), so charts, ``report`` and ``compare`` work on
a real run.  This package reads traces only: it never touches the runtime model.
"""
from __future__ import annotations

from .parsed import TraceError
from .read import find_trace_toolchain, read_trace

__all__ = ["TraceError", "find_trace_toolchain", "read_trace"]
