"""Running a sweep: the grid × replications on an executor, rows written as runs finish.

Output directory (``simstack sweep -o DIR``):

* ``runs/<run_id>/row.json`` – one per finished run, written (atomically) the moment its
  result arrives: parameters, seed, status, figures, wall time, worker; and, unless
  footprints are off, ``runs/<run_id>/footprint.parquet``;
* ``sweep.parquet`` – the tidy frame, one row per run (all rows combined, sorted by
  point and replication), written at the end and also when the sweep is interrupted;
* ``statistics.csv`` – per grid point and figure: n, mean, standard deviation and the 95 %
  confidence interval of the mean over the replications (``simstack.analysis.sweep_stats``);
* ``sweep.json`` – what was swept (base scenario, grid or points, replications, seeds),
  status counts, whether the sweep completed, the executor, timings;
* ``charts/<figure>__<parameter>.png`` – each headline figure against each swept parameter.

``sweep.parquet`` holds only deterministic columns (no wall times), so the same sweep
gives the same file whichever executor ran it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from ..analysis.chartset import write_sweep_charts  # noqa: F401  (re-exported)
from ..analysis.sweep_frame import column_name, read_sweep, rows_frame  # noqa: F401  (read_sweep: re-exported)
from ..errors import Terminated
from ..recording.writer import atomic_write
from .params import Point, expand, replication_seed
from .worker import run_one

class SweepOutputError(Exception):
    """The output directory cannot be used as asked."""


@dataclass
class Sweep:
    """A finished (or interrupted) sweep: the tidy frame and where it was written."""

    frame: pd.DataFrame
    directory: Path | None
    params: list[str]
    complete: bool
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    wall_time_s: float = 0.0

    @property
    def statistics(self) -> pd.DataFrame:
        """Per grid point and figure: n, mean, standard deviation, 95 % confidence interval
        (:func:`simstack.analysis.sweep_stats.point_statistics`; ``statistics.csv`` in the directory)."""
        from ..analysis.sweep_stats import point_statistics
        return point_statistics(self.frame, self.params)

    def __repr__(self):
        return (f"<Sweep {len(self.frame)} runs, {len(self.failed)} failed, params {self.params}, "
                f"{'complete' if self.complete else 'INCOMPLETE'}{f' in {self.directory}' if self.directory else ''}>")


def make_tasks(points: list[Point], replications: int, footprint: bool, limits: dict | None = None) -> list[dict]:
    wp = max(3, len(str(max(len(points) - 1, 0))))
    wr = max(2, len(str(max(replications - 1, 0))))
    tasks = []
    for pt in points:
        for r in range(replications):
            seed = replication_seed(pt.scenario.get("seed", 0), r)
            doc = dict(pt.scenario, seed=seed)
            tasks.append({"run_id": f"p{pt.index:0{wp}d}r{r:0{wr}d}", "point": pt.index, "replication": r,
                          "seed": seed, "label": pt.label, "values": pt.values, "assignments": pt.assignments,
                          "scenario": doc, "footprint": footprint, **(limits or {})})
    return tasks


# --- executors -----------------------------------------------------------------------
class Executor(Protocol):
    """What the sweep needs of an executor, whichever runs the tasks (this process, local
    worker processes, a Dask cluster): ``run`` calls ``on_result(task, result)`` in this
    process for every task as it finishes, a failure being a result (status ``failed``);
    ``shutdown(kill=True)`` abandons what is in flight (Ctrl-C)."""

    name: str

    def run(self, tasks: list[dict], on_result) -> None: ...

    def shutdown(self, kill: bool = False) -> None: ...


class SerialExecutor:
    """Runs in this process, one after another (``-j 1``)."""

    name = "in-process"

    def run(self, tasks, on_result):
        for t in tasks:
            on_result(t, run_one(t))

    def shutdown(self, kill=False):
        pass


class LocalExecutor:
    """``-j N`` local worker processes (forkserver where available, else spawn)."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.name = f"{jobs} local processes"
        self.pool = None

    def _pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["simstack.sweep.worker", "simstack.api"])
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_worker_init)

    def run(self, tasks, on_result):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool
        pending_tasks = list(tasks)
        retried = set()
        while pending_tasks:
            self.pool = self._pool()
            with _main_not_reimported():  # worker processes start here, on the first submits
                futures = {self.pool.submit(run_one, t): t for t in pending_tasks}
            pending_tasks = []
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for f in done:
                    t = futures[f]
                    try:
                        res = f.result()
                    except BrokenProcessPool:
                        # a worker died (killed, out of memory): retry each run caught in it once,
                        # in a fresh pool; a run that breaks a pool twice is reported as failed
                        if t["run_id"] in retried:
                            on_result(t, _failure(t, "the worker process running it died (twice)"))
                        else:
                            retried.add(t["run_id"])
                            pending_tasks.append(t)
                        continue
                    except Exception as exc:  # noqa: BLE001
                        res = _failure(t, f"{type(exc).__name__}: {exc}")
                    on_result(t, res)
            self.pool.shutdown(wait=True)
            self.pool = None

    def shutdown(self, kill=False):
        pool, self.pool = self.pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        if kill:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)


