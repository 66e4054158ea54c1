"""``read_trace``: a trace file in, a :class:`~simstack.recording.results.Result` out."""
from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

from .._version import __version__
from ..recording.recorder import Recorder
from ..recording.results import Result
from .gotool import build_event_tool
from .parsed import RECORD_HINT, TraceError, events, read_info, trace_format
from .reader import TraceRun

MIN_PARSER = (1, 23)  # traceallocfree's experimental events


def find_trace_toolchain(go=None):
    """A Go toolchain whose ``go tool trace`` reads alloc/free traces (Go 1.23 or later):
    ``go`` if given, else the first of $GO, ``go`` on PATH and the ``go`` extra that is new enough."""
    from ..validate.toolchain import ToolchainError, candidates, find_toolchain, probe
    import tempfile

    if go is not None:
        try:
            tc = find_toolchain(go)
        except ToolchainError as exc:
            raise TraceError(str(exc)) from None
        if tc.numeric < MIN_PARSER:
            raise TraceError(f"{tc.go}: {tc.version} cannot read alloc/free traces; reading one needs Go 1.23 or "
                             "later (pip install 'simstack[go]' gives Go 1.27)")
        return tc
    seen = []
    with tempfile.TemporaryDirectory(prefix="simstack-go-") as work:
        for source, path in candidates(None):
            if path is None:
                continue
            try:
                tc = probe(path, source, Path(work))
            except ToolchainError:
                continue
            if tc.numeric >= MIN_PARSER:
                return tc
            seen.append(f"{tc.version} ({path})")
    found = f" (found only {', '.join(seen)})" if seen else ""
    raise TraceError(f"no Go toolchain of version 1.23 or later to read traces with{found}: "
                     "pip install 'simstack[go]' (Go 1.27), or pass --go PATH")


