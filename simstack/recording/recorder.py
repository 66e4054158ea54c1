"""Columnar recording of everything the runtime model reports.

The runtime model reports every allocator operation (millions in a large run) to
``Recorder.tracer``, the compiled :class:`~simstack.runtime.tracebuf.TraceBuf`: it
appends the event, packed as one fixed-size record (``EVENT_DTYPE``), to a
``bytearray`` (which grows geometrically, like a doubling buffer). At the end
``frames()`` views that buffer as a numpy structured array whose fields become the
events frame's columns, without a copy: the pandas frames of the output contract are
built once, never appended to.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np
import pandas as pd

from ..runtime.tracebuf import EVENT_KINDS, KIND_CODE, RECORD, TraceBuf  # noqa: F401  (re-exported)
from .tidy import size_columns
# emit's integer arguments, in order: the events columns
EVENT_INT_COLUMNS = ("goroutine", "p", "old_size", "new_size", "used", "bytes_copied", "order", "span", "bytes")
FIGURES = ("stack_inuse", "stack_sys", "stack_in_goroutines", "stack_used", "cached_bytes", "pool_free_bytes",
           "large_free_bytes", "goroutines", "starting_size")
GC_COLUMNS = ("cycle", "start", "end", "stacks_shrunk", "bytes_released", "spans_freed", "starting_size")


# one event as packed bytes, 64 per event, every field at its natural alignment (so that the
# events frame's columns are aligned strided views of the buffer): time, the five 64-bit sizes and
# byte counts (max_stack may be raised), the 32-bit goroutine, order and span, p, kind, one pad
EVENT_DTYPE = np.dtype([("time", "<f8"), ("old_size", "<i8"), ("new_size", "<i8"), ("used", "<i8"),
                        ("bytes_copied", "<i8"), ("bytes", "<i8"), ("goroutine", "<i4"), ("order", "<i4"),
                        ("span", "<i4"), ("p", "<i2"), ("kind", "i1"), ("_pad", "i1")])
assert RECORD.size == EVENT_DTYPE.itemsize == 64
KIND_DTYPE = pd.CategoricalDtype(list(EVENT_KINDS))
# one goroutines-table row as packed bytes: goroutine, created, exited, max_stack, grows, shrinks,
# bytes_copied, and the class as an index into the recorder's list of class names
GOROUTINE_DTYPE = np.dtype([("goroutine", "<i8"), ("created", "<f8"), ("exited", "<f8"), ("max_stack", "<i8"),
                            ("grows", "<i8"), ("shrinks", "<i8"), ("bytes_copied", "<i8"), ("class", "<i8")])
_PACK_G = struct.Struct("<qddqqqqq").pack
assert struct.calcsize("<qddqqqqq") == GOROUTINE_DTYPE.itemsize


class _Clock:
    """Adapts a clock callable to the ``_now`` attribute ``TraceBuf.emit`` reads."""

    def __init__(self, clock):
        self._clock = clock

    @property
    def _now(self):
        return self._clock()


class Recorder:
    """Receives the runtime's events, the sampler's footprint and checkpoints; builds frames.

    ``tracer`` is what the runtime model reports its events to; ``emit`` appends one given
    field by field (a trace replayed). ``clock()`` gives the simulated time stamped on each
    event (``bind`` replaces it with a SimPy environment). ``kinds`` (None = all) lists the
    event kinds kept: the buffer drops the others (a bit test in compiled code). With
    ``goroutine_table`` false, ``goroutine_row`` keeps nothing (huge runs).
    """

    def __init__(self, clock, kinds=None, goroutine_table: bool = True):
        self.goroutine_table = goroutine_table
        self._buf = TraceBuf(_Clock(clock))  # packed EVENT_DTYPE records: one C-level append per event
        self._samples: list[tuple] = []
        self._checkpoints: list[dict] = []
        self._goroutines = bytearray()  # packed GOROUTINE_DTYPE rows
        self._classes: dict = {}  # class name -> index stored in a row
        self._gc: list[tuple] = []
        self.tracer = self._buf  # the runtime's Tracer
        self.emit = self._buf.emit
        if kinds is not None:
            keep = frozenset(kinds)
            unknown = keep - set(EVENT_KINDS)
            if unknown:
                raise ValueError(f"unknown event kinds: {sorted(unknown)}")
            # the buffer drops the other kinds itself (compiled): no Python call per dropped event
            self._buf.keep = sum(1 << KIND_CODE[k] for k in keep)

    def bind(self, env) -> None:
        """Read time straight from a SimPy environment: its ``_now`` attribute, which is what
        the public ``now`` property returns, without a call per event (millions of them)."""
        self._buf.clock = env

    @property
    def n_events(self) -> int:
        return len(self._buf)

    def sample(self, time: float, fig: dict, sizes: dict) -> None:
        """One footprint row: the figures plus live user goroutines by stack size."""
        self._samples.append((time, tuple(fig[k] for k in FIGURES), dict(sizes)))

    def checkpoint(self, label: str, time: float, via: str, fig: dict, sizes: dict, extra: dict | None = None):
        """One checkpoint row: as ``sample`` plus ``label``/``via``; dicts in ``extra`` become JSON strings."""
        row = {"label": label, "time": time, "via": via, **{k: fig[k] for k in FIGURES}}
        row.update({f"n_{s}": c for s, c in sorted(sizes.items())})
        for k, v in (extra or {}).items():
            row[k] = json.dumps(_jsonable(v), sort_keys=True) if isinstance(v, dict) else v
        self._checkpoints.append(row)

    def goroutine_row(self, goroutine, cls, created, exited, max_stack, grows, shrinks, bytes_copied):
        """One goroutine's life; ``exited`` is NaN (or None) for one still alive at the end."""
        if self.goroutine_table:
            code = self._classes.get(cls)
            if code is None:
                code = self._classes[cls] = len(self._classes)
            self._goroutines += _PACK_G(goroutine, created, math.nan if exited is None else exited, max_stack, grows,
                                        shrinks, bytes_copied, code)

    def gc_row(self, row: dict) -> None:
        """One GC cycle; ``row`` must have every ``GC_COLUMNS`` key (extra keys are ignored)."""
        self._gc.append(tuple(row[k] for k in GC_COLUMNS))

    # --- frames ---------------------------------------------------------------------------
    def frames(self, release: bool = False) -> dict[str, pd.DataFrame]:
        """The output contract's tables, built once; with ``release`` the events frame takes
        over the event buffer (the recorder starts a new one) instead of copying it."""
        out = {"events": self._events_frame(release)}
        out.update(footprint=self._footprint_frame(), checkpoints=self._checkpoints_frame(),
                   goroutines=self._goroutines_frame(), gc=self._gc_frame())
        return out

    def _events_frame(self, release: bool = False) -> pd.DataFrame:
        data = self._buf.data
        if release:
            self._buf.data = bytearray()  # the records now belong to the frame
        else:
            data = bytearray(data)  # a copy: the frame's columns are writable views of it
        return events_frame(data)

    def _footprint_frame(self) -> pd.DataFrame:
        return footprint_frame(self._samples)

    def _checkpoints_frame(self) -> pd.DataFrame:
        cols = ["label", "time", "via", *FIGURES]
        df = pd.DataFrame(self._checkpoints, columns=None if self._checkpoints else cols)
        sized = size_columns(df)
        rest = [c for c in df.columns if c not in cols and c not in sized]
        df = df.reindex(columns=cols + sized + rest)
        if sized:
            df[sized] = df[sized].fillna(0).astype(np.int64)
        return df

    def _goroutines_frame(self) -> pd.DataFrame:
        return goroutines_frame(np.frombuffer(self._goroutines, dtype=GOROUTINE_DTYPE), self._classes)

    def _gc_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self._gc, columns=list(GC_COLUMNS))
        return df.astype({k: np.float64 if k in ("start", "end") else np.int64 for k in GC_COLUMNS})


