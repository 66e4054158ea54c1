"""The stack allocator of ``runtime/stack.go``: stackpool, stackLarge and per-P stack caches.

Small stacks (below ``_FixedStack << _NumStackOrders`` and 32 KiB) are carved out of
32 KiB pool spans and reach goroutines through each P's ``stackcache``; large stacks
are whole spans of their own.  Spans emptied while the GC runs stay counted until
``freeStackSpans`` at the end of the cycle.  Every stack keeps its owning span and
slot, so fragmentation (a span kept alive by one stack) follows stack identity.
"""
from __future__ import annotations

from collections import OrderedDict
from .mheap import MHeap, Span
from .profiles import Profile
from .tracer import Tracer


class Stack:
    """A stack [lo, hi) handed to a goroutine or M (``runtime.stack``)."""

    __slots__ = ("span", "slot", "size", "lo")

    def __init__(self, span: Span, slot: int, size: int):
        self.span = span
        self.slot = slot
        self.size = size
        self.lo = span.base + slot * size

    @property
    def hi(self) -> int:
        return self.lo + self.size

    def __repr__(self):
        return f"Stack({self.size}@{self.lo:#x})"


class StackCache:
    """``mcache.stackcache[order]``: a per-P LIFO list of free stacks and its byte total."""

    __slots__ = ("lists", "size")

    def __init__(self, orders: int):
        self.lists: list[list[Stack]] = [[] for _ in range(orders)]
        self.size = [0] * orders

    @property
    def bytes(self) -> int:
        return sum(self.size)


class Limits:
    """The profile's constants that the hot paths read, as native ints.

    ``Profile`` is a plain Python dataclass: compiled code reads its fields by name
    lookup, and these are read for every frame a goroutine calls.
    """

    def __init__(self, prof: Profile) -> None:
        self.fixed_stack: int = prof.fixed_stack  # _FixedStack
        self.small_stack_limit: int = prof.small_stack_limit
        self.stack_cache_size: int = prof.stack_cache_size  # _StackCacheSize
        self.call_slot: int = prof.call_slot
        self.stack_small: int = prof.stack_small  # StackSmall
        self.stack_guard: int = prof.stack_guard  # StackGuard
        self.newproc_reserve: int = prof.newproc_reserve
        self.stack_min: int = prof.stack_min
        self.keep_grown_stacks: int = prof.keep_grown_stacks
        # the runtime's park path as (frame, nosplit) pairs
        self.park_path: list[tuple[int, bool]] = [(f.frame, f.nosplit) for f in prof.park_path]
        self.malloc_path: list[tuple[int, bool]] = [(f.frame, f.nosplit) for f in prof.malloc_path]
        self.malloc_sweep_path: list[tuple[int, bool]] = [(f.frame, f.nosplit) for f in
                                                          (prof.malloc_sweep_path or prof.malloc_path)]

    def order_of(self, n: int) -> int:
        """stackalloc's order loop: log2(n / _FixedStack)."""
        order = 0
        n2 = n
        while n2 > self.fixed_stack:
            order += 1
            n2 >>= 1
        return order