def read_trace(path, *, go=None, sample_every: float = 0.001, kinds=None, progress=None,
               fast: bool = True, classify=None, output=None, charts: bool = True, observe=None,
               until: float | None = None) -> Result:
    """Read a Go execution trace (Go 1.23+, ``GODEBUG=traceallocfree=1``) into a Result.

    ``sample_every`` is the footprint's sampling period in seconds of trace time; ``kinds``
    (None = all) the event kinds kept in ``events`` (a long trace's memory is mostly its
    events: keep fewer to read it in less); ``progress`` is called with the trace time
    reached, about every 100,000 events.  ``fast=False`` reads through ``go tool trace
    -d=parsed`` instead of simstack's build of the same parser (same events, slower).
    ``classify(creator, start)`` names a new goroutine's class from the function whose ``go``
    statement made it and its own start function (default, or when it returns None: the creator).

    With ``output`` (a directory) the result is written there as ``simstack trace read -o``
    writes it, the events while the trace is read (``simstack.recording.stream``), so memory
    holds the live state and one goroutine row per goroutine, not the events; the Result then
    has ``events``/``goroutines`` None (read them with ``read_results(output, ...)``).  Events
    are in the order they were recognised: a ``span_alloc`` carries its allocation's time, which
    may be a few microseconds before events written ahead of it (in memory they are sorted).

    ``observe(run, event)``, if given, is called after each event is replayed, with the
    :class:`~.reader.TraceRun` (its live goroutines, stacks, time) and every goroutine state
    transition besides (``simstack.fit`` learns when goroutines run and block from them).

    ``until`` (seconds from the trace's first event) reads the trace as if it ended there: what
    happened later is left out, and the goroutines alive then are alive at the end.
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(f"{path}: no such file")
    fmt = trace_format(path)
    tc = find_trace_toolchain(go)
    tool = build_event_tool(tc) if fast else None
    started = time.perf_counter()
    infos: list = []
    stream = events(path, tc.go, tool, infos, states=observe is not None)
    if tool is None:
        infos.append(read_info(path, tc.go))
    else:
        head = []  # the info batch comes with the first Sync, before any other event
        for ev in stream:
            head.append(ev)
            if infos or ev.kind != "Sync":
                break
        if not infos:
            raise TraceError(f"{path}: the trace has no stack allocation events (recorded without "
                             f"GODEBUG=traceallocfree=1); {RECORD_HINT}")
        stream = itertools.chain(head, stream)
    run = TraceRun(infos[0], sample_every=sample_every, classify=classify)
    if output is not None:
        return _read_to(output, charts, run, stream, kinds, progress, observe, lambda: _summary(
            path, fmt, tc, run, time.perf_counter() - started, tool is not None), until)
    run.recorder = Recorder(lambda: run.clock, kinds=kinds)
    _replay(run, stream, progress, observe, until)
    frames = run.recorder.frames(release=True)
    ev = frames["events"]
    if len(ev) and not ev["time"].is_monotonic_increasing:  # spans are counted from their allocation
        frames["events"] = ev.sort_values("time", kind="stable", ignore_index=True)
    return Result(summary=_summary(path, fmt, tc, run, time.perf_counter() - started, tool is not None), **frames)


def _replay(run: TraceRun, stream, progress, observe=None, until: float | None = None) -> None:
    n = 0
    cut = None if until is None else until * 1e9  # trace time units (ns) past the first event
    for ev in stream:
        if cut is not None and run.t0 is not None and ev.time - run.t0 >= cut:
            break
        run.feed(ev)
        if observe is not None:
            observe(run, ev)
        n += 1
        if progress is not None and n % 100_000 == 0:
            progress(run.now)
    run.finish()
    run.n_recorded = run.recorder.n_events


def _read_to(output, charts: bool, run: TraceRun, stream, kinds, progress, observe, summary,
             until: float | None = None) -> Result:
    """``read_trace`` with ``output``: replay into a staged directory, events streamed, then swap it in."""
    from ..recording.stream import StreamingRecorder
    from ..recording.writer import finish_result, staged

    with staged(output) as tmp:
        run.recorder = StreamingRecorder(lambda: run.clock, tmp, kinds=kinds)
        try:
            _replay(run, stream, progress, observe, until)
            small = run.recorder.finish()
        except BaseException:
            run.recorder.abort()
            raise
        res = Result(events=None, goroutines=None, **small, summary=summary(), directory=tmp)
        draw = None
        if charts:  # the charts are analysis's; matplotlib is loaded only for them
            from ..analysis.chartset import write_charts as draw
        finish_result(res, tmp, draw)
    res.directory = Path(output)
    return res


def _summary(path: Path, fmt: int, tc, run: TraceRun, wall: float, fast_used: bool) -> dict:
    logged = run.logged
    procs = run.gomaxprocs_in_effect()
    mismatched = [(t, c, a, b) for t, c, a, b in logged if a != b]
    return {
        "source": "trace",
        "trace": {"file": str(path), "bytes": path.stat().st_size, "format": f"go1.{fmt}",
                  "parsed_by": f"{tc.version} " + ("(internal/trace)" if fast_used else "(go tool trace -d=parsed)"),
                  "events_read": run.n_events, "fixed_stack": run.info.fixed_stack,
                  "page_size": run.info.page_size},
        # the GOMAXPROCS in effect longest; every one, with its seconds, where the program changed it
        "scenario": {"name": path.stem, "runtime": {"gomaxprocs": next(iter(procs), run.gomaxprocs)}},
        "gomaxprocs_in_effect": {str(n): round(s, 9) for n, s in procs.items()},
        # [seconds, GOMAXPROCS] at the trace's start and at each procresize that changed it
        "gomaxprocs_changes": [[round(t, 9), int(n)] for t, n in run.gomaxprocs_changes],
        "model_version": __version__,
        "complete": True,
        "sim_time": run.now,
        "marks": dict(run.marks),
        "mark_values": dict(run.mark_values),
        "window": run.window,
        "m_first_seen": sorted(run.m_seen.values()),  # when each M the trace shows first ran (seconds)
        "unobservable": ["used", "bytes_copied", "stack_used", "cached_bytes", "large_free_bytes"],
        "logged_stack_inuse": {"n": len(logged), "equal": len(logged) - len(mismatched),
                               "first_mismatch": (list(mismatched[0]) if mismatched else None)},
        "headline": {
            "peak_stack_inuse": int(run.peak),
            "peak_time": run.peak_time,
            "mean_stack_inuse": float(run.mean_stack_inuse),
            "final_stack_inuse": int(run.in_stacks),
            "grows": int(run.totals["grow"]),
            "shrinks": int(run.totals["shrink"]),
            "bytes_copied": -1,
            "events": int(run.n_recorded),
            "goroutines": int(run.totals["spawn"]),
            "gc_cycles": int(sum(1 for c in run.gc if not math.isnan(c["end"]))),
            "final_starting_size": int(run.starting_size or run.info.fixed_stack),
            "wall_time_s": round(wall, 3),
        },
    }
