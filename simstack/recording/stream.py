"""Streaming recording: events and goroutine rows go to their Parquet files while the run goes on.

``StreamingRecorder`` is a :class:`~simstack.recording.recorder.Recorder` whose two large
tables never accumulate: every ``EVENT_ROWS`` events the trace buffer's ``on_full``
hands its records over as one row group, and goroutine rows are written, sorted, as
soon as no goroutine with a smaller id can still add one (ids are handed out in
increasing order and a row is made at exit, so the smallest id among live user
goroutines is a watermark).  The row groups are encoded by ``pyarrow.parquet``'s
``ParquetWriter`` on a background thread (it releases the GIL: the encoding runs on
another core beside the simulation), at most two in flight so that memory stays bounded
when the disk is slower than the run.  The small tables (footprint, checkpoints, GC
cycles) are built at the end as the in-memory recorder builds them.

Row groups are made from the in-memory recorder's frames (``events_frame``,
``goroutines_frame``), so reading a streamed file back gives the very frame
``Recorder.frames()`` gives (tests/test_stream.py).
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .recorder import EVENT_DTYPE, GOROUTINE_DTYPE, Recorder, events_frame, goroutines_frame
from .results import FILES

EVENT_ROWS = 1 << 18  # events per row group: 16 MiB of packed records
GOROUTINE_ROWS = 1 << 16  # goroutine rows held before trying to write some (4 MiB)
_IN_FLIGHT = 2  # row groups handed to the writer thread and not yet written


class ParquetStream:
    """One Parquet file written a row group at a time by a background thread; its schema is
    the first row group's (a file that gets none is written from an empty frame by ``close``)."""

    def __init__(self, path: Path):
        self.path = path
        self._writer = None
        self._schema = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet")
        self._pending: deque = deque()

    def write(self, frame: pd.DataFrame) -> None:
        """Queue ``frame`` as the next row group (waiting while two are still being written)."""
        while len(self._pending) >= _IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._write, frame))

    def _write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table)

    def close(self, empty: pd.DataFrame) -> None:
        """Wait for the queued row groups and write the footer; the file is then complete."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown()
            if self._writer is not None:
                self._writer.close()
        if self._writer is None:
            empty.to_parquet(self.path, index=False)

    def abort(self) -> None:
        """Stop without waiting for queued row groups (the file is discarded)."""
        self._pool.shutdown(cancel_futures=True)
        if self._writer is not None:
            self._writer.close()


class StreamingRecorder(Recorder):
    """A Recorder writing ``events.parquet`` and ``goroutines.parquet`` into ``directory``
    as the run goes; ``finish()`` completes them and writes the small tables.

    ``watermark()`` (set by the caller; none: rows wait for ``finish``) returns a goroutine
    id such that every row still to come has an id at least that large.
    """

    def __init__(self, clock, directory, kinds=None, goroutine_table: bool = True):
        super().__init__(clock, kinds=kinds, goroutine_table=goroutine_table)
        self.directory = Path(directory)
        self.watermark = None
        self._flushed = 0  # events already handed to the writer
        self._events = ParquetStream(self.directory / FILES["events"])
        self._goroutine_stream = ParquetStream(self.directory / FILES["goroutines"])
        self._goroutine_limit = GOROUTINE_ROWS * GOROUTINE_DTYPE.itemsize
        self._buf.limit = EVENT_ROWS * EVENT_DTYPE.itemsize
        self._buf.on_full = self._flush_events

    @property
    def n_events(self) -> int:
        return self._flushed + len(self._buf)

    def _flush_events(self) -> None:
        """The trace buffer is full: its records become the next row group of events.parquet."""
        data, self._buf.data = self._buf.data, bytearray()
        self._flushed += len(data) // EVENT_DTYPE.itemsize
        self._events.write(events_frame(data))

    def goroutine_row(self, *args) -> None:
        super().goroutine_row(*args)
        if len(self._goroutines) >= self._goroutine_limit and self.watermark is not None:
            self._flush_goroutines(self.watermark())
            # rows held back by a long-lived goroutine: try again when there are twice as many
            self._goroutine_limit = max(GOROUTINE_ROWS * GOROUTINE_DTYPE.itemsize, 2 * len(self._goroutines))

    def _flush_goroutines(self, below) -> None:
        """Write the rows of goroutines with ids under ``below`` (None: all), sorted; keep the rest."""
        rows = np.frombuffer(self._goroutines, dtype=GOROUTINE_DTYPE)
        ready = np.ones(len(rows), bool) if below is None else rows["goroutine"] < below
        if ready.any():
            self._goroutine_stream.write(goroutines_frame(rows[ready], self._classes))
            self._goroutines = bytearray(rows[~ready].tobytes())

    def finish(self) -> dict[str, pd.DataFrame]:
        """Write what is left and close both files; returns the small frames (footprint,
        checkpoints, gc), already written to their files too."""
        if len(self._buf):
            self._flush_events()
        self._flush_goroutines(None)
        self._events.close(events_frame(bytearray()))
        self._goroutine_stream.close(goroutines_frame(np.empty(0, GOROUTINE_DTYPE), {}))
        small = {"footprint": self._footprint_frame(), "checkpoints": self._checkpoints_frame(),
                 "gc": self._gc_frame()}
        for key, frame in small.items():
            path = self.directory / FILES[key]
            frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)
        return small

    def abort(self) -> None:
        """Stop the writers (on an error; the caller deletes the directory)."""
        self._events.abort()
        self._goroutine_stream.abort()
