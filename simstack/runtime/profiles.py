"""Version and platform profiles: every constant and policy switch of the stack machinery.

The runtime model reads these fields and never asks which Go version it is modelling:
each difference between 1.12, 1.19 and 1.27 (``spec/go-runtime-stacks.md`` §7) is a
field here.  ``resolve_profile`` combines a version, a platform, GODEBUG switches and
what-if overrides into one frozen :class:`Profile`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from .mheap import round2

PAGE_SIZE = 8192  # _PageSize: 1 << _PageShift (13) in every version


@dataclass(frozen=True)
class Frame:
    """One function frame as the compiler reports it (``$FRAME``), excluding the return address."""

    frame: int
    nosplit: bool = False
    name: str = ""


@dataclass(frozen=True)
class Platform:
    """What a GOOS/GOARCH pair contributes; version-dependent parts are keyed by version."""

    name: str
    ptr_size: int
    # bytes a CALL leaves on the callee's side of the stack (x86 pushes the return
    # address; arm64 keeps it in LR and spills it inside the callee's frame)
    call_slot: int
    min_frame_size: int  # sys.MinFrameSize: 0 on x86, 8 on arm64
    stack_system: dict  # version -> _StackSystem / stackSystem
    pushes_return_address: bool = True  # x86: CALL pushes; arm64: LR
    windows: bool = False
    # Ms whose g0 stack the OS allocates (runtime/proc.go: allocm, mStackIsSystemAllocated)
    os_g0: bool = False
    has_gsignal: bool = True
    # netpoll(delay)'s wait, where timers (1.14+) wake a poller with every P idle: epoll_wait and
    # GetQueuedCompletionStatusEx take whole milliseconds (delay truncated, at least 1 ms), kevent
    # a timespec (runtime/netpoll_epoll.go, netpoll_windows.go, netpoll_kqueue.go)
    netpoll_resolution: float = 0.001
    # how late the OS ends such a wait: Linux lets a thread's hrtimer sleeps run up to its timer
    # slack late (50 us unless prctl(PR_SET_TIMERSLACK) changes it; Go does not)
    netpoll_slack: float = 50e-6


@dataclass(frozen=True)
class Profile:
    """All constants and policies of one Go version on one platform (after overrides)."""

    version: str
    platform: str
    ptr_size: int
    call_slot: int
    stack_system: int
    stack_min: int
    fixed_stack: int
    stack_small: int
    stack_big: int
    stack_guard: int
    stack_limit: int  # _StackLimit (1.12/1.19) / stackNosplit (1.27): the shrink slack
    stack_cache_size: int
    num_stack_orders: int
    page_size: int
    max_stack: int
    max_stack_ceiling: int | None  # 2 x default maxstacksize in 1.19+, None in 1.12
    growth_factor: int
    # 1.19+: newstack doubles until funcMaxSPDelta(f)+StackGuard fits; 1.12 doubles once
    newstack_fits_frame: bool
    # newproc1: hi - SP at the entry function's first instruction
    newproc_reserve: int
    # adaptive starting size (1.19+): available, and on unless GODEBUG says otherwise
    adaptive_start_available: bool
    adaptive_start: bool
    starting_stack_policy: str  # fixed | average | per_site
    starting_stack: int  # initial startingStackSize (== fixed_stack unless overridden)
    keep_grown_stacks: int  # 0: gfput keeps only startingStackSize stacks
    gcshrinkstackoff: bool
    shrink_below: float  # shrink when used < size * shrink_below (runtime: 1/4)
    gfget_frees_mismatch: bool  # 1.19+: gfget frees a kept stack of the wrong size
    # mark workers are never shrunk: 1.12/1.19 shrinkstack skips gcBgMarkWorker; 1.27 scans them
    # while they wait with waitReasonGCWorkerActive, which isShrinkStackSafe refuses
    mark_worker_no_shrink: bool
    stacks_in_gc_goal: bool  # 1.18+: the GOGC goal counts scannable stack bytes
    # per-M stacks
    g0_stack: int  # 0 where the OS allocates g0 stacks
    gsignal_stack: int  # 0 where there is no gsignal (windows)
    gcrash_stack: int  # 1.27: schedinit's stackalloc(16384)
    # runtime goroutines alive before main.main runs (each gets fixed_stack):
    # (start function, hi - sched.sp while parked, which GC scans into the adaptive average)
    system_goroutines: tuple = ()
    # the runtime's frames on the channel-receive park path, outermost first
    park_path: tuple = ()
    # the deepest path of a heap allocation on the goroutine's stack, outermost first
    malloc_path: tuple = ()
    # and of one that sweeps spans first (deductSweepCredit -> sweepone -> sweep), taken while
    # proportional sweep is behind (runtime/mgcsweep.py); () = as malloc_path
    malloc_sweep_path: tuple = ()
    # the same with runtime/trace on: sweep's first span records a stack (GCSweepSpan -> traceStack),
    # the timed validation's programs' case; () = as malloc_sweep_path
    trace_sweep_path: tuple = ()
    # bgsweep's P time per heap page it sweeps, on a P with nothing else to run (0: no bgsweep)
    sweep_page_cost: float = 0.0
    # a parked mark worker's hi - sched.sp; 1.27: the worker that marks a cycle outgrows
    # _FixedStack (newstack at hi - sp = 1128): mark_worker_growth = (new size, bytes copied)
    mark_worker_used: int = 0
    mark_worker_growth: tuple = ()
    # the main goroutine: stack after package init, hi-sp while waiting in runtime.GC
    main_stack: int = 16384
    main_gc_wait_used: int = 0
    # the grid a sleeping netpoller wakes on to run due timers (0: timers wake on time)
    timer_resolution: float = 0.0
    timer_slack: float = 0.0  # and how late each such wait ends
    sysmon_slack: float = 50e-6  # how late each of sysmon's sleeps ends (the OS's timer slack; engine/sysmon.py)
    # GOGC pacing: where a cycle starts between the marked heap and the goal (runtime/mgcpacer.go)
    gc_trigger_max: float = 0.95
    gc_trigger_headroom: int = 0
    # 1.21+: the earliest trigger, and how many cycles' cons/mark the pacer keeps the largest of (0:
    # the trigger is not moved by cons/mark: the model sits at gc_trigger_max)
    gc_trigger_min: float = 45 / 64
    gc_cons_mark_window: int = 0
    heap_minimum: int = 4 << 20  # defaultHeapMinimum (x GOGC/100): the least heap goal
    # heap the goroutines themselves hold, which the pacer marks: every g ever made (allgs keeps
    # it: a g struct and its allgs slot) and a live g's sleep timer (0: not measured)
    g_heap: int = 0
    timer_heap: int = 0
    # the goroutines runtime/trace.Start adds (start function, hi - sp while parked): a traced program's
    # scans average them in, as the timed validation's programs are (measured on go1.27.3 only)
    trace_goroutines: tuple = ()
    # 1.23+ gcBgMarkStartWorkers: the first cycle's caller makes each mark worker (runnext of its P)
    # and waits on <-ready until it has run; a timer due at that schedule takes runnext first, and
    # the worker waits behind the local queue (1.12/1.19 block the M in notetsleepg: not modelled)
    mark_worker_start_wait: bool = False
    # 1.14+ asynchronous preemption: a goroutine stopped in the middle of busy code (a run step) is
    # at an async safe point, where isShrinkStackSafe refuses to shrink its stack
    async_preemption: bool = True
    # Ms running at program start, by GOMAXPROCS (index = min(gomaxprocs, len)-1)
    baseline_threads: tuple = (3, 4, 5)
    name_suffix: str = ""

    @cached_property
    def small_stack_limit(self) -> int:
        """Sizes below this come from stackpool through the per-P caches."""
        return min(self.fixed_stack << self.num_stack_orders, self.stack_cache_size)

    @property
    def stacks_per_span(self) -> tuple:
        return tuple(self.stack_cache_size // (self.fixed_stack << o) for o in range(self.num_stack_orders))


PLATFORMS = {
    "linux/amd64": Platform("linux/amd64", 8, 8, 0, {"go1.12": 0, "go1.19": 0, "go1.27": 0}),
    "linux/arm64": Platform("linux/arm64", 8, 8, 8, {"go1.12": 0, "go1.19": 0, "go1.27": 0},
                           pushes_return_address=False),
    "linux/386": Platform("linux/386", 4, 4, 0, {"go1.12": 0, "go1.19": 0, "go1.27": 0}),
    "windows/amd64": Platform("windows/amd64", 8, 8, 0, {"go1.12": 4096, "go1.19": 4096, "go1.27": 4096},
                              windows=True, os_g0=True, has_gsignal=False, netpoll_slack=0.0),
    # darwin/arm64 was iOS-only in 1.12 (1024-byte system area); macOS from 1.16 on
    "darwin/arm64": Platform("darwin/arm64", 8, 8, 8, {"go1.12": 1024, "go1.19": 0, "go1.27": 0},
                             pushes_return_address=False, os_g0=True, netpoll_resolution=0.0,
                             netpoll_slack=0.0),
}


@dataclass(frozen=True)
class VersionData:
    """Version-level constants; per-platform values are derived in ``resolve_profile``."""

    guard_base: int  # StackGuard = guard_base*M + stackSystem (+ guard_extra)
    guard_extra: int
    limit_base: int  # _StackLimit/stackNosplit at M=1
    newstack_fits_frame: bool
    max_stack_ceiling: bool
    adaptive_start_available: bool
    gfget_frees_mismatch: bool
    mark_worker_no_shrink: bool
    stacks_in_gc_goal: bool
    g0_stack: int
    gcrash_stack: int
    system_goroutines: tuple
    park_path: tuple
    mark_worker_used: int
    main_gc_wait_used: int
    windows_stack_system: int | None = None  # 1.27: 4096 on every windows arch
    # the pacer's latest trigger, as a fraction of the runway from the marked heap to the goal:
    # the trigger it sits at when the heap has little to scan (1.12 maxTriggerRatio 0.95 of
    # GOGC/100; 1.18-1.20 maxTriggerRatio 0.95; 1.21+ maxTriggerRatioNum/triggerRatioDen = 61/64)
    gc_trigger_max: float = 61 / 64
    # 1.18+: for large heaps the latest trigger is the goal minus defaultHeapMinimum instead
    gc_trigger_headroom: int = 4 << 20
    # 1.21+: the trigger is the goal less the runway the cons/mark estimate asks for (the largest of
    # the last five cycles': gcControllerState.endCycle's lastConsMark), no earlier than
    # minTriggerRatioNum/triggerRatioDen = 45/64 of the way. 1.18 - 1.20 smooth it with a PI
    # controller instead, and 1.12 adapts a trigger ratio: not modelled (0), they sit at gc_trigger_max
    gc_trigger_min: float = 45 / 64
    gc_cons_mark_window: int = 5
    # mallocgc down to mheap.alloc, which switches to the system stack: the path a small
    # allocation takes when its span is full (nextFree -> refill -> cacheSpan -> grow). Frames
    # are SUBQ + 8 (frame pointer) read with `go tool objdump` from go1.19.8 / go1.27.3 linux/amd64
    # builds, as park_path's are
    malloc_path: tuple = ()
    # the deepest sweeping path (deductSweepCredit -> sweepone -> sweep and sweep's deepest callee), and
    # with runtime/trace on: the path is the traceback at the shallowest depth where an allocation from
    # a 4 KiB stack grew it (debug.SetMaxStack(4096) turns that growth into a crash that prints it)
    malloc_sweep_path: tuple = ()
    trace_sweep_path: tuple = ()
    # bgsweep's time per page: 128 ns per one-page span, the median "GC incremental sweep" range of
    # 42,499 one-span sweeps in a traced go1.27.3 http-server run (2026-12-06; not measured on 1.19)
    sweep_page_cost: float = 128e-9
    # 1.14+: timers live on the Ps and an idle runtime waits for them in netpoll(delay);
    # before, each timer bucket's timerproc slept in a futex to the nanosecond
    timers_in_netpoll: bool = True
    mark_worker_growth: tuple = ()
    # runtime goroutines a GODEBUG setting starts: (setting, default, start function, hi - sp)
    godebug_goroutines: tuple = ()
    # heap per g in allgs (the g struct's size class + its allgs slot) and per live g that has
    # slept (gp.timer, which gdestroy drops), on 64-bit platforms: measured with go1.19.8 and
    # go1.27.3 linux/amd64 as HeapAlloc after GC over 100,000 goroutines (benchmarks/gheap_measure.py)
    g_heap: int = 0
    timer_heap: int = 0
    # runtime/trace.Start's goroutines: the CPU-sample reader, the generation advancer and the writer,
    # hi - sp as scanstack sees them parked (go1.27.3 rebuilt with a println in scanstack, over 19 cycles)
    trace_goroutines: tuple = ()
    # gcBgMarkStartWorkers waits on <-ready for each worker it makes (Profile.mark_worker_start_wait)
    mark_worker_start_wait: bool = False
    # asynchronous preemption (Go 1.14+; Profile.async_preemption)
    async_preemption: bool = True
    extra: dict = field(default_factory=dict)


VERSIONS = {
    "go1.12": VersionData(
        guard_base=880, guard_extra=0, limit_base=752, newstack_fits_frame=False,
        max_stack_ceiling=False, adaptive_start_available=False, gfget_frees_mismatch=False,
        mark_worker_no_shrink=True, stacks_in_gc_goal=False, g0_stack=8192, gcrash_stack=0,
        # not measured on 1.12 (no toolchain here); 1.12 has no adaptive start, and 2 KiB stacks
        # never shrink, so these figures decide nothing
        system_goroutines=(("forcegchelper", 256), ("bgsweep", 256), ("runfinq", 256)),
        park_path=(Frame(40, True, "runtime.chanrecv1"), Frame(136, False, "runtime.chanrecv"),
                   Frame(24, False, "runtime.gopark")),
        mark_worker_used=256, main_gc_wait_used=2048, timers_in_netpoll=False,
        gc_trigger_max=0.95, gc_trigger_headroom=0, gc_cons_mark_window=0,
        async_preemption=False,  # 1.14 brought it: 1.12 stops a goroutine only at a synchronous safe point
    ),
    "go1.19": VersionData(
        guard_base=928, guard_extra=0, limit_base=800, newstack_fits_frame=True,
        max_stack_ceiling=True, adaptive_start_available=True, gfget_frees_mismatch=True,
        mark_worker_no_shrink=True, stacks_in_gc_goal=True, g0_stack=8192, gcrash_stack=0,
        # hi - sp as scanstack sees it (measured: runtime built with a println in scanstack)
        system_goroutines=(("forcegchelper", 112), ("bgsweep", 144), ("bgscavenge", 176), ("runfinq", 504)),
        park_path=(Frame(32, True, "runtime.chanrecv1"), Frame(136, False, "runtime.chanrecv"),
                   Frame(24, False, "runtime.gopark")),
        mark_worker_used=184, main_gc_wait_used=4096, gc_trigger_max=0.95, gc_cons_mark_window=0,
        g_heap=425, timer_heap=80,
        malloc_path=(Frame(120, False, "runtime.mallocgc"), Frame(72, False, "runtime.(*mcache).nextFree"),
                     Frame(64, False, "runtime.(*mcache).refill"), Frame(88, False, "runtime.(*mcentral).cacheSpan"),
                     Frame(72, False, "runtime.(*mcentral).grow"), Frame(72, False, "runtime.(*mheap).alloc")),
        # a large allocation's sweep: go1.19.8's growth came 17 - 18 levels of 48 B shallower than
        # without an allocation (benchmarks/sweep_path_measure.py), this path's 17 by the model
        malloc_sweep_path=(Frame(120, False, "runtime.mallocgc"), Frame(80, False, "runtime.(*mcache).allocLarge"),
                           Frame(32, False, "runtime.deductSweepCredit"), Frame(80, False, "runtime.sweepone"),
                           Frame(216, False, "runtime.(*sweepLocked).sweep"), Frame(88, False, "runtime.(*spanSet).push"),
                           Frame(40, False, "runtime.(*headTailIndex).incTail")),
    ),
    "go1.27": VersionData(
        guard_base=800, guard_extra=128, limit_base=800, newstack_fits_frame=True,
        max_stack_ceiling=True, adaptive_start_available=True, gfget_frees_mismatch=True,
        mark_worker_no_shrink=True, stacks_in_gc_goal=True, g0_stack=16384, gcrash_stack=16384,
        system_goroutines=(("forcegchelper", 120), ("bgsweep", 152), ("bgscavenge", 168),
                           ("runFinalizers", 512)),
        godebug_goroutines=(("updatemaxprocs", 1, "updateMaxProcsGoroutine", 152),),
        park_path=(Frame(32, True, "runtime.chanrecv1"), Frame(112, False, "runtime.chanrecv"),
                   Frame(24, False, "runtime.gopark")),
        mark_worker_used=208, mark_worker_growth=(4096, 1128), main_gc_wait_used=4096,
        windows_stack_system=4096, g_heap=490, timer_heap=96,
        mark_worker_start_wait=True,
        trace_goroutines=(("traceStartReadCPU.func1", 360), ("traceAdvancerState.start.func1", 352),
                          ("runtime/trace.traceMultiplexer.startLocked.func1", 304)),
        malloc_path=(Frame(40, False, "runtime.mallocgc"), Frame(80, False, "runtime.mallocgcSmallNoscan"),
                     Frame(48, False, "runtime.(*mcache).nextFree"), Frame(56, False, "runtime.(*mcache).refill"),
                     Frame(112, False, "runtime.(*mcentral).cacheSpan"), Frame(40, False, "runtime.(*mcentral).grow"),
                     Frame(64, False, "runtime.(*mheap).alloc")),
        # a large allocation's sweep (the growth 22 levels of 40 B shallower than without an allocation,
        # 22 by the model); traced, the sweep records its stack: 29 - 30 levels measured for 64 KiB and
        # 8 KiB allocations (a few from up to 34), 28 by the model (a small one's refill path: 32)
        malloc_sweep_path=(Frame(40, False, "runtime.mallocgc"), Frame(80, False, "runtime.mallocgcLarge"),
                           Frame(72, False, "runtime.(*mcache).allocLarge"), Frame(56, False, "runtime.deductSweepCredit"),
                           Frame(72, False, "runtime.sweepone"), Frame(288, False, "runtime.(*sweepLocked).sweep"),
                           Frame(96, False, "runtime.(*spanSet).push"),
                           Frame(32, False, "runtime.(*atomicHeadTailIndex).incTail")),
        trace_sweep_path=(Frame(40, False, "runtime.mallocgc"), Frame(80, False, "runtime.mallocgcLarge"),
                          Frame(72, False, "runtime.(*mcache).allocLarge"), Frame(56, False, "runtime.deductSweepCredit"),
                          Frame(72, False, "runtime.sweepone"), Frame(288, False, "runtime.(*sweepLocked).sweep"),
                          Frame(96, False, "runtime.traceLocker.GCSweepSpan"), Frame(120, False, "runtime.traceStack"),
                          Frame(32, False, "runtime.(*traceStackTable).put"), Frame(88, False, "runtime.(*traceMap).put"),
                          Frame(32, False, "internal/runtime/maps.MemHash")),
    ),
}

VERSION_ALIASES = {"go1.12.5": "go1.12", "go1.12.9": "go1.12", "go1.19.8": "go1.19", "go1.27.3": "go1.27"}


def version_key(version: str) -> str:
    """Map 'go1.19.8' (or 'go1.19') onto the profile key 'go1.19'."""
    if version in VERSIONS:
        return version
    if version in VERSION_ALIASES:
        return VERSION_ALIASES[version]
    parts = version.split(".")
    key = ".".join(parts[:2])
    if key in VERSIONS:
        return key
    raise KeyError(f"no runtime profile for {version!r}; known: {', '.join(sorted(VERSIONS))}")


def resolve_profile(version: str = "go1.27", platform: str = "linux/amd64", *, godebug: dict | None = None,
                    max_stack: int | None = None, overrides: dict | None = None) -> Profile:
    """Build the Profile for a version/platform with GODEBUG switches and what-if overrides."""
    vkey = version_key(version)
    v = VERSIONS[vkey]
    if platform not in PLATFORMS:
        raise KeyError(f"no platform {platform!r}; known: {', '.join(PLATFORMS)}")
    plat = PLATFORMS[platform]
    godebug = dict(godebug or {})
    ov = {k: val for k, val in (overrides or {}).items() if val is not None}

    stack_system = plat.stack_system[vkey]
    if plat.windows and v.windows_stack_system is not None:
        stack_system = v.windows_stack_system
    # what-if 'starting_stack' replaces _StackMin (golang/go#18138), so _FixedStack follows it
    stack_min = ov.get("starting_stack", 2048)
    fixed = round2(stack_min + stack_system)
    guard = v.guard_base + stack_system + v.guard_extra
    orders = 4
    if plat.windows:
        orders -= plat.ptr_size // 4
    default_max = 1_000_000_000 if plat.ptr_size == 8 else 250_000_000
    adaptive = v.adaptive_start_available and bool(godebug.get("adaptivestackstart", 1))
    policy = ov.get("starting_stack_policy") or ("average" if adaptive else "fixed")

    return Profile(
        version=vkey, platform=platform, ptr_size=plat.ptr_size, call_slot=plat.call_slot,
        stack_system=stack_system, stack_min=stack_min, fixed_stack=fixed,
        stack_small=ov.get("stack_small", 128), stack_big=4096,
        stack_guard=ov.get("stack_guard", guard), stack_limit=v.limit_base,
        stack_cache_size=ov.get("stack_cache_size", 32768),
        num_stack_orders=ov.get("num_stack_orders", orders), page_size=PAGE_SIZE,
        max_stack=max_stack or default_max,
        max_stack_ceiling=2 * default_max if v.max_stack_ceiling else None,
        growth_factor=ov.get("growth_factor", 2), newstack_fits_frame=v.newstack_fits_frame,
        newproc_reserve=4 * plat.ptr_size + plat.min_frame_size + (plat.ptr_size if plat.pushes_return_address else 0),
        adaptive_start_available=v.adaptive_start_available, adaptive_start=policy == "average",
        starting_stack_policy=policy, starting_stack=fixed,
        keep_grown_stacks=ov.get("keep_grown_stacks", 0),
        gcshrinkstackoff=bool(godebug.get("gcshrinkstackoff", 0)),
        shrink_below=ov.get("shrink_below", 0.25),
        gfget_frees_mismatch=v.gfget_frees_mismatch, mark_worker_no_shrink=v.mark_worker_no_shrink,
        stacks_in_gc_goal=v.stacks_in_gc_goal,
        g0_stack=0 if plat.os_g0 else round2(stack_system + v.g0_stack),
        gsignal_stack=round2(stack_system + 32768) if plat.has_gsignal else 0,
        gcrash_stack=v.gcrash_stack, park_path=v.park_path, malloc_path=v.malloc_path,
        malloc_sweep_path=v.malloc_sweep_path, trace_sweep_path=v.trace_sweep_path, sweep_page_cost=v.sweep_page_cost,
        system_goroutines=v.system_goroutines + tuple(
            (name, used) for setting, default, name, used in v.godebug_goroutines
            if godebug.get(setting, default)),
        mark_worker_used=v.mark_worker_used, mark_worker_growth=v.mark_worker_growth,
        main_gc_wait_used=v.main_gc_wait_used,
        timer_resolution=ov.get("timer_resolution", plat.netpoll_resolution if v.timers_in_netpoll else 0.0),
        timer_slack=plat.netpoll_slack if v.timers_in_netpoll and ov.get("timer_resolution") != 0 else 0.0,
        sysmon_slack=plat.netpoll_slack,
        gc_trigger_max=v.gc_trigger_max, gc_trigger_headroom=v.gc_trigger_headroom,
        gc_trigger_min=v.gc_trigger_min, gc_cons_mark_window=v.gc_cons_mark_window,
        g_heap=v.g_heap if plat.ptr_size == 8 else 0, timer_heap=v.timer_heap if plat.ptr_size == 8 else 0,
        trace_goroutines=v.trace_goroutines, mark_worker_start_wait=v.mark_worker_start_wait,
        async_preemption=v.async_preemption,
    )


def with_overrides(profile: Profile, **changes) -> Profile:
    """A copy of ``profile`` with some fields replaced (tests and what-if studies)."""
    return replace(profile, **changes)