class DaskExecutor:
    """Runs on a Dask cluster: a scheduler address (``tcp://host:port``) or a ``distributed.Client``."""

    def __init__(self, scheduler):
        try:
            from distributed import Client
        except ImportError:
            raise SweepOutputError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
        if isinstance(scheduler, Client):
            self.client, self.own = scheduler, False
        else:
            self.client, self.own = Client(scheduler, timeout="30s"), True
        self.name = f"dask {self.client.scheduler.address}"
        self.futures = []

    def run(self, tasks, on_result):
        from distributed import as_completed
        token = hashlib.sha1(os.urandom(8)).hexdigest()[:8]
        by_key = {}
        for t in tasks:
            f = self.client.submit(run_one, t, key=f"simstack-sweep-{token}-{t['run_id']}", pure=False)
            by_key[f.key] = t
            self.futures.append(f)
        for f in as_completed(self.futures):
            t = by_key[f.key]
            try:
                res = f.result()
            except Exception as exc:  # noqa: BLE001  (e.g. KilledWorker)
                res = _failure(t, f"{type(exc).__name__}: {exc}")
            on_result(t, res)
            f.release()

    def shutdown(self, kill=False):
        if self.futures:
            try:
                self.client.cancel(self.futures)
            except Exception:  # noqa: BLE001
                pass
            self.futures = []
        if self.own:
            self.client.close()


@contextmanager
def _main_not_reimported():
    """Start worker processes without re-running the caller's script in them.

    forkserver and spawn workers import the parent's ``__main__`` from its file, which
    runs a script's top level again (and fails in a script with no ``if __name__ ==
    "__main__"`` guard).  Workers only need ``simstack.sweep.worker``, so while they
    start ``__main__`` is an empty module."""
    import types
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _worker_init():
    from .worker import ignore_sigint
    ignore_sigint()


def _failure(task, message):
    return {"run_id": task["run_id"], "status": "failed", "error": message, "figures": {}, "footprint": None,
            "wall_time_s": math.nan, "worker": None}


def executor_for(jobs: int | None = None, scheduler=None) -> Executor:
    if scheduler is not None:
        return DaskExecutor(scheduler)
    jobs = jobs or os.cpu_count() or 1
    return SerialExecutor() if jobs <= 1 else LocalExecutor(jobs)


# --- files ---------------------------------------------------------------------------
def _row(task: dict, res: dict) -> dict:
    return {"run_id": task["run_id"], "point": task["point"], "label": task["label"],
            "replication": task["replication"], "seed": task["seed"], "params": task["values"],
            "assignments": task["assignments"], "status": res["status"], "error": res.get("error"),
            "figures": res.get("figures", {}), "wall_time_s": res.get("wall_time_s"), "worker": res.get("worker")}


