"""When GC cycles run: at given times (runtime.GC()), periodically, or paced by GOGC.

A cycle is ``gc_start`` (mark phase: dead Gs' stacks freed, stacks scanned and shrunk),
``mark_duration`` of simulated time in which frees keep their spans, then ``gc_end``
(starting size, freeStackSpans, per-P caches cleared).
"""
from __future__ import annotations

from .simpy_access import pending


class GCMixin:
    """SimPy processes that run GC cycles (part of ``Simulation``)."""

    gc_caller = "pacer"  # who started the running (or last) cycle: main or the pacer

    def gc_schedule(self):
        """Start GC cycles at the ``gc.at`` times (like runtime.GC())."""
        env = self.env
        for t in sorted(self.scenario.gc.at):
            yield self.ps.sleep_until(t)
            yield from self.gc_cycle("main")

    def gc_interval(self):
        """trigger: interval: a cycle every ``interval`` while the program has work (a daemon)."""
        env, dt = self.env, self.scenario.gc.interval
        while True:
            yield env.timeout(dt)
            if self._only_daemons_left():
                return
            yield from self.gc_cycle("main")

    def _only_daemons_left(self) -> bool:
        """Without a duration the run ends when nothing but the periodic daemons (sampler,
        interval GC) is scheduled: each has one pending event, except the one asking."""
        return self.scenario.duration is None and pending(self.env) <= self.daemons - 1

    def gc_cycle(self, caller: str = "pacer"):
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
        md = self.scenario.gc.mark_duration
        if md > 0:
            yield self.env.timeout(md)
        stats = rt.gc_end()
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
