"""The numbers behind the charts, as plain DataFrames and arrays.

Every chart in :mod:`simstack.analysis.charts` draws what one of these functions
returns, so the same figures can be checked, tabulated or plotted another way.
Functions take a :class:`~simstack.recording.results.Result` or anything
:func:`as_frames` accepts.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..recording.tidy import RUNTIME_CLASS, size_columns

FRAME_NAMES = ("events", "footprint", "checkpoints", "goroutines", "gc")
# the event kinds that move bytes in and out of the per-P stack caches
CACHE_KINDS = ("stackalloc", "stackfree", "cache_refill", "cache_release")


def as_frames(obj):
    """Something with the frames as attributes (``events``, ``footprint``, ``gc`` ...).

    Accepts a Result, a result directory (str or Path), a dict of frames, or one
    DataFrame (recognized by its columns: events, footprint or goroutines); frames
    not given are empty.
    """
    if isinstance(obj, (str, Path)):
        from ..recording.results import read_results
        return read_results(obj)
    if isinstance(obj, pd.DataFrame):
        cols = set(obj.columns)
        key = ("events" if "kind" in cols else "footprint" if "stack_inuse" in cols and "label" not in cols
               else "checkpoints" if "label" in cols else "goroutines" if "max_stack" in cols
               else "gc" if "cycle" in cols else None)
        if key is None:
            raise TypeError("cannot tell which frame this is (expected events, footprint, checkpoints, "
                            "goroutines or gc columns)")
        obj = {key: obj}
    if isinstance(obj, dict):
        return SimpleNamespace(**{k: obj.get(k, _empty(k)) for k in FRAME_NAMES}, summary=obj.get("summary", {}))
    if all(hasattr(obj, k) for k in ("footprint", "gc")):
        return obj
    raise TypeError(f"expected a Result, a result directory or frames, got {type(obj).__name__}")


def _empty(name: str) -> pd.DataFrame:
    cols = {"events": ["time", "kind", "goroutine", "p", "old_size", "new_size", "used", "bytes_copied", "order",
                       "span", "bytes"],
            "footprint": ["time", "stack_inuse", "stack_sys", "stack_in_goroutines", "stack_used", "cached_bytes",
                          "pool_free_bytes", "large_free_bytes", "goroutines", "starting_size"],
            "checkpoints": ["label", "time", "via"],
            "goroutines": ["goroutine", "class", "created", "exited", "max_stack", "grows", "shrinks", "bytes_copied"],
            "gc": ["cycle", "start", "end", "stacks_shrunk", "bytes_released", "spans_freed", "starting_size"]}[name]
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})


# --- growth and shrinking ------------------------------------------------------------
def growth_shrink_series(result, bins: int = 100, runtime: bool = False):
    """(bin edges in s, grows per bin, shrinks per bin, cumulative bytes copied at each bin end)
    of the scenario's goroutines, the ones the headline counts; with ``runtime``, of the
    runtime's own goroutines instead (events of class ``runtime``: main's growth at package
    init, GC mark workers).  Events without a ``class`` column count as the scenario's.

    A result written straight to a directory (``events`` None) is read from its events
    file a row group at a time: the file is never in memory."""
    return growth_shrink_both(result, bins)[runtime]


def growth_shrink_both(result, bins: int = 100) -> dict:
    """:func:`growth_shrink_series` of the scenario's goroutines (key False) and of the runtime's
    (key True), from one pass over the events (a result's events file is read once, not twice)."""
    r = as_frames(result)
    fp = r.footprint
    fp_max = float(fp["time"].max()) if len(fp) else 0.0
    if getattr(r, "events", None) is None and getattr(r, "directory", None) is not None:
        from ..recording.results import iter_table
        chunks = lambda: iter_table(r.directory, "events", ["time", "kind", "bytes_copied", "class"])  # noqa: E731
        tmax = max(fp_max, 1e-9)  # the footprint's last sample is taken when the run ends, after every event
    else:
        ev_all = r.events
        chunks = lambda: (ev_all,)  # noqa: E731
        tmax = max(fp_max, float(ev_all["time"].max()) if len(ev_all) else 0.0, 1e-9)
    edges = np.linspace(0.0, tmax, bins + 1)
    out = {rt: (np.zeros(bins, np.int64), np.zeros(bins, np.int64), np.zeros(bins, np.float64))
           for rt in (False, True)}
    for ev in chunks():
        kind = ev["kind"]
        grow, shrink = (kind == "grow").to_numpy(), (kind == "shrink").to_numpy()
        copies = grow | shrink
        t = ev["time"].to_numpy()[copies]
        grow, shrink = grow[copies], shrink[copies]
        copied = ev["bytes_copied"].to_numpy(dtype=float)[copies]
        of_runtime = ((ev["class"] == RUNTIME_CLASS).to_numpy()[copies] if "class" in ev.columns
                      else np.zeros(len(t), bool))
        for rt, (g, s, c) in out.items():
            mine = of_runtime == rt
            g += np.histogram(t[grow & mine], bins=edges)[0]
            s += np.histogram(t[shrink & mine], bins=edges)[0]
            c += np.histogram(t[mine], bins=edges, weights=copied[mine])[0]
    return {rt: (edges, g, s, np.cumsum(c)) for rt, (g, s, c) in out.items()}


def stack_inuse_peak(result) -> dict:
    """The exact peak of StackInuse: ``time``, ``stack_inuse``, ``exact`` (see
    :func:`simstack.recording.tidy.stack_inuse_peak`); the summary's when it has the time."""
    r = as_frames(result)
    h = (getattr(r, "summary", {}) or {}).get("headline", {})
    if h.get("peak_stack_inuse_time") is not None:
        return {"time": float(h["peak_stack_inuse_time"]), "stack_inuse": int(h["peak_stack_inuse"]), "exact": True}
    from ..recording.tidy import stack_inuse_peak as from_events
    events = r.events if getattr(r, "events", None) is not None else r.footprint.iloc[:0].assign(kind=[], bytes=[])
    return from_events(events, r.footprint, h.get("peak_stack_inuse"))


# --- stack sizes ---------------------------------------------------------------------
def stack_size_distribution(result, at=None) -> pd.DataFrame:
    """Live user goroutines by stack size at a time or checkpoint.

    ``at``: a checkpoint label (str), a simulated time in seconds (the last footprint
    sample at or before it), or None for the last sample.  Returns one row per stack
    size: ``size``, ``goroutines``, ``bytes`` and, for a checkpoint that recorded
    ``goroutine_stacks``, one column per goroutine class.
    """
    r = as_frames(result)
    if isinstance(at, str):
        cps = r.checkpoints
        rows = cps[cps["label"] == at] if len(cps) else cps
        if not len(rows):
            known = ", ".join(map(str, cps["label"])) if len(cps) else "none"
            raise KeyError(f"no checkpoint {at!r} (checkpoints: {known})")
        row = rows.iloc[0]
        counts = {int(c[2:]): int(row[c]) for c in size_columns(cps) if pd.notna(row[c])}
        by_class = {}
        if "goroutine_stacks" in cps.columns and isinstance(row["goroutine_stacks"], str):
            by_class = {cls: {int(s): int(n) for s, n in d.items()}
                        for cls, d in json.loads(row["goroutine_stacks"]).items()}
    else:
        fp = r.footprint
        if not len(fp):
            return pd.DataFrame({"size": [], "goroutines": [], "bytes": []}, dtype="int64")
        if at is None:
            i = len(fp) - 1
        else:
            i = int(np.searchsorted(fp["time"].to_numpy(), float(at), side="right")) - 1
            if i < 0:
                raise ValueError(f"no footprint sample at or before {at} s (the first is at {fp['time'].iloc[0]} s)")
        row = fp.iloc[i]
        counts = {int(c[2:]): int(row[c]) for c in size_columns(fp)}
        by_class = {}
    sizes = sorted(set(counts) | {s for d in by_class.values() for s in d})
    out = pd.DataFrame({"size": np.array(sizes, dtype=np.int64)})
    out["goroutines"] = np.array([counts.get(s, sum(d.get(s, 0) for d in by_class.values())) for s in sizes],
                                 dtype=np.int64)
    out["bytes"] = out["size"] * out["goroutines"]
    for cls in sorted(by_class):
        out[cls] = np.array([by_class[cls].get(s, 0) for s in sizes], dtype=np.int64)
    return out


def stacks_by_size(result, value: str = "count") -> pd.DataFrame:
    """Footprint time and, per stack size, live goroutines (``value='count'``) or their bytes."""
    fp = as_frames(result).footprint
    cols = size_columns(fp)
    out = pd.DataFrame({"time": fp["time"].to_numpy()})
    for c in cols:
        out[int(c[2:])] = fp[c].to_numpy() * (int(c[2:]) if value == "bytes" else 1)
    return out


# --- per-P stack caches --------------------------------------------------------------
def cache_deltas(result) -> pd.DataFrame:
    """Every change to a P's stack cache: ``time``, ``p``, ``order``, ``delta`` (bytes).

    Reconstructed from the events: a refill adds the stacks it took from the pool, a
    release (or a cache flush) removes them, a stackalloc served by a P's cache takes a
    stack out and a stackfree into a P's cache puts one back.  Needs those four kinds
    to have been recorded (``record.events: all``).
    """
    r = as_frames(result)
    ev = r.events
    summary = getattr(r, "summary", {}) or {}
    recorded = (summary.get("scenario", {}).get("record", {}) or {}).get("events", "all")
    if recorded != "all" and not set(CACHE_KINDS) <= set(recorded):
        missing = sorted(set(CACHE_KINDS) - set(recorded))
        raise ValueError(f"per-P cache occupancy needs the {', '.join(missing)} events, which this run did not "
                         "record (record.events)")
    kind = ev["kind"].astype(str).to_numpy() if len(ev) else np.array([], dtype=str)
    p = ev["p"].to_numpy()
    order = ev["order"].to_numpy()
    on_p = (p >= 0) & (order >= 0)  # small stacks through a P's cache (p is -1 when there is no cache)
    sign = np.select([kind == "cache_refill", kind == "cache_release",
                      (kind == "stackalloc") & on_p, (kind == "stackfree") & on_p], [1, -1, -1, 1], 0)
    keep = sign != 0
    return pd.DataFrame({"time": ev["time"].to_numpy()[keep], "p": p[keep].astype(np.int64),
                         "order": order[keep].astype(np.int64),
                         "delta": sign[keep] * ev["bytes"].to_numpy()[keep].astype(np.int64)})


def cache_occupancy(result, times=None) -> pd.DataFrame:
    """Bytes held in each P's stack cache: ``time`` and one column per P (``0``, ``1``, ...).

    Evaluated at ``times`` (default: the footprint's sample times) as the state after
    every event at or before each time; summed over Ps it is the footprint's
    ``cached_bytes`` (except at an instant where the sampler ran between events).
    """
    r = as_frames(result)
    d = cache_deltas(r)
    if times is None:
        times = r.footprint["time"].to_numpy()
    times = np.asarray(times, dtype=float)
    out = {"time": times}
    for pid in sorted(d["p"].unique()):
        dp = d[d["p"] == pid]
        level = np.cumsum(dp["delta"].to_numpy())
        i = np.searchsorted(dp["time"].to_numpy(), times, side="right") - 1
        out[int(pid)] = np.where(i >= 0, level[np.maximum(i, 0)] if len(level) else 0, 0).astype(np.int64)
    return pd.DataFrame(out)


# --- free bytes ----------------------------------------------------------------------
def free_bytes(result) -> pd.DataFrame:
    """``time``, ``pool_free_bytes``, ``large_free_bytes``, their sum and its share of StackInuse."""
    fp = as_frames(result).footprint
    out = fp[["time", "pool_free_bytes", "large_free_bytes", "stack_inuse"]].copy()
    out["free_bytes"] = out["pool_free_bytes"] + out["large_free_bytes"]
    inuse = out["stack_inuse"].to_numpy(dtype=float)
    out["free_share"] = np.divide(out["free_bytes"].to_numpy(dtype=float), inuse, out=np.zeros(len(out)),
                                  where=inuse > 0)
    return out


# --- per class -----------------------------------------------------------------------
def class_summary(result) -> pd.DataFrame:
    """One row per goroutine class: goroutines, grows, shrinks, bytes copied, peak stack percentiles."""
    g = as_frames(result).goroutines
    cols = ["goroutines", "grows", "shrinks", "bytes_copied", "grows_per_goroutine", "max_stack_p50",
            "max_stack_p99", "max_stack_max"]
    if not len(g):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="class"))
    grp = g.groupby("class", sort=True)
    out = pd.DataFrame({
        "goroutines": grp.size(),
        "grows": grp["grows"].sum(),
        "shrinks": grp["shrinks"].sum(),
        "bytes_copied": grp["bytes_copied"].sum(),
    })
    out["grows_per_goroutine"] = out["grows"] / out["goroutines"]
    out["max_stack_p50"] = grp["max_stack"].quantile(0.5, interpolation="lower").astype(np.int64)
    out["max_stack_p99"] = grp["max_stack"].quantile(0.99, interpolation="lower").astype(np.int64)
    out["max_stack_max"] = grp["max_stack"].max().astype(np.int64)
    out.index.name = "class"
    return out[cols]


