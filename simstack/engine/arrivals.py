"""Where goroutines come from: arrival processes, and gates that release parked ones.

Goroutines of a class arrive as its ``arrival`` says (a burst, Poisson, uniform, a
trace), created by the program's main goroutine on P0 (``newproc`` on the current P),
or are started by other goroutines' ``spawn`` steps on those goroutines' P.
"""
from __future__ import annotations

import math

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
            yield env.timeout(max(0.0, arr.at - env.now))
            for _ in range(count or 0):
                self.ps.newproc(info, p0)
            return
        if arr.process == "trace":
            for t in sorted(arr.times):
                if count is not None and made >= count:
                    return
                yield env.timeout(max(0.0, t - env.now))
                self.ps.newproc(info, p0)
                made += 1
            return
        yield env.timeout(max(0.0, arr.start - env.now))
        rng = self.arrival_rng
        uniform = arr.process == "uniform"
        gaps: list = []  # Poisson gaps, drawn BLOCK at a time (one numpy call each costs a microsecond)
        limit = math.inf if count is None else count
        while made < limit and env.now <= until:
            self.ps.newproc(info, p0)
            made += 1
            if uniform:
                gap = arr.every
            else:
                if not gaps:
                    gaps = rng.exponential(1.0 / arr.rate, BLOCK).tolist()
                    gaps.reverse()
                gap = gaps.pop()
            yield env.timeout(gap)

    def gate(self, gate):
        """Open a gate at each of its times: its waiters become runnable on P0 in arrival order.

        Park order is not the runtime's order: closechan pushes the waiters on a gList
        and readies them from it, last parked first. Traced in an instrumented go1.19.8 at
        GOMAXPROCS 1, LIFO reproduces the real run order exactly, but only together with
        start-up state the model does not carry: the finalizer goroutine, made during
        package init, still waits in P0's runnext when main first blocks, and P0's
        schedtick is already 5 (go1.27.3: two such goroutines, schedtick 4); those shift
        which goroutine the every-61st-schedule check takes from the global queue. At
        GOMAXPROCS >= 2 the other Ps take the first-readied goroutines while main is still
        readying, at a rate set by timing; readied all at once, LIFO hands them the wrong
        end of the queue (W6 GOMAXPROCS-2 exited_gc1 fails on 21 reference rows), where park
        order gives them the set the real ones get. Park order is kept: it matches the
        reference at every GOMAXPROCS, W3 at GOMAXPROCS 1 exactly on all three versions.
        A plan that releases the same goroutines twice at GOMAXPROCS 1 can end one or two
        retained stacks off (README, Fidelity).
        """
        for t in sorted(gate.open_at):
            yield self.env.timeout(max(0.0, t - self.env.now))
            waiters, self.gates[gate.name] = self.gates[gate.name], []
            p0 = self.rt.allp[0]
            for gp in waiters:
                self.rt.runqput(p0, gp, True)
            for _ in waiters[:len(self.rt.allp)]:
                self.ps.wake(p0)
