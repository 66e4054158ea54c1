"""What a GC cycle does to stacks (``runtime/mgc.go``, ``mgcmark.go``, ``stack.go``).

gcStart: first cycle starts one mark worker goroutine per P; gcphase leaves _GCoff.
Mark: ``markrootFreeGStacks`` frees the stacks of dead Gs on the *global* free list;
``scanstack`` samples every live G's used stack (for the adaptive starting size) and
``shrinkstack`` halves the stacks that use less than a quarter.
gcMarkDone: ``gcComputeStartingStackSize``.  Mark termination: gcphase = _GCoff,
``freeStackSpans`` frees emptied spans, and each P's ``prepareForSweep`` clears its cache.
"""
from __future__ import annotations

from typing import Any, Callable

from mypy_extensions import trait

from .mgcsweep import Sweeper
from .mheap import MHeap, round2
from .proc import GDEAD, G, P
from .profiles import Profile
from .stack import StackAllocator
from .tracer import Tracer



@trait
class GCMixin:
    """gcStart, markrootFreeGStacks, scanstack, gcComputeStartingStackSize, gcMarkTermination."""

    # the Runtime's state this part reads (declared for mypyc, which compiles the mixins as traits)
    profile: Profile
    stacks: StackAllocator
    mheap: MHeap
    tracer: Tracer
    now: Callable[[], float]
    allp: list[P]
    allgs: list[G]
    gc_cycle: int
    cycle_stats: dict[str, Any]
    gc_log: list[dict]
    mark_workers: list[G]
    gfree_stack: list[G]
    gfree_nostack: list[G]
    site_scan: dict[int, list[int]]
    site_starting_size: dict[int, int]
    starting_stack_size: int
    last_stack_scan: int
    goroutine_heap: int
    marked_goroutine_heap: int
    _inuse_at_start: int
    sweeper: Sweeper

    def newproc1(self, p: P, site: int = -1, entry_frame: int = 0, kind: str = "user", index: int = 0) -> G:
        raise NotImplementedError  # ProcMixin's

    def set_used(self, gp: G, used: int) -> None:
        raise NotImplementedError  # ProcMixin's

    def shrinkstack(self, gp: G, p: P | None) -> bool:
        raise NotImplementedError  # GrowthMixin's

    def copystack(self, gp: G, p: P | None, newsize: int, used: int, kind: str) -> None:
        raise NotImplementedError  # GrowthMixin's

    def gc_start(self, p: P) -> None:
        """gcStart: start mark workers on the first cycle, enter the mark phase, mark roots."""
        self.gc_cycle += 1
        stats = self.cycle_stats = {"cycle": self.gc_cycle, "start": self.now(), "stacks_shrunk": 0,
                                    "bytes_released": 0, "spans_freed": 0}
        self._inuse_at_start = self.mheap.in_stacks
        self.sweeper.finishsweep_m()  # sweep termination: the last cycle's spans all swept
        if not self.mark_workers:
            self.gcBgMarkStartWorkers(p)
        self.stacks.gc_running = True
        self.tracer.on_gc_start(p.id, self.gc_cycle, self.mheap.in_stacks)
        worker_p = self.allp[0]
        self.markrootFreeGStacks(worker_p)
        for gp in list(self.allgs):
            if gp.status != GDEAD and gp.stack is not None:
                if self.scanstack(gp, worker_p):
                    stats["stacks_shrunk"] += 1
        growth = self.profile.mark_worker_growth
        if growth and self.mark_workers[0].stack.size < growth[0]:
            # 1.27: the marking worker's drain loop is deeper than _FixedStack allows
            self.copystack(self.mark_workers[0], worker_p, growth[0], growth[1], "grow")

    def gcBgMarkStartWorkers(self, p: P) -> None:
        """gcBgMarkStartWorkers: one gcBgMarkWorker goroutine per P, created from the caller's P."""
        while len(self.mark_workers) < len(self.allp):
            self.gcBgMarkStartWorker(p)

    def gcBgMarkStartWorker(self, p: P) -> G:
        """One ``go gcBgMarkWorker(ready)`` of gcBgMarkStartWorkers: the worker, parked as it is once
        it has run (the engine, when the caller waits for that, queues it first: Ps.start_mark_worker)."""
        gp = self.newproc1(p, -1, 0, kind="markworker")
        gp.top = self.profile.mark_worker_used
        self.set_used(gp, gp.top)
        gp.status = "waiting"
        self.mark_workers.append(gp)
        return gp

    def markrootFreeGStacks(self, p: P) -> None:
        """markrootFreeGStacks: free the stacks of the dead Gs on the global list sched.gFree.stack."""
        lst = self.gfree_stack
        self.gfree_stack = []
        for gp in reversed(lst):  # walked from the list head (last pushed)
            self.stacks.stackfree(gp.stack, p.stackcache, gp.goid, p.id)
            gp.stack = None
        self.gfree_nostack.extend(lst)

    def scanstack(self, gp: G, p: P) -> bool:
        """scanstack: sample hi - sched.sp for the starting size, then try shrinkstack where it is safe."""
        p.scanned_stack_size += gp.sp_used
        p.scanned_stacks += 1
        if self.profile.starting_stack_policy == "per_site" and gp.site >= 0:
            tot = self.site_scan.setdefault(gp.site, [0, 0])
            tot[0] += gp.sp_used
            tot[1] += 1
        if gp.gc_cycle_shrunk == self.gc_cycle:
            return False
        if gp.in_step and self.profile.async_preemption:
            # stopped at an asynchronous safe point: isShrinkStackSafe says no, and the shrink waits
            # (gp.preemptShrink) for a synchronous preemption in newstack, which busy code rarely makes
            return False
        if self.shrinkstack(gp, p):
            gp.gc_cycle_shrunk = self.gc_cycle
            return True
        return False

    def gcComputeStartingStackSize(self) -> None:
        """gcComputeStartingStackSize: average scanned stack use + StackGuard, rounded to a power of two."""
        prof = self.profile
        total = sum(pp.scanned_stack_size for pp in self.allp)
        count = sum(pp.scanned_stacks for pp in self.allp)
        for pp in self.allp:
            pp.scanned_stack_size = pp.scanned_stacks = 0
        self.last_stack_scan = total
        if prof.starting_stack_policy == "per_site":
            for site, (tot, n) in self.site_scan.items():
                self.site_starting_size[site] = self._starting_from(tot, n)
            self.site_scan = {}
            return
        if prof.starting_stack_policy != "average":
            return
        self.starting_stack_size = self._starting_from(total, count)

    def _starting_from(self, total: int, count: int) -> int:
        prof = self.profile
        if count == 0:
            return prof.fixed_stack
        avg = total // count + prof.stack_guard
        avg = max(prof.fixed_stack, min(avg, prof.max_stack))
        return round2(avg)

    def gc_end(self) -> dict:
        """gcMarkDone + gcMarkTermination: starting size, _GCoff, freeStackSpans, clear P caches."""
        self.gcComputeStartingStackSize()
        self.marked_goroutine_heap = self.goroutine_heap  # part of heapMarked, which paces the next cycle
        self.stacks.gc_running = False
        stats = self.cycle_stats
        spans_before = self.mheap.spans_freed
        self.stacks.free_stack_spans()
        for pp in self.allp:
            self.stacks.stackcache_clear(pp.stackcache, pp.id)  # mcache.prepareForSweep
        stats["spans_freed"] = self.mheap.spans_freed - spans_before
        stats["bytes_released"] = max(0, self._inuse_at_start - self.mheap.in_stacks)
        stats["end"] = self.now()
        stats["starting_size"] = self.starting_stack_size
        self.tracer.on_gc_end(self.gc_cycle, self.mheap.in_stacks)
        self.gc_log.append(stats)
        return stats
