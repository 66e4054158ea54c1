"""The buffer the runtime model writes its events to, as ``runtime/trace`` writes ``traceBuf``.

:class:`TraceBuf` is the recorder's :class:`~simstack.runtime.tracer.Tracer`: every event
the model reports (``on_stackalloc``, ``on_grow``, ...) becomes one packed 64-byte record
(``simstack.recording.recorder.EVENT_DTYPE``) appended to a ``bytearray``.  This runs
millions of times in a large run, so it is compiled with the model (``setup.py``): the
model calls it natively and it does two C-level things per event: pack, append.  ``emit``
appends a record given field by field (a trace replayed into a recorder).  The recorder
owns the buffer and turns it into the events table, at the end or (streaming to Parquet)
each time it holds ``limit`` bytes: then the full buffer moves to ``full`` and ``on_full``
is called.
The move is compiled code, so no signal handler (Ctrl-C) runs halfway through it: a
record is in exactly one buffer at any time.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Final

from .tracer import Tracer

if TYPE_CHECKING:
    from .mheap import Span
    from .proc import G
    from .stack import Stack

EVENT_KINDS: Final = ("spawn", "stackalloc", "stackfree", "grow", "shrink", "cache_refill", "cache_release",
                      "span_alloc", "span_free", "gc_start", "gc_end", "exit", "overflow")
KIND_CODE: Final[dict[str, int]] = {k: i for i, k in enumerate(EVENT_KINDS)}
# time, old_size, new_size, used, bytes_copied, bytes, goroutine, order, span, p, kind, one pad byte
RECORD: Final = struct.Struct("<dqqqqqiiihbx")
_PACK: Final = RECORD.pack


# each kind's code, as the typed methods write it: Final, so compiled code has them as constants
SPAWN: Final = 0
STACKALLOC: Final = 1
STACKFREE: Final = 2
GROW: Final = 3
SHRINK: Final = 4
CACHE_REFILL: Final = 5
CACHE_RELEASE: Final = 6
SPAN_ALLOC: Final = 7
SPAN_FREE: Final = 8
GC_START: Final = 9
GC_END: Final = 10
EXIT: Final = 11
OVERFLOW: Final = 12
assert [SPAWN, STACKALLOC, STACKFREE, GROW, SHRINK, CACHE_REFILL, CACHE_RELEASE, SPAN_ALLOC, SPAN_FREE, GC_START,
        GC_END, EXIT, OVERFLOW] == list(range(len(EVENT_KINDS)))


class TraceBuf(Tracer):
    """Packed event records, stamped with the simulated time read from ``clock._now``."""

    def __init__(self, clock: Any) -> None:
        self.data = bytearray()
        self.clock: Any = clock  # a SimPy Environment (or anything with a ``_now``)
        self.limit: int = 1 << 62  # bytes; the in-memory recorder never flushes
        self.full: list[bytearray] = []  # full buffers, oldest first, for the recorder's writer to take
        self.on_full: Any = None
        self.keep: int = (1 << len(EVENT_KINDS)) - 1  # bit KIND_CODE[kind] set: that kind is recorded

    def emit(self, kind: str, g: object, p: object, old_size: object, new_size: object, used: object,
             bytes_copied: object, order: object, span: object, nbytes: object) -> None:
        """Append one event (the runtime model's ``emit`` signature), if its kind is kept."""
        code = KIND_CODE[kind]
        if not (self.keep >> code) & 1:
            return
        self.data += _PACK(self.clock._now, old_size, new_size, used, bytes_copied, nbytes, g, order, span, p, code)
        if len(self.data) >= self.limit:
            self._flush()

    def put(self, code: int, g: int, p: int, old_size: int, new_size: int, used: int, bytes_copied: int,
            order: int, span: int, nbytes: int) -> None:
        """Append one event of kind ``code``, if that kind is kept (what every ``on_<kind>`` does)."""
        if not (self.keep >> code) & 1:
            return
        self.data += _PACK(self.clock._now, old_size, new_size, used, bytes_copied, nbytes, g, order, span, p, code)
        if len(self.data) >= self.limit:
            self._flush()

    def _flush(self) -> None:
        self.full.append(self.data)
        self.data = bytearray()
        self.on_full()

    # --- the Tracer: one record per event ---------------------------------------------------
    def on_spawn(self, gp: G, p: int) -> None:
        self.put(SPAWN, gp.goid, p, 0, gp.stack.size, gp.top, 0, gp.site, -1, 0)

    def on_exit(self, gp: G, p: int) -> None:
        self.put(EXIT, gp.goid, p, gp.stack.size, 0, gp.top, 0, gp.site, -1, 0)

    def on_stackalloc(self, g: int, p: int, n: int, stk: Stack) -> None:
        span = stk.span
        self.put(STACKALLOC, g, p, 0, n, 0, 0, span.order, span.id, n)

    def on_stackfree(self, g: int, p: int, stk: Stack) -> None:
        span = stk.span
        self.put(STACKFREE, g, p, stk.size, 0, 0, 0, span.order, span.id, stk.size)

    def on_span_alloc(self, g: int, p: int, span: Span, size: int) -> None:
        self.put(SPAN_ALLOC, g, p, 0, size, 0, 0, span.order, span.id, span.nbytes)

    def on_span_free(self, g: int, p: int, span: Span, size: int) -> None:
        self.put(SPAN_FREE, g, p, size, 0, 0, 0, span.order, span.id, span.nbytes)

    def on_cache_refill(self, p: int, order: int, size: int, cached: int) -> None:
        self.put(CACHE_REFILL, -1, p, 0, size, 0, 0, order, -1, cached)

    def on_cache_release(self, p: int, order: int, size: int, released: int) -> None:
        self.put(CACHE_RELEASE, -1, p, size, 0, 0, 0, order, -1, released)

    def on_grow(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        self.put(GROW, gp.goid, p, old, new, used, used, -1, -1, 0)

    def on_shrink(self, gp: G, p: int, old: int, new: int, used: int) -> None:
        self.put(SHRINK, gp.goid, p, old, new, used, used, -1, -1, 0)

    def on_overflow(self, gp: G, p: int, old: int, new: int, used: int, limit: int) -> None:
        self.put(OVERFLOW, gp.goid, p, old, new, used, 0, -1, -1, limit)

    def on_gc_start(self, p: int, cycle: int, stack_inuse: int) -> None:
        self.put(GC_START, -1, p, 0, 0, 0, 0, cycle, -1, stack_inuse)

    def on_gc_end(self, cycle: int, stack_inuse: int) -> None:
        self.put(GC_END, -1, -1, 0, 0, 0, 0, cycle, -1, stack_inuse)

    def __len__(self) -> int:
        return len(self.data) // RECORD.size