class StackAllocator:
    """stackinit's state and the functions of runtime/stack.go that act on it."""

    def __init__(self, profile: Profile, mheap: MHeap, tracer: Tracer | None = None):
        self.profile = profile
        self.k = Limits(profile)
        self.mheap = mheap
        self.tracer: Tracer = tracer if tracer is not None else Tracer()
        self.gc_running = False  # gcphase != _GCoff
        self.stackinit()

    def stackinit(self) -> None:
        """stackinit: empty stackpool lists (one per order) and stackLarge buckets."""
        prof = self.profile
        if prof.stack_cache_size % prof.page_size:
            raise ValueError("stack cache size must be a multiple of the page size")
        # stackpool[order]: spans with at least one free stack, front first
        self.stackpool: list[OrderedDict[int, Span]] = [OrderedDict() for _ in range(prof.num_stack_orders)]
        self.stack_large: dict[int, list[Span]] = {}  # npages -> spans freed during GC
        self.empty_pool_spans: dict[int, Span] = {}  # pool spans with allocCount 0, kept while GC runs
        self.large_free_bytes = 0
        self.pool_span_bytes = 0  # bytes of live pool spans
        self.stacks_in_use_bytes = 0  # stacks handed out (not in a cache or free list)
        self.cached_bytes = 0  # stacks sitting in per-P caches
        self.pool_free_bytes = 0  # free stacks inside live pool spans (fragmentation)

    # --- pool -----------------------------------------------------------------------
    def stackpoolalloc(self, order: int) -> Stack:
        """stackpoolalloc: one stack of ``order`` from the global pool, carving a new span if needed."""
        pool = self.stackpool[order]
        if pool:
            span = next(iter(pool.values()))
        else:
            prof = self.profile
            span = self.mheap.alloc_manual(prof.stack_cache_size // prof.page_size)
            span.order = order
            span.elemsize = prof.fixed_stack << order
            n = prof.stack_cache_size // span.elemsize
            span.free = list(range(n))  # pushed in ascending order: the highest address pops first
            span.in_pool = True
            pool[span.id] = span
            pool.move_to_end(span.id, last=False)
            self.pool_span_bytes += span.nbytes
            self.pool_free_bytes += span.nbytes
            self.tracer.on_span_alloc(-1, -1, span, span.elemsize)
        slot = span.free.pop()
        self.pool_free_bytes -= span.elemsize
        if span.alloc_count == 0:
            self.empty_pool_spans.pop(span.id, None)
        span.alloc_count += 1
        if not span.free:
            del pool[span.id]
            span.in_pool = False
        return Stack(span, slot, span.elemsize)

    def stackpoolfree(self, stk: Stack, order: int) -> None:
        """stackpoolfree: return a stack to its span; free the span at once only while GC is off."""
        span = stk.span
        pool = self.stackpool[order]
        if not span.free:
            pool[span.id] = span
            pool.move_to_end(span.id, last=False)
            span.in_pool = True
        span.free.append(stk.slot)
        self.pool_free_bytes += span.elemsize
        span.alloc_count -= 1
        if span.alloc_count == 0:
            if not self.gc_running:
                del pool[span.id]
                span.in_pool = False
                self._free_pool_span(span)
            else:
                self.empty_pool_spans[span.id] = span

    def _free_pool_span(self, span: Span) -> None:
        self.pool_span_bytes -= span.nbytes
        self.pool_free_bytes -= span.nbytes
        self.mheap.free_manual(span)
        self.tracer.on_span_free(-1, -1, span, span.elemsize)

    # --- per-P cache ----------------------------------------------------------------
    def stackcacherefill(self, c: StackCache, order: int, p: int = -1) -> None:
        """stackcacherefill: grab stacks from the pool until half the cache size is held."""
        half = self.profile.stack_cache_size // 2
        lst, size = c.lists[order], c.size[order]
        n = 0
        while size < half:
            stk = self.stackpoolalloc(order)
            lst.append(stk)
            size += stk.size
            n += 1
        self.cached_bytes += size - c.size[order]
        c.size[order] = size
        self.tracer.on_cache_refill(p, order, self.profile.fixed_stack << order, size)

    def stackcacherelease(self, c: StackCache, order: int, p: int = -1) -> None:
        """stackcacherelease: free stacks from the cache's head until at most half is held."""
        half = self.profile.stack_cache_size // 2
        lst, size = c.lists[order], c.size[order]
        released = 0
        while size > half:
            stk = lst.pop()
            self.stackpoolfree(stk, order)
            size -= stk.size
            released += stk.size
        c.size[order] = size
        self.cached_bytes -= released
        self.tracer.on_cache_release(p, order, self.profile.fixed_stack << order, released)

    def stackcache_clear(self, c: StackCache, p: int = -1) -> None:
        """stackcache_clear: every cached stack of every order goes back to the pool."""
        for order, lst in enumerate(c.lists):
            if not lst:
                continue
            released = c.size[order]
            while lst:
                self.stackpoolfree(lst.pop(), order)
            c.size[order] = 0
            self.cached_bytes -= released
            self.tracer.on_cache_release(p, order, self.profile.fixed_stack << order, released)

    # --- stackalloc / stackfree -----------------------------------------------------
    def stackalloc(self, n: int, cache: StackCache | None = None, g: int = -1, p: int = -1) -> Stack:
        """stackalloc: a stack of ``n`` bytes (a power of two) from the cache, pool or heap."""
        k = self.k
        if n < k.fixed_stack:
            # only reachable under a what-if starting_stack above a per-M stack's size (g0's 8 KiB):
            # the order loop would hand out a _FixedStack stack anyway, so account for that size
            n = k.fixed_stack
        if n < k.small_stack_limit:
            order = k.order_of(n)
            if cache is None:  # no P (m.p == 0): straight from the pool
                stk = self.stackpoolalloc(order)
            else:
                lst = cache.lists[order]
                if not lst:
                    self.stackcacherefill(cache, order, p)
                stk = lst.pop()
                cache.size[order] -= n
                self.cached_bytes -= n
        else:
            npages = n // self.profile.page_size
            bucket = self.stack_large.get(npages)
            if bucket:
                span = bucket.pop()
                span.large_free = False
                self.large_free_bytes -= span.nbytes
            else:
                span = self.mheap.alloc_manual(npages)
                self.tracer.on_span_alloc(g, p, span, n)
            span.alloc_count = 1
            stk = Stack(span, 0, n)
        self.stacks_in_use_bytes += n
        self.tracer.on_stackalloc(g, p, n, stk)
        return stk

    def stackfree(self, stk: Stack, cache: StackCache | None = None, g: int = -1, p: int = -1) -> None:
        """stackfree: give a stack back to the cache, the pool or (large) the heap or stackLarge."""
        k = self.k
        n = stk.size
        self.stacks_in_use_bytes -= n
        self.tracer.on_stackfree(g, p, stk)
        if n < k.small_stack_limit:
            order = k.order_of(n)
            if cache is None:
                self.stackpoolfree(stk, order)
                return
            if cache.size[order] >= k.stack_cache_size:
                self.stackcacherelease(cache, order, p)
            cache.lists[order].append(stk)
            cache.size[order] += n
            self.cached_bytes += n
        else:
            span = stk.span
            span.alloc_count = 0
            if not self.gc_running:
                self.mheap.free_manual(span)
                self.tracer.on_span_free(g, p, span, n)
            else:
                span.large_free = True
                self.stack_large.setdefault(span.npages, []).append(span)
                self.large_free_bytes += span.nbytes

    def free_stack_spans(self) -> int:
        """freeStackSpans: at GC end, free empty pool spans and every span in stackLarge."""
        freed = 0
        for span in list(self.empty_pool_spans.values()):
            del self.stackpool[span.order][span.id]
            span.in_pool = False
            self._free_pool_span(span)
            freed += 1
        self.empty_pool_spans.clear()
        for bucket in self.stack_large.values():
            for span in bucket:
                span.large_free = False
                self.mheap.free_manual(span)
                self.tracer.on_span_free(-1, -1, span, span.nbytes)
                freed += 1
        self.stack_large.clear()
        self.large_free_bytes = 0
        return freed