def _spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_directory(out: Path, spec_hash: str, resume: bool, overwrite: bool) -> dict[str, dict]:
    """Make ``out`` ready; return the rows already there when resuming (by run id)."""
    meta = out / "sweep.json"
    if out.exists() and not out.is_dir():
        raise SweepOutputError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not meta.is_file():
            raise SweepOutputError(f"{out}: exists, is not empty and holds no sweep (no sweep.json); not using it")
        if resume:
            old = json.loads(meta.read_text())
            if old.get("spec_hash") != spec_hash:
                raise SweepOutputError(f"{out}: holds a different sweep (other scenario, parameters or "
                                       "replications); cannot resume it")
            done = {}
            for p in sorted((out / "runs").glob("*/row.json")):
                row = json.loads(p.read_text())
                if row.get("status") != "failed":
                    done[row["run_id"]] = row
            return done
        if not overwrite:
            raise SweepOutputError(f"{out}: holds a sweep already; --resume to finish it, --overwrite to replace it")
        for name in ("runs", "charts"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("sweep.parquet", "sweep.json", "sweep.csv", "statistics.csv", "scenario.yaml"):
            (out / name).unlink(missing_ok=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    return {}


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a job scheduler stopping us) ends the sweep like Ctrl-C: finished runs are kept."""
    def handler(signum, frame):
        raise Terminated(f"signal {signum}")
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_sweep(scenario, grid: dict | None = None, points=None, replications: int = 1, out=None,
              jobs: int | None = 1, scheduler=None, footprints: bool = True, charts: bool = True,
              progress: bool = True, resume: bool = False, overwrite: bool = False,
              max_goroutines: int | None = None, max_events: int | None = None) -> Sweep:
    """Run ``scenario`` (a Scenario, a path, or scenario data) over a grid or list of points.

    ``grid``: {key: [values]} (the product is run); ``points``: a list of {key: value}
    or {label: {key: value}}.  Each point runs ``replications`` times with seeds
    derived from the point's seed and the replication index.  ``jobs``: local
    processes (1: in this process; None: one per CPU); ``scheduler``: a Dask scheduler
    address or a ``distributed.Client`` instead.  ``out``: the output directory
    (None: nothing is written).  Ctrl-C (or SIGTERM) stops it: finished runs are
    combined into ``sweep.parquet`` and KeyboardInterrupt is raised again.
    """
    from tqdm import tqdm

    from ..scenario import Scenario, load_scenario, scenario_from_dict

    t_start = time.perf_counter()
    if isinstance(scenario, (str, Path)):
        source = str(scenario)
        scenario = load_scenario(scenario)
    else:
        source = getattr(scenario, "source", None)
        if isinstance(scenario, dict):
            scenario = scenario_from_dict(scenario)
    assert isinstance(scenario, Scenario)
    if replications < 1:
        raise ValueError("replications must be at least 1")
    base = scenario.to_yaml_dict()
    pts = expand(base, grid=grid, points=points)
    params = list(dict.fromkeys(k for p in pts for k in p.assignments))
    limits = {k: v for k, v in (("max_goroutines", max_goroutines), ("max_events", max_events)) if v}
    tasks = make_tasks(pts, replications, footprint=footprints and out is not None, limits=limits)
    spec = {"scenario": base, "grid": grid, "points": points if points is None or isinstance(points, list)
            else {str(k): v for k, v in points.items()}, "replications": replications, "limits": limits}
    spec_hash = _spec_hash(spec)
    out = Path(out) if out is not None else None
    done = prepare_directory(out, spec_hash, resume, overwrite) if out is not None else {}
    rows = {rid: row for rid, row in done.items()}
    todo = [t for t in tasks if t["run_id"] not in done]

    executor = executor_for(jobs, scheduler) if todo else SerialExecutor()
    meta = {"source": source, "scenario_name": scenario.name, "spec_hash": spec_hash, **spec,
            "params": params, "runs": len(tasks), "executor": executor.name,
            "seeds": sorted({t["seed"] for t in tasks}), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if out is not None:
        import yaml
        atomic_write(out / "scenario.yaml", yaml.safe_dump(base, sort_keys=False))
        atomic_write(out / "sweep.json", json.dumps({**meta, "complete": False}, indent=2, default=str))

    bar = tqdm(total=len(tasks), initial=len(done), unit="run", desc=f"sweep {scenario.name}", leave=False,
               disable=None if progress else True, mininterval=0.25)
    failures = []

    def on_result(task, res):
        row = _row(task, res)
        rows[task["run_id"]] = row
        if out is not None:
            d = out / "runs" / task["run_id"]
            d.mkdir(parents=True, exist_ok=True)
            if res.get("footprint"):
                atomic_write(d / "footprint.parquet", res["footprint"])
            atomic_write(d / "row.json", json.dumps(row, indent=1, default=str))
        if res["status"] == "failed":
            failures.append(row)
            where = ", ".join(f"{k}={v}" for k, v in task["assignments"].items()) or "base scenario"
            msg = (f"run {task['run_id']} failed ({where}; replication {task['replication']}, seed {task['seed']}): "
                   f"{res['error']}")
            if progress:
                bar.write(msg, file=sys.stderr)
        bar.update(1)

    interrupted = None
    try:
        with _sigterm_as_interrupt():
            executor.run(todo, on_result)
    except KeyboardInterrupt as exc:
        interrupted = exc
        executor.shutdown(kill=True)
    else:
        executor.shutdown()
    finally:
        bar.close()
    frame = rows_frame(list(rows.values()), params)
    complete = interrupted is None and len(rows) == len(tasks)
    wall = time.perf_counter() - t_start
    if out is not None:
        buf = _parquet_bytes(frame)
        atomic_write(out / "sweep.parquet", buf)
        from ..analysis.sweep_stats import point_statistics
        atomic_write(out / "statistics.csv",
                      point_statistics(frame, [column_name(p) for p in params]).to_csv(index=False))
        counts = frame["status"].value_counts().to_dict()
        run_times = {r["run_id"]: r.get("wall_time_s") for r in sorted(rows.values(), key=lambda r: r["run_id"])}
        atomic_write(out / "sweep.json", json.dumps(
            {**meta, "complete": complete, "finished_runs": len(rows), "status": {str(k): int(v) for k, v in
                                                                                   counts.items()},
             "interrupted": interrupted is not None, "wall_time_s": round(wall, 3), "run_wall_time_s": run_times},
            indent=2, default=str))
        if charts and interrupted is None:
            try:
                write_sweep_charts(frame, [column_name(p) for p in params], out / "charts")
            except KeyboardInterrupt as exc:  # every run is in sweep.parquet; only charts are missing
                interrupted = exc
    sweep = Sweep(frame=frame, directory=out, params=[column_name(p) for p in params], complete=complete,
                  failed=frame[frame["status"] == "failed"].reset_index(drop=True), wall_time_s=wall)
    if interrupted is not None:
        raise type(interrupted)(sweep) from None  # Terminated (SIGTERM) stays Terminated
    return sweep


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()
