"""Where goroutines come from: arrival processes, and gates that release parked ones.

Goroutines of a class arrive as its ``arrival`` says (a burst, Poisson, uniform, a
trace), created by the program's main goroutine on P0 (``newproc`` on the current P),
or are started by other goroutines' ``spawn`` steps on those goroutines' P.
"""
from __future__ import annotations

import math

from ..runtime.sched import LOCAL_RUNQ
from .draws import BLOCK
from .simpy_access import URGENT, Triggered


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
                due = arr.at + b * (arr.every or 0.0)
                yield self.ps.sleep_until(due)
                self.ps.main_due = due
                for _ in range(count or 0):
                    self.ps.newproc(info, p0, True, (count or 0) > 1)
            return
        if arr.process == "trace":
            for t in sorted(arr.times):
                if count is not None and made >= count:
                    return
                yield self.ps.sleep_until(t)
                self.ps.main_due = t
                self.ps.newproc(info, p0)
                made += 1
            return
        raise ValueError(f"arrival process {arr.process!r} is not a generator's")  # Poisson, uniform: Arrivals

    def start_arrivals(self, info):
        """Start the class's arrivals: a generator process (``arrivals``) for bursts and traces,
        SimPy callbacks (:class:`Arrivals`) for Poisson and uniform ones."""
        if info.spec.arrival.process in ("burst", "trace"):
            self.env.process(self.arrivals(info))
        else:
            Arrivals(self, info).start()

    def gate(self, gate):
        """Open a gate at each of its times (or, with ``wait_for``, once that many wait, but not past the
        next opening's time): its waiters become runnable on P0 (``closechan``).

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
        counts = list(gate.wait_for) + [0] * (len(gate.open_at) - len(gate.wait_for))
        openings = sorted(zip(gate.open_at, counts), key=lambda tn: tn[0])
        for k, (t, n) in enumerate(openings):
            yield self.ps.sleep_until(t)
            if len(self.gates[gate.name]) < n:  # main's WaitGroup.Wait: until the n-th parks (or the next is due)
                full = self.env.event()
                self.ps.gate_full[gate.name] = (n, full)
                nxt = openings[k + 1][0] if k + 1 < len(openings) else None
                yield full if nxt is None else full | self.env.timeout(max(0.0, nxt - self.env.now))
                del self.ps.gate_full[gate.name]
            self.gate_opened[gate.name].append(self.env.now)
            watch = self.gate_watch.pop((gate.name, k), None)
            if watch is not None:
                watch.succeed()
            waiters, self.gates[gate.name] = self.gates[gate.name], []
            rt = self.rt
            p0 = rt.allp[0]
            self.release_lifo = len(rt.allp) == 1 and not rt.global_runq and \
                len(p0.runq) + len(waiters) <= LOCAL_RUNQ + (p0.runnext is None)
            for gp in (reversed(waiters) if self.release_lifo else waiters):
                self.rt.goready(gp, p0)
            for _ in waiters[:len(self.rt.allp)]:
                self.ps.wake(p0)

    def gate_wakes(self, gate):
        """Main sends on a gate at each of its ``wake_at`` times: the first waiter runs next on P0."""
        for t in sorted(gate.wake_at):
            yield self.ps.sleep_until(t)
            self.ps.handoff(gate.name, self.rt.allp[0])


class Arrivals:
    """Poisson or uniform arrivals of one class, driven by SimPy callbacks instead of a generator
    process (one arrival a goroutine: a million in a large run).

    The events are the ones the process ``for each goroutine: newproc; at += gap;
    yield ps.sleep_until(at)`` has, in the same order (the start, main's sleep after each
    arrival, the process's end), so every output is identical, with less to do per goroutine:
    no generator to resume, and, where main's sleep is a plain timeout (no netpoll grid) that
    ends later and nothing else is due at this instant, no event to start the woken P: its
    loop runs at once, as it would have as the very next event (``Ps.wake(now=True)``).
    A failing ``newproc`` (a limit) fails like the process: by an event of its own at this instant.
    """

    def __init__(self, sim, info):
        self.sim, self.info = sim, info
        self.env = sim.env
        arr = info.spec.arrival
        self.uniform = arr.process == "uniform"
        self.every, self.rate = arr.every, arr.rate
        self.at = arr.start  # main sleeps until each arrival's time (late wake-ups don't add up)
        self.until = arr.until if arr.until is not None else math.inf
        self.limit = math.inf if info.spec.count is None else info.spec.count
        self.made = 0
        self.gaps: list = []  # Poisson gaps, drawn BLOCK at a time (one numpy call each costs a microsecond)
        self.p0 = sim.rt.allp[0]

    def start(self) -> None:
        """As ``env.process`` starts a generator: an urgent event at this instant."""
        self.env.schedule(Triggered(self.env, self._begin), URGENT)

    def _begin(self, _ev) -> None:
        self.sim.ps.sleep_until(self.at).callbacks.append(self._arrive)

    def _arrive(self, _ev) -> None:
        env = self.env
        if not (self.made < self.limit and self.at <= self.until):
            env.event().succeed()  # the process's own end event, which nothing waits for
            return
        ps = self.sim.ps
        ps.main_due = self.at
        try:
            ps.newproc(self.info, self.p0, False)
        except BaseException as exc:  # noqa: BLE001 - as from a process: raised by its own event, at this instant
            env.event().fail(exc)
            return
        self.made += 1
        if self.uniform:
            gap = self.every
        else:
            if not self.gaps:
                self.gaps = self.sim.arrival_rng.exponential(1.0 / self.rate, BLOCK).tolist()
                self.gaps.reverse()
            gap = self.gaps.pop()
        self.at += gap
        if not ps.res and self.at > env.now and env.peek() > env.now:
            # the next arrival's timeout is scheduled first: the P's loop, run now, then schedules
            # after it, as it would have from its own event, processed before that timeout
            ps.sleep_until(self.at).callbacks.append(self._arrive)
            ps.wake(self.p0, True)
        else:
            ps.wake(self.p0)  # before main's sleep: addtimer sees the P it woke busy
            ps.sleep_until(self.at).callbacks.append(self._arrive)
