"""When sysmon preempts a long-running goroutine (runtime/proc.go: ``sysmon``, ``retake``).

sysmon is an M without a P that sleeps, wakes, and looks at every P. Its sleep starts at 20 µs,
stays there for 50 idle rounds (1 ms), then doubles each round up to 10 ms; each sleep ends up
to the OS's timer slack late (Linux: 50 µs). Only retaking a P from a syscall resets it to 20 µs,
and the model has no syscalls, so from the program's start its wake times are fixed.

``retake`` preempts the goroutine running on a P whose ``schedtick`` has not changed since sysmon
noticed it change, 10 ms (``forcePreemptNS``) before. A goroutine that got its P from ``runnext``
inherits the time slice and does not advance ``schedtick``: a sequence of goroutines run via
``runnext`` shares one slice (retake's own comment says so). So the preemption comes at the first
wake at least 10 ms after the first wake that saw the slice begin: 10 – 20 ms into the slice in the
steady state, whichever goroutine is then running. Traced (a 64-worker pool at GOMAXPROCS 1, go1.27.3,
37 preemptions in 2 s): 11.1 – 26.0 ms after the slice began, 0.3 – 19 ms after the preempted
goroutine itself got the P.
"""
from __future__ import annotations

import bisect
import math
from typing import Final

FORCE_PREEMPT: Final = 0.010  # forcePreemptNS
FIRST_SLEEP: Final = 20e-6  # usleep(20) for the first 51 rounds (idle 0 to 50)
LAST_SLEEP: Final = 0.010  # the cap


class Sysmon:
    """sysmon's wake times from the program's start, and when it preempts a time slice."""

    def __init__(self, slack: float) -> None:
        ramp: list[float] = []
        t, delay = 0.0, FIRST_SLEEP
        for idle in range(200):
            if idle > 50:
                delay = min(delay * 2, LAST_SLEEP)
            t += delay + slack
            ramp.append(t)
            if delay >= LAST_SLEEP:
                break
        self.ramp = ramp  # the wakes until the sleep reaches its cap
        self.period = LAST_SLEEP + slack  # and every period after the last of them

    def wake_after(self, t: float) -> float:
        """sysmon's first wake strictly after ``t``."""
        ramp = self.ramp
        if t < ramp[-1]:
            return ramp[bisect.bisect_right(ramp, t)]
        k = math.floor((t - ramp[-1]) / self.period) + 1
        return ramp[-1] + k * self.period

    def preempt_at(self, slice_start: float, now: float) -> float:
        """When ``retake`` preempts the goroutine running ``now`` on a P whose time slice began at
        ``slice_start``: the first wake that sees the slice's schedtick sets ``schedwhen``, and every
        wake 10 ms after that preempts whatever runs then (a goroutine from runnext that inherits a
        slice sysmon already preempted runs until its next wake)."""
        noticed = self.wake_after(slice_start)
        return self.wake_after(max(noticed + FORCE_PREEMPT - 1e-12, now))
