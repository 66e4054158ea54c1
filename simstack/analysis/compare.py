"""Several runs side by side: headline figures, what differs in their scenarios, overlaid footprints."""
from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import pandas as pd

from ..recording.results import Result, read_results
from . import data
from .report import format_figure


def read_light(directory) -> Result:
    """A result directory's summary, footprint, checkpoints, goroutines and gc, without the
    (possibly very large) events table, which comparing runs does not need."""
    res = read_results(directory, skip=("events",))
    res.events = data._empty("events")
    return res


def flatten(d, prefix: str = "") -> dict:
    """{'runtime': {'version': 'go1.27'}} -> {'runtime.version': 'go1.27'}; list items by index
    (goroutine classes by name)."""
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(d, list) and d and all(isinstance(x, dict) and "name" in x for x in d):
        for x in d:
            out.update(flatten({k: v for k, v in x.items() if k != "name"}, f"{prefix}[{x['name']}]"))
    elif isinstance(d, list) and any(isinstance(x, (dict, list)) for x in d):
        for i, x in enumerate(d):
            out.update(flatten(x, f"{prefix}[{i}]"))
    else:
        out[prefix] = d
    return out


def scenario_differences(results, labels) -> pd.DataFrame:
    """The scenario settings that differ between runs: one row per setting, one column per run."""
    flats = [flatten((getattr(r, "summary", {}) or {}).get("scenario", {})) for r in results]
    keys = sorted(set().union(*flats)) if flats else []
    rows = {}
    for k in keys:
        vals = [f.get(k) for f in flats]
        if any(json.dumps(v, sort_keys=True, default=str) != json.dumps(vals[0], sort_keys=True, default=str)
               for v in vals):
            rows[k] = ["–" if v is None else v for v in vals]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(labels)).rename_axis("setting")


def headline_table(results, labels) -> pd.DataFrame:
    """Headline figures (rows) of each run (columns), as numbers."""
    heads = [data.headline(r) for r in results]
    keys = [k for k in data.HEADLINE_ORDER if any(k in h for h in heads)]
    keys += [k for h in heads for k in h if k not in keys]
    keys = list(dict.fromkeys(keys))
    return pd.DataFrame({lab: [h.get(k, math.nan) for k in keys] for lab, h in zip(labels, heads)},
                        index=pd.Index(keys, name="figure"))


def unique_labels(dirs) -> list[str]:
    """Short labels for result directories: their names, with parents added until they differ."""
    paths = [Path(d).resolve() for d in dirs]
    for depth in range(1, 6):
        labels = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def format_table(table: pd.DataFrame, relative: bool = True, max_rows: int | None = None) -> str:
    """The headline table as aligned text; with ``relative``, each run after the first also
    shows its change against the first (in %).  At most ``max_rows`` rows (then a count of the rest)."""
    cols = list(table.columns)
    more = 0
    if max_rows is not None and len(table) > max_rows:
        table, more = table.iloc[:max_rows], len(table) - max_rows
    rows = [[table.index.name or "", *cols]]
    for fig, vals in table.iterrows():
        first = vals.iloc[0]
        cells = [fig]
        for j, v in enumerate(vals):
            text = format_figure(str(fig), v)
            if relative and j > 0 and fig not in ("wall_time_s", "events") and _number(v) and _number(first) \
                    and not math.isnan(v) and not math.isnan(first) and first:
                text += f" [{(v - first) / abs(first) * 100:+.1f}%]"
            cells.append(text)
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if more:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def compare_sweep(directory, chart=None, column: str = "stack_inuse") -> pd.DataFrame:
    """A sweep's points side by side: its per-point statistics; draws each point's footprint
    (replication 0) overlaid to ``chart``."""
    from .sweep_report import point_footprints, read_sweep_directory

    _, frame, st = read_sweep_directory(directory)
    if chart is not None:
        results, labels = point_footprints(directory, frame)
        if not results:
            raise FileNotFoundError(f"{directory}: the sweep kept no footprints (--no-footprints); no chart")
        _overlay(results, labels, chart, column)
    return st


def _overlay(results, labels, chart, column):
    from .chartkit import new_figure, offscreen
    from .plots import plot_compare_footprints

    with offscreen():
        fig = new_figure((9, 5))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    plot_compare_footprints(results, labels, column=column, ax=axes[0])
    plot_compare_footprints(results, labels, column="stack_in_goroutines", ax=axes[1])
    axes[0].set_xlabel("")
    axes[1].set_title("")
    axes[1].get_legend().remove()
    fig.tight_layout()
    Path(chart).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(chart, dpi=110)


def compare(dirs_or_results, labels=None, chart=None, column: str = "stack_inuse"):
    """Read runs, return (headline table, scenario differences); draw overlaid footprints to ``chart``."""
    items = list(dirs_or_results)
    results = [read_light(x) if isinstance(x, (str, Path)) else x for x in items]
    if labels is None:
        labels = unique_labels(items) if all(isinstance(x, (str, Path)) for x in items) else \
            [f"run {i + 1}" for i in range(len(items))]
    table = headline_table(results, labels)
    diffs = scenario_differences(results, labels)
    if chart is not None:
        _overlay(results, labels, chart, column)
    return table, diffs
