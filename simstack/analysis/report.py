"""One self-contained HTML page per run: headline table, every chart (PNG embedded as
data: URIs), per-class, checkpoint and GC tables, and the resolved scenario.

Nothing is loaded from elsewhere (no scripts, fonts or style sheets), so the file
opens the same in any browser, offline, and can be mailed or attached to an issue.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import numbers
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import data
from .charts import format_bytes

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


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')


def _table(df: pd.DataFrame, formats: dict | None = None, index: bool = False, cls: str = "") -> str:
    formats = formats or {}
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for idx, row in df.iterrows():
        cells = [f"<th>{html.escape(str(idx))}</th>"] if index else []
        for c in df.columns:
            v = row[c]
            text = formats[c](v) if c in formats else format_figure(str(c), v) if isinstance(v, numbers.Real) \
                else ("" if v is None else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5em; color: #1b1f23; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; } .warn { background: #fff4d6; border: 1px solid #e6c200; padding: 0.5em 0.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: right; }
thead th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
table.headline td:last-child { text-align: left; color: #555; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; border: 1px solid #eee; }
"""

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
    from .charts import offscreen
    with offscreen():
        return _build_report(result, title)


def _build_report(result, title):
    from ..plot import RUN_CHARTS

    r = data.as_frames(result)
    summary = getattr(r, "summary", {}) or {}
    scen = summary.get("scenario", {}) or {}
    name = scen.get("name", "run")
    title = title or f"simstack report: {name}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    rt = scen.get("runtime", {})
    meta = [f"scenario <b>{html.escape(str(name))}</b>"]
    if scen.get("description"):
        meta.append(html.escape(scen["description"]))
    if rt:
        meta.append(html.escape(f"{rt.get('version_full', rt.get('version', '?'))} {rt.get('platform', '')}, "
                                f"GOMAXPROCS {rt.get('gomaxprocs', '?')}"))
    if "seed" in scen:
        meta.append(f"seed {scen['seed']}")
    meta.append(f"model {html.escape(str(summary.get('model_version', '?')))}")
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    if not summary.get("complete", True):
        parts.append(f'<p class="warn">Incomplete run: {html.escape(str(summary.get("stopped", "stopped early")))}'
                     "</p>")
    if "overflow" in summary:
        msg = summary["overflow"].get("message", summary["overflow"]) if isinstance(summary["overflow"], dict) \
            else summary["overflow"]
        parts.append(f'<p class="warn">Stack overflow: {html.escape(str(msg))}</p>')

    head = data.headline(r)
    ht = pd.DataFrame({"value": [format_figure(k, v) for k, v in head.items()],
                       "meaning": [DESCRIPTIONS.get(k, "") for k in head]},
                      index=pd.Index(list(head), name="figure"))
    parts += ["<h2>Headline figures</h2>", _table(ht, formats={"value": str, "meaning": str}, index=True,
                                                  cls="headline")]

    parts.append("<h2>Charts</h2>")
    for key, fn in RUN_CHARTS.items():
        try:
            ax = fn(r)
        except ValueError as exc:  # e.g. the events a chart needs were not recorded
            parts.append(f"<p class=\"warn\">{html.escape(key)}: {html.escape(str(exc))}</p>")
            continue
        parts.append(f'<figure id="chart-{key}">{_img(figure_png(ax), key)}'
                     f"<figcaption>{html.escape(CAPTIONS.get(key, ''))}</figcaption></figure>")

    cs = data.class_summary(r)
    if len(cs):
        parts += ["<h2>Goroutine classes</h2>",
                  _table(cs, index=True, formats={"grows_per_goroutine": lambda v: f"{v:.3f}"})]
    cps = r.checkpoints
    if len(cps):
        cols = [c for c in ("label", "time", "via", "stack_inuse", "stack_in_goroutines", "cached_bytes",
                            "pool_free_bytes", "goroutines", "starting_size") if c in cps.columns]
        parts += ["<h2>Checkpoints</h2>", _table(cps[cols], formats={"time": lambda v: f"{v:.6g} s"})]
    gc = r.gc
    if len(gc):
        g = gc.copy()
        parts.append("<h2>GC cycles</h2>")
        parts.append(f"<p>{len(g):,} cycles; {int(g['stacks_shrunk'].fillna(0).sum()):,} stacks shrunk, "
                     f"{format_bytes(float(g['bytes_released'].fillna(0).sum()))} released, "
                     f"{int(g['spans_freed'].fillna(0).sum()):,} spans freed.</p>")
        shown = g if len(g) <= 40 else pd.concat([g.head(20), g.tail(20)])
        parts.append(_table(shown, formats={"start": lambda v: f"{v:.6g} s", "end": lambda v: f"{v:.6g} s",
                                            "cycle": lambda v: f"{int(v)}"}))
        if len(g) > 40:
            parts.append(f"<p class=\"meta\">(first and last 20 of {len(g):,} cycles)</p>")
    if scen:
        parts += ["<h2>Scenario (resolved: bytes, seconds, defaults filled)</h2>",
                  f"<pre>{html.escape(yaml.safe_dump(scen, sort_keys=False, width=110))}</pre>"]
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="meta">Written by simstack {html.escape(str(summary.get("model_version", "")))} '
                 f"on {stamp}.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(result, path, title: str | None = None) -> Path:
    """Write the report of ``result`` (a Result or a result directory) to ``path`` atomically."""
    path = Path(path)
    text = build_report(result, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
