"""Run queues: which P runs which goroutine next (``runtime/proc.go``).

The order in which goroutines run decides the order in which they exit, which decides
which dead Gs (and which stacks, in which spans) stay on a P's free list, so it is
modelled as the runtime does it: ``runnext``, a 256-slot local queue that spills half
to the global queue, the global queue checked every 61st schedule, and stealing half
of another P's queue when a P runs dry.
"""
from __future__ import annotations

from collections import deque

from mypy_extensions import trait

from .proc import G, P
from .tracer import Tracer

LOCAL_RUNQ = 256  # len(p.runq)


@trait
class SchedMixin:
    """runqput, runqputslow, runqget, globrunqget, runqsteal and schedule as Runtime methods."""

    allp: list[P]  # the Runtime's (declared for mypyc, which compiles the mixins as traits)
    global_runq: deque[G]
    local_runnable: int
    tracer: Tracer

    def sched_init(self) -> None:
        self.global_runq = deque()  # sched.runq
        self.local_runnable = 0  # goroutines in all Ps' runnext and local queues
        for pp in self.allp:
            pp.runnext = None
            pp.runq = deque()
            pp.schedtick = 0

    def goready(self, gp: G, pp: P) -> None:
        """goready/ready: a waiting goroutine becomes runnable in pp's runnext (traceGoUnpark, runqput)."""
        self.tracer.on_ready(gp, pp.id)
        self.runqput(pp, gp, True)

    def runqput(self, pp: P, gp: G, next_: bool = True) -> None:
        """runqput: make gp runnable on pp; with ``next_`` it takes runnext, kicking the old one out."""
        gp.status = "runnable"
        self.local_runnable += 1
        if next_:
            old, pp.runnext = pp.runnext, gp
            if old is None:
                return
            gp = old
        if len(pp.runq) < LOCAL_RUNQ:
            pp.runq.append(gp)
        else:
            self.runqputslow(pp, gp)

    def runqputslow(self, pp: P, gp: G) -> None:
        """runqputslow: move half the local queue plus gp to the global queue."""
        batch = [pp.runq.popleft() for _ in range(len(pp.runq) // 2)]
        batch.append(gp)
        self.local_runnable -= len(batch)
        self.global_runq.extend(batch)

    def runqget(self, pp: P) -> tuple[G | None, bool]:
        """runqget: runnext first (inheriting the time slice), then the head of the local queue."""
        if pp.runnext is not None:
            gp, pp.runnext = pp.runnext, None
            self.local_runnable -= 1
            return gp, True
        if pp.runq:
            self.local_runnable -= 1
            return pp.runq.popleft(), False
        return None, False

    def globrunqget(self, pp: P, max_: int = 0) -> G | None:
        """globrunqget: take a fair share of the global queue into pp's local queue, return one."""
        q = self.global_runq
        if not q:
            return None
        n = min(len(q) // len(self.allp) + 1, len(q))
        if max_ > 0:
            n = min(n, max_)
        n = min(n, LOCAL_RUNQ // 2)
        gp = q.popleft()
        for _ in range(n - 1):
            self.runqput(pp, q.popleft(), False)
        return gp

    def runqsteal(self, pp: P, victim: P) -> G | None:
        """runqsteal: take half of the victim's local queue (its runnext if the queue is empty)."""
        n = len(victim.runq) - len(victim.runq) // 2
        if n == 0:
            if victim.runnext is None:
                return None
            gp, victim.runnext = victim.runnext, None
            self.local_runnable -= 1
            return gp
        stolen = [victim.runq.popleft() for _ in range(n)]
        gp = stolen.pop()
        pp.runq.extend(stolen)
        self.local_runnable -= 1
        return gp

    def schedule(self, pp: P) -> G | None:
        """schedule/findRunnable: the next goroutine pp runs, or None if there is none anywhere."""
        if not self.local_runnable and not self.global_runq:
            return None  # nothing runnable anywhere: the P goes idle
        gp, inherit = None, False
        if pp.schedtick % 61 == 0 and self.global_runq:
            gp = self.globrunqget(pp, 1)
        if gp is None:
            gp, inherit = self.runqget(pp)
        if gp is None:
            gp = self.globrunqget(pp, 0)
        if gp is None and self.local_runnable:
            n = len(self.allp)
            for i in range(1, n):
                victim = self.allp[(pp.id + i) % n]
                if victim.runq or victim.runnext is not None:
                    gp = self.runqsteal(pp, victim)
                    if gp is not None:
                        break
        if gp is None:
            return None
        if not inherit:
            pp.schedtick += 1
        gp.status = "running"
        gp.p = pp.id
        return gp

    def runnable_anywhere(self) -> bool:
        return bool(self.global_runq) or self.local_runnable > 0
