"""A sweep's frame (``sweep.parquet``): one row per run, its parameters and headline figures
as columns, and reading it back from a sweep directory.

Here, not in :mod:`simstack.sweep`, so that reports and comparisons of a sweep's files do
not import the machinery that runs sweeps.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

# the figures of a run that go into sweep.parquet, in this order (all deterministic:
# wall-clock time is kept apart, in the run's row.json and sweep.json)
FIGURES = ("peak_stack_inuse", "mean_stack_inuse", "final_stack_inuse", "peak_stack_sys", "peak_stack_in_goroutines",
           "grows", "shrinks", "bytes_copied", "goroutines", "gc_cycles", "final_starting_size", "events", "sim_time")


RESERVED = ("run_id", "point", "label", "replication", "seed", "status", "error", *FIGURES)


def column_name(key: str) -> str:
    """The frame column of a swept key: the key itself, or ``scenario.<key>`` where it would
    clash with a column of every sweep (``--set seed=...`` gives ``scenario.seed``)."""
    return f"scenario.{key}" if key in RESERVED else key


def rows_frame(rows: list[dict], params: list[str]) -> pd.DataFrame:
    """The tidy frame: one row per run, parameters and figures as columns, in run order."""
    rows = sorted(rows, key=lambda r: (r["point"], r["replication"]))
    cols = {"run_id": pd.array([r["run_id"] for r in rows], dtype="string"),
            "point": pd.array([r["point"] for r in rows], dtype="int64"),
            "label": pd.array([r["label"] for r in rows], dtype="string"),
            "replication": pd.array([r["replication"] for r in rows], dtype="int64"),
            "seed": pd.array([r["seed"] for r in rows], dtype="int64")}
    for p in params:
        cols[column_name(p)] = _column([r["params"].get(p) for r in rows])
    cols["status"] = pd.array([r["status"] for r in rows], dtype="string")
    cols["error"] = pd.array([r["error"] for r in rows], dtype="string")
    for f in FIGURES:
        cols[f] = _column([r["figures"].get(f) for r in rows], numeric=True)
    return pd.DataFrame(cols)


def _column(values, numeric=False):
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if present and all(isinstance(v, bool) for v in present):
        return pd.array(values, dtype="boolean")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(values, dtype="Int64")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.array([math.nan if v is None else float(v) for v in values], dtype="float64")
    if numeric:
        raise TypeError(f"non-numeric figure values: {present[:3]}")
    return pd.array([None if v is None else v if isinstance(v, str) else json.dumps(v, sort_keys=True)
                     for v in values], dtype="string")


def read_sweep(directory) -> pd.DataFrame:
    """``sweep.parquet`` of a sweep directory; if the sweep never got to write it (killed), the
    frame is rebuilt from the per-run row files."""
    d = Path(directory)
    if (d / "sweep.parquet").is_file():
        return pd.read_parquet(d / "sweep.parquet")
    meta = json.loads((d / "sweep.json").read_text())
    rows = [json.loads(p.read_text()) for p in sorted((d / "runs").glob("*/row.json"))]
    return rows_frame(rows, meta.get("params", []))
