"""The Python API: ``load_scenario``, ``run`` and ``read_results``."""
from __future__ import annotations

from pathlib import Path

from . import __version__
from .engine.simulation import Simulation
from .recording.recorder import Recorder
from .recording.results import Result, read_results  # noqa: F401  (re-exported)
from .recording.tidy import event_classes, stack_inuse_peak
from .scenario import load_scenario


# what one goroutine (its G, context and goroutines-table row) and one event (its packed record,
# then its DataFrame and parquet copies) cost at most, measured on the example scenarios
BYTES_PER_GOROUTINE = 2048
BYTES_PER_EVENT = 400


def memory_budget() -> int:
    """Bytes a run may use: half of this machine's memory (or of the cgroup's limit, if lower)."""
    import os

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = int(Path(limit_file).read_text().split()[0])
        except (OSError, ValueError, IndexError):  # absent, or 'max'
            continue
        total = min(total, limit)
    return total // 2


def default_limits() -> dict:
    """``simstack run``'s default ``max_goroutines`` and ``max_events``: together they fit
    :func:`memory_budget`, half of it for each (rounded down to two significant digits)."""
    budget = memory_budget()

    def two_digits(n: int) -> int:
        scale = 10 ** max(0, len(str(n)) - 2)
        return max(1000, n // scale * scale)

    return {"max_goroutines": two_digits(budget // 2 // BYTES_PER_GOROUTINE),
            "max_events": two_digits(budget // 2 // BYTES_PER_EVENT)}


def _as_scenario(scenario_or_path):
    if isinstance(scenario_or_path, (str, Path)):
        return load_scenario(scenario_or_path)
    return scenario_or_path


def run(scenario_or_path, *, check_invariants: bool = False, progress=None, max_goroutines: int | None = None,
        max_events: int | None = None) -> Result:
    """Simulate a scenario (object or YAML path) and return its frames and summary.

    ``progress`` is an optional callable receiving the simulated time as it advances.
    A run stopped early (a limit, or Ctrl-C) still returns what was recorded, with
    ``summary["complete"]`` false and ``summary["stopped"]`` saying why and when.
    """
    sc = _as_scenario(scenario_or_path)
    rec_spec = sc.record
    kinds = None if rec_spec.events == "all" else list(rec_spec.events)
    sim = None
    recorder = Recorder(lambda: sim.env.now if sim is not None else 0.0, kinds=kinds,
                        goroutine_table=rec_spec.goroutine_table)
    sim = Simulation(sc, recorder, check_invariants=check_invariants, progress=progress,
                     max_goroutines=max_goroutines, max_events=max_events)
    if check_invariants:  # wraps this runtime's allocator and entry points; nothing is wrapped otherwise
        from .invariants import install
        install(sim.rt)
    baseline = int(sim.rt.mheap.in_stacks)  # the runtime's own stacks when main.main starts
    wall = sim.run()
    n_events = recorder.n_events
    frames = recorder.frames(release=True)
    frames["events"]["class"] = event_classes(frames["events"], [c.name for c in sc.goroutines],
                                              frames["goroutines"])
    rt = sim.rt
    peak = stack_inuse_peak(frames["events"], frames["footprint"], int(rt.mheap.peak_in_stacks))
    summary = {
        "scenario": sc.to_yaml_dict(),
        "model_version": __version__,
        "complete": sim.stopped is None,
        "sim_time": float(sim.env.now),
        "headline": {
            "peak_stack_inuse": int(rt.mheap.peak_in_stacks),
            "peak_stack_inuse_time": peak["time"] if peak["exact"] else None,
            "baseline_stack_inuse": baseline,
            "peak_stack_inuse_over_baseline": int(rt.mheap.peak_in_stacks) - baseline,
            "final_stack_inuse": int(rt.mheap.in_stacks),
            "grows": int(rt.totals["grow"]),
            "shrinks": int(rt.totals["shrink"]),
            "bytes_copied": int(rt.totals["bytes_copied"]),
            "events": int(n_events),
            "goroutines": int(sum(c.spawned for c in sim.classes.values())),
            "gc_cycles": int(rt.gc_cycle),
            "final_starting_size": int(rt.starting_stack_size),
            "wall_time_s": round(wall, 3),
        },
    }
    if sim.overflow:
        summary["overflow"] = sim.overflow
    if sim.stopped:
        summary["stopped"] = sim.stopped
    return Result(events=frames["events"], footprint=frames["footprint"], checkpoints=frames["checkpoints"],
                  goroutines=frames["goroutines"], gc=frames["gc"], summary=summary, scenario=sc)
