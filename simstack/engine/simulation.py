"""The SimPy engine: time, Ps running goroutines, arrivals, GC cycles, gates, sampling.

SimPy only decides *when*; the runtime model decides what happens to memory.  Each P
is a SimPy process running the scheduler loop: it takes the next goroutine from the
run queues (``Runtime.schedule``) and executes that goroutine's program until it
blocks or exits; ``run: T`` holds the P for T (preempted every 10 ms when others
wait, as sysmon does).  A blocked goroutine is readied onto a run queue by a timer
(its own P) or a gate (the opener's P, as ``close(ch)`` readies waiters).
"""
from __future__ import annotations

import math
import time as _time

import numpy as np
import simpy

from ..runtime.growth import StackOverflow
from ..runtime.profiles import Frame, resolve_profile
from ..runtime.runtime import Runtime
from .draws import CStep

PREEMPT_SLICE = 0.010  # sysmon's forcePreemptNS


class RunStopped(Exception):
    """The run cannot go on: a limit (``max_goroutines``, ``max_events``) was reached."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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


class Simulation:
    """Run one scenario: build the runtime, start the SimPy processes, record everything."""

    def __init__(self, scenario, recorder, *, check_invariants: bool = False, progress=None,
                 max_goroutines: int | None = None, max_events: int | None = None):
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
        if hasattr(recorder, "bind"):
            recorder.bind(self.env)
        self.rt = Runtime(self.profile, rs.gomaxprocs, baseline=rs.baseline == "auto",
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
            timed = yield from self.execute(gp, pp)
            if multi and not timed:
                # Ps run in parallel: after a zero-time slice let the others take their turn,
                # so that goroutines released at one instant interleave across Ps
                yield env.timeout(0)

    def wake(self, pp=None):
        """wakep: wake the given P if idle, else any idle P (it will steal)."""
        if pp is not None and pp.id in self.idle:
            self.idle.pop(pp.id).succeed()
            return
        if self.idle:
            pid = min(self.idle)
            self.idle.pop(pid).succeed()

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

    # --- arrivals --------------------------------------------------------------------------
    def arrivals(self, info):
        """Create the class's goroutines as its arrival process says, from P0 (like main)."""
        env = self.env
        arr = info.spec.arrival
        count = info.spec.count
        p0 = self.rt.allp[0]
        until = arr.until if arr.until is not None else math.inf
        made = 0

        def more():
            return (count is None or made < count) and env.now <= until

        if arr.process == "burst":
            yield env.timeout(max(0.0, arr.at - env.now))
            for _ in range(count or 0):
                self.newproc(info, p0)
            return
        if arr.process == "trace":
            for t in sorted(arr.times):
                if count is not None and made >= count:
                    return
                yield env.timeout(max(0.0, t - env.now))
                self.newproc(info, p0)
                made += 1
            return
        yield env.timeout(max(0.0, arr.start - env.now))
        rng = self.arrival_rng
        while more():
            self.newproc(info, p0)
            made += 1
            gap = arr.every if arr.process == "uniform" else rng.exponential(1.0 / arr.rate)
            yield env.timeout(gap)

    # --- GC ------------------------------------------------------------------------------
    def gc_schedule(self):
        """Start GC cycles at the ``gc.at`` times (like runtime.GC())."""
        env = self.env
        for t in sorted(self.scenario.gc.at):
            yield env.timeout(max(0.0, t - env.now))
            yield from self.gc_cycle()

    def gc_interval(self):
        """trigger: interval: a cycle every ``interval`` while the program has work (a daemon)."""
        env, dt = self.env, self.scenario.gc.interval
        while True:
            yield env.timeout(dt)
            if self._only_daemons_left():
                return
            yield from self.gc_cycle()

    def _only_daemons_left(self) -> bool:
        """Without a duration the run ends when nothing but the periodic daemons (sampler,
        interval GC) is scheduled: each has one pending event, except the one asking."""
        return self.scenario.duration is None and len(self.env._queue) <= self.daemons - 1

    def gc_cycle(self):
        """One cycle: mark (with its simulated length), then mark termination."""
        if self.gc_active:
            return
        self.gc_active = True
        rt = self.rt
        rt.gc_start(rt.allp[0])
        md = self.scenario.gc.mark_duration
        if md > 0:
            yield self.env.timeout(md)
        stats = rt.gc_end()
        self.allocated = 0.0
        self.gc_active = False
        self.rec.gc_row(dict(stats))
        if self.check:
            rt.check_invariants()

    def _allocate(self, nbytes):
        """Heap allocation by running goroutines; starts a cycle when the GOGC goal is reached."""
        gc = self.scenario.gc
        if gc.trigger != "gogc" or gc.gogc is None or nbytes <= 0:
            return
        self.allocated += nbytes
        # 1.18+ pacer: the goal counts last cycle's scanned stack bytes (spec §6.4)
        stacks = self.rt.last_stack_scan if self.profile.stacks_in_gc_goal else 0
        goal = (gc.live_heap + stacks) * gc.gogc / 100.0
        if self.allocated >= goal and not self.gc_active:
            self.env.process(self.gc_cycle())

    # --- observation -----------------------------------------------------------------------
    def checkpoint(self, cp):
        yield self.env.timeout(max(0.0, cp.at - self.env.now))
        rt = self.rt
        fig = rt.read_memstats() if cp.via == "memstats" else rt.read_metrics()
        full = rt.observe()
        full.update(fig)
        extra = {"goroutine_stacks": self.class_histograms()}
        if "stack_inuse_before_flush" in fig:
            extra["stack_inuse_before_flush"] = fig["stack_inuse_before_flush"]
        self.rec.checkpoint(cp.label, self.env.now, cp.via, full, rt.goroutine_sizes(), extra)

    def class_histograms(self) -> dict:
        """Live user goroutines by class and stack size: {class: {size: count}}."""
        out: dict = {}
        for gp in self.rt.live.values():
            if gp.kind == "user" and gp.ctx is not None:
                d = out.setdefault(gp.ctx.cls.spec.name, {})
                d[gp.stack.size] = d.get(gp.stack.size, 0) + 1
        return out

    def gate(self, gate):
        """Open a gate at each of its times: its waiters become runnable on P0 in arrival order.

        Open question, measured rather than read: closechan collects the waiters onto a
        gList (a stack) and readies them from it, i.e. last parked first; readying them in
        park order instead is what reproduces the reference runs' free-list retention
        exactly (W3 at GOMAXPROCS 1 on all three versions; LIFO leaves 3 spans too few), so
        something between close and the goroutines' exits that the model lacks reverses
        the order again.
        """
        for t in sorted(gate.open_at):
            yield self.env.timeout(max(0.0, t - self.env.now))
            waiters, self.gates[gate.name] = self.gates[gate.name], []
            p0 = self.rt.allp[0]
            for gp in waiters:
                self.rt.runqput(p0, gp, True)
            for _ in waiters[:len(self.rt.allp)]:
                self.wake(p0)

    def sample_every(self) -> float:
        sc = self.scenario
        if sc.record.sample_every:
            return sc.record.sample_every
        horizon = sc.duration or self.horizon_hint()
        return horizon / 1000 if horizon else 0.001

    def horizon_hint(self) -> float:
        sc = self.scenario
        ts = list(sc.gc.at) + [c.at for c in sc.checkpoints]
        for g in getattr(sc, "gates", None) or []:
            ts += list(g.open_at)
        for c in sc.goroutines:
            a = c.arrival
            ts += [a.at or 0, a.start or 0] + list(a.times or []) + ([a.until] if a.until else [])
        return max(ts) if ts else 0.0

    def sampler(self):
        env = self.env
        dt = self.sample_every()
        while True:
            self._sample()
            if self._only_daemons_left():
                return
            yield env.timeout(dt)
            if self.progress is not None:
                self.progress(env.now)

    def _sample(self):
        if self.max_events is not None and self.rec.n_events >= self.max_events and not self.finished:
            raise RunStopped(f"stopped at {self.rec.n_events:,} events: the limit is {self.max_events:,} "
                             "(--max-events)")
        self.rec.sample(self.env.now, self.rt.observe(), self.rt.goroutine_sizes())
