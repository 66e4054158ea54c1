"""The SimPy engine: time, Ps running goroutines, arrivals, GC cycles, gates, sampling.

SimPy only decides *when*; the runtime model decides what happens to memory.  Each P
is a SimPy process running the scheduler loop: it takes the next goroutine from the
run queues (``Runtime.schedule``) and executes that goroutine's program until it
blocks or exits; ``run: T`` holds the P for T (preempted every 10 ms when others
wait, as sysmon does).  A blocked goroutine is readied onto a run queue by a timer
(its own P) or a gate (the opener's P, as ``close(ch)`` readies waiters).

The other processes live beside this module: arrivals and gates (``arrivals.py``),
GC cycles (``gc.py``), checkpoints and the footprint sampler (``observe.py``).
"""
from __future__ import annotations

import math
import time as _time

import numpy as np
import simpy

from ..runtime.growth import StackOverflow
from ..runtime.profiles import Frame, resolve_profile, with_overrides
from ..runtime.hookable import HookableRuntime
from ..runtime.runtime import Runtime
from .arrivals import ArrivalsMixin
from .draws import CStep
from .gc import GCMixin
from .observe import ObserveMixin
from .stop import RunStopped

PREEMPT_SLICE = 0.010  # sysmon's forcePreemptNS


class GoroutineCtx:
    """Where a goroutine is in its program (the engine's side of a G)."""

    __slots__ = ("cls", "pc", "rep", "started", "remaining")

    def __init__(self, cls):
        self.cls = cls
        self.pc = 0
        self.rep = 0
        self.started = False
        self.remaining = 0.0  # rest of a preempted run step


class ClassInfo:
    """A goroutine class resolved for the engine: its spec, index, random stream and steps."""

    __slots__ = ("spec", "name", "site", "rng", "spawned", "park_path", "program", "repeat", "frame",
                 "entry_frame", "alloc_rate")

    def __init__(self, spec, site, rng, park_path):
        self.spec = spec
        self.name = spec.name
        self.site = site
        self.rng = rng
        self.spawned = 0
        self.park_path = park_path
        self.program = [CStep(step, j, rng) for j, step in enumerate(spec.program)]
        self.repeat = spec.repeat
        self.frame = spec.frame
        self.entry_frame = spec.entry_frame
        self.alloc_rate = spec.alloc_rate


