"""Where goroutines come from: arrival processes, and gates that release parked ones.

Goroutines of a class arrive as its ``arrival`` says (a burst, Poisson, uniform, a
trace), created by the program's main goroutine on P0 (``newproc`` on the current P),
or are started by other goroutines' ``spawn`` steps on those goroutines' P.
"""
from __future__ import annotations

import math

from ..runtime.sched import LOCAL_RUNQ
from .draws import BLOCK


class ArrivalsMixin:
    """SimPy processes that create goroutines and open gates (part of ``Simulation``)."""

    def arrivals(self, info):
        """Create the class's goroutines as its arrival process says, from P0 (like main)."""
        env = self.env
        arr = info.spec.arrival
        count = info.spec.count
        p0 = self.rt.allp[0]
        until = arr.until if arr.until is not None else math.inf
        made = 0

        if arr.process == "burst":
            for b in range(arr.bursts or 1):
                yield self.ps.sleep_until(arr.at + b * (arr.every or 0.0))
                for _ in range(count or 0):
                    self.ps.newproc(info, p0)
            return
        if arr.process == "trace":
            for t in sorted(arr.times):
                if count is not None and made >= count:
                    return
                yield self.ps.sleep_until(t)
                self.ps.newproc(info, p0)
                made += 1
            return
        at = arr.start  # main sleeps until each arrival's time (late wake-ups don't add up)
        yield self.ps.sleep_until(at)
        rng = self.arrival_rng
        uniform = arr.process == "uniform"
        gaps: list = []  # Poisson gaps, drawn BLOCK at a time (one numpy call each costs a microsecond)
        limit = math.inf if count is None else count
        while made < limit and at <= until:
            self.ps.newproc(info, p0)
            made += 1
            if uniform:
                gap = arr.every
            else:
                if not gaps:
                    gaps = rng.exponential(1.0 / arr.rate, BLOCK).tolist()
                    gaps.reverse()
                gap = gaps.pop()
            at += gap
            yield self.ps.sleep_until(at)

    def gate(self, gate):
        """Open a gate at each of its times: its waiters become runnable on P0 (``closechan``).

        closechan pushes the waiters on a gList and readies them from it, last parked first,
        each ``goready`` taking runnext and kicking the previous one to the local queue. That
        is what the model does at GOMAXPROCS 1 when the release fits P0's local queue and the
        global queue is empty: no goroutine of it then passes through the global queue, and
        traced in go1.27.3 (stackalloc, stackfree, exits and gfget logged) the model's run
        equals the real one operation for operation (200 goroutines x 4 releases, 1624 stack
        operations). Otherwise the waiters are readied in park order:

        * a release that spills into the global queue (runqputslow) is taken back every 61st
          schedule, which depends on start-up state the model does not carry: the finalizer
          goroutine, made during package init, still waits in P0's runnext when main first
          blocks, and P0's schedtick is already 5 (go1.27.3: two such goroutines, schedtick
          4). Traced in go1.19.8, LIFO and that state reproduce the real order exactly; LIFO
          without it misses W3 GOMAXPROCS 1 (2048 goroutines) on go1.12.9 by three spans,
          where park order matches all three versions.
        * at GOMAXPROCS >= 2 the other Ps take the first-readied goroutines while main is still
          readying, at a rate set by timing; readied all at once, LIFO hands them the wrong end
          of the queue (W6 GOMAXPROCS-2 exited_gc1 fails on 21 reference rows), where park
          order gives them the set the real ones get.

        A plan that releases the same goroutines twice through the global queue can end one
        or two retained stacks off (README, Fidelity).
        """
        for t in sorted(gate.open_at):
            yield self.ps.sleep_until(t)
            waiters, self.gates[gate.name] = self.gates[gate.name], []
            rt = self.rt
            p0 = rt.allp[0]
            self.release_lifo = len(rt.allp) == 1 and not rt.global_runq and \
                len(p0.runq) + len(waiters) <= LOCAL_RUNQ + (p0.runnext is None)
            for gp in (reversed(waiters) if self.release_lifo else waiters):
                self.rt.runqput(p0, gp, True)
            for _ in waiters[:len(self.rt.allp)]:
                self.ps.wake(p0)

    def gate_wakes(self, gate):
        """Main sends on a gate at each of its ``wake_at`` times: the first waiter runs next on P0."""
        for t in sorted(gate.wake_at):
            yield self.ps.sleep_until(t)
            self.ps.handoff(gate.name, self.rt.allp[0])
