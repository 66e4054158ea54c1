"""The buffer the runtime model writes its events to, as ``runtime/trace`` writes ``traceBuf``.

Every state change the model reports (``emit``) becomes one packed 64-byte record
(``simstack.recording.recorder.EVENT_DTYPE``) appended to a ``bytearray``.  This runs
millions of times in a large run, so it is compiled with the model (``setup.py``) and
does two C-level things per event: pack, append.  The recorder owns the buffer and turns
it into the events table, at the end or (streaming to Parquet) each time it holds
``limit`` bytes: then ``emit`` moves the full buffer to ``full`` and calls ``on_full``.
The move is compiled code, so no signal handler (Ctrl-C) runs halfway through it: a
record is in exactly one buffer at any time.
"""
from __future__ import annotations

import struct
from typing import Any, Final

EVENT_KINDS: Final = ("spawn", "stackalloc", "stackfree", "grow", "shrink", "cache_refill", "cache_release",
                      "span_alloc", "span_free", "gc_start", "gc_end", "exit", "overflow")
KIND_CODE: Final[dict[str, int]] = {k: i for i, k in enumerate(EVENT_KINDS)}
# time, old_size, new_size, used, bytes_copied, bytes, goroutine, order, span, p, kind, one pad byte
RECORD: Final = struct.Struct("<dqqqqqiiihbx")
_PACK: Final = RECORD.pack


class TraceBuf:
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
            self.full.append(self.data)
            self.data = bytearray()
            self.on_full()

    def __len__(self) -> int:
        return len(self.data) // RECORD.size