class Simulation(ArrivalsMixin, GCMixin, ObserveMixin):
    """Run one scenario: build the runtime, start the SimPy processes, record everything."""

    def __init__(self, scenario, recorder, *, check_invariants: bool = False, progress=None,
                 max_goroutines: int | None = None, max_events: int | None = None, hooks: bool = False,
                 profile_changes: dict | None = None):
        """``hooks``: the runtime's methods will be wrapped per instance (``check_invariants`` implies
        it; ``simstack validate`` sets it): a :class:`HookableRuntime` instead of the compiled one.
        ``profile_changes``: profile fields to replace (``simstack validate`` gives the model the
        number of threads a real run started with)."""
        self.scenario = scenario
        self.max_goroutines = max_goroutines
        self.max_events = max_events
        self.spawned = 0
        self.stopped = None  # {"reason", "time"} when the run ended early
        # on_draw(class, goroutine index, repeat, step index, field, value): every per-goroutine
        # draw, in the order made (simstack validate replays them in a real Go program)
        self.on_draw = None
        self.rec = recorder
        self.check = check_invariants
        self.progress = progress
        self.env = simpy.Environment()
        rs = scenario.runtime
        ov = rs.overrides.model_dump() if hasattr(rs.overrides, "model_dump") else dict(rs.overrides or {})
        self.profile = resolve_profile(rs.version, rs.platform, godebug=rs.godebug,
                                       max_stack=rs.max_stack, overrides=ov)
        if profile_changes:
            self.profile = with_overrides(self.profile, **profile_changes)
        if hasattr(recorder, "bind"):
            recorder.bind(self.env)
        rt_class = HookableRuntime if (hooks or check_invariants) else Runtime
        self.rt = rt_class(self.profile, rs.gomaxprocs, baseline=rs.baseline == "auto",
                          emit=recorder.emit, clock=lambda: self.env.now)
        self.rt.on_exit_hook = self._goroutine_done
        seed = np.random.SeedSequence(scenario.seed)
        streams = seed.spawn(len(scenario.goroutines) + 1)
        self.arrival_rng = np.random.default_rng(streams[-1])
        self.classes = {}
        for i, cls in enumerate(scenario.goroutines):
            self.classes[cls.name] = ClassInfo(cls, i, np.random.default_rng(streams[i]), self._park_path(cls))
        self.idle = {}  # p.id -> event an idle P waits on
        self.gates = {g.name: [] for g in getattr(scenario, "gates", None) or []}
        self.overflow = None
        self.finished = False
        self.allocated = 0.0  # heap bytes allocated since the last GC (gogc trigger)
        self.gc_active = False

    # --- set-up -----------------------------------------------------------------------
    def _park_path(self, cls):
        pp = getattr(cls, "park_path", "auto")
        if pp in (None, "auto"):
            return None
        if pp == "none":
            return ()
        return tuple(Frame(f["frame"] if isinstance(f, dict) else f.frame,
                           f.get("nosplit", False) if isinstance(f, dict) else f.nosplit) for f in pp)

    def run(self):
        """Run to ``duration`` (or until nothing is left to do); returns wall seconds."""
        sc = self.scenario
        env = self.env
        t0 = _time.perf_counter()
        for pp in self.rt.allp:
            env.process(self.p_loop(pp))
        for info in self.classes.values():
            if info.spec.arrival.process != "spawned":
                env.process(self.arrivals(info))
        env.process(self.gc_schedule())
        self.daemons = 1  # the sampler
        if sc.gc.trigger == "interval" and sc.gc.interval:
            self.daemons += 1
            env.process(self.gc_interval())
        for cp in sc.checkpoints:
            env.process(self.checkpoint(cp))
        for gate in getattr(sc, "gates", None) or []:
            env.process(self.gate(gate))
        env.process(self.sampler())
        try:
            if sc.duration is not None:
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

    # --- Ps -------------------------------------------------------------------------------
    def p_loop(self, pp):
        """One P: schedule, execute the goroutine until it blocks or exits, repeat."""
        rt, env = self.rt, self.env
        multi = len(rt.allp) > 1
        while True:
            gp = rt.schedule(pp)
            if gp is None:
                ev = self.idle[pp.id] = env.event()
                yield ev
                continue
            try:
                timed = yield from self.execute(gp, pp)
            except StackOverflow as exc:
                self.fatal(exc)  # the process dies here, on every P
                return
            if multi and not timed:
                # Ps run in parallel: after a zero-time slice let the others take their turn,
                # so that goroutines released at one instant interleave across Ps
                yield env.timeout(0)

    def fatal(self, exc: StackOverflow) -> None:
        """The runtime's fatal error: record it and stop the whole simulation at this instant."""
        self.overflow = {"goroutine": exc.goid, "size": exc.newsize, "limit": exc.limit,
                         "depth": exc.depth, "time": self.env.now, "message": str(exc)}
        stop = self.env.event()
        stop._ok, stop._value = True, None
        stop.callbacks.append(simpy.core.StopSimulation.callback)
        self.env.schedule(stop, simpy.core.URGENT)  # before any other event of this instant

    def wake(self, pp=None):
        """wakep: wake the given P if idle, else any idle P (it will steal)."""
        idle = self.idle
        if pp is not None and pp.id in idle:
            idle.pop(pp.id).succeed()
        elif idle:
            idle.pop(min(idle)).succeed()
        else:
            return
        self.rt.startm(pp or self.rt.allp[0], len(self.rt.allp) - len(idle))

    def ready(self, gp, pp):
        """goready: put gp on pp's run queue (runnext) and wake a P."""
        self.rt.runqput(pp, gp, True)
        self.wake(pp)

    # --- goroutines -----------------------------------------------------------------------
    def newproc(self, info, pp):
        """The ``go`` statement from P ``pp``: create a goroutine of ``info``'s class and queue it."""
        gp = self.rt.newproc(pp, info.site, info.entry_frame, info.spawned)
        gp.ctx = GoroutineCtx(info)
        info.spawned += 1
        self.spawned += 1
        if self.max_goroutines is not None and self.spawned >= self.max_goroutines:
            raise RunStopped(f"stopped at {self.spawned:,} goroutines: the limit is {self.max_goroutines:,} "
                             "(--max-goroutines)")
        if self.max_events is not None and self.rec.n_events >= self.max_events:
            raise RunStopped(f"stopped at {self.rec.n_events:,} events: the limit is {self.max_events:,} "
                             "(--max-events)")
        self.rt.runqput(pp, gp, True)
        self.wake(pp)
        if self.check:
            self.rt.check_invariants()
        return gp

    def execute(self, gp, pp):
        """Run gp's program on pp until it parks, is preempted or exits.

        Returns True when simulated time passed while it ran (the P already interleaved
        with the others), False for a zero-time slice.
        """
        rt = self.rt
        ctx = gp.ctx
        info = ctx.cls
        timed = False
        if not ctx.started:
            rt.enter(gp, pp)
            ctx.started = True
        if ctx.remaining > 0:
            timed = True
            if not (yield from self._run_for(gp, pp, ctx.remaining)):
                return timed
        prog = info.program
        on_draw = self.on_draw
        while True:
            if ctx.pc >= len(prog):
                ctx.rep += 1
                if info.repeat is not None and ctx.rep >= info.repeat:
                    rt.goexit(gp, pp)
                    if self.check:
                        rt.check_invariants()
                    return timed
                ctx.pc = 0
            step = prog[ctx.pc]
            ctx.pc += 1
            kind = step.kind
            if kind == "spawn":
                n = step.count(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "count", n)
                target = self.classes[step.spawn]
                for _ in range(n):
                    self.newproc(target, pp)
                continue
            if step.depth is not None:
                depth = step.depth(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "depth", depth)
                rt.move_to_depth(gp, pp, depth, step.frame if step.frame is not None else info.frame)
            if self.check:
                rt.check_invariants()
            if kind == "run":
                if step.transient:
                    rt.run_transient(gp, pp, step.transient)
                t = step.duration(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "run", t)
                if t > 0:
                    timed = True
                    if not (yield from self._run_for(gp, pp, t)):
                        return timed
                continue
            # a blocking step: park on the runtime's receive path, then arrange the wake-up
            rt.park(gp, pp, step.park_frames, step.transient, info.park_path)
            if kind == "block":
                if step.forever:
                    return timed
                t = step.duration(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "block", t)
                self._timer(gp, pp, t)
            elif kind == "block_until":
                self._timer(gp, pp, max(0.0, step.until - self.env.now))
            elif kind == "wait":
                self.gates[step.wait].append(gp)
            return timed

    def _run_for(self, gp, pp, t):
        """Hold the P for t seconds, yielding it every 10 ms to waiting goroutines (preemption)."""
        env, rt = self.env, self.rt
        info = gp.ctx.cls
        rate = info.alloc_rate
        while t > 0:
            slice_ = t if not rt.runnable_anywhere() else min(t, PREEMPT_SLICE)
            yield env.timeout(slice_)
            t -= slice_
            if rate:
                self._allocate(rate * slice_)
            if t > 1e-15 and rt.runnable_anywhere():
                gp.ctx.remaining = t
                rt.global_runq.append(gp)  # goschedImpl: preempted Gs go to the global queue
                gp.status = "runnable"
                return False
        gp.ctx.remaining = 0.0
        return True

    def _timer(self, gp, pp, delay):
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _ev, gp=gp, pp=pp: self.ready(gp, pp))

    def _goroutine_done(self, gp):
        self.rec.goroutine_row(gp.goid, gp.ctx.cls.spec.name if gp.ctx else gp.kind, gp.created,
                               gp.exited if gp.exited >= 0 else math.nan, gp.max_size, gp.grows,
                               gp.shrinks, gp.bytes_copied)
