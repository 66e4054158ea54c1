"""``simstack reference``: simulate every reference configuration and compare checkpoints.

Each (configuration, version) is simulated through the same engine ``simstack run`` uses,
from the scenario its plan translates to, ``replications`` times with seeds 0, 1, ... at
GOMAXPROCS >= 2, where the race model (``engine/races.py``) draws what timing decides, and
once at GOMAXPROCS 1, where the model is deterministic (every seed gives the same run).
The replications' band is compared with the measured runs' band (``compare.py``).
"""
from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd

from ..api import run
from ..scenario import scenario_from_dict
from .compare import compare_config
from .plan import BASELINE_LABEL, record_to_scenario


def group_records(records: list[dict]) -> dict:
    """Records by (config_id, go_version), in file order."""
    groups: dict = defaultdict(list)
    for r in records:
        groups[(r["config_id"], r["go_version"])].append(r)
    return groups


REPLICATIONS = 5  # per configuration at GOMAXPROCS >= 2 (simstack reference --replications)


def simulate_record(rec: dict, seed: int = 0):
    """Run the scenario of one record; returns (baseline StackInuse, checkpoint dicts by label order)."""
    doc = record_to_scenario(rec)
    doc["seed"] = seed
    sc = scenario_from_dict(doc, source=f"<reference {rec['id']}>")
    res = run(sc)
    cps = res.checkpoints.set_index("label")
    out = []
    for cp in rec["checkpoints"]:
        row = cps.loc[cp["label"]]
        hist = row["goroutine_stacks"]
        hist = json.loads(hist) if isinstance(hist, str) else (hist or {})
        out.append({"stack_inuse": int(row["stack_inuse"]), "starting_size": int(row["starting_size"]),
                    "goroutine_stacks": hist})
    return int(cps.loc[BASELINE_LABEL, "stack_inuse"]), out


def replicate(rec: dict, replications: int = REPLICATIONS) -> list:
    """(baseline, checkpoints) of each replication: seeds 0 .. replications-1 at GOMAXPROCS >= 2,
    seed 0 alone at GOMAXPROCS 1 (no race model there: every seed is the same run)."""
    n = replications if rec.get("gomaxprocs", 1) > 1 else 1
    return [simulate_record(rec, seed) for seed in range(n)]


def compare_records(records: list[dict], progress=None, replications: int = REPLICATIONS) -> pd.DataFrame:
    """The report frame: one row per record, checkpoint and metric."""
    rows = []
    for (_cid, _ver), recs in group_records(records).items():
        rows.extend(compare_config(recs, replicate(recs[0], replications)))
        if progress:
            progress(1)
    return pd.DataFrame(rows)


def summarize(report: pd.DataFrame) -> str:
    """Records, checkpoints, share ok per metric and family, and the worst cases."""
    lines = []
    n_rec = report["record"].nunique()
    n_cp = report.drop_duplicates(["record", "label"]).shape[0]
    lines.append(f"records: {n_rec}   checkpoints: {n_cp}   rows: {len(report)}")
    if "replications" in report and report["replications"].max() > 1:
        lines.append(f"simulated: the median of {int(report['replications'].max())} replications at GOMAXPROCS >= 2 "
                     "(race model seeds), its band their min .. max")
    by = report.groupby(["metric", "go_version"])["ok"].agg(["mean", "count"]).reset_index()
    lines.append("share ok by metric and version:")
    for _, r in by.iterrows():
        lines.append(f"  {r['metric']:<18} {r['go_version']:<9} {100 * r['mean']:6.1f}%  of {r['count']}")
    fam = report.groupby(["family", "metric"])["ok"].mean().unstack("metric")
    lines.append("share ok by family:")
    lines.append("  " + fam.map(lambda v: "" if pd.isna(v) else f"{100 * v:.1f}%").to_string().replace("\n", "\n  "))
    bad = report[~report["ok"]]
    if len(bad):
        num = bad[bad["metric"].isin(["stack_inuse_delta", "stack_inuse"])].copy()
        lines.append(f"not ok: {len(bad)} rows")
        if len(num):
            num["err"] = (num["simulated"].astype(float) - num["measured"].astype(float)).abs()
            worst = num.sort_values("err", ascending=False).drop_duplicates(["config_id", "go_version", "label",
                                                                             "metric"]).head(10)
            lines.append("worst numeric cases:")
            for _, r in worst.iterrows():
                lo, hi = int(r.get("simulated_lo", r["simulated"])), int(r.get("simulated_hi", r["simulated"]))
                band = f" (band {lo:,} .. {hi:,})" if lo != hi else ""
                lines.append(f"  {r['record']:<55} {r['label']:<15} {r['metric']:<18} "
                             f"measured {int(r['measured']):>11,} simulated {int(r['simulated']):>11,}{band}")
        other = bad[bad["metric"].isin(["goroutine_stacks", "starting_size"])].drop_duplicates(
            ["config_id", "go_version", "label", "metric"]).head(10)
        for _, r in other.iterrows():
            lines.append(f"  {r['record']:<55} {r['label']:<15} {r['metric']:<18} "
                         f"measured {r['measured']} simulated {r['simulated']}")
    else:
        lines.append("all ok")
    return "\n".join(lines)
