"""The machine's CPUs, shared by the Ps' threads when GOMAXPROCS exceeds them (``runtime.share_cpus``).

Each P runs on an M, an OS thread, and the OS runs those threads on the machine's CPUs. With
more Ps than CPUs (8 Ps on 2 CPUs) a P whose goroutine has a step to run may wait for a CPU,
holding its goroutine and its run queue meanwhile. What takes simulated time needs a CPU: the
goroutines' run steps and the runtime's own costs (``runtime.cpu``). The scheduler's decisions,
which the model makes in zero time, do not: a woken P steals at once, then waits its turn to
run what it took. The OS scheduler is modelled as Linux's at its simplest: a thread that wants
a CPU takes a free one, else waits in line; one that has run for its time slice (EEVDF's base
slice) while others wait goes to the back of the line; one with nothing to run (an idle P's M
asleep) gives its CPU to the next in line. A run slice is not cut by the OS.

Measured against real runs at 4 and 8 Ps on 2 CPUs (docs/validate.md), this did better than
making a woken P wait for a CPU before it schedules (the work spread over fewer Ps than the real
runs show) and than letting it preempt a running thread for it.

Not modelled: other processes' threads, sysmon's, the GC workers' and spinning Ms' CPU time.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any


def base_slice(num_cpu: int) -> float:
    """EEVDF's ``sysctl_sched_base_slice``: 0.75 ms scaled by 1 + log2 of the CPUs, at most 8
    (``update_sysctl``, SCHED_TUNABLESCALING_LOG, the kernel's default)."""
    return 0.00075 * (1 + int(math.log2(min(num_cpu, 8))))


class Cpus:
    """``n`` CPUs that the Ps' threads take turns on, in a line, ``slice_`` seconds at a time."""

    def __init__(self, env: Any, n: int, slice_: float) -> None:
        self.env = env
        self.n = n
        self.slice = slice_
        self.on: set[int] = set()  # the Ps whose threads have a CPU now
        self.used: dict[int, float] = {}  # run time each of them has had since it got it
        self.line: deque = deque()  # (P, seconds, callback, since when): the threads waiting for a CPU, in order
        self.waited = 0.0  # seconds the Ps spent in line, all together (for the summary)
        self.holds: dict[int, tuple] = {}  # the run each P's thread has on a CPU now: (event, since when)

    def hold(self, pid: int, seconds: float, callback: Any) -> None:
        """Run P ``pid`` for ``seconds`` of CPU, then call ``callback``: now if its thread has a CPU
        (or a free one), else once its turn comes."""
        if pid in self.on and self.line and self.used[pid] >= self.slice:
            self.on.discard(pid)  # its slice is over and others wait: to the back of the line
            self.line.append((pid, seconds, callback, self.env.now))
            self._next()
        elif self.take(pid):
            self._run(pid, seconds, callback)
        else:
            self.line.append((pid, seconds, callback, self.env.now))

    def take(self, pid: int) -> bool:
        """Whether P ``pid``'s thread has a CPU now: its own, or a free one it takes."""
        if pid in self.on:
            return True
        if len(self.on) < self.n:
            self.on.add(pid)
            self.used[pid] = 0.0
            return True
        return False

    def release(self, pid: int) -> None:
        """P ``pid`` has nothing to run: its thread sleeps and its CPU goes to the next in line."""
        if pid in self.on:
            self.on.discard(pid)
            self._next()

    def _next(self) -> None:
        while self.line and len(self.on) < self.n:
            pid, seconds, callback, since = self.line.popleft()
            self.waited += self.env.now - since
            self.on.add(pid)
            self.used[pid] = 0.0
            self._run(pid, seconds, callback)

    def cancel(self, pid: int) -> float:
        """P ``pid`` is destroyed (procresize): its run ends now, unfinished, and its thread gives up its
        CPU or its place in line. Returns the seconds it ran, 0 if it waited, -1 if it had nothing to run."""
        for i, entry in enumerate(self.line):
            if entry[0] == pid:
                del self.line[i]
                return 0.0
        hold = self.holds.pop(pid, None)
        ran = -1.0
        if hold is not None and not hold[0].processed:
            hold[0].callbacks.clear()
            ran = self.env.now - hold[1]
        self.release(pid)
        return ran

    def _run(self, pid: int, seconds: float, callback: Any) -> None:
        self.used[pid] += seconds
        ev = self.env.timeout(seconds)
        ev.callbacks.append(callback)
        self.holds[pid] = (ev, self.env.now)
