"""Tidy forms of a run's frames, built from the output contract's columns.

The contract keeps its wide forms (``n_<size>`` columns that differ between runs, a JSON
``goroutine_stacks`` column, -1 for "none"); these are the same data in long form with
nullable integers, and the class of each event's goroutine. All are computed with numpy
when a frame is built or asked for, never per event.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

# the class of the runtime's own goroutines (main, forcegc, bgsweep, ..., GC mark workers)
RUNTIME_CLASS = "runtime"


def event_classes(events: pd.DataFrame, class_names, goroutines: pd.DataFrame | None = None) -> pd.Categorical:
    """Each event's goroutine class: the scenario's class, ``runtime`` for the runtime's own
    goroutines, missing for events of no goroutine (spans, caches, GC, Ms' stacks).

    A ``spawn`` event carries its class index in ``order`` (-1 for the runtime's goroutines);
    goroutine ids are never reused, so one lookup array maps every event from the goroutine's
    spawn event on (its stack allocation just before it is no goroutine's).  Without spawn
    events (``record.events`` left them out) the goroutines table names the user goroutines.
    """
    names = [*class_names, RUNTIME_CLASS]
    dtype = pd.CategoricalDtype(names)
    g = events["goroutine"].to_numpy()
    if not len(g):
        return pd.Categorical.from_codes(np.array([], dtype=np.int16), dtype=dtype)
    kind = events["kind"]
    spawn = (kind == "spawn").to_numpy()
    if spawn.any():
        return EventTidier(class_names)(events.copy())["class"].array
    top = int(g.max())
    code = np.full(max(top, 0) + 1, -1, dtype=np.int16)
    if goroutines is not None and len(goroutines):
        idx = {n: i for i, n in enumerate(names)}
        ids = goroutines["goroutine"].to_numpy()
        ok = ids <= top
        code[ids[ok]] = goroutines["class"].map(idx).fillna(-1).to_numpy(dtype=np.int16)[ok]
    codes = np.where(g >= 0, code[np.maximum(g, 0)], -1)
    return pd.Categorical.from_codes(codes, dtype=dtype)


class EventTidier:
    """:func:`event_classes` and :func:`stack_inuse_peak` for events that come a chunk at a time
    (a streamed run): the goroutine-to-class codes and StackInuse's running level are carried
    from chunk to chunk, so every chunk gets the column the whole frame would have had."""

    def __init__(self, class_names):
        self.names = [*class_names, RUNTIME_CLASS]
        self.dtype = pd.CategoricalDtype(self.names)
        self.code = np.full(1024, -1, dtype=np.int16)
        self.level = 0  # StackInuse from the span events so far
        self.best = (-1, float("nan"))  # highest level and when
        self.spans = False

    def __call__(self, events: pd.DataFrame) -> pd.DataFrame:
        """``events`` with its ``class`` column (the chunks must come in order)."""
        g = events["goroutine"].to_numpy()
        kind = events["kind"]
        spawn = (kind == "spawn").to_numpy()
        if len(g) and int(g.max()) >= len(self.code):
            grown = np.full(max(int(g.max()) + 1, 2 * len(self.code)), -1, dtype=np.int16)
            grown[:len(self.code)] = self.code
            self.code = grown
        if spawn.any():
            site = events["order"].to_numpy()[spawn]
            self.code[g[spawn]] = np.where(site >= 0, site, len(self.names) - 1)
        codes = np.where(g >= 0, self.code[np.maximum(g, 0)], -1) if len(g) else np.array([], dtype=np.int16)
        if spawn.any():
            # a goroutine has its class from its spawn event on: its stack is allocated (newproc1 ->
            # malg) just before, which then counts as no goroutine's, in whatever row group it falls
            first = np.full(len(self.code), -1, dtype=np.int64)
            pos = np.flatnonzero(spawn)
            first[g[pos][::-1]] = pos[::-1]
            before = (g >= 0) & (np.arange(len(g)) < first[np.maximum(g, 0)])
            codes = np.where(before, -1, codes)
        events["class"] = pd.Categorical.from_codes(codes, dtype=self.dtype)
        alloc, free = (kind == "span_alloc").to_numpy(), (kind == "span_free").to_numpy()
        if alloc.any() or free.any():
            self.spans = self.spans or bool(alloc.any())
            level = self.level + np.cumsum(np.select([alloc, free], [1, -1], 0) * events["bytes"].to_numpy(np.int64))
            i = int(np.argmax(level))
            if level[i] > self.best[0]:
                self.best = (int(level[i]), float(events["time"].iloc[i]))
            self.level = int(level[-1])
        return events

    def peak(self, footprint: pd.DataFrame, peak: int | None = None) -> dict:
        """As :func:`stack_inuse_peak` gives it for the whole events frame."""
        if self.spans and (peak is None or self.best[0] == peak):
            return {"time": self.best[1], "stack_inuse": self.best[0], "exact": True}
        return stack_inuse_peak(_no_events(), footprint, peak)


def _no_events() -> pd.DataFrame:
    return pd.DataFrame({"kind": pd.Series([], dtype="object"), "bytes": pd.Series([], dtype=np.int64),
                         "time": pd.Series([], dtype=np.float64)})


def size_columns(frame: pd.DataFrame) -> list[str]:
    """The ``n_<size>`` columns of a footprint or checkpoints frame, smallest size first (a
    column that only starts with ``n_`` is not one: its name has no size to sort by)."""
    return sorted((c for c in frame.columns if c.startswith("n_") and c[2:].isdigit()), key=lambda c: int(c[2:]))


def stack_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """Live user goroutines by stack size in long form: ``time`` (and ``label`` for
    checkpoints), ``size``, ``goroutines``; one row per sample and size that has any."""
    sized = size_columns(frame)
    keys = [c for c in ("label", "time") if c in frame.columns]
    if not sized:
        return pd.DataFrame({**{k: frame[k].iloc[:0] for k in keys}, "size": pd.array([], dtype="Int64"),
                             "goroutines": pd.array([], dtype="Int64")})
    counts = frame[sized].to_numpy()
    n, m = counts.shape
    sizes = np.array([int(c[2:]) for c in sized], dtype=np.int64)
    rows = np.repeat(np.arange(n), m)
    out = {k: frame[k].to_numpy()[rows] for k in keys}
    out["size"] = pd.array(np.tile(sizes, n), dtype="Int64")
    out["goroutines"] = pd.array(counts.reshape(-1), dtype="Int64")
    df = pd.DataFrame(out)
    return df[df["goroutines"].fillna(0) > 0].reset_index(drop=True)


def checkpoint_stacks(checkpoints: pd.DataFrame) -> pd.DataFrame:
    """The checkpoints' ``goroutine_stacks`` histograms as a table: ``label``, ``time``,
    ``class``, ``size``, ``goroutines`` (one row per class and size present)."""
    labels, times, classes, sizes, counts = [], [], [], [], []
    if "goroutine_stacks" in checkpoints.columns:
        for label, t, js in zip(checkpoints["label"], checkpoints["time"], checkpoints["goroutine_stacks"]):
            if not isinstance(js, str):
                continue
            for cls, hist in sorted(json.loads(js).items()):
                for size, n in sorted(hist.items(), key=lambda kv: int(kv[0])):
                    labels.append(label)
                    times.append(t)
                    classes.append(cls)
                    sizes.append(int(size))
                    counts.append(int(n))
    return pd.DataFrame({"label": pd.array(labels, dtype="string"), "time": np.array(times, dtype=np.float64),
                         "class": pd.array(classes, dtype="string"), "size": pd.array(sizes, dtype="Int64"),
                         "goroutines": pd.array(counts, dtype="Int64")})


# event columns that hold -1 for "none": no goroutine, no P, a large stack (no order), no span
NONE_AS_MINUS_ONE = ("goroutine", "p", "order", "span")


def nullable_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events frame with nullable integers (``<NA>`` instead of -1) where -1 means "none"."""
    out = events.copy()
    for c in NONE_AS_MINUS_ONE:
        if c in out.columns:
            v = out[c].to_numpy()
            out[c] = pd.arrays.IntegerArray(v.astype(np.int64), v < 0)
    return out


def stack_inuse_peak(events: pd.DataFrame, footprint: pd.DataFrame, peak: int | None = None) -> dict:
    """When StackInuse was highest: ``time`` and ``stack_inuse``.  StackInuse changes only when
    a span is allocated or freed, so the span events give it exactly (``exact``) when they were
    all recorded, i.e. when their running sum reaches the runtime's own ``peak``; otherwise the
    highest footprint sample."""
    kind = events["kind"] if len(events) else None
    if kind is not None and (kind == "span_alloc").any():
        sign = np.select([(kind == "span_alloc").to_numpy(), (kind == "span_free").to_numpy()], [1, -1], 0)
        level = np.cumsum(sign * events["bytes"].to_numpy(dtype=np.int64))
        i = int(np.argmax(level))
        if peak is None or int(level[i]) == peak:
            return {"time": float(events["time"].iloc[i]), "stack_inuse": int(level[i]), "exact": True}
    if len(footprint):
        i = int(footprint["stack_inuse"].to_numpy().argmax())
        return {"time": float(footprint["time"].iloc[i]), "stack_inuse": int(footprint["stack_inuse"].iloc[i]),
                "exact": False}
    return {"time": float("nan"), "stack_inuse": 0, "exact": False}


def runtime_goroutines(events: pd.DataFrame) -> pd.DataFrame:
    """The runtime's own goroutines (main, system goroutines, GC mark workers) as rows like the
    goroutines table's, with class ``runtime``, rebuilt from their events (the table lists
    the scenario's goroutines only); ``exited`` is NaN (they live to the end)."""
    cols = ["goroutine", "class", "created", "exited", "max_stack", "grows", "shrinks", "bytes_copied"]
    if "class" not in events.columns or not len(events):
        return pd.DataFrame({c: pd.Series(dtype="string" if c == "class" else "float64") for c in cols})
    ev = events[(events["class"] == RUNTIME_CLASS).to_numpy()]
    kind = ev["kind"].astype(str)
    g = ev.groupby("goroutine", sort=True)
    out = pd.DataFrame({
        "created": ev[kind == "spawn"].groupby("goroutine")["time"].min(),
        "max_stack": g["new_size"].max(),
        "grows": ev[kind == "grow"].groupby("goroutine").size(),
        "shrinks": ev[kind == "shrink"].groupby("goroutine").size(),
        "bytes_copied": ev[kind.isin(["grow", "shrink"])].groupby("goroutine")["bytes_copied"].sum(),
    }).reindex(g.size().index)
    out[["grows", "shrinks", "bytes_copied"]] = out[["grows", "shrinks", "bytes_copied"]].fillna(0)
    out = out.reset_index()
    out["class"] = pd.array([RUNTIME_CLASS] * len(out), dtype="string")
    out["exited"] = np.nan
    return out.astype({"goroutine": np.int64, "max_stack": np.int64, "grows": np.int64, "shrinks": np.int64,
                       "bytes_copied": np.int64})[cols]
