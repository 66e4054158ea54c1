"""One self-contained HTML page per run: headline table, every chart (PNG embedded as
data: URIs), per-class, checkpoint and GC tables, and the resolved scenario.

Nothing is loaded from elsewhere (no scripts, fonts or style sheets), so the file
opens the same in any browser, offline, and can be mailed or attached to an issue.
The page is the jinja2 template of :mod:`simstack.analysis.templates`.
"""
from __future__ import annotations

import datetime as _dt
import io
import math
import numbers
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import data
from .chartkit import format_bytes
from .templates import CSS, png_data, render, table  # noqa: F401  (CSS: re-exported)

BYTE_FIGURES = {"peak_stack_inuse", "baseline_stack_inuse", "peak_stack_inuse_over_baseline", "final_stack_inuse", "mean_stack_inuse", "peak_stack_sys",
                "peak_stack_in_goroutines", "bytes_copied", "final_starting_size", "stack_inuse", "stack_sys",
                "stack_in_goroutines", "stack_used", "cached_bytes", "pool_free_bytes", "large_free_bytes",
                "starting_size", "bytes_released", "max_stack_p50", "max_stack_p99", "max_stack_max"}
TIME_FIGURES = {"sim_time": "s", "wall_time_s": "s", "time": "s", "peak_stack_inuse_time": "s"}

DESCRIPTIONS = {
    "peak_stack_inuse": "highest StackInuse (stack spans held, the runtime's own included); exact, not sampled",
    "peak_stack_inuse_time": "when StackInuse reached that peak (marked on the footprint chart)",
    "baseline_stack_inuse": "StackInuse when main.main starts: the runtime's own stacks",
    "peak_stack_inuse_over_baseline": "peak StackInuse minus the baseline: what the workload added",
    "final_stack_inuse": "StackInuse at the end of the run",
    "mean_stack_inuse": "time-weighted mean of the sampled StackInuse",
    "peak_stack_sys": "highest sampled StackSys",
    "peak_stack_in_goroutines": "highest sampled sum of live goroutine stacks (the runtime's included)",
    "grows": "stack growths of the scenario's goroutines (not the runtime's own: class 'runtime')",
    "shrinks": "stack shrinks at GC of the scenario's goroutines",
    "bytes_copied": "bytes copied by those growths and shrinks",
    "goroutines": "goroutines of the scenario started",
    "gc_cycles": "GC cycles",
    "final_starting_size": "starting stack size at the end (adaptive start in go1.19+)",
    "events": "events recorded",
    "sim_time": "simulated time",
    "wall_time_s": "wall-clock time of the simulation",
}


