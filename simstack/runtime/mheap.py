"""The heap's page allocator as stacks see it: ``mheap_.allocManual`` / ``freeManual``.

Stack memory is carved from heap spans of whole 8 KiB pages.  Only the bytes of spans
currently handed to the stack allocator count as ``StackInuse`` (1.12
``memstats.stacks_inuse``, 1.19+ ``heapStats.inStacks``); a freed span goes back to
the heap's idle pages.  Addresses are first-fit over an address-ordered free list so
that spans get stable, reusable addresses as in the real page allocator.
"""
from __future__ import annotations

import bisect


class Span:
    """An mspan in state mSpanManual holding stacks (``runtime/mheap.go: mspan``)."""

    __slots__ = ("base", "npages", "nbytes", "order", "elemsize", "free", "alloc_count",
                 "in_pool", "large_free", "id", "__weakref__")

    def __init__(self, sid: int, base: int, npages: int, page_size: int):
        self.id = sid
        self.base = base
        self.npages = npages
        self.nbytes = npages * page_size
        self.order = -1  # -1: a large-stack or per-M span, not a pool span
        self.elemsize = 0
        self.free: list[int] = []  # manualFreeList: slot indices, LIFO
        self.alloc_count = 0
        self.in_pool = False  # linked in stackpool[order]
        self.large_free = False  # parked in stackLarge.free

    def __repr__(self):
        return f"Span(#{self.id} base={self.base:#x} pages={self.npages} order={self.order} alloc={self.alloc_count})"


class MHeap:
    """Pages handed out to stacks, with the exact ``StackInuse`` counter."""

    def __init__(self, page_size: int = 8192, arena_base: int = 0xC000000000):
        self.page_size = page_size
        self.in_stacks = 0  # bytes of spans held by the stack allocator: StackInuse
        self.peak_in_stacks = 0
        self.stacks_sys = 0  # OS memory mapped directly for stacks (efence, newosproc0): 0 here
        self.spans_allocated = 0
        self.spans_freed = 0
        self._top = arena_base  # next never-used address
        self._free_bases: list[int] = []  # address-ordered idle runs (base, npages)
        self._free_pages: dict[int, int] = {}
        self._next_id = 0

    def alloc_manual(self, npages: int) -> Span:
        """mheap.allocManual: take ``npages`` contiguous pages for stacks (first fit)."""
        base = None
        for i, b in enumerate(self._free_bases):
            n = self._free_pages[b]
            if n >= npages:
                base = b
                del self._free_bases[i]
                del self._free_pages[b]
                if n > npages:
                    rest = b + npages * self.page_size
                    bisect.insort(self._free_bases, rest)
                    self._free_pages[rest] = n - npages
                break
        if base is None:
            base = self._top
            self._top += npages * self.page_size
        self._next_id += 1
        span = Span(self._next_id, base, npages, self.page_size)
        self.in_stacks += span.nbytes
        if self.in_stacks > self.peak_in_stacks:
            self.peak_in_stacks = self.in_stacks
        self.spans_allocated += 1
        return span

    def free_manual(self, span: Span) -> None:
        """mheap.freeManual: return a stack span's pages to the heap (coalescing neighbours)."""
        self.in_stacks -= span.nbytes
        self.spans_freed += 1
        base, npages = span.base, span.npages
        i = bisect.bisect_left(self._free_bases, base)
        if i < len(self._free_bases) and self._free_bases[i] == base + npages * self.page_size:
            nxt = self._free_bases.pop(i)
            npages += self._free_pages.pop(nxt)
        if i > 0:
            prev = self._free_bases[i - 1]
            if prev + self._free_pages[prev] * self.page_size == base:
                self._free_pages[prev] += npages
                return
        self._free_bases.insert(i, base)
        self._free_pages[base] = npages

    @property
    def idle_bytes(self) -> int:
        return sum(self._free_pages.values()) * self.page_size


def round2(n: int) -> int:
    """runtime.round2 (stack.go): the smallest power of two >= n.  Here, with no runtime import,
    so that the profiles (stack sizes at resolution), proc (malg) and mgc share it."""
    r = 1
    while r < n:
        r <<= 1
    return r
