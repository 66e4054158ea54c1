"""The SimPy engine: time, Ps running goroutines, arrivals, GC cycles, gates, sampling.

SimPy only decides *when*; the runtime model decides what happens to memory.  The Ps
(``ps.py``, compiled with the model) run the scheduler loop from SimPy event
callbacks: each takes the next goroutine from the run queues (``Runtime.schedule``)
and executes that goroutine's program until it blocks or exits; ``run: T`` holds the
P for T (preempted every 10 ms when others wait or a timer comes due, as sysmon does).
A blocked goroutine is readied onto a run queue by a timer (its own P) or a gate (the
opener's P, as ``close(ch)`` readies waiters).

The other processes live beside this module: arrivals and gates (``arrivals.py``),
GC cycles (``gc.py``), checkpoints and the footprint sampler (``observe.py``).
"""
from __future__ import annotations

import math
import time as _time

import numpy as np
import simpy

from ..runtime.growth import StackOverflow
from ..runtime.profiles import resolve_profile, with_overrides
from ..runtime.runtime import Runtime
from .arrivals import ArrivalsMixin
from .draws import ClassInfo
from .gc import GCMixin
from .observe import ObserveMixin
from .ps import Ps
from .races import Races
from .simpy_access import stop_now
from .stop import RunStopped
from .tracer import EngineTracer


MAIN_END_CAP = 10  # validate's model: main may reach its end this many times the duration late, at most


