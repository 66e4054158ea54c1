"""Streaming recording: events and goroutine rows go to their Parquet files while the run goes on.

``StreamingRecorder`` is a :class:`~simstack.recording.recorder.Recorder` whose two large
tables never accumulate.  Every ``EVENT_ROWS`` events the trace buffer moves its full
buffer to its ``full`` list (compiled code: no signal handler runs halfway), and goroutine
rows are queued, sorted, as soon as no goroutine with a smaller id can still add one (ids
are handed out in increasing order and a row is made at exit, so the smallest id among
live user goroutines is a watermark).  Footprint rows (one per sample: a million in a
long run) are pickled to a spill file every ``FOOTPRINT_ROWS``; ``finish`` reads it twice,
for the union of stack sizes (the ``n_<size>`` columns) and to write the row groups.
Each of the two large files has a writer thread (``ParquetStream``)
that takes queued chunks oldest first and writes each as a row group with
``pyarrow.parquet.ParquetWriter``; it releases the GIL while encoding, so this runs on
another core beside the simulation.  Only that thread removes a chunk, after writing it:
a chunk is always either queued or written, whatever interrupts the run.  At most two
chunks wait, so memory stays bounded when the disk is slower than the run.  The small
tables (checkpoints, GC cycles) are built at the end as in memory.

Row groups are made from the in-memory recorder's frames (``events_frame``,
``goroutines_frame``), so reading a streamed file back gives the very frame
``Recorder.frames()`` gives (tests/test_stream.py).
"""
from __future__ import annotations

import pickle
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .recorder import EVENT_DTYPE, GOROUTINE_DTYPE, Recorder, events_frame, footprint_frame, goroutines_frame
from .results import FILES

EVENT_ROWS = 1 << 18  # events per row group: 16 MiB of packed records
GOROUTINE_ROWS = 1 << 16  # goroutine rows held before trying to write some (4 MiB)
FOOTPRINT_ROWS = 1 << 13  # footprint rows held before they are spilled, and per row group
_IN_FLIGHT = 2  # chunks queued and not yet written before the run waits for the writer


class ParquetStream:
    """One Parquet file written a row group at a time by its own thread, from ``chunks``
    (a list the run appends to; ``frame_of`` makes a chunk a frame).  Its schema is the first
    row group's; a file that gets none is written from an empty frame by ``close``.

    ``key``: a column that increases from one chunk to the next; rows of a chunk not above
    the last one written are dropped (a chunk queued again after an interruption)."""

    def __init__(self, path: Path, chunks: list, frame_of, key: str | None = None):
        self.path = path
        self.chunks = chunks
        self.rows = 0  # rows written
        self._frame_of = frame_of
        self._key = key
        self._last = None
        self._writer = None
        self._schema = None
        self._cond = threading.Condition()
        self._closing = self._aborting = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"write {path.name}", daemon=True)
        self._thread.start()

    def queued_rows(self, itemsize: int) -> int:
        """Rows written and rows queued (chunks of packed ``itemsize``-byte records)."""
        with self._cond:  # the writer moves a chunk from one to the other under this lock
            return self.rows + sum(len(c) for c in self.chunks) // itemsize

    def wake(self) -> None:
        """Chunks were queued: the writer takes them; wait while more than two are queued."""
        with self._cond:
            self._cond.notify_all()
            while len(self.chunks) > _IN_FLIGHT and self._error is None:
                self._cond.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self.chunks and not self._closing:
                        self._cond.wait()
                    if self._aborting or not self.chunks:
                        return
                    chunk = self.chunks[0]
                n = self._write(self._frame_of(chunk))
                with self._cond:
                    del self.chunks[0]
                    self.rows += n
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the run by wake() or close()
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def _write(self, frame: pd.DataFrame) -> int:
        if self._key is not None and self._last is not None:
            frame = frame[frame[self._key].to_numpy() > self._last]
        if not len(frame):
            return 0
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table)
        if self._key is not None:
            self._last = frame[self._key].iloc[-1]
        return len(frame)

    def _stop(self, abort: bool) -> None:
        with self._cond:
            self._closing, self._aborting = True, abort
            self._cond.notify_all()
        self._thread.join()

    def close(self, empty: pd.DataFrame) -> None:
        """Write every queued chunk and the footer; the file is then complete."""
        self._stop(abort=False)
        if self._writer is not None:
            self._writer.close()
        if self._error is not None:
            raise self._error
        if self._writer is None:
            empty.to_parquet(self.path, index=False)

    def abort(self) -> None:
        """Stop after the chunk being written (the file is discarded)."""
        self._stop(abort=True)
        if self._writer is not None:
            self._writer.close()


