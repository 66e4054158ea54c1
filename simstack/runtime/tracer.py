"""What the runtime model reports as it runs, as ``runtime/trace``'s tracer does: one method per event.

The model calls a :class:`Tracer` at each event (``tracer.on_stackalloc(...)`` where
``stackalloc`` hands out a stack), with the objects involved, and never knows who listens.
The methods named after an event kind (``EVENT_KINDS`` in ``tracebuf.py``) are the events
the recorder writes (:class:`~simstack.runtime.tracebuf.TraceBuf`, compiled with the
model); ``on_park`` and ``on_ready`` are the scheduler's points that are no event of the
table.  The invariant checker (``invariants.py``) and ``simstack validate``'s plan are
tracers too: subclasses that override what they need, attached with
``Runtime.add_tracer`` (several tracers are one :class:`Tee`).

Compiled, the model calls these methods natively; a subclass in plain Python (mypyc's
interpreted subclass) is called through Python, so only runs that attach one pay for it.
Every method returns before the model goes on, so a tracer sees the state as the event
leaves it; it must not change that state.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mypy_extensions import mypyc_attr

if TYPE_CHECKING:
    from .mheap import Span
    from .proc import G
    from .stack import Stack


@mypyc_attr(allow_interpreted_subclasses=True)  # the checker and validate's plan are plain Python
class Tracer:
    """The model's events, each a no-op here. ``g``/``p`` are goroutine and P ids (-1: none)."""

    # --- goroutines (proc.go) -------------------------------------------------------------
    def on_spawn(self, gp: G, p: int) -> None:
        """newproc1 made ``gp`` runnable with its stack (traceGoCreate)."""

    def on_exit(self, gp: G, p: int) -> None:
        """goexit0: ``gp`` is dead, its stack not yet given back (traceGoEnd)."""

    def on_park(self, gp: G, p: int) -> None:
        """gopark: ``gp`` is waiting, its stack use saved (traceGoPark)."""

    def on_ready(self, gp: G, p: int) -> None:
        """goready: ``gp``, waiting, is about to become runnable on P ``p`` (traceGoUnpark)."""

    # --- the stack allocator (stack.go) ---------------------------------------------------
    def on_stackalloc(self, g: int, p: int, n: int, stk: Stack) -> None:
        """stackalloc(n) handed out ``stk``."""

    def on_stackfree(self, g: int, p: int, stk: Stack) -> None:
        """stackfree is about to take ``stk`` back."""

    def on_span_alloc(self, g: int, p: int, span: Span, size: int) -> None:
        """allocManual gave the allocator ``span``, for stacks of ``size`` bytes."""

    def on_span_free(self, g: int, p: int, span: Span, size: int) -> None:
        """freeManual took back ``span``, which held stacks of ``size`` bytes."""

    def on_cache_refill(self, p: int, order: int, size: int, cached: int) -> None:
        """stackcacherefill: P ``p``'s cache of ``size``-byte stacks now holds ``cached`` bytes."""

    def on_cache_release(self, p: int, order: int, size: int, released: int) -> None:
        """stackcacherelease / stackcache_clear: ``released`` bytes of ``size``-byte stacks went back."""

    # --- growth (copystack, newstack) -----------------------------------------------------
    def on_grow(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        """copystack moved ``gp`` from ``old`` to a larger ``new``-byte stack, copying ``used`` bytes."""

    def on_shrink(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        """shrinkstack's copystack moved ``gp`` to a smaller stack."""

    def on_overflow(self, gp: G, p: int, old: int, new: int, used: int, limit: int) -> None:
        """newstack: ``new`` passes the ``limit``; the fatal stack overflow follows."""

    # --- GC (mgc.go) ----------------------------------------------------------------------
    def on_gc_start(self, p: int, cycle: int, stack_inuse: int) -> None:
        """gcStart entered the mark phase (mark workers started, roots not yet marked)."""

    def on_gc_end(self, cycle: int, stack_inuse: int) -> None:
        """gcMarkTermination: spans freed, caches cleared; the cycle is over."""


class Tee(Tracer):
    """Several tracers as one: each event goes to each of them, in order."""

    def __init__(self, tracers: list[Tracer]) -> None:
        self.tracers = tracers

    def on_spawn(self, gp: G, p: int) -> None:
        for t in self.tracers:
            t.on_spawn(gp, p)

    def on_exit(self, gp: G, p: int) -> None:
        for t in self.tracers:
            t.on_exit(gp, p)

    def on_park(self, gp: G, p: int) -> None:
        for t in self.tracers:
            t.on_park(gp, p)

    def on_ready(self, gp: G, p: int) -> None:
        for t in self.tracers:
            t.on_ready(gp, p)

    def on_stackalloc(self, g: int, p: int, n: int, stk: Stack) -> None:
        for t in self.tracers:
            t.on_stackalloc(g, p, n, stk)

    def on_stackfree(self, g: int, p: int, stk: Stack) -> None:
        for t in self.tracers:
            t.on_stackfree(g, p, stk)

    def on_span_alloc(self, g: int, p: int, span: Span, size: int) -> None:
        for t in self.tracers:
            t.on_span_alloc(g, p, span, size)

    def on_span_free(self, g: int, p: int, span: Span, size: int) -> None:
        for t in self.tracers:
            t.on_span_free(g, p, span, size)

    def on_cache_refill(self, p: int, order: int, size: int, cached: int) -> None:
        for t in self.tracers:
            t.on_cache_refill(p, order, size, cached)

    def on_cache_release(self, p: int, order: int, size: int, released: int) -> None:
        for t in self.tracers:
            t.on_cache_release(p, order, size, released)

    def on_grow(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        for t in self.tracers:
            t.on_grow(gp, p, old, new, used)

    def on_shrink(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        for t in self.tracers:
            t.on_shrink(gp, p, old, new, used)

    def on_overflow(self, gp: G, p: int, old: int, new: int, used: int, limit: int) -> None:
        for t in self.tracers:
            t.on_overflow(gp, p, old, new, used, limit)

    def on_gc_start(self, p: int, cycle: int, stack_inuse: int) -> None:
        for t in self.tracers:
            t.on_gc_start(p, cycle, stack_inuse)

    def on_gc_end(self, cycle: int, stack_inuse: int) -> None:
        for t in self.tracers:
            t.on_gc_end(cycle, stack_inuse)