def footprint_frame(samples: list, sizes=None) -> pd.DataFrame:
    """The footprint frame of ``sample`` rows; its ``n_<size>`` columns are ``sizes`` (default:
    every size in the rows), smallest first, zero where a row has none."""
    if sizes is None:
        sizes = {s for _, _, d in samples for s in d}
    data = {"time": np.array([t for t, _, _ in samples], dtype=np.float64)}
    figs = np.array([f for _, f, _ in samples], dtype=np.int64).reshape(-1, len(FIGURES))
    for j, k in enumerate(FIGURES):
        data[k] = figs[:, j]
    for s in sorted(sizes):
        data[f"n_{s}"] = np.array([d.get(s, 0) for _, _, d in samples], dtype=np.int64)
    return pd.DataFrame(data)


def events_frame(data) -> pd.DataFrame:
    """The events frame over packed ``EVENT_DTYPE`` records (a bytearray it takes over)."""
    rec = np.frombuffer(data, dtype=EVENT_DTYPE)
    # each column is a view of its field in the packed records (stride 64): nothing is
    # copied, so a million-goroutine run's 450 MB of events are not allocated twice
    # with categories= pandas recodes an int8 column that came out of a structured dtype
    # element by element (0.4 s per 2M events); with the dtype given it takes the codes as they are
    kind = pd.Categorical.from_codes(np.ascontiguousarray(rec["kind"]), dtype=KIND_DTYPE)
    return pd.DataFrame({"time": rec["time"], "kind": kind, **{n: rec[n] for n in EVENT_INT_COLUMNS}},
                        copy=False)


GOROUTINE_COLUMNS = ("goroutine", "class", "created", "exited", "max_stack", "grows", "shrinks", "bytes_copied")


def goroutines_frame(rows: np.ndarray, classes: dict) -> pd.DataFrame:
    """The goroutines frame over packed ``GOROUTINE_DTYPE`` rows, sorted by goroutine;
    ``classes`` maps class names to the codes stored in the rows."""
    cols = list(GOROUTINE_COLUMNS)
    if not len(rows):
        return pd.DataFrame([], columns=cols).astype({c: GOROUTINE_DTYPE.fields[c][0] for c in cols if c != "class"})
    names = np.empty(len(classes), dtype=object)
    for name, code in classes.items():
        names[code] = name
    order = np.argsort(rows["goroutine"], kind="stable")  # rows come in exit order
    data = {c: rows[c][order] for c in cols if c != "class"}
    data["class"] = pd.array(names[rows["class"][order]], dtype=pd.StringDtype(na_value=np.nan))
    return pd.DataFrame({c: data[c] for c in cols})


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v
