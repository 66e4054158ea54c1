"""Compare simulated checkpoints with a reference configuration's measured runs.

Tolerances (issue #2): per-goroutine stack histograms equal at least one run's, or,
where the runs themselves differ, each count within the runs' range widened by 5 % of
the batch; the starting size exactly; StackInuse minus the record's baseline within
the runs' range widened by max(64 KiB, 2 %); absolute StackInuse within the range
widened by max(128 KiB, 5 %).
"""
from __future__ import annotations

import json

METRICS = ("stack_inuse_delta", "stack_inuse", "starting_size", "goroutine_stacks")


def _norm_hist(h) -> dict:
    """{batch: {size: count}} with int sizes; None (no live goroutines) is {}."""
    return {b: {int(s): int(c) for s, c in d.items() if c} for b, d in (h or {}).items() if d}


def _band(values, abs_tol, rel_tol):
    lo, hi = min(values), max(values)
    w = max(abs_tol, rel_tol * max(abs(lo), abs(hi)))
    return lo - w, hi + w


def hist_ok(sim: dict, runs: list[dict], batch_sizes: dict) -> bool:
    """Equal to one run's histogram, or within the runs' spread widened by 5 % of each batch."""
    sim = _norm_hist(sim)
    runs = [_norm_hist(r) for r in runs]
    if any(sim == r for r in runs):
        return True
    if all(r == runs[0] for r in runs):
        return False  # the runs agree: only an exact match will do
    batches = set(sim) | {b for r in runs for b in r}
    for b in batches:
        slack = 0.05 * batch_sizes.get(b, 0)
        sizes = set(sim.get(b, {})) | {s for r in runs for s in r.get(b, {})}
        for s in sizes:
            counts = [r.get(b, {}).get(s, 0) for r in runs]
            v = sim.get(b, {}).get(s, 0)
            if not (min(counts) - slack <= v <= max(counts) + slack):
                return False
    return True


def compare_config(records: list[dict], sim_baseline: int, sim_cps: list[dict]) -> list[dict]:
    """Rows (one per record, checkpoint and metric) for one configuration on one version."""
    batch_sizes = {op["batch"]: op["n"] for op in records[0]["plan"] if op["op"] == "spawn"}
    rows = []
    for k, cp in enumerate(records[0]["checkpoints"]):
        label = cp["label"]
        sim = sim_cps[k]
        meas = [r["checkpoints"][k] for r in records]
        deltas = [m["stack_inuse"] - r["baseline"]["stack_inuse"] for m, r in zip(meas, records)]
        sim_delta = sim["stack_inuse"] - sim_baseline
        lo, hi = _band(deltas, 65536, 0.02)
        ok_delta = lo <= sim_delta <= hi
        abs_vals = [m["stack_inuse"] for m in meas]
        lo, hi = _band(abs_vals, 131072, 0.05)
        ok_abs = lo <= sim["stack_inuse"] <= hi
        ss = [m.get("starting_size") for m in meas]
        ok_ss = None if ss[0] is None else all(v == sim["starting_size"] for v in ss)
        hists = [m.get("goroutine_stacks") for m in meas]
        has_hist = records[0].get("goroutine_stacks_available", True)
        ok_hist = hist_ok(sim["goroutine_stacks"], hists, batch_sizes) if has_hist else None
        for r, m, d in zip(records, meas, deltas):
            base = {"record": r["id"], "config_id": r["config_id"], "family": r.get("family", ""),
                    "go_version": r["go_version"], "gomaxprocs": r.get("gomaxprocs"), "label": label}
            rows.append({**base, "metric": "stack_inuse_delta", "measured": d, "simulated": sim_delta,
                         "ok": ok_delta})
            rows.append({**base, "metric": "stack_inuse", "measured": m["stack_inuse"],
                         "simulated": sim["stack_inuse"], "ok": ok_abs})
            if ok_ss is not None:
                rows.append({**base, "metric": "starting_size", "measured": m["starting_size"],
                             "simulated": sim["starting_size"], "ok": ok_ss})
            if ok_hist is not None:
                rows.append({**base, "metric": "goroutine_stacks",
                             "measured": json.dumps(_norm_hist(m.get("goroutine_stacks")), sort_keys=True),
                             "simulated": json.dumps(_norm_hist(sim["goroutine_stacks"]), sort_keys=True),
                             "ok": ok_hist})
    return rows
