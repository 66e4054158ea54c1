"""The SimPy engine: time, Ps running goroutines, arrivals, GC cycles, gates, sampling.

SimPy only decides *when*; the runtime model decides what happens to memory.  Each P
runs the scheduler loop from SimPy event callbacks: it takes the next goroutine from
the run queues (``Runtime.schedule``) and executes that goroutine's program until it
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

    __slots__ = ("cls", "pc", "rep", "started", "remaining", "slice")

    def __init__(self, cls):
        self.cls = cls
        self.pc = 0
        self.rep = 0
        self.started = False
        self.remaining = 0.0  # rest of the current (or a preempted) run step
        self.slice = 0.0  # the run slice it holds its P for now


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
        self._timer_cb = self._timer_fired  # one bound method for every timer
        seed = np.random.SeedSequence(scenario.seed)
        streams = seed.spawn(len(scenario.goroutines) + 1)
        self.arrival_rng = np.random.default_rng(streams[-1])
        self.classes = {}
        for i, cls in enumerate(scenario.goroutines):
            self.classes[cls.name] = ClassInfo(cls, i, np.random.default_rng(streams[i]), self._park_path(cls))
        self.idle = {}  # p.id -> P, for the Ps with nothing to run
        n = len(self.rt.allp)
        self.multi = n > 1
        self.p_current = [None] * n  # the G each P runs (between its run slices)
        self.p_timed = [False] * n  # whether the G on the P has held it for simulated time
        # one bound callback per P (the event flow of p_loop and _slice_done)
        self._p_callbacks = [lambda _ev, pp=pp: self.p_loop(pp) for pp in self.rt.allp]
        self._slice_callbacks = [lambda _ev, pp=pp: self._slice_done(pp) for pp in self.rt.allp]
        self.gates = {g.name: [] for g in getattr(scenario, "gates", None) or []}
        self.overflow = None
        self.finished = False
        self.allocated = 0.0  # heap bytes allocated since the last GC (gogc trigger)
        self._paced = self._pacing()
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
            self._p_event(pp, priority=simpy.core.URGENT)  # as a process would start
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
    # A P is driven by SimPy callbacks rather than a generator process: it yields to SimPy
    # once per ``run`` slice and once per wake-up, and resuming a callback is much cheaper
    # than resuming a process (millions of times in a large run).  The event flow is the
    # one a process ``while True: schedule; execute`` would have, event for event.

    def _p_event(self, pp, delay=0.0, priority=simpy.core.NORMAL):
        """Schedule ``pp``'s loop to go on after ``delay`` (an event whose callback is p_loop)."""
        ev = simpy.Event(self.env)
        ev._ok, ev._value = True, None
        ev.callbacks.append(self._p_callbacks[pp.id])
        self.env.schedule(ev, priority, delay)
        return ev

    def p_loop(self, pp):
        """One P: schedule, execute the goroutine until it blocks or exits, repeat, until the
        P has to wait (a run slice, a zero-time turn for the other Ps, or idleness)."""
        rt, env = self.rt, self.env
        pid = pp.id
        current = self.p_current
        while True:
            gp = current[pid]
            if gp is None:
                gp = rt.schedule(pp)
                if gp is None:
                    self.idle[pid] = pp  # wake() schedules the event that brings it back
                    return
                current[pid] = gp
                self.p_timed[pid] = False
            try:
                slice_ = self.execute(gp, pp)
            except StackOverflow as exc:
                current[pid] = None
                self.fatal(exc)  # this P stops here; the others at the stop event, this instant
                return
            if slice_ is not None:  # gp holds the P for slice_ seconds
                ev = env.timeout(slice_)
                ev.callbacks.append(self._slice_callbacks[pid])
                return
            current[pid] = None
            if self.multi and not self.p_timed[pid]:
                # Ps run in parallel: after a zero-time slice let the others take their turn,
                # so that goroutines released at one instant interleave across Ps
                self._p_event(pp)
                return

    def _slice_done(self, pp):
        """A run slice ended: account its allocation, then go on, slice again or preempt."""
        rt = self.rt
        gp = self.p_current[pp.id]
        ctx = gp.ctx
        slice_ = ctx.slice
        t = ctx.remaining - slice_
        rate = ctx.cls.alloc_rate
        if rate:
            self._allocate(rate * slice_)
        if t > 1e-15 and rt.runnable_anywhere():
            ctx.remaining = t
            rt.global_runq.append(gp)  # goschedImpl: preempted Gs go to the global queue
            gp.status = "runnable"
            self.p_current[pp.id] = None
        elif t > 0:
            ev = self.env.timeout(self._start_slice(gp, pp, t))
            ev.callbacks.append(self._slice_callbacks[pp.id])
            return
        else:
            ctx.remaining = 0.0
        self.p_loop(pp)

    def _start_slice(self, gp, pp, t):
        """Hold the P for the rest ``t`` of a run step: all of it, or 10 ms while others wait
        (sysmon preempts a goroutine that runs longer than that)."""
        ctx = gp.ctx
        ctx.remaining = t
        ctx.slice = t if not self.rt.runnable_anywhere() else min(t, PREEMPT_SLICE)
        self.p_timed[pp.id] = True
        return ctx.slice

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
            self._p_event(idle.pop(pp.id))
        elif idle:
            self._p_event(idle.pop(min(idle)))
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
        """Run gp's program on pp from where it stopped until it parks, is preempted or exits.

        Returns the length of the run slice gp now holds the P for (``p_loop`` waits it
        out and ``_slice_done`` goes on from there), or None when gp has left the P.
        """
        rt = self.rt
        ctx = gp.ctx
        info = ctx.cls
        if not ctx.started:
            rt.enter(gp, pp)
            ctx.started = True
        if ctx.remaining > 0:  # the rest of a preempted run step
            return self._start_slice(gp, pp, ctx.remaining)
        prog = info.program
        on_draw = self.on_draw
        while True:
            if ctx.pc >= len(prog):
                ctx.rep += 1
                if info.repeat is not None and ctx.rep >= info.repeat:
                    rt.goexit(gp, pp)
                    if self.check:
                        rt.check_invariants()
                    return None
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
            draw = step.depth
            if draw is not None:
                depth = draw.const if draw.const is not None else draw(gp.index)  # constants without a call
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "depth", depth)
                rt.move_to_depth(gp, pp, depth, step.frame if step.frame is not None else info.frame)
            if self.check:
                rt.check_invariants()
            if kind == "run":
                if step.transient:
                    rt.run_transient(gp, pp, step.transient)
                draw = step.duration
                t = draw.const if draw.const is not None else draw(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "run", t)
                if t > 0:
                    return self._start_slice(gp, pp, t)
                continue
            # a blocking step: park on the runtime's receive path, then arrange the wake-up
            rt.park(gp, pp, step.park_frames, step.transient, info.park_path)
            if kind == "block":
                if step.forever:
                    return None
                draw = step.duration
                t = draw.const if draw.const is not None else draw(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "block", t)
                self._timer(gp, pp, t)
            elif kind == "block_until":
                self._timer(gp, pp, max(0.0, step.until - self.env.now))
            elif kind == "wait":
                self.gates[step.wait].append(gp)
            return None

    def _timer(self, gp, pp, delay):
        ev = self.env.timeout(delay)
        ev.gp, ev.pp = gp, pp  # read back by _timer_fired (cheaper than a closure per timer)
        ev.callbacks.append(self._timer_cb)

    def _timer_fired(self, ev):
        self.ready(ev.gp, ev.pp)

    def _goroutine_done(self, gp):
        self.rec.goroutine_row(gp.goid, gp.ctx.cls.name if gp.ctx else gp.kind, gp.created,
                               gp.exited if gp.exited >= 0 else math.nan, gp.max_size, gp.grows,
                               gp.shrinks, gp.bytes_copied)
