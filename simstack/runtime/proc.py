"""Goroutines and Ps: creation, exit and reuse of dead goroutines (``runtime/proc.go``).

A dead G keeps its stack only if it has the current starting size; dead Gs wait on
their P's free list (moved in batches of 33 to the global lists once 64 pile up) and
are reused by ``gfget`` before a new G is made with ``malg``.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from mypy_extensions import trait

from .mheap import round2
from .profiles import Profile
from .stack import Limits, Stack, StackAllocator, StackCache
from .tracer import Tracer

# G status, as in runtime2.go
GIDLE, GRUNNABLE, GRUNNING, GWAITING, GDEAD = "idle", "runnable", "running", "waiting", "dead"


class G:
    """A goroutine (``runtime.g``) with the part of its call stack that decides stack use.

    ``top`` is hi - SP inside the deepest frame; ``segments`` are runs of recursive
    frames ``[frame, count]`` below the entry frame; ``sp_used`` is hi - sched.sp, the
    bytes in use that GC scanning and shrinking see while the G is not running.
    """

    __slots__ = ("goid", "site", "index", "stack", "status", "p", "entry_frame", "segments", "depth",
                 "top", "sp_used", "kind", "created", "exited", "grows", "shrinks", "bytes_copied",
                 "max_size", "gc_cycle_shrunk", "ctx", "timer", "in_step")

    def __init__(self, goid: int, kind: str = "user"):
        self.goid = goid
        self.kind = kind  # user | main | system | markworker
        self.site = -1  # spawning site (goroutine class) for per-site policies
        self.index = 0  # ordinal within its class
        self.stack: Stack | None = None
        self.status = GIDLE
        self.p = 0
        self.entry_frame = 0
        self.segments: list[list[int]] = []
        self.depth = 0
        self.top = 0
        self.sp_used = 0
        self.created = 0.0
        self.exited = -1.0
        self.grows = 0
        self.shrinks = 0
        self.bytes_copied = 0
        self.max_size = 0
        self.gc_cycle_shrunk = -1
        self.ctx: Any = None  # the engine's program state for this goroutine
        self.timer = False  # gp.timer: allocated by its first sleep, dropped when it exits
        # in the middle of a run step (the engine says so): busy code that GC's suspendG, or sysmon,
        # stops with an asynchronous preemption, where its stack cannot be shrunk (isShrinkStackSafe)
        self.in_step = False

    @property
    def size(self) -> int:
        return self.stack.size if self.stack is not None else 0

    def __repr__(self):
        return f"G({self.goid} {self.kind} {self.status} size={self.size} depth={self.depth})"


class P:
    """A P (``runtime.p``): its mcache's stack cache and its local free list of dead Gs."""

    __slots__ = ("id", "stackcache", "gfree", "scanned_stack_size", "scanned_stacks", "runnext", "runq",
                 "schedtick")

    def __init__(self, pid: int, orders: int):
        self.id = pid
        self.stackcache = StackCache(orders)
        self.gfree: list[G] = []  # pp.gFree: push/pop at the end (LIFO)
        self.scanned_stack_size = 0
        self.scanned_stacks = 0
        self.runnext: G | None = None  # set up by SchedMixin.sched_init
        self.runq: deque[G] = deque()
        self.schedtick = 0


