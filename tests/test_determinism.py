"""Determinism: the same file and seed give byte-identical output files, in separate
processes with different hash seeds; another seed gives other draws; a sweep's results do
not depend on ``-j`` (in-process or worker processes; the Dask executor is compared in
tests/test_sweep.py).

Only wall-clock facts may differ between two runs: ``headline.wall_time_s`` in
``summary.json`` and, in a sweep, each run's ``wall_time_s``/``worker`` and the sweep's
``started``/``executor``/timings.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import simstack
from simstack.scenario import parse_scenario
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]

RANDOM = """
name: det
seed: 42
duration: 300ms
runtime: {version: go1.19, gomaxprocs: 3}
gc: {trigger: interval, interval: 60ms, mark_duration: 2ms}
goroutines:
  - name: req
    count: 1500
    arrival: {process: poisson, rate: 8000/s}
    frame: 152B
    program:
      - {depth: {dist: lognormal, mean: 2.0, sigma: 0.8}, run: {dist: exponential, mean: 80us}}
      - {depth: 2, block: {dist: uniform, low: 100us, high: 2ms}}
      - {spawn: child, count: {dist: empirical, values: [0, 1, 2], weights: [2, 1, 1]}}
  - name: child
    arrival: {process: spawned}
    frame: 296B
    program:
      - {depth: {dist: geometric, mean: 12}, run: {dist: normal, mean: 50us, std: 20us}}
checkpoints:
  - {label: mid, at: 150ms}
  - {label: late, at: 250ms, via: metrics}
"""

VOLATILE = {"wall_time_s", "worker", "executor", "started", "finished", "run_wall_time_s"}


def _stable(obj):
    """JSON content without the wall-clock facts."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def digest(directory: Path) -> dict[str, str]:
    """{relative path: sha256} of every file; JSON files hashed without their wall-clock facts."""
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".json":
                data = json.dumps(_stable(json.loads(data)), sort_keys=True).encode()
            out[str(p.relative_to(directory))] = hashlib.sha256(data).hexdigest()
    return out


def _sim(*args, hashseed="0"):
    return run_cli(*args, env={"PYTHONHASHSEED": hashseed})


@pytest.mark.parametrize("scenario", ["random", "fanout"])
def test_same_file_and_seed_give_identical_files_in_separate_processes(tmp_path, scenario):
    if scenario == "random":
        path = tmp_path / "det.yaml"
        path.write_text(RANDOM)
    else:
        path = ROOT / "scenarios" / "fanout.yaml"

    def one(k):
        return _sim("run", path, "-o", tmp_path / f"run{k}", "-q", hashseed=str(k * 7919))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, (1, 2)))
    for r in results:
        assert r.returncode == 0, r.stderr
    a, b = digest(tmp_path / "run1"), digest(tmp_path / "run2")
    assert {"events.parquet", "footprint.parquet", "checkpoints.csv", "goroutines.parquet", "gc.parquet",
            "summary.json", "charts/footprint.png"} <= set(a)
    assert a == b
    # and the Python API gives the same frames as the files
    res = simstack.read_results(tmp_path / "run1")
    again = simstack.run(path)
    for name in ("events", "footprint", "goroutines", "gc"):
        assert getattr(res, name).reset_index(drop=True).equals(getattr(again, name)), name


def test_a_different_seed_gives_different_draws():
    a = simstack.run(parse_scenario(RANDOM))
    b = simstack.run(parse_scenario(RANDOM.replace("seed: 42", "seed: 43")))
    c = simstack.run(parse_scenario(RANDOM))
    assert a.events.equals(c.events) and a.goroutines.equals(c.goroutines)
    assert not a.events.equals(b.events)
    # the draws themselves differ: arrival times, and each class's depths and spawn counts
    created = lambda r, cls: r.goroutines.loc[r.goroutines["class"] == cls, "created"].to_numpy()  # noqa: E731
    assert (created(a, "req")[:100] != created(b, "req")[:100]).any()
    assert len(created(a, "child")) != len(created(b, "child")) or \
        (a.goroutines["max_stack"].to_numpy() != b.goroutines["max_stack"].to_numpy()).any()


SWEEP = """
name: s
seed: 11
duration: 200ms
runtime: {gomaxprocs: 2}
gc: {at: [50ms, 120ms]}
goroutines:
  - name: req
    count: 2000
    arrival: {process: poisson, rate: 20000/s}
    program:
      - {depth: {dist: geometric, mean: 10}, run: 50us}
      - {depth: 2, block: {dist: exponential, mean: 1ms}}
"""


def test_sweep_files_do_not_depend_on_jobs(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(SWEEP)
    grid = ("--set", "runtime.version=go1.12,go1.27", "--set", "runtime.gomaxprocs=1,4", "-r", "2")
    for jobs in ("1", "2"):
        r = _sim("sweep", scen, *grid, "-j", jobs, "-o", tmp_path / f"j{jobs}", "-q", hashseed=jobs)
        assert r.returncode == 0, r.stderr
    a, b = digest(tmp_path / "j1"), digest(tmp_path / "j2")
    assert len([k for k in a if k.startswith("runs/")]) >= 16
    assert a == b
