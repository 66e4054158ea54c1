"""Pool several invocations of ``benchmarks/timed_goal.py``: the goal judged on all their real runs.

    python benchmarks/timed_pool.py DIR [DIR ...]

One invocation's real mean moves between invocations by more than its own runs spread (``http-server``
at GOMAXPROCS 2: 5.8 – 6.3 MiB in one, 6.7 – 7.6 MiB in the next, minutes apart), so a line can pass
in one and miss in the next. This reads each ``DIR/<scenario>-p<N>/validation.json`` that
``timed_goal.py -o DIR`` wrote and prints, per line and goal figure, the model (the mean of the
invocations' replication medians) against the mean of every real run of every invocation, the
standard error of that mean, and whether it is within issue #12's goal (10 %; GC cycles within 1).
Invocations of different code should not be pooled.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

GOAL = ("mean_stack_inuse", "peak_stack_inuse", "grows", "gc_cycles")


def pool(dirs: list[Path]) -> dict:
    """{line: {figure: {"sim": [per invocation], "real": [every run]}}}, lines in first-seen order."""
    lines: dict = {}
    for d in dirs:
        for f in sorted(d.glob("*/validation.json")):
            doc = json.loads(f.read_text())
            for row in doc["rows"] if isinstance(doc, dict) else doc:
                if row["metric"] in GOAL:
                    fig = lines.setdefault(f.parent.name, {}).setdefault(row["metric"], {"sim": [], "real": []})
                    fig["sim"].append(row["simulated"])
                    fig["real"] += json.loads(row["real_runs"])
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    args = ap.parse_args()
    met = total = 0
    for line, figs in pool(args.dirs).items():
        cells, ok = [], 0
        for m in GOAL:
            if m not in figs:
                continue
            sim, real = statistics.mean(figs[m]["sim"]), figs[m]["real"]
            mean = statistics.mean(real)
            se = statistics.stdev(real) / len(real) ** 0.5 if len(real) > 1 else float("nan")
            good = abs(sim - mean) <= 1 if m == "gc_cycles" else abs(sim - mean) <= 0.10 * abs(mean)
            ok += good
            total += 1
            cells.append(f"{m} {sim:,.1f} / {mean:,.1f} ({(sim - mean) / mean:+.1%}, standard error "
                         f"{se / mean:.1%}){'' if good else ' MISS'}")
        met += ok
        n = len(figs[GOAL[0]]["real"])
        print(f"{line}: {ok}/{len(cells)} within the goal ({len(figs[GOAL[0]]['sim'])} invocations, {n} real runs)")
        for c in cells:
            print(f"  {c}")
    print(f"{met} of {total} figures within the goal")


if __name__ == "__main__":
    main()
