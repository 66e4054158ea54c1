"""The Ps: scheduler loops that run goroutine programs, driven by SimPy callbacks.

This is the engine's hot path (several calls per goroutine, millions in a large run),
so it is compiled with the runtime model (``setup.py``) and calls the model's
methods natively.  A P is not a SimPy process: it runs from an event's callback until
it has to wait (a run slice, a zero-time turn for the other Ps, or idleness) and
schedules the event that brings it back.  The event flow is the one a process
``while True: gp = schedule(); execute(gp)`` would have, event for event, and resuming
a callback is cheaper than resuming a generator.

SimPy decides *when*; everything that touches memory goes through the runtime model.
``Simulation`` (simulation.py) owns one :class:`Ps` and the processes around it:
arrivals, gates, GC cycles, checkpoints and the sampler.
"""
from __future__ import annotations

import heapq
import math
from typing import Any, Final, Optional

import simpy

from ..runtime.growth import StackOverflow
from ..runtime.mgcsweep import SWEEP_MIN_HEAP_DISTANCE
from ..runtime.proc import GDEAD, G, P
from ..runtime.runtime import Runtime
from .cpus import Cpus, base_slice
from .draws import ClassInfo, CStep, Draw
from .simpy_access import Triggered
from .stop import RunStopped
from .sysmon import Sysmon

GC_BACKGROUND_UTILIZATION: Final = 0.25  # gcBackgroundUtilization: the mark workers' share of the Ps
_NORMAL: Final = 1  # simpy.core.NORMAL
_URGENT: Final = 0  # simpy.core.URGENT
_LAST: Final = 2  # after every NORMAL event of the same instant
NEVER: Final = 1 << 62  # a spinning P's join that no count of goroutines reaches
assert (_NORMAL, _URGENT) == (simpy.core.NORMAL, simpy.core.URGENT)


class GoroutineCtx:
    """Where a goroutine is in its program (the engine's side of a G)."""

    def __init__(self, cls: ClassInfo) -> None:
        self.cls = cls
        self.pc = 0
        self.rep = 0
        self.started = False
        self.remaining = 0.0  # rest of the current (or a preempted) run step
        self.slice = 0.0  # the run slice it holds its P for now
        self.executed = 0.0  # when the time slice it runs in began (its P's last new schedtick; sysmon.py)
        self.joiner: Optional[G] = None  # the goroutine that started it with a joining spawn step, waiting for it
        self.joining = 0  # the goroutines its own joining spawn step started that have not exited yet


