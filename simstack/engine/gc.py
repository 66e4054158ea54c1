"""When GC cycles run: at given times (runtime.GC()), periodically, or paced by GOGC.

A cycle is ``gc_start`` (mark phase: dead Gs' stacks freed, stacks scanned and shrunk),
``mark_duration`` of simulated time in which frees keep their spans (or, without one, as long as the
scenario's ``runtime.cpu`` mark work takes: ``Ps.mark_phase``), then ``gc_end``
(starting size, freeStackSpans, per-P caches cleared).
"""
from __future__ import annotations

import bisect

from .simpy_access import pending


class GCMixin:
    """SimPy processes that run GC cycles (part of ``Simulation``)."""

    gc_caller = "pacer"  # who started the running (or last) cycle: main or the pacer
    gc_next: dict  # per runtime.GC() process (gc.at, gc.interval): the due time of its next call

    def gc_schedule(self):
        """Start GC cycles at the ``gc.at`` times (like runtime.GC()), each one that follows a gate
        (``gc.follow``) as much later as that gate's opening came late."""
        end = self.scenario.duration
        gc = self.scenario.gc
        marks = list(gc.mark_durations) + [None] * (len(gc.at) - len(gc.mark_durations))
        follow = list(gc.follow) + [None] * (len(gc.at) - len(gc.follow))
        for t, mark, gate in sorted(zip(gc.at, marks, follow), key=lambda tm: tm[0]):
            if end is not None and t >= end:
                break  # due at or after the end (validate's model runs on until main gets there)
            self.gc_next["at"] = t
            if gate is not None:
                t = yield from self.after_opening(gate, t)
                if end is not None and t >= end:
                    break
                self.gc_next["at"] = t
            yield self.ps.sleep_until(t)
            self.ps.main_due = t
            yield from self.runtime_gc(mark)
        self.gc_next.pop("at", None)

    def after_opening(self, gate: str, t: float):
        """When a cycle due at ``t`` that follows ``gate`` comes: as long after the gate's latest opening
        at or before ``t`` as its scheduled time was before ``t`` (never, if that opening never comes)."""
        times = sorted(next(g.open_at for g in self.scenario.gates if g.name == gate))
        k = bisect.bisect_right(times, t) - 1
        if k < 0:
            return t
        if len(self.gate_opened[gate]) <= k:
            watch = self.gate_watch.setdefault((gate, k), self.env.event())
            yield watch
        return t + self.gate_opened[gate][k] - times[k]

    def gc_interval(self):
        """trigger: interval: main calls runtime.GC() every ``interval`` while the program has work
        (a daemon); its sleeps end on the grid, so a late call does not delay the next one."""
        dt = self.scenario.gc.interval
        k = 0
        end = self.scenario.duration
        while True:
            k += 1
            if end is not None and k * dt >= end:
                self.gc_next.pop("interval", None)
                return
            self.gc_next["interval"] = k * dt
            yield self.ps.sleep_until(k * dt)
            if self._only_daemons_left():
                self.gc_next.pop("interval", None)
                return
            self.ps.main_due = k * dt
            yield from self.runtime_gc()

    def runtime_gc(self, mark=None):
        """runtime.GC() from main, which has its P: the cycle (its mark phase ``mark`` seconds long, if
        given), then main waits its turn twice, so a saturated program's runtime.GC() returns late and
        main's later work waits for it.

        Main parks until mark termination readies it (``gcWaitOnMark``; ``Ps.main_readied``),
        then sweeps one span and yields (``sweepone``, ``Gosched``): a trip through the global
        queue, checked every 61st schedule when the local queues are busy. By its next turn the
        background sweeper, readied into runnext before it, and allocating goroutines have swept
        the rest (traced: one yield while the P was saturated; five, microseconds apart, while
        it was idle). Without timers in the netpoller (go1.12) main has no turns: the cycle only."""
        ps = self.ps
        if not ps.res or self.rt.main is None or ps.gc_active:
            yield from self.gc_cycle("main", mark)
            return
        ps.main_in_gc = True
        if self.profile.mark_worker_start_wait:
            while len(self.rt.mark_workers) < len(self.rt.allp):  # the first cycle: gcBgMarkStartWorkers
                wait = ps.start_mark_worker()
                if wait is not None:
                    yield wait
        yield from self.gc_cycle("main", mark)
        yield ps.main_readied(self.rt.allp[0])
        yield ps.main_gosched()
        self.rt.sweeper.finishsweep_m()  # runtime.GC() returns once every span is swept
        ps.main_gc_done()

    def gc_owed(self, before: float) -> bool:
        """Whether main still owes a runtime.GC() call due before ``before`` (or is in one)."""
        return self.ps.main_in_gc or any(t < before for t in self.gc_next.values())

    def _only_daemons_left(self) -> bool:
        """Without a duration the run ends when nothing but the periodic daemons (sampler,
        interval GC) is scheduled: each has one pending event, except the one asking."""
        return self.scenario.duration is None and pending(self.env) <= self.daemons - 1

    def gc_cycle(self, caller: str = "pacer", mark=None):
        """One cycle: mark (with its simulated length), then mark termination. ``caller``: who
        started it, ``main`` (runtime.GC() at its times) or the GOGC ``pacer``."""
        ps = self.ps
        if ps.gc_active:
            return
        ps.gc_active = True
        self.gc_caller = caller
        rt = self.rt
        rt.gc_start(rt.allp[0])
        if ps.races is not None and rt.threads is not None:
            # the Ms the cycle starts for the Ps it wakes (mark workers): as many as the measured
            # process had by this cycle, startm's "running Ps + sysmon" rule read backwards
            rt.startm(rt.allp[0], ps.races.gc_threads(rt.gc_cycle) - 1)
        if self.checker is not None:
            self.checker.settled("gc_start")
        given = mark if mark is not None else self.scenario.gc.mark_duration
        if given:
            md = given
            ps.mark_debt(md)  # its length is given; runtime.cpu's mark work still takes the Ps' time
        else:
            md = 0.0 if mark is not None else ps.mark_phase()
        idle_share = len(ps.idle) / len(rt.allp)  # the Ps that run idle mark workers
        before = ps.allocated
        if md > 0:
            yield self.env.timeout(md)
        stats = rt.gc_end()
        ps.marked_black = ps.allocated - before  # allocated black: the next goal counts it
        ps.end_cycle(ps.marked_black, idle_share)
        ps.pace_sweeper()
        ps.allocated = 0.0
        ps.gc_active = False
        self.rec.gc_row(dict(stats))
        if self.checker is not None:
            self.checker.settled("gc_end")

    def _pacing(self):
        """(live heap, GOGC, stacks in the goal, the profile) when cycles are paced by GOGC, else
        None (resolved once: ``Ps.allocate`` runs for every slice of every ``run`` step)."""
        gc = self.scenario.gc
        if gc.trigger != "gogc" or gc.gogc is None:
            return None
        return gc.live_heap, gc.gogc, self.profile.stacks_in_gc_goal, self.profile
