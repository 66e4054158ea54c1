"""A sweep directory for ``simstack report`` and ``simstack compare``: the per-point
statistics, the charts of each figure against each parameter, and each point's footprint.

The page is one self-contained HTML file (charts embedded as data: URIs), rendered with a
jinja2 template whose autoescaping keeps every name from the scenario inert.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import jinja2
import pandas as pd
import yaml

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">scenario <b>{{ name }}</b> · {{ runs }} runs: {{ points }} points × {{ replications }} replication(s)
 · {% for k, n in status.items() %}{{ n }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
 · swept: {{ params | join(", ") or "named points" }}</p>
{% if not complete %}<p class="warn">Incomplete sweep: {{ finished }} of {{ runs }} runs finished
 (simstack sweep --resume -o DIR finishes it).</p>{% endif %}
<h2>Statistics per point</h2>
<p>Mean over the replications ± half the 95 % confidence interval of the mean (Student's t), and the
standard deviation. Replication r of every point runs on the same seed (common random numbers).</p>
<table><thead><tr>{% for c in stats_header %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in stats_rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<h2>Charts</h2>
{% for c in charts %}<figure><img alt="{{ c.name }}" src="data:image/png;base64,{{ c.png }}">
<figcaption>{{ c.name }}</figcaption></figure>
{% endfor %}
<h2>Runs</h2>
<table><thead><tr>{% for c in run_header %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in run_rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<h2>Base scenario (resolved: bytes, seconds, defaults filled)</h2>
<pre>{{ scenario }}</pre>
<p class="meta">Written by simstack on {{ stamp }}.</p>
</body></html>
"""


def is_sweep(directory) -> bool:
    """Whether ``directory`` holds a sweep (``simstack sweep -o``) rather than one run."""
    return (Path(directory) / "sweep.json").is_file()


def read_sweep_directory(directory):
    """(sweep.json as a dict, the runs' frame, the per-point statistics) of a sweep directory."""
    from ..sweep.runner import column_name, read_sweep
    from ..sweep.stats import point_statistics

    d = Path(directory)
    meta = json.loads((d / "sweep.json").read_text())
    frame = read_sweep(d)
    params = [column_name(p) for p in meta.get("params", [])]
    return meta, frame, point_statistics(frame, params)


def point_footprints(directory, frame: pd.DataFrame, replication: int = 0) -> tuple[list, list[str]]:
    """Each point's footprint (of replication ``replication``) as frames for the overlaid chart,
    with the points' labels; points whose footprint was not kept are left out."""
    from types import SimpleNamespace

    from .data import _empty

    results, labels = [], []
    rows = frame[(frame["replication"] == replication) & (frame["status"] != "failed")]
    for _, row in rows.iterrows():
        path = Path(directory) / "runs" / row["run_id"] / "footprint.parquet"
        if path.is_file():
            results.append(SimpleNamespace(footprint=pd.read_parquet(path), gc=_empty("gc"), events=_empty("events"),
                                           summary={}))
            labels.append(str(row["label"]))
    return results, labels


def build_sweep_report(directory, title: str | None = None) -> str:
    """The report of the sweep in ``directory`` as an HTML string."""
    import base64

    from ..sweep.runner import column_name, write_sweep_charts
    from ..sweep.stats import PRINTED, statistics_cells
    from .report import CSS, format_figure

    meta, frame, st = read_sweep_directory(directory)
    params = [column_name(p) for p in meta.get("params", [])]
    name = meta.get("scenario_name", "sweep")

    figures = [f for f in PRINTED if f in set(st["figure"])]
    stats_header, stats_rows = statistics_cells(st, figures)
    import tempfile
    charts = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_sweep_charts(frame, params, Path(tmp)):
            charts.append({"name": path.stem.replace("__", " by "),
                           "png": base64.b64encode(path.read_bytes()).decode("ascii")})
    run_cols = ["run_id", "label", "replication", "seed", "status", *figures]
    run_rows = [[format_figure(c, row[c]) if c in figures else "" if pd.isna(row[c]) else str(row[c])
                 for c in run_cols] for _, row in frame.iterrows()]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=title or f"simstack sweep report: {name}", css=CSS, name=name, runs=meta.get("runs", len(frame)),
        points=int(frame["point"].nunique()), replications=meta.get("replications"),
        status={str(k): int(v) for k, v in frame["status"].value_counts().items()}, params=params,
        complete=meta.get("complete", False), finished=len(frame),
        stats_header=stats_header, stats_rows=stats_rows,
        charts=charts, run_header=run_cols, run_rows=run_rows,
        scenario=yaml.safe_dump(meta.get("scenario", {}), sort_keys=False, width=110),
        stamp=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_sweep_report(directory, path, title: str | None = None) -> Path:
    """Write the report of the sweep in ``directory`` to ``path`` atomically."""
    from ..sweep.runner import _atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, build_sweep_report(directory, title))
    return path