class Simulation(ArrivalsMixin, GCMixin, ObserveMixin):
    """Run one scenario: build the runtime, start the SimPy processes, record everything."""

    def __init__(self, scenario, recorder, *, check_invariants: bool = False, progress=None,
                 max_goroutines: int | None = None, max_events: int | None = None,
                 profile_changes: dict | None = None, max_live: int | None = None, races_seed: int | None = None,
                 main_ticks: float | None = None, threads_seen: list | None = None):
        """``recorder.tracer`` hears the runtime's events; ``check_invariants`` attaches the
        invariant checker after it (``runtime/invariants.py``), and ``attach`` one more tracer.
        ``profile_changes``: profile fields to replace (``simstack validate`` gives the model the
        number of threads a real run started with).
        ``max_live``: stop when this many goroutines are alive at once (a run streamed to disk).
        ``races_seed``: draw the race model's stream from this seed instead of the scenario's (the
        classes' and arrivals' streams stay the scenario's): a replication varies the races alone.
        ``main_ticks``: main also wakes on this grid (``simstack validate``'s timed program reads
        StackInuse from main every millisecond, so under load main is nearly always queued).
        ``threads_seen``: ``[(time, Ms), ...]``: from each time on the process has at least that many
        Ms (``newm``), as a traced run had (its tracer starts Ms of its own)."""
        self.scenario = scenario
        self.main_ticks = main_ticks
        self.threads_seen = threads_seen or []
        self.gc_next = {}
        self.max_events = max_events  # the sampler checks it too
        self.stopped = None  # {"reason", "time"} when the run ended early
        self.rec = recorder
        self.progress = progress
        self.env = simpy.Environment()
        rs = scenario.runtime
        ov = rs.overrides.model_dump() if hasattr(rs.overrides, "model_dump") else dict(rs.overrides or {})
        self.profile = resolve_profile(rs.version, rs.platform, godebug=rs.godebug,
                                       max_stack=rs.max_stack, overrides=ov)
        start = {}  # what the scenario says of the process at start (runtime.main_stack, threads_at_start)
        if getattr(rs, "main_stack", None):
            start["main_stack"] = rs.main_stack
        if getattr(rs, "threads_at_start", None):
            start["baseline_threads"] = (rs.threads_at_start,)
        if start or profile_changes:
            self.profile = with_overrides(self.profile, **{**start, **(profile_changes or {})})
        if hasattr(recorder, "bind"):
            recorder.bind(self.env)
        self.rt = Runtime(self.profile, rs.gomaxprocs, baseline=rs.baseline == "auto",
                          tracer=recorder.tracer, clock=lambda: self.env.now, max_procs=rs.max_gomaxprocs)
        self.checker = None  # the invariant checker, told by the engine after each runtime operation
        if check_invariants:
            from ..runtime.invariants import attach
            self.checker = attach(self.rt)
        self.tracer: EngineTracer | None = None  # one attached with ``attach``
        self.rt.on_exit_hook = self._goroutine_done
        seed = np.random.SeedSequence(scenario.seed)
        # one stream per class, then arrivals, then the races (a child's stream depends on its index only)
        streams = seed.spawn(len(scenario.goroutines) + 2)
        self.arrival_rng = np.random.default_rng(streams[len(scenario.goroutines)])
        self.classes = {}
        for i, cls in enumerate(scenario.goroutines):
            self.classes[cls.name] = ClassInfo(cls, i, np.random.default_rng(streams[i]), self._park_path(cls))
        self.gates = {g.name: [] for g in getattr(scenario, "gates", None) or []}
        self.gate_opened: dict = {name: [] for name in self.gates}  # when each opening came (gc.follow)
        self.gate_watch: dict = {}  # (gate, opening) -> the event a GC cycle following it waits on
        self.release_lifo = False  # how the gate opening now readies its waiters (see ``gate``)
        self.overflow = None
        self.finished = False
        self.ps = Ps(self, self.rt, self.classes, self.gates, self.checker, max_goroutines, max_events,
                     self._pacing())
        self.ps.max_live = max_live
        if races_seed is not None and races_seed != scenario.seed:  # the same child of another seed
            streams = np.random.SeedSequence(races_seed).spawn(len(scenario.goroutines) + 2)
        self.races_stream = streams[-1]
        self.races_rng = None  # made with the first race model, kept by the ones after procresize
        self.ps.races = self.make_races(rs.gomaxprocs)

    # --- set-up -----------------------------------------------------------------------
    def make_races(self, nprocs: int):
        """The race model for ``nprocs`` Ps (engine/races.py; None at 1 or with ``runtime.races: false``): on
        ``num_cpu`` CPUs, by default the scenario's first GOMAXPROCS (the runtime's default is NumCPU)."""
        rs = self.scenario.runtime
        if nprocs < 2 or not getattr(rs, "races", True):
            return None
        if self.races_rng is None:
            self.races_rng = np.random.default_rng(self.races_stream)
        return Races(self.profile.version, self.races_rng, nprocs, getattr(rs, "num_cpu", None) or rs.gomaxprocs)

    def gomaxprocs_schedule(self):
        """runtime.GOMAXPROCS(n) at the ``runtime.gomaxprocs_changes`` times (``Ps.procresize``)."""
        end = self.scenario.duration
        for change in self.scenario.runtime.gomaxprocs_changes:
            if end is not None and change.at >= end:
                return
            yield self.env.timeout(change.at - self.env.now)
            self.ps.procresize(change.gomaxprocs)

    def attach(self, tracer: EngineTracer) -> None:
        """Let ``tracer`` follow the run from now on: the runtime's events (after the recorder and
        the checker) and the engine's points (``engine/tracer.py``)."""
        if self.tracer is not None:
            raise ValueError("an EngineTracer is already attached")
        self.rt.add_tracer(tracer)
        self.tracer = tracer
        self.ps.tracer = tracer

    def _park_path(self, cls):
        pp = getattr(cls, "park_path", "auto")
        if pp in (None, "auto"):
            return None
        if pp == "none":
            return ()
        # (frame, nosplit) pairs, as the runtime model's park takes them
        return tuple((f["frame"], f.get("nosplit", False)) if isinstance(f, dict) else (f.frame, f.nosplit)
                     for f in pp)

    def run(self):
        """Run to ``duration`` (or until nothing is left to do); returns wall seconds."""
        sc = self.scenario
        env = self.env
        t0 = _time.perf_counter()
        self.ps.start()
        for info in self.classes.values():
            if info.spec.arrival.process != "spawned":
                self.start_arrivals(info)
        env.process(self.gc_schedule())
        if sc.runtime.gomaxprocs_changes:
            env.process(self.gomaxprocs_schedule())
        self.daemons = 1  # the sampler
        if sc.gc.trigger == "interval" and sc.gc.interval:
            self.daemons += 1
            env.process(self.gc_interval())
        for cp in sc.checkpoints:
            env.process(self.checkpoint(cp))
        for gate in getattr(sc, "gates", None) or []:
            env.process(self.gate(gate))
            if getattr(gate, "wake_at", None):
                env.process(self.gate_wakes(gate))
        env.process(self.sampler())
        if self.threads_seen and self.rt.threads is not None:
            env.process(self.ms_seen(self.threads_seen))
        main_end = bool(self.main_ticks) and sc.duration is not None
        if self.main_ticks:
            self.daemons += 1
            env.process(self.main_tick(self.main_ticks))
        if main_end:
            env.process(self.main_end(sc.duration))
        try:
            if main_end:
                env.run(until=sc.duration * MAIN_END_CAP)  # main_end stops it, as soon as main gets there
            elif sc.duration is not None:
                env.run(until=sc.duration)
            else:
                env.run()
        except StackOverflow as exc:
            self.overflow = {"goroutine": exc.goid, "size": exc.newsize, "limit": exc.limit,
                             "depth": exc.depth, "time": env.now, "message": str(exc)}
        except RunStopped as exc:
            self.stopped = {"reason": exc.reason, "time": env.now}
        except KeyboardInterrupt as exc:  # SIGINT (or a handler raising a subclass, e.g. for SIGTERM)
            self.stopped = {"reason": "interrupted", "signal": type(exc).__name__, "time": env.now}
        self.finished = True
        self._sample()
        for gp in list(self.rt.live.values()):
            if gp.kind == "user":
                self._goroutine_done(gp)
        return _time.perf_counter() - t0

    def fatal(self, exc: StackOverflow) -> None:
        """The runtime's fatal error: record it and stop the whole simulation at this instant."""
        self.overflow = {"goroutine": exc.goid, "size": exc.newsize, "limit": exc.limit,
                         "depth": exc.depth, "time": self.env.now, "message": str(exc)}
        stop_now(self.env)  # before any other event of this instant

    @property
    def on_draw(self):
        """on_draw(class, goroutine index, repeat, step index, field, value), called with every
        per-goroutine draw in the order made (simstack validate replays them in a real Go program)."""
        return self.ps.on_draw

    @on_draw.setter
    def on_draw(self, fn):
        self.ps.on_draw = fn

    def start_gc(self):
        """A GC cycle, started by the GOGC pacer (``Ps.allocate``)."""
        self.env.process(self.gc_cycle())

    def _goroutine_done(self, gp):
        self.rec.goroutine_row(gp.goid, gp.ctx.cls.name if gp.ctx else gp.kind, gp.created,
                               gp.exited if gp.exited >= 0 else math.nan, gp.max_size, gp.grows,
                               gp.shrinks, gp.bytes_copied)

