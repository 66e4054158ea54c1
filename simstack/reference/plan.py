"""Turn a reference record's plan into a scenario in the public scenario format.

The reference workload (``shared/reference/README.md``) is a sequence of steps run by
the main goroutine: ``spawn`` a batch, ``release`` its gate, ``gc``, ``checkpoint``.
Step k happens at simulated time k seconds; the baseline checkpoint is at 0.  Each
batch becomes a goroutine class arriving as a burst; each phase of its program a
depth step that parks at a gate (``wait``) through ``main.parkAt`` (a park frame)
after calling ``main.reserve`` (a transient frame), or, without ``park``, a zero-length
``run``.  Per-goroutine depth lists become ``{dist: sequence}``.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ScenarioError

BASELINE_LABEL = "baseline"


def _godebug(s: str) -> dict:
    out = {}
    for kv in filter(None, (s or "").split(",")):
        k, _, v = kv.partition("=")
        out[k.strip()] = int(v)
    return out


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def record_to_scenario(rec: dict) -> dict:
    """The scenario (as a YAML-shaped dict) that reproduces one reference record's plan."""
    frames = rec["frames"]
    rec_frame = frames.get("recursive", {}).get("frame", 64)
    entry = frames["entry"]["frame"]
    park = frames["park"]["frame"]
    reserve = frames["reserve"]["frame"]
    classes, gates, gc_at = [], {}, []
    checkpoints = [{"label": BASELINE_LABEL, "at": 0, "via": "memstats"}]
    for k, op in enumerate(rec["plan"], start=1):
        kind = op["op"]
        if kind == "spawn":
            program = []
            for phase in op["program"]:
                depth = {"dist": "sequence", "values": phase["depths"]} if "depths" in phase else phase["depth"]
                if phase["park"]:
                    program.append({"depth": depth, "wait": op["batch"], "park_frames": [f"{park}B"],
                                    "transient": f"{reserve}B"})
                else:
                    program.append({"depth": depth, "run": 0})
            classes.append({"name": op["batch"], "count": op["n"], "arrival": {"process": "burst", "at": k},
                            "frame": f"{rec_frame}B", "entry_frame": f"{entry}B", "program": program})
            gates.setdefault(op["batch"], [])
        elif kind == "release":
            gates.setdefault(op["batch"], []).append(k)
        elif kind == "gc":
            gc_at.append(k)
        elif kind == "checkpoint":
            checkpoints.append({"label": op["label"], "at": k, "via": "memstats"})
        else:
            raise ValueError(f"record {rec['id']}: unknown plan step {kind!r}")
    if not classes:  # W0: the idle runtime; a class that never arrives keeps the format valid
        classes.append({"name": "none", "arrival": {"process": "trace", "times": []},
                        "program": [{"depth": 0, "run": 0}]})
    return {
        "name": f"{rec['config_id']}-{_minor(rec['go_version'])}",
        "description": f"reference workload {rec['config_id']} ({rec['family']}) on {rec['go_version']}",
        "seed": 0,
        "runtime": {"version": _minor(rec["go_version"]), "platform": f"{rec['goos']}/{rec['goarch']}",
                    "gomaxprocs": rec["gomaxprocs"], "godebug": _godebug(rec.get("godebug", "")),
                    **({"num_cpu": rec["num_cpu"]} if rec.get("num_cpu") else {}),  # the measuring machine's
                    "baseline": "auto"},
        "gc": {"trigger": "manual", "at": gc_at},
        "goroutines": classes,
        "gates": [{"name": n, "open_at": ts} for n, ts in gates.items()],
        "checkpoints": checkpoints,
        "record": {"events": "all", "goroutine_table": True},
    }


def load_records(path) -> list[dict]:
    """Read a reference JSON Lines file, naming the line of any record that does not parse."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError.single(str(path), None, None, "", "no such reference file")
    out = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                for key in ("id", "config_id", "go_version", "plan", "frames", "baseline", "checkpoints"):
                    rec[key]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ScenarioError.single(str(path), i, None, "", f"not a reference record: {exc}") from None
            out.append(rec)
    return out