@trait
class ProcMixin:
    """newproc1, malg, gfput, gfget, goexit0, gfpurge and procresize, as methods of the Runtime."""

    # the Runtime's state this part reads (declared for mypyc, which compiles the mixins as traits)
    profile: Profile
    k: Limits
    stacks: StackAllocator
    tracer: Tracer
    now: Callable[[], float]
    goid_seq: int
    allgs: list[G]
    live: dict[int, G]
    gfree_stack: list[G]
    gfree_nostack: list[G]
    starting_stack_size: int
    site_starting_size: dict[int, int]
    runtime_goroutines: int
    live_stack_bytes: int
    live_used: int
    goroutine_heap: int
    allp: list[P]
    allp_made: list[P]
    global_runq: deque[G]
    local_runnable: int

    def on_exit(self, gp: G) -> None:
        raise NotImplementedError  # Runtime's

    def malg(self, stacksize: int, p: P | None, kind: str = "user", exact: int | None = None) -> G:
        """malg: a new G with a stack of round2(_StackSystem + stacksize) bytes (none if < 0)."""
        self.goid_seq += 1
        gp = G(self.goid_seq, kind)
        if stacksize >= 0:
            n = exact or round2(self.profile.stack_system + stacksize)
            gp.stack = self.stacks.stackalloc(n, p.stackcache if p else None, gp.goid, p.id if p else -1)
        self.allgs.append(gp)
        self.goroutine_heap += self.profile.g_heap  # new(g), never freed: allgs keeps it
        return gp

    def newproc1(self, p: P, site: int = -1, entry_frame: int = 0, kind: str = "user", index: int = 0) -> G:
        """newproc1: reuse a dead G (gfget) or make one (malg), and set up its entry frame."""
        gp = self.gfget(p, site)
        if gp is None:
            # fresh Gs get _FixedStack even under the adaptive policy (runtime quirk); the
            # per-site what-if applies its prediction to them too
            per_site = self.profile.starting_stack_policy == "per_site"
            gp = self.malg(self.profile.stack_min, p, kind, self.starting_size(site) if per_site else None)
        else:
            self.goid_seq += 1  # a reused g struct still gets a new goid
            gp.goid = self.goid_seq
            gp.kind = kind
        gp.site, gp.index, gp.p = site, index, p.id
        gp.status = GRUNNABLE
        gp.entry_frame = entry_frame
        gp.segments = []
        gp.depth = 0
        # hi - SP at the entry function's first instruction (newproc1's reserve, goexit's PC)
        gp.top = self.k.newproc_reserve
        gp.sp_used = 0
        gp.created = self.now()
        gp.exited = -1.0
        gp.grows = gp.shrinks = gp.bytes_copied = 0
        gp.max_size = gp.stack.size
        gp.gc_cycle_shrunk = -1
        gp.in_step = False
        self.live[gp.goid] = gp
        if kind in ("system", "markworker"):
            self.runtime_goroutines += 1
        self.live_stack_bytes += gp.stack.size
        self.set_used(gp, gp.top)
        self.tracer.on_spawn(gp, p.id)
        return gp

    def set_used(self, gp: G, used: int) -> None:
        """Record a live G's hi - sched.sp, keeping the running total the sampler reads."""
        self.live_used += used - gp.sp_used
        gp.sp_used = used

    def starting_size(self, site: int = -1) -> int:
        """startingStackSize (global, or per spawning site under the per_site policy)."""
        if site >= 0 and self.site_starting_size:
            return self.site_starting_size.get(site, self.starting_stack_size)
        return self.starting_stack_size

    def _keeps_stack(self, gp: G) -> bool:
        size = gp.stack.size
        return size == self.starting_size(gp.site) or 0 < size <= self.k.keep_grown_stacks

    def gfput(self, p: P, gp: G) -> None:
        """gfput: put a dead G on p's free list, freeing its stack unless it has the starting size."""
        if gp.stack is not None and not self._keeps_stack(gp):
            self.stacks.stackfree(gp.stack, p.stackcache, gp.goid, p.id)
            gp.stack = None
        p.gfree.append(gp)
        if len(p.gfree) >= 64:
            while len(p.gfree) >= 32:
                g2 = p.gfree.pop()
                (self.gfree_stack if g2.stack is not None else self.gfree_nostack).append(g2)

    def gfget(self, p: P, site: int = -1) -> G | None:
        """gfget: pop a dead G from p's list (refilling up to 32 from the global lists)."""
        if not p.gfree and (self.gfree_stack or self.gfree_nostack):
            while len(p.gfree) < 32:
                if self.gfree_stack:
                    p.gfree.append(self.gfree_stack.pop())
                elif self.gfree_nostack:
                    p.gfree.append(self.gfree_nostack.pop())
                else:
                    break
        if not p.gfree:
            return None
        gp = p.gfree.pop()
        want = self.starting_size(site)
        if gp.stack is not None and gp.stack.size != want and self.profile.gfget_frees_mismatch \
                and not (self.profile.keep_grown_stacks and gp.stack.size <= self.profile.keep_grown_stacks
                         and gp.stack.size >= want):
            self.stacks.stackfree(gp.stack, p.stackcache, gp.goid, p.id)
            gp.stack = None
        if gp.stack is None:
            gp.stack = self.stacks.stackalloc(want, p.stackcache, gp.goid, p.id)
        return gp

    def goexit0(self, gp: G, p: P) -> None:
        """goexit0: the G is dead; its stack goes with it to p's free list (gfput)."""
        size = gp.stack.size
        gp.status = GDEAD
        gp.exited = self.now()
        gp.segments = []
        gp.depth = 0
        self.live.pop(gp.goid, None)
        self.live_stack_bytes -= size
        self.live_used -= gp.sp_used
        gp.sp_used = 0
        if gp.timer:
            gp.timer = False  # gdestroy: gp.timer = nil
            self.goroutine_heap -= self.profile.timer_heap
        self.tracer.on_exit(gp, p.id)
        self.on_exit(gp)
        self.gfput(p, gp)

    def timeSleep(self, gp: G) -> None:
        """timeSleep: the goroutine's first sleep allocates gp.timer, heap it keeps until it exits."""
        if not gp.timer:
            gp.timer = True
            self.goroutine_heap += self.profile.timer_heap

    def gfpurge(self, p: P) -> None:
        """gfpurge: move all of a destroyed P's free Gs to the global lists."""
        while p.gfree:
            g2 = p.gfree.pop()
            (self.gfree_stack if g2.stack is not None else self.gfree_nostack).append(g2)

    def procresize(self, nprocs: int) -> None:
        """procresize: GOMAXPROCS becomes ``nprocs`` (the world stopped); the Ps beyond it are destroyed,
        and those it adds start as ``p.init`` leaves them: an empty mcache, no free Gs, empty queues."""
        if nprocs > len(self.allp_made):
            raise ValueError(f"procresize({nprocs}): the runtime was made for at most {len(self.allp_made)} Ps")
        for pp in self.allp[nprocs:]:
            self.pdestroy(pp)
        self.allp = self.allp_made[:nprocs]

    def pdestroy(self, pp: P) -> None:
        """p.destroy: its runnable Gs to the global queue's head (runnext first), its mcache freed
        (``freemcache`` -> ``stackcache_clear``) and its free Gs to the global lists (``gfpurge``)."""
        q = self.global_runq
        while pp.runq:
            q.appendleft(pp.runq.pop())  # globrunqputhead, from the tail: the queue keeps its order
            self.local_runnable -= 1
        if pp.runnext is not None:
            q.appendleft(pp.runnext)
            pp.runnext = None
            self.local_runnable -= 1
        self.stacks.stackcache_clear(pp.stackcache, pp.id)
        self.gfpurge(pp)
