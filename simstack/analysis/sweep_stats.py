"""Statistics of a sweep per grid point: mean, standard deviation and a 95 % confidence
interval of each figure over the point's replications (Student's t, from scipy).

Replications of different points share their seeds (common random numbers), so the
intervals of two points are not independent: a difference between points is better
judged on the per-replication differences than by whether intervals overlap.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sweep_frame import FIGURES

LEVEL = 0.95
# the figures `simstack sweep` prints (all are in the statistics file)
PRINTED = ("peak_stack_inuse", "mean_stack_inuse", "grows", "bytes_copied")


def half_width(n, std, level: float = LEVEL) -> np.ndarray:
    """Half the width of the ``level`` confidence interval of a mean of ``n`` values with
    sample standard deviation ``std`` (Student's t); NaN for fewer than two values."""
    from scipy import stats

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * np.asarray(std, dtype=float) / np.sqrt(n)
    return np.where(n >= 2, half, np.nan)


def _key_columns(frame: pd.DataFrame, params) -> list[str]:
    return ["point", "label", *[p for p in params if p in frame.columns]]


def point_statistics(frame: pd.DataFrame, params=(), figures=FIGURES, level: float = LEVEL) -> pd.DataFrame:
    """One row per grid point and figure: the point's parameters, ``figure``, ``n`` (runs that
    did not fail), ``mean``, ``std`` (sample, ddof 1), ``ci_low``, ``ci_high`` (the ``level``
    confidence interval of the mean; NaN with fewer than two runs)."""
    keys = _key_columns(frame, params)
    ok = frame[frame["status"] != "failed"] if "status" in frame.columns else frame
    figures = [f for f in figures if f in frame.columns]
    long = ok.melt(id_vars=keys, value_vars=figures, var_name="figure", value_name="value")
    long["value"] = long["value"].astype("float64")
    g = long.groupby([*keys, "figure"], sort=False, dropna=False)["value"]
    out = g.agg(n="count", mean="mean", std="std").reset_index()
    half = half_width(out["n"], out["std"], level)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    # every point, even one whose runs all failed (n = 0), in point order, figures in FIGURES order
    order = {f: i for i, f in enumerate(figures)}
    out = out.sort_values(["point", "figure"], key=lambda s: s.map(order) if s.name == "figure" else s,
                          kind="stable").reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    return out


def statistics_cells(st: pd.DataFrame, figures=PRINTED) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for people: one row per point, per figure ``mean ± half-width`` of the
    95 % interval and the standard deviation, bytes in KiB/MiB."""
    from .chartkit import format_bytes
    from .report import BYTE_FIGURES

    def show(fig, v):
        if v != v:  # NaN
            return "–"
        if fig in BYTE_FIGURES:
            return format_bytes(v)
        return f"{v:,.0f}" if v % 1 == 0 or abs(v) >= 1000 else f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"

    figures = [f for f in figures if f in set(st["figure"])]
    header = ["point", "n", *[f"{f} (mean ± 95% CI; sd)" for f in figures]]
    rows = []
    for (_, label), grp in st.groupby(["point", "label"], sort=False):
        by = grp.set_index("figure")
        cells = [str(label), str(int(by["n"].max()))]
        for f in figures:
            r = by.loc[f]
            cells.append(f"{show(f, r['mean'])} ± {show(f, (r['ci_high'] - r['ci_low']) / 2)}; sd {show(f, r['std'])}")
        rows.append(cells)
    return header, rows


def format_statistics(st: pd.DataFrame, figures=PRINTED) -> str:
    """The statistics as an aligned text table (:func:`statistics_cells`)."""
    header, body = statistics_cells(st, figures)
    rows = [header, *body]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