class Ps:
    """Every P's scheduler loop, the goroutines' programs, timers, wake-ups and GOGC pacing."""

    def __init__(self, sim: Any, rt: Runtime, classes: dict[str, ClassInfo], gates: dict[str, list[G]],
                 checker: Any, max_goroutines: Optional[int], max_events: Optional[int],
                 paced: Optional[tuple[Any, Any, bool, Any]]) -> None:
        self.sim: Any = sim  # Simulation: fatal(), start_gc(), its recorder
        self.env: Any = sim.env
        self.rt = rt
        self.classes = classes
        self.gates = gates
        # gate -> (waiters it waits for, the event that fires when they are there): a wait_for opening
        self.gate_full: dict[str, tuple[int, Any]] = {}
        # semaphores: name -> [free tokens, goroutines waiting for one (in park order)]
        self.sems: dict[str, list[Any]] = {s.name: [s.tokens, []] for s in getattr(sim.scenario, "semaphores", ())}
        # the invariant checker (runtime/invariants.py) when checking: told after each runtime operation
        self.checker: Any = checker
        # an EngineTracer (tracer.py) when one is attached: told what the Ps do besides the runtime's events
        self.tracer: Any = None
        self.max_goroutines = max_goroutines
        self.max_events = max_events
        # live goroutines (not created ones): the memory a run streamed to disk holds grows with them
        self.max_live: Optional[int] = None
        self.spawned = 0
        # on_draw(class, goroutine index, repeat, step index, field, value): every per-goroutine
        # draw, in the order made (simstack validate replays them in a real Go program)
        self.on_draw: Any = None
        self.idle: dict[int, P] = {}  # the Ps with nothing to run, by id
        n = len(rt.allp_made)  # per-P state for every P the run will have (runtime.gomaxprocs_changes)
        self.nprocs = len(rt.allp)  # GOMAXPROCS now
        self.multi = self.nprocs > 1
        self.p_current: list[Optional[G]] = [None] * n  # the G each P runs (between its run slices)
        self.p_timed: list[bool] = [False] * n  # whether that G has held its P for simulated time
        # each P's schedtick as last seen, and when it last changed: the time slice sysmon measures, which
        # goroutines scheduled from runnext inherit (sysmon.py)
        self.p_tick: list[int] = [-1] * n
        self.p_slice_start: list[float] = [0.0] * n
        self.sysmon = Sysmon(rt.profile.sysmon_slack)
        # one callback per P for each way it comes back: its loop, the end of a run slice
        self.p_callbacks: list[Any] = [self._loop_callback(pp) for pp in rt.allp_made]
        self.slice_callbacks: list[Any] = [self._slice_callback(pp) for pp in rt.allp_made]
        # each P's pending hold (a run slice or the runtime's own work) and when it began: procresize
        # stops a destroyed P's in the middle
        self.p_hold: list[Any] = [None] * n
        self.p_hold_at: list[float] = [0.0] * n
        self.timer_callback: Any = self.timer_fired
        # the netpoller: with every P idle, findRunnable's M waits for the next timer in
        # netpoll(delay), which sleeps on a grid of timer_resolution from when it blocked
        self.res: float = rt.profile.timer_resolution
        self.slack: float = rt.profile.timer_slack
        self.timer_whens: list[float] = []  # pending timers' times, a heap (its least: pollUntil)
        self.expired: list[list[Any]] = [[] for _ in range(n)]  # per P: timers due, not yet run
        self.n_expired = 0
        self.polling = False  # an M is blocked in netpoll
        self.poll_anchor = 0.0  # since when
        self.poll_wake: Any = None  # its wake-up's event, while one is due
        self.poll_callback: Any = self.poll_woke
        self.main_waiters: list[Any] = []  # main's sleeps that ended while main waits in a run queue
        self.starting_worker: Optional[G] = None  # a mark worker main made and waits for (start_mark_worker)
        # main inside runtime.GC() (gc.py): its other sleeps that end wait for it to return
        self.main_in_gc = False
        self.main_held: list[Any] = []
        # validate's model past ``duration``: the program's scripts end there, so a goroutine parks
        # for good instead of starting its next step, while main finishes what was due before its end
        self.wind_down = False
        self.main_due = 0.0  # when the sleep main now acts on was due (main is late when it waits its turn)
        # the race model (races.py) at GOMAXPROCS >= 2, None at 1 (and the P woken by wakep that
        # has not joined yet: it joins when the race has run spin_at goroutines, or at the
        # instant's end)
        self.races: Any = None
        self.spinning: Optional[P] = None
        self.spin_at = 0
        self.running: list[int] = []  # scratch: the Ps not idle
        # a burst of go statements at one instant, each taking its runtime.cpu time: a P that one of
        # them woke takes its first goroutine once its M is up, when the creators have made
        # ``go_join`` of them (counted from the instant's first; measured, races.py), and steals half
        # of what is queued then, not half of the whole burst
        self.go_instant = -1.0
        self.go_made = 0
        self.go_join = NEVER
        self.in_go = False  # wake() is a go statement's wakep
        self.go_first = -1.0  # the instant of the run's first burst (measured apart: others join it sooner)
        self.instant_end_callback: Any = self.instant_end
        self.paced = paced  # (live heap, GOGC, stacks in the goal, profile) when GOGC paces cycles
        self.allocated = 0.0  # heap bytes allocated since the last GC
        self.marked_black = 0.0  # bytes allocated during the last mark phase: marked (black), so live
        # 1.21+ pacer: the runway each of the last cycles' cons/mark asks for (end_cycle), and the largest
        self.cons_mark: list[float] = []
        self.cons_runway = 0.0
        self.gc_active = False
        # time with at least one P idle (bgsweep sweeps there: mgcsweep.py): the total to the last time
        # none was, and since when one has been
        self.idle_total = 0.0
        self.idle_since = 0.0
        # the runtime's own P time (scenario runtime.cpu; all 0 by default): what a P owes for the
        # go statements, exits, parks and growths it ran, paid before it schedules again
        cpu = sim.scenario.runtime.cpu
        self.cost_newproc: float = cpu.newproc
        self.cost_malg: float = cpu.malg
        self.cost_goexit: float = cpu.goexit
        self.cost_park: float = cpu.park
        self.cost_grow: float = cpu.morestack
        self.costs = bool(cpu)
        self.cost_mark_cycle: float = cpu.mark_cycle
        self.cost_mark_g: float = cpu.mark_goroutine
        self.p_debt: list[float] = [0.0] * n
        # the machine's CPUs that the Ps' threads share (cpus.py), from the start where any GOMAXPROCS of the run
        # exceeds them; None: each P has a CPU of its own
        rs = sim.scenario.runtime
        shared = rs.share_cpus and rs.num_cpu is not None and rs.num_cpu < n
        self.cpus: Any = Cpus(self.env, rs.num_cpu, rs.os_slice or base_slice(rs.num_cpu)) if shared else None

    def _loop_callback(self, pp: P) -> Any:
        return lambda _ev: self.p_loop(pp)

    def _slice_callback(self, pp: P) -> Any:
        return lambda _ev: self.slice_done(pp)

    # --- Ps -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every P's loop at the current instant, before anything else, as processes would."""
        for pp in self.rt.allp:
            self.p_event(pp, _URGENT)

    def p_event(self, pp: P, priority: int = _NORMAL) -> None:
        """Schedule ``pp``'s loop to go on at this instant (an event whose callback is p_loop)."""
        self.env.schedule(Triggered(self.env, self.p_callbacks[pp.id]), priority)

    def p_loop(self, pp: P) -> None:
        """One P: schedule, execute the goroutine until it blocks or exits, repeat, until the
        P has to wait (a run slice, a zero-time turn for the other Ps, or idleness)."""
        rt = self.rt
        pid = pp.id
        if pid >= self.nprocs:
            return  # destroyed by procresize after this event was scheduled
        current = self.p_current
        while True:
            gp = current[pid]
            if gp is None:
                if self.costs and self.p_debt[pid] > 0.0:
                    # the runtime's own work since the P last scheduled (goexit0, park_m, newproc, ...)
                    debt = self.p_debt[pid]
                    self.p_debt[pid] = 0.0
                    self.hold(pid, debt, self.p_callbacks[pid])
                    return
                if self.n_expired and self.expired[pid]:
                    self.check_timers(pp, self.expired[pid], True)  # schedule -> checkTimers(pp)
                gp = rt.schedule(pp)
                if gp is None and self.n_expired:
                    main = False
                    for timers in self.expired:  # findRunnable -> stealWork: others' due timers
                        if timers:
                            main = self.check_timers(pp, timers) or main
                    if main:
                        self.p_event(pp)
                        return
                    gp = rt.schedule(pp)
                if gp is None:
                    if not self.idle:
                        self.idle_since = self.env.now
                    self.idle[pid] = pp  # wake() schedules the event that brings it back
                    if self.cpus is not None:
                        self.cpus.release(pid)  # its M sleeps: its CPU goes to the next thread in line
                    if self.spinning is pp:
                        self.spinning = None  # a woken P that found nothing: the M stops spinning
                    if self.res and not self.polling and self.poll_wake is None:
                        self.polling = True  # this M blocks in netpoll until the next timer
                        self.poll_anchor = self.env.now
                    return
                current[pid] = gp
                self.p_timed[pid] = False
                if pp.schedtick != self.p_tick[pid]:  # not from runnext: a new time slice
                    self.p_tick[pid] = pp.schedtick
                    self.p_slice_start[pid] = self.env.now
                if self.races is not None and self.spinning is pp:
                    self.spinning = None  # resetspinning: a woken P found work, wake the next
                    self.wake(pp)
                if gp is rt.main:
                    current[pid] = None
                    self.run_main(pp)
                    return
                if gp is self.starting_worker:
                    current[pid] = None
                    self.run_mark_worker_start(gp, pp)
                    return
                gp.ctx.executed = self.p_slice_start[pid]  # sysmon's 10 ms count from here
            try:
                slice_ = self.execute(gp, pp)
            except StackOverflow as exc:
                current[pid] = None
                self.sim.fatal(exc)  # this P stops here; the others at the stop event, this instant
                return
            if slice_ >= 0.0:  # gp holds the P for slice_ seconds
                self.hold(pid, slice_, self.slice_callbacks[pid])
                return
            current[pid] = None
            if self.multi and not self.p_timed[pid]:
                races = self.races
                if races is not None:
                    # the race model: the P keeps its turn as its measured share says; the
                    # spinning P joins once the race has run its measured latency
                    running = self.running
                    running.clear()
                    for p2 in rt.allp:
                        if p2.id not in self.idle:
                            running.append(p2.id)
                    keep = races.keep_turn(pid, running)
                    sp = self.spinning
                    if sp is not None and self.spin_at >= 0 and races.ran >= self.spin_at:
                        self.join(sp)
                    if keep:
                        continue
                # Ps run in parallel: after a zero-time slice let the others take their turn,
                # so that goroutines released at one instant interleave across Ps
                self.p_event(pp)
                return

    def slice_done(self, pp: P) -> None:
        """A run slice ended: account its allocation, then go on, slice again or preempt."""
        rt = self.rt
        gp = self.p_current[pp.id]
        assert gp is not None
        ctx: GoroutineCtx = gp.ctx
        slice_ = ctx.slice
        t = ctx.remaining - slice_
        rate = ctx.cls.alloc_rate
        if rate:
            self.allocate(rate * slice_)
        if t > 1e-15 and (rt.runnable_anywhere() or self.expired[pp.id]):
            ctx.remaining = t
            rt.global_runq.append(gp)  # goschedImpl: preempted Gs go to the global queue
            gp.status = "runnable"
            self.p_current[pp.id] = None
        elif t > 0:
            # preempted with nothing else to run: from the global queue again at once, a new time slice
            pp.schedtick += 1
            self.p_tick[pp.id] = pp.schedtick
            ctx.executed = self.p_slice_start[pp.id] = self.env.now
            self.hold(pp.id, self.start_slice(gp, pp, t), self.slice_callbacks[pp.id])
            return
        else:
            ctx.remaining = 0.0
            gp.in_step = False
        self.p_loop(pp)

    def hold(self, pid: int, seconds: float, callback: Any) -> None:
        """P ``pid`` runs for ``seconds``, then ``callback``: on its own CPU, or on one of the machine's
        shared ones when its turn comes (``runtime.share_cpus``, cpus.py)."""
        if self.cpus is None:
            ev = self.env.timeout(seconds)
            ev.callbacks.append(callback)
            self.p_hold[pid] = ev
            self.p_hold_at[pid] = self.env.now
        else:
            self.cpus.hold(pid, seconds, callback)

    def start_slice(self, gp: G, pp: P, t: float) -> float:
        """Hold the P for the rest ``t`` of a run step: all of it, or until sysmon's ``retake``
        preempts it while others wait or a timer comes due before it ends (10 – 20 ms into the P's
        time slice, which goroutines from runnext inherit: sysmon.py; the P then runs its due
        timers: a lone goroutine's step otherwise changes nothing)."""
        ctx: GoroutineCtx = gp.ctx
        ctx.remaining = t
        gp.in_step = True  # until the step is done: GC that scans it then stops it asynchronously
        whens = self.timer_whens
        now = self.env.now
        if t <= 1e-15:
            ctx.slice = t  # a rounding residue of the step: slice_done ends it
        elif self.rt.runnable_anywhere() or self.n_expired or (whens and whens[0] < now + t):
            ctx.slice = min(t, self.sysmon.preempt_at(ctx.executed, now) - now)
        else:
            ctx.slice = t
        self.p_timed[pp.id] = True
        return ctx.slice

    def wake(self, pp: Optional[P] = None, now: bool = False) -> None:
        """wakep: wake the given P if idle, else any idle P (it will steal).

        ``now``: the caller has nothing left to do at this instant and no other event is
        due at it, so the P's event would be the very next one processed: run the P's
        loop at once instead (the same order of everything, one SimPy event fewer).
        """
        idle = self.idle
        races = self.races
        if races is not None and self.spinning is not None:
            return  # wakep: an M is already spinning
        if pp is not None and pp.id in idle:
            woken = self.unidle(pp.id)
        elif idle:
            if races is not None:
                waker = pp if pp is not None else self.rt.allp[0]
                ready = waker.runnext  # the goroutine just readied: its depth is its work
                races.begin(self.env.now, waker.id, ready.depth if ready is not None else 0)
                at = races.join_at(min(idle))
                if at < 0:
                    # the measured release used no further P: its M still wakes and spins, but
                    # finds the work gone (it looks at the instant's end)
                    at = NEVER
                woken = self.unidle(min(idle))
                self.rt.startm(waker, len(self.rt.allp) - len(idle))
                self.spinning = woken
                self.spin_at = at
                if self.in_go:
                    # woken by a go statement of a burst (burst_go): its M is up once the creators have
                    # made the measured number of them (never, where that burst's other P took none)
                    if self.go_first < 0.0:
                        self.go_first = self.env.now
                    j = races.burst_join(self.go_first == self.env.now)
                    if j >= 0:
                        self.go_join = max(self.go_made + 1, j)
                    self.spin_at = NEVER  # else it looks at the instant's end
                    self.env.schedule(Triggered(self.env, self.instant_end_callback), _LAST)
                    return
                if races.ran >= at:
                    self.join(woken)
                else:
                    # the instant's end: after every event now due at it
                    self.env.schedule(Triggered(self.env, self.instant_end_callback), _LAST)
                return
            woken = self.unidle(min(idle))
        else:
            return
        self.rt.startm(pp if pp is not None else self.rt.allp[0], len(self.rt.allp) - len(idle))
        if now:
            self.p_loop(woken)
        else:
            self.p_event(woken)

    def unidle(self, pid: int) -> P:
        """Take P ``pid`` off the idle Ps (pidleget)."""
        pp = self.idle.pop(pid)
        if not self.idle:
            self.idle_total += self.env.now - self.idle_since
        return pp

    def idle_seconds(self) -> float:
        """The time so far with at least one P idle: bgsweep's, which sweeps on a P with nothing else."""
        return self.idle_total + (self.env.now - self.idle_since if self.idle else 0.0)

    def join(self, pp: P) -> None:
        """The spinning P starts looking for work (its loop, at this instant)."""
        self.spin_at = -1
        self.p_event(pp)

    def instant_end(self, _ev: Any) -> None:
        """The race's instant has no event left: a woken P that has not joined yet joins now.

        Work still runnable then waits behind a P that holds a run slice; the idle Ps' wake-up
        latency (microseconds) is below anything a timed step lasts, so they take it now."""
        sp = self.spinning
        if sp is not None:
            if self.spin_at >= 0:
                self.go_join = NEVER
                self.join(sp)
            return
        if self.env.peek() == self.env.now:
            return  # another instant's end is still due (one per P woken now)
        self.wake_for_waiting()

    def wake_for_waiting(self) -> None:
        """As many idle Ps as goroutines wait in the run queues look for work now, each with an M (startm)."""
        rt = self.rt
        waiting = rt.local_runnable + len(rt.global_runq)
        idle = self.idle
        while idle and waiting > 0:
            woken = self.unidle(min(idle))
            rt.startm(rt.allp[0], len(rt.allp) - len(idle))
            self.p_event(woken)
            waiting -= 1

    def procresize(self, nprocs: int) -> None:
        """runtime.GOMAXPROCS(nprocs) (``runtime.gomaxprocs_changes``): with the world stopped, each P
        beyond ``nprocs`` stops what it runs (its goroutine, preempted, to the global queue with the
        rest of its step) and is destroyed (``Runtime.procresize``: its queue to the global queue's
        head, its stack cache and free Gs released); the Ps it adds start idle, and startTheWorld
        wakes as many idle Ps as there are goroutines waiting."""
        rt = self.rt
        old = self.nprocs
        if nprocs == old:
            return
        now = self.env.now
        p0 = rt.allp[0]
        stopped: list[G] = []
        for pid in range(nprocs, old):
            pp = rt.allp[pid]
            ran = self.stop_hold(pid)
            gp = self.p_current[pid]
            if gp is not None:  # in a run slice: preempted where it is (goschedImpl)
                ran = max(ran, 0.0)
                self.p_current[pid] = None
                ctx: GoroutineCtx = gp.ctx
                rate = ctx.cls.alloc_rate
                if rate:
                    self.allocate(rate * ran)
                ctx.remaining = max(0.0, ctx.remaining - ran)
                if ctx.remaining <= 1e-15:
                    ctx.remaining = 0.0
                    gp.in_step = False
                gp.status = "runnable"
                stopped.append(gp)
            self.p_debt[pid] = 0.0
            self.p_timed[pid] = False
            if pid in self.idle:
                self.unidle(pid)
            if self.spinning is pp:
                self.spinning = None
            if self.expired[pid]:  # moveTimers: its timers go to the P running procresize
                for ev in self.expired[pid]:
                    ev.pp = p0
                self.expired[0].extend(self.expired[pid])
                self.expired[pid].clear()
        rt.global_runq.extend(stopped)  # preempted by the stop before procresize ran
        rt.procresize(nprocs)
        self.nprocs = nprocs
        self.multi = nprocs > 1
        for pid in range(old, nprocs):
            if not self.idle:
                self.idle_since = now
            self.idle[pid] = rt.allp[pid]
        sp, joined = self.spinning, self.spin_at < 0
        self.spinning = None
        self.spin_at = -1
        self.go_join = NEVER
        self.races = self.sim.make_races(nprocs)
        if sp is not None and not joined:
            self.p_event(sp)  # a woken P that has not joined yet looks for work now (one that has, has its event)
        self.wake_for_waiting()  # startTheWorld
        if self.checker is not None:
            self.checker.settled("procresize")

    def stop_hold(self, pid: int) -> float:
        """Stop P ``pid``'s pending hold (its callback will not come): the seconds it ran, -1 if none."""
        if self.cpus is not None:
            return self.cpus.cancel(pid)
        ev = self.p_hold[pid]
        if ev is None or ev.processed:
            return -1.0
        self.p_hold[pid] = None
        ev.callbacks.clear()
        return self.env.now - self.p_hold_at[pid]

    # --- goroutines -----------------------------------------------------------------------
    def newproc(self, info: ClassInfo, pp: P, wake: bool = True, burst: bool = False) -> G:
        """The ``go`` statement from P ``pp``: create a goroutine of ``info``'s class, queue it and
        wake a P (``wake`` false: the caller does, with ``wake``; ``burst``: one of several go
        statements in a row, burst_go)."""
        made = len(self.rt.allgs)
        gp = self.rt.newproc(pp, info.site, info.entry_frame, info.spawned)
        gp.ctx = GoroutineCtx(info)
        info.spawned += 1
        self.spawned += 1
        if self.max_goroutines is not None and self.spawned >= self.max_goroutines:
            raise RunStopped(f"stopped at {self.spawned:,} goroutines: the limit is {self.max_goroutines:,} "
                             "(--max-goroutines)")
        if self.max_events is not None and self.sim.rec.n_events >= self.max_events:
            raise RunStopped(f"stopped at {self.sim.rec.n_events:,} events: the limit is {self.max_events:,} "
                             "(--max-events)")
        if self.max_live is not None and len(self.rt.live) >= self.max_live:
            raise RunStopped(f"stopped at {len(self.rt.live):,} live goroutines: more would not fit half of this "
                             f"machine's memory (--max-goroutines sets a limit on goroutines created)")
        self.rt.runqput(pp, gp, True)
        if self.costs:
            self.charge_go(pp, made)
        if wake:
            if burst and self.races is not None and self.costs:
                self.burst_go(pp)
            else:
                self.wake(pp)
        if self.checker is not None:
            self.checker.settled("newproc")
        return gp

    def charge_go(self, pp: P, made: int) -> None:
        """A go statement's P time, owed by ``pp``: newproc, and malg when it made a new g (``allgs`` grew
        past ``made``)."""
        self.p_debt[pp.id] += self.cost_newproc + (self.cost_malg if len(self.rt.allgs) > made else 0.0)

    def burst_go(self, pp: P) -> None:
        """A go statement's wakep, where go statements take time (runtime.cpu, GOMAXPROCS >= 2): count
        it among this instant's, and once as many have been made as the spinning P's M needed to wake
        up (``go_join``), that P takes its first goroutine now, in the middle of the burst: it steals
        half of P ``pp``'s queue as it is then (and ``resetspinning`` wakes the next P the same way)."""
        now = self.env.now
        if now != self.go_instant:
            self.go_instant = now
            self.go_made = 0
            self.go_join = NEVER
        self.go_made += 1
        outer = self.in_go
        self.in_go = True
        self.wake(pp)
        sp = self.spinning
        if sp is not None and self.go_made >= self.go_join:
            self.go_join = NEVER
            self.spin_at = -1
            self.p_loop(sp)
        self.in_go = outer

    def execute(self, gp: G, pp: P) -> float:
        """Run gp's program on pp from where it stopped until it parks, is preempted or exits.

        Returns the length of the run slice gp now holds the P for (``p_loop`` waits it
        out and ``slice_done`` goes on from there), or -1 when gp has left the P. With
        ``runtime.cpu`` costs, pp then owes the P time of gp's growths and its park or exit.
        """
        tracer = self.tracer
        if tracer is None and not self.costs:
            return self.run_program(gp, pp)
        grows = gp.grows
        if tracer is not None:
            tracer.on_execute(gp)
        try:
            slice_ = self.run_program(gp, pp)
        finally:
            if tracer is not None:
                tracer.on_execute_end(gp)
        if self.costs:
            owed = (gp.grows - grows) * self.cost_grow
            if slice_ < 0.0:
                owed += self.cost_goexit if gp.status == GDEAD else self.cost_park
            self.p_debt[pp.id] += owed
        return slice_

    def run_program(self, gp: G, pp: P) -> float:
        """``execute``'s work: gp's steps, from where it stopped."""
        rt = self.rt
        checker = self.checker
        ctx: GoroutineCtx = gp.ctx
        info = ctx.cls
        if not ctx.started:
            rt.enter(gp, pp)
            ctx.started = True
            if checker is not None:
                checker.settled("enter")
        if ctx.remaining > 0:  # the rest of a preempted run step
            return self.start_slice(gp, pp, ctx.remaining)
        prog = info.program
        on_draw = self.on_draw
        draw: Optional[Draw]
        while True:
            if ctx.pc >= len(prog):
                ctx.rep += 1
                if info.repeat is not None and ctx.rep >= info.repeat:
                    rt.goexit(gp, pp)
                    if checker is not None:
                        checker.settled("goexit")
                    if ctx.joiner is not None:
                        self.join_exited(ctx.joiner, pp)
                    return -1.0
                ctx.pc = 0
            if self.wind_down:
                rt.park(gp, pp, (), 0, info.park_path)  # the script ended: park for good
                if checker is not None:
                    checker.settled("park")
                return -1.0
            step: CStep = prog[ctx.pc]
            ctx.pc += 1
            kind = step.kind
            if kind == "spawn":
                draw = step.count
                assert draw is not None
                n: int = draw.value(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "count", n)
                target = self.classes[step.spawn]
                for _ in range(n):
                    child = self.newproc(target, pp, True, n > 1)
                    if step.join:
                        child.ctx.joiner = gp
                if step.join and n > 0:  # wg.Wait(): parked until the last of them exits (join_exited)
                    ctx.joining = n
                    rt.park(gp, pp, (), 0, info.park_path)
                    if checker is not None:
                        checker.settled("park")
                    return -1.0
                continue
            if kind == "wake":
                self.handoff(step.wake, pp)
                continue
            if kind == "release":
                self.sem_release(step.release, pp)
                continue
            draw = step.depth
            if draw is not None:
                depth: int = draw.value(gp.index)  # < 0: a sparse sequence's goroutine it does not name stays
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "depth", depth if depth >= 0 else gp.depth)
                if depth >= 0:
                    rt.move_to_depth(gp, pp, depth, step.frame if step.frame is not None else info.frame)
                    if checker is not None:
                        checker.settled("move_to_depth")
            if kind == "acquire" and self.sems[step.acquire][0] > 0:
                self.sems[step.acquire][0] -= 1  # a free token: no wait
                continue
            if kind == "run":
                if step.transient:
                    rt.run_transient(gp, pp, step.transient)
                    if checker is not None:
                        checker.settled("run_transient")
                draw = step.duration
                assert draw is not None
                t: float = draw.value(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "run", t)
                if t > 0:
                    if info.alloc_rate:
                        # the step allocates: the runtime's frames below this one, deeper if it sweeps
                        rt.mallocgc(gp, pp, rt.sweeper.deductSweepCredit(self.allocated, self.idle_seconds()))
                        if checker is not None:
                            checker.settled("mallocgc")
                    return self.start_slice(gp, pp, t)
                continue
            t = 0.0
            if kind == "block" and not step.forever:
                draw = step.duration
                assert draw is not None
                t = draw.value(gp.index)
                if t <= 0.0:
                    # timeSleep(0) returns at once: no park, and no op for validate's programs (on_draw tells
                    # a block's duration to the op its park made); a replay's rounds a goroutine did not have
                    continue
            # a blocking step: park on the runtime's receive path, then arrange the wake-up
            rt.park(gp, pp, step.park_frames, step.transient, info.park_path)
            if checker is not None:
                checker.settled("park")
            if kind == "block":
                if step.forever:
                    return -1.0
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "block", t)
                rt.timeSleep(gp)
                self.timer(gp, pp, t)
            elif kind == "block_until":
                until = step.until
                assert until is not None
                t = until.value(gp.index)
                if on_draw is not None:
                    on_draw(info.name, gp.index, ctx.rep, step.index, "block_until", t)
                rt.timeSleep(gp)
                self.timer(gp, pp, max(0.0, t - self.env.now))
            elif kind == "wait":
                waiters = self.gates[step.wait]
                waiters.append(gp)
                full = self.gate_full.get(step.wait)
                if full is not None and len(waiters) >= full[0] and not full[1].triggered:
                    full[1].succeed()
            elif kind == "acquire":
                self.sems[step.acquire][1].append(gp)
            return -1.0

    def join_exited(self, joiner: G, pp: P) -> None:
        """One of the goroutines ``joiner``'s spawn step started and waits for has exited: the last makes it
        runnable in pp's runnext, as ``wg.Done()`` (semrelease) or t.Run's channel send does (``goready``)."""
        jc: GoroutineCtx = joiner.ctx
        jc.joining -= 1
        if jc.joining == 0:
            self.rt.goready(joiner, pp)
            self.wake(pp)

    def handoff(self, gate: str, pp: P) -> None:
        """A send on the gate's channel with a receiver waiting: the first goroutine parked on it
        becomes runnable on pp's runnext (``send`` -> ``goready`` from the sender); none: nothing."""
        tracer = self.tracer
        if tracer is not None:
            tracer.on_send(gate)
        waiters = self.gates[gate]
        if waiters:
            self.rt.goready(waiters.pop(0), pp)
            self.wake(pp)
        if tracer is not None:
            tracer.on_send_end(gate)

    def sem_release(self, name: str, pp: P) -> None:
        """Give a semaphore token back: to the first goroutine waiting for one, which becomes runnable
        in pp's runnext (a receive from a full channel readies its blocked sender), else to the pool."""
        if self.tracer is not None:
            self.tracer.on_sem_release(name)
        sem = self.sems[name]
        if sem[1]:
            self.rt.goready(sem[1].pop(0), pp)
            self.wake(pp)
        else:
            sem[0] += 1

    def timer(self, gp: G, pp: P, delay: float) -> None:
        """A goroutine's wake-up after ``delay`` (time.Sleep, a timer channel): ready it on ``pp``."""
        ev = self.env.timeout(delay)
        ev.gp = gp  # read back by timer_fired (cheaper than a closure per timer)
        ev.pp = pp
        ev.callbacks.append(self.timer_callback)
        if self.res:
            self.addtimer(self.env.now + delay)

    def sleep_until(self, t: float) -> Any:
        """Main's time.Sleep until ``t`` (arrivals, gates, runtime.GC at given times): the event
        main resumes at, when its timer (on P0) has run."""
        env = self.env
        ev = env.timeout(max(0.0, t - env.now))
        if not self.res or t <= env.now:
            return ev  # time.Sleep(d <= 0) returns at once
        ev.gp = None
        ev.pp = self.rt.allp[0]
        ev.done = simpy.Event(env)
        ev.callbacks.append(self.timer_callback)
        self.addtimer(max(t, env.now))
        return ev.done

    def addtimer(self, when: float) -> None:
        """A timer starts (``wakeNetPoller``): a netpoll wait that would end after ``when`` is
        broken and waits again from now; with no M polling, an idle P's M (``wakep``) starts one."""
        whens = self.timer_whens
        if self.poll_wake is None:
            if self.polling:
                if not whens or when < whens[0]:
                    self.poll_anchor = self.env.now
            elif self.idle:
                self.polling = True
                self.poll_anchor = self.env.now
        heapq.heappush(whens, when)

    def timer_fired(self, ev: Any) -> None:
        """A timer is due: it runs when a P next looks (``checkTimers`` in schedule, or a P with
        nothing to do stealing it), or when the netpoller wakes if every P is idle."""
        pp: P = ev.pp
        if pp.id >= self.nprocs:
            pp = ev.pp = self.rt.allp[0]  # its P was destroyed: moveTimers gave its timers to procresize's P
        if not self.res:
            self.rt.goready(ev.gp, pp)  # on the goroutine's P, the last thing this event does
            env = self.env
            self.wake(pp, env.peek() > env.now)
            return
        heapq.heappop(self.timer_whens)
        self.expired[pp.id].append(ev)
        self.n_expired += 1
        if self.idle and not self.polling and self.poll_wake is None:
            # Ps left idle by a wake-up that ran only main's timers, and main has not slept since:
            # an idle P's M blocks in netpoll when it sees this timer
            self.polling = True
            self.poll_anchor = self.env.now
        if self.polling and self.poll_wake is None:
            now = self.env.now
            wake = self.env.timeout(self.poll_deadline(now) - now)
            wake.callbacks.append(self.poll_callback)
            self.poll_wake = wake

    def poll_deadline(self, when: float) -> float:
        """When netpoll(delay) returns for a timer due at ``when``: epoll_wait sleeps the delay from
        when it blocked in whole steps of the resolution (truncated, at least one) and ends up to
        the OS's timer slack late; if the timer is still not due, it waits once more."""
        res = self.res
        anchor = self.poll_anchor
        steps = max(1.0, float(math.floor((when - anchor) / res)))
        woke = anchor + steps * res + self.slack
        return woke if woke >= when else woke + res + self.slack

    def poll_woke(self, ev: Any) -> None:
        """The netpoller wakes: with an idle P it runs every due timer (each goroutine readied on
        its own P); without one (every P busy) they wait for the Ps' own checks."""
        self.poll_wake = None
        self.polling = False
        if not self.n_expired:
            self.polling = bool(self.idle)  # nothing due: it waits again from here
            self.poll_anchor = self.env.now
            return
        if not self.idle:
            return
        for timers in self.expired:
            if timers:
                self.check_timers(timers[0].pp, timers)

    def check_timers(self, pp: P, timers: list[Any], queue_main: bool = False) -> bool:
        """checkTimers / runtimer: run due timers on ``pp``, readying each sleeper there (goready:
        runnext, kicking the one readied before it to the local queue's tail).

        Main is readied the same way when a P checks its own timers between goroutines
        (``queue_main``): it runs when that P schedules it, and under load a later timer of the
        same check can kick it behind a long queue. A P with nothing else to run (stealing
        timers, or woken from netpoll) runs it at once: then main goes on now and True is returned."""
        rt = self.rt
        main = False
        for ev in timers:
            gp = ev.gp
            if gp is None:
                if self.costs:
                    self.p_debt[pp.id] += self.cost_park  # main's sleep ends: its wake-up and schedule
                if self.main_in_gc:
                    self.main_held.append(ev.done)  # main is busy in runtime.GC(): it sees this later
                elif queue_main and rt.main is not None:  # (no main without the baseline's stacks)
                    self.main_waiters.append(ev.done)
                    if len(self.main_waiters) == 1:
                        rt.runqput(pp, rt.main, True)
                else:
                    ev.done.succeed()  # main goes on
                    main = True
            else:
                rt.goready(gp, pp)
                self.wake(pp)
        self.n_expired -= len(timers)
        timers.clear()
        return main

    def run_main(self, pp: P) -> None:
        """Main, readied by its timer, has ``pp``: every sleep of main's that ended goes on (arrivals,
        gates, runtime.GC at times), and ``pp`` schedules again once this instant's other events have
        run: main creates what it has to (its late arrivals too) before it sleeps again."""
        self.rt.main.status = "running"
        waiters, self.main_waiters = self.main_waiters, []
        for done in waiters:
            done.succeed()
        self.env.schedule(Triggered(self.env, self.p_callbacks[pp.id]), _LAST)

    def main_readied(self, pp: P) -> Any:
        """gcMarkTermination readies main, parked in runtime.GC() (``injectglist``): with an idle P
        to the global queue, that P started; else to the tail of ``pp``'s local queue (not runnext).
        Returns the event that succeeds when main runs again: at once when nothing else is runnable
        and a P is idle (the quiet replays' case, where no P need be woken to take it)."""
        rt = self.rt
        main = rt.main
        assert main is not None
        done = simpy.Event(self.env)
        if self.idle and not rt.runnable_anywhere():
            return done.succeed()  # an idle P takes it, with nothing else to run: main goes on now
        self.main_waiters.append(done)
        if self.idle:
            main.status = "runnable"
            rt.global_runq.append(main)
            self.wake()
        else:
            rt.runqput(pp, main, False)
        return done

    def main_gosched(self) -> Any:
        """runtime.Gosched from main (``goschedImpl``): main to the global queue's tail, then wakep.
        Returns the event that succeeds when main runs again."""
        rt = self.rt
        main = rt.main
        assert main is not None
        done = simpy.Event(self.env)
        if not rt.runnable_anywhere():
            return done.succeed()  # its P schedules again and finds only main
        self.main_waiters.append(done)
        main.status = "runnable"
        rt.global_runq.append(main)
        if self.idle:
            self.wake()
        return done

    def start_mark_worker(self) -> Optional[Any]:
        """gcBgMarkStartWorkers (go1.23+), one worker: main, in runtime.GC() on its P, makes it
        (``go gcBgMarkWorker(ready)``: runnext, kicking what was there) and waits on ``<-ready``.
        Its P then checks its timers before it schedules, and each goroutine they ready takes runnext
        in turn: the worker goes to the local queue's tail and main waits for the queue ahead of it
        (traced in fanout at GOMAXPROCS 1: 423 ms). Returns the event that succeeds when main runs
        again, or None when main goes on at once (nothing else runnable, a P idle, the go statement
        costing no time): not even a zero-time yield, which would let this instant's other events
        run first."""
        rt = self.rt
        pp = rt.allp[0]
        made = len(rt.allgs)
        gp = rt.gcBgMarkStartWorker(pp)
        if self.costs:  # the go statement, paid before P0 schedules: timers fall due meanwhile
            self.charge_go(pp, made)
        if not self.costs and self.idle and not rt.runnable_anywhere() and not self.expired[pp.id]:
            return None  # no time passes: nothing can take runnext before the worker runs
        done = simpy.Event(self.env)
        self.main_waiters.append(done)
        self.starting_worker = gp
        rt.runqput(pp, gp, True)
        if self.idle:
            self.wake(pp)
        return done

    def run_mark_worker_start(self, gp: G, pp: P) -> None:
        """A worker made by ``start_mark_worker`` runs for the first time: ``ready <- struct{}{}``
        readies main (runnext of this P), and the worker parks until a cycle wants it."""
        self.starting_worker = None
        gp.status = "waiting"
        self.rt.runqput(pp, self.rt.main, True)
        self.env.schedule(Triggered(self.env, self.p_callbacks[pp.id]), _LAST)

    def main_gc_done(self) -> None:
        """runtime.GC() returns: main's sleeps that ended meanwhile go on now, in the order they ended."""
        self.main_in_gc = False
        held, self.main_held = self.main_held, []
        for done in held:
            done.succeed()

    # --- GC -------------------------------------------------------------------------------
    def mark_phase(self) -> float:
        """How long a mark phase lasts from its work (scenario ``runtime.cpu.mark_*``; 0 without):
        the background mark workers take 25 % of each busy P (``gcBackgroundUtilization``) and all of
        an idle one (the idle worker); each busy P owes its share, paid before it schedules again."""
        work = self.cost_mark_cycle + self.cost_mark_g * len(self.rt.live)
        if work <= 0.0:
            return 0.0
        idle = self.idle
        busy = len(self.rt.allp) - len(idle)
        length = work / (GC_BACKGROUND_UTILIZATION * busy + len(idle))
        if busy:
            for pp in self.rt.allp:
                if pp.id not in idle:
                    self.p_debt[pp.id] += GC_BACKGROUND_UTILIZATION * length
        return length

    def mark_debt(self, length: float) -> None:
        """The P time of a mark phase whose length is given (``gc.mark_duration``, ``mark_durations``):
        the work of ``runtime.cpu``'s mark costs, done by the background workers at 25 % of each busy P
        and all of an idle one, so each busy P owes its quarter of the phase, or of the phase that work
        alone would take if that is shorter (the workers then run out of work early)."""
        work = self.cost_mark_cycle + self.cost_mark_g * len(self.rt.live)
        if work <= 0.0 or length <= 0.0:
            return
        idle = self.idle
        busy = len(self.rt.allp) - len(idle)
        if not busy:
            return
        owed = GC_BACKGROUND_UTILIZATION * min(length, work / (GC_BACKGROUND_UTILIZATION * busy + len(idle)))
        for pp in self.rt.allp:
            if pp.id not in idle:
                self.p_debt[pp.id] += owed

    # --- GC pacing ------------------------------------------------------------------------
    def allocate(self, nbytes: float) -> None:
        """Heap allocation by running goroutines; starts a cycle when the heap reaches the
        pacer's trigger (``gcTrigger.test``: heapLive >= trigger)."""
        if self.paced is None or nbytes <= 0:
            return
        self.allocated += nbytes
        if self.allocated >= self.trigger_runway() and not self.gc_active:
            self.sim.start_gc()

    def pace_sweeper(self) -> None:
        """gcPaceSweeper at a cycle's end (before ``allocated`` restarts), when GOGC paces cycles: the
        heap in use (the live heap the pacer marked and all allocated since the last cycle), all of it
        unswept, swept by the time the heap is sweepMinHeapDistance short of the next trigger."""
        paced = self.paced
        if paced is None:
            return
        heap = paced[0] + self.rt.marked_goroutine_heap + self.allocated
        self.rt.sweeper.gcPaceSweeper(heap, self.trigger_runway() - SWEEP_MIN_HEAP_DISTANCE, self.idle_seconds())

    def trigger_runway(self) -> float:
        """Bytes allocated after a cycle that start the next (trigger - marked heap): the goal's
        runway (spec 6.4; at least heapMinimum), less the pacer's headroom before the goal at the
        latest trigger, where it sits when the heap has little to scan (gcControllerState.trigger)."""
        paced = self.paced
        assert paced is not None
        live_heap, gogc, stacks_in_goal, prof = paced
        # 1.18+ pacer: the goal counts last cycle's scanned stack bytes (spec 6.4)
        stacks = self.rt.last_stack_scan if stacks_in_goal else 0
        # the last cycle marked the goroutines' own heap too (every g made, live gs' timers) and
        # what was allocated while it marked
        live_heap += self.rt.marked_goroutine_heap + self.marked_black
        runway = max((live_heap + stacks) * gogc / 100.0, prof.heap_minimum * gogc / 100.0 - live_heap)
        trigger = runway * prof.gc_trigger_max
        headroom = prof.gc_trigger_headroom
        if headroom and live_heap + runway > headroom:
            trigger = max(trigger, runway - headroom)
        if self.cons_runway > 0.0:
            # gcControllerState.trigger: the goal less the cons/mark runway, within [minTrigger, maxTrigger]
            trigger = max(min(trigger, runway - self.cons_runway), runway * prof.gc_trigger_min)
        return trigger

    def end_cycle(self, allocated_black: float, idle_share: float) -> None:
        """gcControllerState.endCycle and commit (1.21+; profile ``gc_cons_mark_window``): the runway
        the next trigger leaves before the goal. This cycle's cons/mark, the bytes allocated while it
        marked over its scan work, with the background workers at their 25 % and the idle Ps' share
        (``idle_share``) as the mark's CPU, times the next cycle's scan work and 3 (a 25 % goal
        utilisation: (1 - 0.25) / 0.25), is ``allocated_black * (0.25 + idle_share) / 0.75 * 3``, and
        the 0.75s cancel (the background and the goal utilisation are both 0.25): the scan work is
        taken as the same from cycle to cycle (the model does not know how much of the live heap
        holds pointers). The pacer keeps the largest of the last five; a cycle that
        allocated nothing while it marked changes nothing (heapLive <= triggered)."""
        paced = self.paced
        if paced is None or allocated_black <= 0.0:
            return
        window: int = paced[3].gc_cons_mark_window
        if window <= 0:
            return
        u = GC_BACKGROUND_UTILIZATION
        cons = self.cons_mark
        cons.append(allocated_black * (u + idle_share) / u)
        if len(cons) > window:
            del cons[0]
        self.cons_runway = max(cons)
