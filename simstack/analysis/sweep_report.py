"""A sweep directory for ``simstack report`` and ``simstack compare``: the per-point
statistics, the charts of each figure against each parameter, and each point's footprint.

The page is one self-contained HTML file (charts embedded as data: URIs), rendered with the
jinja2 template of :mod:`simstack.analysis.templates`.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pandas as pd
import yaml

def is_sweep(directory) -> bool:
    """Whether ``directory`` holds a sweep (``simstack sweep -o``) rather than one run."""
    return (Path(directory) / "sweep.json").is_file()


def read_sweep_directory(directory):
    """(sweep.json as a dict, the runs' frame, the per-point statistics) of a sweep directory."""
    from .sweep_frame import column_name, read_sweep
    from .sweep_stats import point_statistics

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
    import tempfile

    from .chartset import write_sweep_charts
    from .sweep_frame import column_name
    from .sweep_stats import PRINTED, statistics_cells
    from .report import format_figure
    from .templates import png_data, render, table

    meta, frame, st = read_sweep_directory(directory)
    params = [column_name(p) for p in meta.get("params", [])]
    name = meta.get("scenario_name", "sweep")
    figures = [f for f in PRINTED if f in set(st["figure"])]
    status = ", ".join(f"{int(n)} {k}" for k, n in frame["status"].value_counts().items())
    info = [f"scenario {name}", f"{meta.get('runs', len(frame))} runs: {frame['point'].nunique()} points × "
            f"{meta.get('replications')} replication(s)", status,
            f"swept: {', '.join(params) or 'named points'}"]
    warnings = [] if meta.get("complete", False) else [
        f"Incomplete sweep: {len(frame)} of {meta.get('runs')} runs finished (simstack sweep --resume -o DIR "
        "finishes it)."]
    charts = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_sweep_charts(frame, params, Path(tmp)):
            charts.append({"id": f"chart-{path.stem}", "alt": path.stem, "png": png_data(path.read_bytes()),
                           "caption": path.stem.replace("__", " by ")})
    run_cols = ["run_id", "label", "replication", "seed", "status", *figures]
    runs = table(run_cols, [[format_figure(c, row[c]) if c in figures else "" if pd.isna(row[c]) else row[c]
                             for c in run_cols] for _, row in frame.iterrows()])
    return render("sweep.html", title=title or f"simstack sweep report: {name}", meta=info, warnings=warnings,
                  statistics=table(*statistics_cells(st, figures)), charts=charts, runs=runs,
                  scenario=yaml.safe_dump(meta.get("scenario", {}), sort_keys=False, width=110),
                  scenario_heading="Base scenario (resolved: bytes, seconds, defaults filled)", version="",
                  stamp=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_sweep_report(directory, path, title: str | None = None) -> Path:
    """Write the report of the sweep in ``directory`` to ``path`` atomically."""
    from ..recording.writer import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, build_sweep_report(directory, title))
    return path
