"""The Python API: ``load_scenario``, ``run``, ``read_results`` and ``write_results``."""
from __future__ import annotations

from pathlib import Path

from ._version import __version__
from .analysis import accessor as _accessor  # noqa: F401  (registers ``Result.plot``)
from .engine.simulation import Simulation
from .recording.recorder import Recorder
from .recording.results import Result, read_results  # noqa: F401  (re-exported)
from .recording.tidy import EventTidier, event_classes, stack_inuse_peak
from .scenario import load_scenario


# what one goroutine (its G, context and goroutines-table row) and one event (its packed record,
# then its DataFrame and parquet copies) cost at most, measured on the example scenarios
BYTES_PER_GOROUTINE = 2048
BYTES_PER_EVENT = 400


# the streamed run's default limit on goroutines created: time, not memory, bounds it
STREAMED_MAX_GOROUTINES = 100_000_000


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


def default_limits(streaming: bool = False) -> dict:
    """``simstack run``'s default limits, fitting :func:`memory_budget`.  A run kept in memory
    holds every goroutine's row and every event: ``max_goroutines`` and ``max_events`` get
    half of it each (rounded down to two significant digits).  A run streamed to disk
    (``simstack run``, ``run(output=)``) holds only its live goroutines: ``max_live`` gets
    all of it, events are not limited, and goroutines created only by time: at about 20 µs a
    goroutine, :data:`STREAMED_MAX_GOROUTINES` is a run of half an hour or more, which a
    scenario past it is refused before it starts (``--max-goroutines 0`` lifts it)."""
    budget = memory_budget()

    def two_digits(n: int) -> int:
        scale = 10 ** max(0, len(str(n)) - 2)
        return max(1000, n // scale * scale)

    if streaming:
        return {"max_goroutines": STREAMED_MAX_GOROUTINES, "max_events": None,
                "max_live": two_digits(budget // BYTES_PER_GOROUTINE)}
    return {"max_goroutines": two_digits(budget // 2 // BYTES_PER_GOROUTINE),
            "max_events": two_digits(budget // 2 // BYTES_PER_EVENT)}


def _as_scenario(scenario_or_path):
    if isinstance(scenario_or_path, (str, Path)):
        return load_scenario(scenario_or_path)
    return scenario_or_path


def run(scenario_or_path, *, check_invariants: bool = False, progress=None, max_goroutines: int | None = None,
        max_events: int | None = None, output=None, charts: bool = True, max_live: int | None = None,
        races_seed: int | None = None, main_ticks: float | None = None, threads_seen=None,
        profile_changes: dict | None = None) -> Result:
    """Simulate a scenario (object or YAML path) and return its frames and summary.

    ``progress`` is an optional callable receiving the simulated time as it advances.
    A run stopped early (a limit, or Ctrl-C) still returns what was recorded, with
    ``summary["complete"]`` false and ``summary["stopped"]`` saying why and when, as does
    one stopped at ``max_live`` goroutines alive at once.

    With ``output`` (a directory) the run is written straight there as ``simstack run -o``
    writes it (``charts`` too, unless interrupted), events, goroutine and footprint rows
    while it runs, so that memory does not grow with the run; the Result then has the small frames
    (footprint, checkpoints, gc) and the summary, and ``events``/``goroutines`` are None:
    read them with ``read_results(result.directory, columns=..., filters=...)``.

    ``races_seed``: the race model (GOMAXPROCS >= 2) draws from this seed's stream instead of the
    scenario's, every other draw staying the scenario's (``simstack validate``'s replications).
    ``main_ticks``: main also wakes on this grid of simulated seconds (validate's timed program
    samples StackInuse from main). ``threads_seen``: ``[(time, Ms), ...]``, the process has at least
    that many Ms from each time on (validate's timed model, given the Ms a traced run started).
    ``profile_changes``: profile fields to replace (validate's timed model: the program's main
    frame, runtime/trace's goroutines, mallocgc's path below the program's ``spin``).
    """
    sc = _as_scenario(scenario_or_path)
    if output is not None:
        return _run_to(sc, output, charts, check_invariants=check_invariants, progress=progress,
                       max_goroutines=max_goroutines, max_events=max_events, max_live=max_live,
                       races_seed=races_seed, main_ticks=main_ticks, threads_seen=threads_seen,
                       profile_changes=profile_changes)
    sim = None
    recorder = _recorder(sc, Recorder, lambda: sim.env.now if sim is not None else 0.0)
    sim, baseline, wall = _simulate(sc, recorder, check_invariants, progress, max_goroutines, max_events, max_live,
                                    races_seed=races_seed, main_ticks=main_ticks, threads_seen=threads_seen,
                                    profile_changes=profile_changes)
    n_events = recorder.n_events
    frames = recorder.frames(release=True)
    frames["events"]["class"] = event_classes(frames["events"], [c.name for c in sc.goroutines],
                                              frames["goroutines"])
    peak = stack_inuse_peak(frames["events"], frames["footprint"], int(sim.rt.mheap.peak_in_stacks))
    return Result(**frames, summary=_summary(sc, sim, n_events, wall, baseline, peak), scenario=sc)


def _run_to(sc, output, charts: bool, **kw) -> Result:
    """``run`` with ``output``: simulate into a staged directory, then swap it in."""
    from .recording.stream import StreamingRecorder
    from .recording.writer import finish_result, staged

    with staged(output) as tmp:
        sim = None
        # the events' class column and StackInuse's peak, chunk by chunk as the events are written
        tidier = EventTidier([c.name for c in sc.goroutines])
        recorder = _recorder(sc, StreamingRecorder, lambda: sim.env.now if sim is not None else 0.0, tmp,
                             tidy=tidier)
        try:
            sim, baseline, wall = _simulate(sc, recorder, **kw, watermark=True)
            small = recorder.finish()
        except BaseException:
            recorder.abort()
            raise
        peak = tidier.peak(small["footprint"], int(sim.rt.mheap.peak_in_stacks))
        res = Result(events=None, goroutines=None, **small,
                     summary=_summary(sc, sim, recorder.n_events, wall, baseline, peak), scenario=sc, directory=tmp)
        interrupted = sim.stopped is not None and sim.stopped.get("reason") == "interrupted"
        finish_result(res, tmp, _chart_writer(charts and not interrupted))
    res.directory = Path(output)
    return res


def write_results(result: Result, directory, charts: bool = True) -> Path:
    """Write a Result as ``simstack run -o DIR`` does (every file, atomically; charts unless
    ``charts`` is false)."""
    from .recording.writer import write_results as write
    return write(result, directory, _chart_writer(charts))


def _chart_writer(wanted: bool):
    """analysis's writer of a run's charts, if they are wanted (matplotlib is loaded only then)."""
    if not wanted:
        return None
    from .analysis.chartset import write_charts
    return write_charts


def _recorder(sc, cls, clock, *args, **kw):
    kinds = None if sc.record.events == "all" else list(sc.record.events)
    return cls(clock, *args, kinds=kinds, goroutine_table=sc.record.goroutine_table, **kw)


def _simulate(sc, recorder, check_invariants, progress, max_goroutines, max_events, max_live, watermark=False,
              races_seed=None, main_ticks=None, threads_seen=None, profile_changes=None):
    sim = Simulation(sc, recorder, check_invariants=check_invariants, progress=progress,
                     max_goroutines=max_goroutines, max_events=max_events, max_live=max_live, races_seed=races_seed,
                     main_ticks=main_ticks, threads_seen=threads_seen, profile_changes=profile_changes)
    if watermark:
        rt = sim.rt
        # goids are handed out in increasing order and a row is made when a user goroutine
        # exits (or at the end): no row still to come has an id below the oldest live one
        recorder.watermark = lambda: min((g.goid for g in rt.live.values() if g.kind == "user"),
                                         default=rt.goid_seq + 1)
    baseline = int(sim.rt.mheap.in_stacks)  # the runtime's own stacks when main.main starts
    return sim, baseline, sim.run()


def _summary(sc, sim, n_events: int, wall: float, baseline: int, peak: dict) -> dict:
    rt = sim.rt
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
    if sim.ps.cpus is not None:  # runtime.share_cpus with more Ps than CPUs: how long the Ps waited for one
        summary["headline"]["cpu_wait_s"] = round(sim.ps.cpus.waited, 6)
    if sim.overflow:
        summary["overflow"] = sim.overflow
    if sim.stopped:
        summary["stopped"] = sim.stopped
    return summary
