"""What runs on a worker (a local process, a Dask worker, or in-process): one run of a sweep.

Takes and returns only small picklable data: the scenario as plain data in, the headline
figures (and, if asked, the footprint as Parquet bytes, a few hundred KB) out, never
the event tables.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import time
import traceback

from ..analysis.sweep_frame import FIGURES


def ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is handled by the process running the sweep, not each worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_one(task: dict) -> dict:
    """Simulate one (point, replication); never raises for a failure of the run itself."""
    t0 = time.perf_counter()
    out = {"run_id": task["run_id"], "status": "ok", "error": None, "figures": {}, "footprint": None,
           "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        from ..analysis.data import headline
        from ..api import run
        from ..scenario import scenario_from_dict

        sc = scenario_from_dict(task["scenario"], source=task["run_id"])
        res = run(sc, max_goroutines=task.get("max_goroutines"), max_events=task.get("max_events"))
        if (res.summary.get("stopped") or {}).get("reason") == "interrupted":
            raise KeyboardInterrupt  # the engine stops a run cleanly on Ctrl-C; the sweep must stop too
        h = headline(res)
        out["figures"] = {k: _plain(h[k]) for k in FIGURES if k in h}
        if "overflow" in res.summary:
            out["status"] = "overflow"
            out["error"] = str(res.summary["overflow"].get("message", "stack overflow"))
        elif not res.summary.get("complete", True):
            out["status"] = "incomplete"
            out["error"] = str(res.summary.get("stopped", "stopped early"))
        if task.get("footprint"):
            buf = io.BytesIO()
            res.footprint.to_parquet(buf, index=False)
            out["footprint"] = buf.getvalue()
        del res
    except Exception as exc:  # noqa: BLE001  (the run failed; the sweep goes on)
        out["status"] = "failed"
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=-8)
    out["wall_time_s"] = round(time.perf_counter() - t0, 3)
    return out


def _plain(v):
    return v.item() if hasattr(v, "item") else v