# --- headline figures ----------------------------------------------------------------
HEADLINE_ORDER = ("peak_stack_inuse", "peak_stack_inuse_time", "baseline_stack_inuse",
                  "peak_stack_inuse_over_baseline", "final_stack_inuse", "mean_stack_inuse", "peak_stack_sys",
                  "peak_stack_in_goroutines", "grows", "shrinks", "bytes_copied", "goroutines", "gc_cycles",
                  "final_starting_size", "events", "sim_time", "wall_time_s")


def time_mean(time, values) -> float:
    """The time-weighted mean of a sampled series (each sample holds until the next)."""
    t = np.asarray(time, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(t) == 0:
        return float("nan")
    if len(t) == 1 or t[-1] <= t[0]:
        return float(v.mean())
    return float(np.sum(v[:-1] * np.diff(t)) / (t[-1] - t[0]))


def headline(result) -> dict:
    """The summary's headline figures plus a few from the footprint (mean StackInuse, peaks)."""
    r = as_frames(result)
    summary = getattr(r, "summary", {}) or {}
    h = dict(summary.get("headline", {}))
    fp = r.footprint
    if len(fp):
        h["mean_stack_inuse"] = time_mean(fp["time"], fp["stack_inuse"])
        h["peak_stack_sys"] = int(fp["stack_sys"].max())
        h["peak_stack_in_goroutines"] = int(fp["stack_in_goroutines"].max())
    if "sim_time" in summary:
        h["sim_time"] = float(summary["sim_time"])
    ordered = {k: h[k] for k in HEADLINE_ORDER if k in h}
    ordered.update({k: v for k, v in h.items() if k not in ordered})
    return ordered