def format_figure(name: str, value) -> str:
    """A headline value for people: bytes in KiB/MiB (exact count beside), counts with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if name in BYTE_FIGURES:
        return f"{format_bytes(float(value))} ({int(round(value)):,} B)" if abs(value) >= 1024 else f"{int(value)} B"
    if name in TIME_FIGURES:
        return f"{float(value):.4g} s"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return str(value)
    if not float(value).is_integer():
        return f"{float(value):,.3f}"
    return f"{int(value):,}"


def figure_png(ax, dpi: int = 100) -> bytes:
    fig = ax.figure
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _cells(df: pd.DataFrame, formats: dict | None = None, index: bool = False, cls: str = "") -> dict:
    """``df`` as a template table: each value formatted by ``formats[column]``, or as a figure."""
    formats = formats or {}
    header = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    rows = []
    for idx, row in df.iterrows():
        cells = [str(idx)] if index else []
        for c in df.columns:
            v = row[c]
            cells.append(formats[c](v) if c in formats else format_figure(str(c), v) if isinstance(v, numbers.Real)
                         else ("" if v is None else str(v)))
        rows.append(cells)
    return table(header, rows, cls=cls, index=index)


CAPTIONS = {
    "footprint": "StackInuse (what MemStats.StackInuse reports for the modelled version), StackSys, the sum of "
                 "live goroutine stacks and the bytes they actually use; GC cycles in gray.",
    "stacks_by_size": "Live user goroutines by stack size (stacked).",
    "growth_shrink": "Stack growths (up) and GC shrinks (down) per time bin; cumulative bytes copied (right axis).",
    "stack_sizes": "Goroutine stack sizes at the end of the run, each bar labelled with the bytes it holds.",
    "cache_occupancy": "Bytes held in each P's stack cache, reconstructed from the events; dashed: the "
                       "footprint's total.",
    "free_bytes": "Free stack bytes the runtime holds: free slots in live pool spans and large spans waiting in "
                  "stackLarge for the end of the GC cycle.",
    "class_summary": "Per goroutine class: median, 99th percentile and largest peak stack.",
}


def build_report(result, title: str | None = None) -> str:
    """The report of one run as an HTML string."""
    from .chartkit import offscreen
    with offscreen():
        return _build_report(result, title)


def _build_report(result, title):
    from .chartset import RUN_CHARTS

    r = data.as_frames(result)
    summary = getattr(r, "summary", {}) or {}
    scen = summary.get("scenario", {}) or {}
    name = scen.get("name", "run")
    rt = scen.get("runtime", {})
    meta = [f"scenario {name}"]
    if scen.get("description"):
        meta.append(scen["description"])
    if rt:
        changes = rt.get("gomaxprocs_changes") or []
        then = "".join(f", {c['gomaxprocs']} from {c['at']:g} s" for c in changes)
        meta.append(f"{rt.get('version_full', rt.get('version', '?'))} {rt.get('platform', '')}, "
                    f"GOMAXPROCS {rt.get('gomaxprocs', '?')}{then}")
    if "seed" in scen:
        meta.append(f"seed {scen['seed']}")
    meta.append(f"model {summary.get('model_version', '?')}")
    warnings = []
    if not summary.get("complete", True):
        warnings.append(f"Incomplete run: {summary.get('stopped', 'stopped early')}")
    if "overflow" in summary:
        ov = summary["overflow"]
        warnings.append(f"Stack overflow: {ov.get('message', ov) if isinstance(ov, dict) else ov}")

    head = data.headline(r)
    headline = table(["figure", "value", "meaning"],
                     [[k, format_figure(k, v), DESCRIPTIONS.get(k, "")] for k, v in head.items()],
                     cls="headline", index=True)
    charts = []
    for key, fn in RUN_CHARTS.items():
        try:
            ax = fn(r)
        except ValueError as exc:  # e.g. the events a chart needs were not recorded
            charts.append({"id": key, "error": str(exc)})
            continue
        charts.append({"id": f"chart-{key}", "alt": key, "png": png_data(figure_png(ax)),
                       "caption": CAPTIONS.get(key, ""), "error": None})

    cs = data.class_summary(r)
    classes = _cells(cs, index=True, formats={"grows_per_goroutine": lambda v: f"{v:.3f}"}) if len(cs) else None
    cps = r.checkpoints
    checkpoints = None
    if len(cps):
        cols = [c for c in ("label", "time", "via", "stack_inuse", "stack_in_goroutines", "cached_bytes",
                            "pool_free_bytes", "goroutines", "starting_size") if c in cps.columns]
        checkpoints = _cells(cps[cols], formats={"time": lambda v: f"{v:.6g} s"})
    gc = None
    if len(r.gc):
        g = r.gc
        shown = g if len(g) <= 40 else pd.concat([g.head(20), g.tail(20)])
        gc = {"note": f"{len(g):,} cycles; {int(g['stacks_shrunk'].fillna(0).sum()):,} stacks shrunk, "
                      f"{format_bytes(float(g['bytes_released'].fillna(0).sum()))} released, "
                      f"{int(g['spans_freed'].fillna(0).sum()):,} spans freed.",
              "table": _cells(shown, formats={"start": lambda v: f"{v:.6g} s", "end": lambda v: f"{v:.6g} s",
                                              "cycle": lambda v: f"{int(v)}"}),
              "more": f"(first and last 20 of {len(g):,} cycles)" if len(g) > 40 else ""}
    return render("run.html", title=title or f"simstack report: {name}", meta=meta, warnings=warnings,
                  headline=headline, charts=charts, classes=classes, checkpoints=checkpoints, gc=gc,
                  scenario=yaml.safe_dump(scen, sort_keys=False, width=110) if scen else "",
                  scenario_heading="Scenario (resolved: bytes, seconds, defaults filled)",
                  version=summary.get("model_version", ""),
                  stamp=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(result, path, title: str | None = None) -> Path:
    """Write the report of ``result`` (a Result or a result directory) to ``path`` atomically."""
    path = Path(path)
    text = build_report(result, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
