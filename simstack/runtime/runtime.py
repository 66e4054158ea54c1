"""The modelled Go runtime: heap, stack allocator, Ps, goroutines and GC in one object.

Plain Python with no notion of simulated time beyond a ``clock`` callable: the engine
(SimPy) decides *when* things happen, this object decides *what* they do to memory.
Every state change is reported to the runtime's :class:`~simstack.runtime.tracer.Tracer`
(``tracer.on_stackalloc(...)``, ``on_grow``, ...): the recorder's turns them into the
events table; checkers attach more with ``add_tracer``.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

from .growth import GrowthMixin
from .mgc import GCMixin
from .mgcsweep import Sweeper
from .mheap import MHeap
from .proc import GDEAD, G, P, ProcMixin
from .sched import SchedMixin
from .profiles import Profile
from .stack import StackAllocator
from .tracer import Tee, Tracer


class Runtime(ProcMixin, SchedMixin, GrowthMixin, GCMixin):
    """One Go process's stack memory: ``schedinit``'s state plus everything that touches stacks."""

    def __init__(self, profile: Profile, gomaxprocs: int = 1, *, baseline: bool = True,
                 tracer: Tracer | None = None, clock=lambda: 0.0, max_procs: int = 0):
        """``max_procs``: the most Ps the run will have (``procresize`` later; default ``gomaxprocs``)."""
        self.profile = profile
        self.tracer: Tracer = tracer if tracer is not None else Tracer()
        self.now = clock
        self.mheap = MHeap(profile.page_size)
        self.stacks = StackAllocator(profile, self.mheap, self.tracer)
        self.k = self.stacks.k
        self.allgs: list[G] = []
        self.live: dict[int, G] = {}
        self.goid_seq = 0
        self.gfree_stack: list[G] = []  # sched.gFree.stack (end = list head)
        self.gfree_nostack: list[G] = []  # sched.gFree.noStack
        self.starting_stack_size = profile.starting_stack  # startingStackSize
        self.site_starting_size: dict[int, int] = {}
        self.site_scan: dict[int, list] = {}
        self.gc_cycle = 0
        self.gc_log: list[dict] = []
        self.mark_workers: list[G] = []
        self.m_stacks: list = []  # g0, gsignal and gcrash stacks held by Ms
        self.user_size_counts: Counter = Counter()  # live user goroutines by stack size
        self.user_stack_bytes = 0
        self.live_stack_bytes = 0  # stacks of live goroutines (all kinds)
        self.live_used = 0  # hi - SP summed over live goroutines
        self.runtime_goroutines = 0  # live system goroutines and mark workers (not in NumGoroutine)
        # every P the run will have, by id; allp is the first GOMAXPROCS of them (procresize moves the line)
        self.allp_made = [P(i, profile.num_stack_orders) for i in range(max(gomaxprocs, max_procs))]
        self.allp = self.allp_made[:gomaxprocs]
        self.main: G | None = None
        self.threads: int | None = None  # Ms (OS threads) when the baseline is modelled: m0, the baseline's, startm's
        self.totals = Counter()  # grow, shrink, bytes_copied over the whole run
        self.on_exit_hook: Callable[[G], None] | None = None  # called with each user goroutine that exits
        self.last_stack_scan = 0  # stack bytes scanned by the last cycle (GC pacer input)
        self.goroutine_heap = 0  # heap bytes of the gs made since start, and their timers
        self.marked_goroutine_heap = 0  # goroutine_heap at the last mark termination (GC pacer input)
        self.sweeper = Sweeper(profile.page_size, profile.sweep_page_cost)
        self.sched_init()
        if baseline:
            self.start_baseline(gomaxprocs)
            self.totals.clear()  # count the workload's growth, not package init's
            self.goroutine_heap = 0  # the runtime's own gs are part of the scenario's live_heap

    def add_tracer(self, tracer: Tracer) -> None:
        """Attach one more tracer: from now on every event goes to the ones attached before, then to it."""
        both = Tee([self.tracer, tracer])
        self.tracer = both
        self.stacks.tracer = both

    # --- the runtime's own stacks at start -----------------------------------------
    def start_baseline(self, gomaxprocs: int) -> None:
        """The stacks a fresh process holds when main.main starts (spec §6.5)."""
        prof = self.profile
        p0 = self.allp[0]
        # m0: g0 runs on the OS stack; its gsignal comes from mpreinit before any P exists
        if prof.gsignal_stack:
            self.m_stacks.append(self.stacks.stackalloc(prof.gsignal_stack, None))
        if prof.gcrash_stack:
            self.m_stacks.append(self.stacks.stackalloc(prof.gcrash_stack, None))
        # the main goroutine, grown by package init to main_stack
        self.main = self.newproc1(p0, -1, 0, kind="main")
        while self.main.stack.size < prof.main_stack:
            self.copystack(self.main, p0, self.main.stack.size * 2, 0, "grow")
        self.main.status = "running"
        self.main.top = prof.main_gc_wait_used
        self.set_used(self.main, self.main.top)
        for _name, used in prof.system_goroutines:
            gp = self.newproc1(p0, -1, 0, kind="system")
            gp.status = "waiting"
            gp.top = used
            self.set_used(gp, gp.top)
        threads = prof.baseline_threads[min(gomaxprocs, len(prof.baseline_threads)) - 1]
        self.threads = 1  # m0
        for _ in range(threads - 1):
            self.newm(p0)

    def startm(self, p: P, running: int) -> None:
        """startm: ``running`` Ps now need an M each and sysmon holds one; with none idle, newm."""
        while self.threads is not None and running + 1 > self.threads:
            self.newm(p)

    def newm(self, p: P) -> None:
        """newm/allocm: a new M with a g0 stack (from p's cache) and a gsignal stack (own span)."""
        prof = self.profile
        if self.threads is not None:
            self.threads += 1
        if prof.g0_stack:
            self.m_stacks.append(self.stacks.stackalloc(prof.g0_stack, p.stackcache, -1, p.id))
        if prof.gsignal_stack:
            self.m_stacks.append(self.stacks.stackalloc(prof.gsignal_stack, None))

    # --- bookkeeping hooks used by proc/growth ---------------------------------------
    def on_resize(self, gp: G, old: int, new: int) -> None:
        if gp.kind == "user" and gp.status != GDEAD:
            c = self.user_size_counts
            c[old] -= 1
            if not c[old]:
                del c[old]
            c[new] += 1
            self.user_stack_bytes += new - old

    def on_spawn(self, gp: G) -> None:
        if gp.kind == "user":
            self.user_size_counts[gp.stack.size] += 1
            self.user_stack_bytes += gp.stack.size

    def on_exit(self, gp: G) -> None:
        if gp.kind == "user":
            if self.on_exit_hook is not None:
                self.on_exit_hook(gp)
            size = gp.stack.size
            c = self.user_size_counts
            c[size] -= 1
            if not c[size]:
                del c[size]
            self.user_stack_bytes -= size

    # --- the API the engine drives ----------------------------------------------------
    def newproc(self, p: P, site: int, entry_frame: int, index: int = 0) -> G:
        """newproc: create a user goroutine on P ``p`` (the ``go`` statement)."""
        gp = self.newproc1(p, site, entry_frame, "user", index)
        self.on_spawn(gp)
        return gp

    def goexit(self, gp: G, p: P) -> None:
        """goexit1 → goexit0 on P ``p``."""
        self.goexit0(gp, p)

    def gc(self, p: P | None = None) -> dict:
        """runtime.GC with a zero-length mark phase."""
        p = p or self.allp[0]
        self.gc_start(p)
        return self.gc_end()

    def flushallmcaches(self) -> None:
        """flushallmcaches: every P's stack cache back to the pools (ReadMemStats does this)."""
        for pp in self.allp:
            self.stacks.stackcache_clear(pp.stackcache, pp.id)

    def read_metrics(self) -> dict:
        """runtime/metrics: the stack figures, read without side effects."""
        return {
            "stack_inuse": self.mheap.in_stacks,
            "stack_sys": self.mheap.in_stacks + self.mheap.stacks_sys,
            "starting_size": self.starting_stack_size,
        }

    def read_memstats(self) -> dict:
        """runtime.ReadMemStats: flush every P's stack cache, then read StackInuse/StackSys."""
        before = self.mheap.in_stacks
        self.flushallmcaches()
        out = self.read_metrics()
        out["stack_inuse_before_flush"] = before
        return out

    def observe(self) -> dict:
        """Footprint figures at this instant, without side effects (the sampler's view); O(1)."""
        st = self.stacks
        return {
            "stack_inuse": self.mheap.in_stacks,
            "stack_sys": self.mheap.in_stacks + self.mheap.stacks_sys,
            "stack_in_goroutines": self.live_stack_bytes,
            "stack_used": self.live_used,
            "cached_bytes": st.cached_bytes,
            "pool_free_bytes": st.pool_free_bytes,
            "large_free_bytes": st.large_free_bytes,
            "goroutines": len(self.live) - self.runtime_goroutines,  # as runtime.NumGoroutine counts
            "starting_size": self.starting_stack_size,
        }

    def goroutine_sizes(self) -> Counter:
        """Live user goroutines by stack size."""
        return Counter(self.user_size_counts)

