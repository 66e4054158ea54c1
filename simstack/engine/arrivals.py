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
                self.ps.wake(p0)
