"""Compare simulated checkpoints with a reference configuration's measured runs.

Tolerances (issue #2): per-goroutine stack histograms equal at least one run's, or,
where the runs themselves differ, each count within the runs' range widened by 5 % of
the batch; the starting size exactly; StackInuse minus the record's baseline within
the runs' range widened by max(64 KiB, 2 %); absolute StackInuse within the range
widened by max(128 KiB, 5 %).

With replications (issue #14: at GOMAXPROCS >= 2 the race model makes each seed a
different run) a figure is a band, the replications' min to max: it is within tolerance
when it overlaps the widened measured band **and** is no wider than twice the measured
band plus the widening on both sides (a band wide enough to cover everything predicts
nothing); histograms and the starting size must pass for every replication.
"""
from __future__ import annotations

import json
import statistics

METRICS = ("stack_inuse_delta", "stack_inuse", "starting_size", "goroutine_stacks")


def _norm_hist(h) -> dict:
    """{batch: {size: count}} with int sizes; None (no live goroutines) is {}."""
    return {b: {int(s): int(c) for s, c in d.items() if c} for b, d in (h or {}).items() if d}


def _band(values, abs_tol, rel_tol):
    lo, hi = min(values), max(values)
    w = max(abs_tol, rel_tol * max(abs(lo), abs(hi)))
    return lo - w, hi + w


def band_ok(simulated, measured, abs_tol, rel_tol) -> bool:
    """The simulated band (replications' min..max) overlaps the measured runs' band widened by
    max(abs_tol, rel_tol), and is at most twice the measured band's width plus that widening
    on both sides. One replication: the plain check, the value inside the widened band."""
    lo, hi = _band(measured, abs_tol, rel_tol)
    s_lo, s_hi = min(simulated), max(simulated)
    widening = (hi - lo) - (max(measured) - min(measured))
    return s_lo <= hi and s_hi >= lo and s_hi - s_lo <= 2 * (max(measured) - min(measured)) + widening


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


def compare_config(records: list[dict], sims: list) -> list[dict]:
    """Rows (one per record, checkpoint and metric) for one configuration on one version;
    ``sims``: (baseline StackInuse, checkpoint dicts) of each replication."""
    batch_sizes = {op["batch"]: op["n"] for op in records[0]["plan"] if op["op"] == "spawn"}
    rows = []
    for k, cp in enumerate(records[0]["checkpoints"]):
        label = cp["label"]
        reps = [cps[k] for _base, cps in sims]
        meas = [r["checkpoints"][k] for r in records]
        deltas = [m["stack_inuse"] - r["baseline"]["stack_inuse"] for m, r in zip(meas, records)]
        sim_deltas = [c["stack_inuse"] - base for c, (base, _cps) in zip(reps, sims)]
        sim_abs = [c["stack_inuse"] for c in reps]
        ok_delta = band_ok(sim_deltas, deltas, 65536, 0.02)
        abs_vals = [m["stack_inuse"] for m in meas]
        ok_abs = band_ok(sim_abs, abs_vals, 131072, 0.05)
        ss = [m.get("starting_size") for m in meas]
        ok_ss = None if ss[0] is None else all(v == c["starting_size"] for v in ss for c in reps)
        hists = [m.get("goroutine_stacks") for m in meas]
        has_hist = records[0].get("goroutine_stacks_available", True)
        ok_hist = all(hist_ok(c["goroutine_stacks"], hists, batch_sizes) for c in reps) if has_hist else None
        band = {"replications": len(reps)}
        for r, m, d in zip(records, meas, deltas):
            base = {"record": r["id"], "config_id": r["config_id"], "family": r.get("family", ""),
                    "go_version": r["go_version"], "gomaxprocs": r.get("gomaxprocs"), "label": label}
            rows.append({**base, "metric": "stack_inuse_delta", "measured": d,
                         "simulated": statistics.median_low(sim_deltas), "simulated_lo": min(sim_deltas),
                         "simulated_hi": max(sim_deltas), **band, "ok": ok_delta})
            rows.append({**base, "metric": "stack_inuse", "measured": m["stack_inuse"],
                         "simulated": statistics.median_low(sim_abs), "simulated_lo": min(sim_abs),
                         "simulated_hi": max(sim_abs), **band, "ok": ok_abs})
            if ok_ss is not None:
                rows.append({**base, "metric": "starting_size", "measured": m["starting_size"],
                             "simulated": reps[0]["starting_size"], "simulated_lo": min(c["starting_size"] for c in reps),
                             "simulated_hi": max(c["starting_size"] for c in reps), **band, "ok": ok_ss})
            if ok_hist is not None:
                rows.append({**base, "metric": "goroutine_stacks",
                             "measured": json.dumps(_norm_hist(m.get("goroutine_stacks")), sort_keys=True),
                             "simulated": json.dumps(_norm_hist(reps[0]["goroutine_stacks"]), sort_keys=True),
                             **band, "ok": ok_hist})
    return rows