class StreamingRecorder(Recorder):
    """A Recorder writing ``events.parquet`` and ``goroutines.parquet`` into ``directory``
    as the run goes; ``finish()`` completes them and writes the small tables.

    ``watermark()`` (set by the caller; none: rows wait for ``finish``) returns a goroutine
    id such that every row still to come has an id at least that large.
    """

    def __init__(self, clock, directory, kinds=None, goroutine_table: bool = True, tidy=None):
        super().__init__(clock, kinds=kinds, goroutine_table=goroutine_table)
        self.directory = Path(directory)
        self.watermark = None
        # ``tidy`` (the writer thread calls it on each chunk, in order) adds columns to the events
        self._events_frame = events_frame if tidy is None else (lambda data: tidy(events_frame(data)))
        self._events = ParquetStream(self.directory / FILES["events"], self._buf.full, self._events_frame)
        self._goroutine_stream = ParquetStream(self.directory / FILES["goroutines"], [], lambda frame: frame,
                                               key="goroutine")
        self._goroutine_limit = GOROUTINE_ROWS * GOROUTINE_DTYPE.itemsize
        self._buf.limit = EVENT_ROWS * EVENT_DTYPE.itemsize
        self._buf.on_full = self._events.wake
        self._spill_path = self.directory / ".footprint.spill"
        self._spill = open(self._spill_path, "wb")
        self._n_spilled = 0  # footprint rows in the spill file

    @property
    def n_events(self) -> int:
        return self._events.queued_rows(EVENT_DTYPE.itemsize) + len(self._buf)

    def goroutine_row(self, *args) -> None:
        super().goroutine_row(*args)
        if len(self._goroutines) >= self._goroutine_limit and self.watermark is not None:
            self._flush_goroutines(self.watermark())
            # rows held back by a long-lived goroutine: try again when there are twice as many
            self._goroutine_limit = max(GOROUTINE_ROWS * GOROUTINE_DTYPE.itemsize, 2 * len(self._goroutines))

    def sample(self, time: float, fig: dict, sizes: dict) -> None:
        super().sample(time, fig, sizes)
        if len(self._samples) >= FOOTPRINT_ROWS:
            self._spill_samples()

    def _spill_samples(self) -> None:
        """Footprint rows to the spill file, with the index of the first: interrupted before
        they leave the list, they are spilled again and ``_spilled`` skips them."""
        pickle.dump((self._n_spilled, self._samples), self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._n_spilled, self._samples = self._n_spilled + len(self._samples), []

    def _spilled(self):
        """The footprint rows of the spill file, in chunks, each row once."""
        with open(self._spill_path, "rb") as f:
            seen = 0
            while True:
                try:
                    first, rows = pickle.load(f)
                except EOFError:
                    return
                rows = rows[seen - first:]
                if rows:
                    seen += len(rows)
                    yield rows

    def _write_footprint(self) -> None:
        """footprint.parquet from the spill file: a row group per chunk, every chunk with
        the run's whole set of ``n_<size>`` columns."""
        if self._samples or not self._n_spilled:
            self._spill_samples()
        self._spill.close()
        sizes = set()
        for rows in self._spilled():
            sizes.update(s for _, _, d in rows for s in d)
        path = self.directory / FILES["footprint"]
        writer = None
        try:
            for rows in self._spilled():
                table = pa.Table.from_pandas(footprint_frame(rows, sizes), preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            footprint_frame([], sizes).to_parquet(path, index=False)
        self._spill_path.unlink()

    def _flush_goroutines(self, below) -> None:
        """Queue the rows of goroutines with ids under ``below`` (None: all), sorted; keep the rest."""
        rows = np.frombuffer(self._goroutines, dtype=GOROUTINE_DTYPE)
        ready = np.ones(len(rows), bool) if below is None else rows["goroutine"] < below
        if ready.any():
            rest = bytearray(rows[~ready].tobytes())
            # queued before they leave the buffer: interrupted in between, they are queued again
            # and the writer drops the rows it has (key="goroutine")
            self._goroutine_stream.chunks.append(goroutines_frame(rows[ready], self._classes))
            self._goroutines = rest
            self._goroutine_stream.wake()

    def finish(self) -> dict[str, pd.DataFrame]:
        """Write what is left and close the files; returns the frames of footprint,
        checkpoints and gc (read back, for the charts)."""
        if len(self._buf):
            self._buf.full.append(self._buf.data)
            self._buf.data = bytearray()
        self._flush_goroutines(None)
        self._events.close(self._events_frame(bytearray()))
        self._goroutine_stream.close(goroutines_frame(np.empty(0, GOROUTINE_DTYPE), {}))
        self._write_footprint()
        small = {"checkpoints": self._checkpoints_frame(), "gc": self._gc_frame()}
        for key, frame in small.items():
            path = self.directory / FILES[key]
            frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)
        return {"footprint": pd.read_parquet(self.directory / FILES["footprint"]), **small}

    def abort(self) -> None:
        """Stop the writers (on an error; the caller deletes the directory)."""
        self._events.abort()
        self._goroutine_stream.abort()
        self._spill.close()
