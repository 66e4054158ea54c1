"""The stack allocator on its own: pool carving, per-P caches, large stacks, accounting."""
import pytest

from simstack.runtime.mheap import MHeap
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.stack import StackAllocator, StackCache


@pytest.fixture
def alloc():
    prof = resolve_profile("go1.19", "linux/amd64")
    return StackAllocator(prof, MHeap(prof.page_size))


def test_pool_span_is_carved_and_hands_out_highest_address_first(alloc):
    a = alloc.stackpoolalloc(0)
    b = alloc.stackpoolalloc(0)
    assert alloc.mheap.in_stacks == 32768
    assert a.span is b.span and a.span.alloc_count == 2
    assert a.lo == a.span.base + 15 * 2048 and b.lo == a.lo - 2048


def test_full_span_leaves_pool_and_returns_to_front_when_a_stack_is_freed(alloc):
    stacks = [alloc.stackpoolalloc(1) for _ in range(8)]  # 8 x 4 KiB fill one span
    span = stacks[0].span
    assert not alloc.stackpool[1]
    alloc.stackpoolalloc(1)  # a second span
    alloc.stackpoolfree(stacks[0], 1)
    assert next(iter(alloc.stackpool[1].values())) is span


def test_empty_span_freed_at_once_only_with_gc_off(alloc):
    s = alloc.stackpoolalloc(2)
    alloc.gc_running = True
    alloc.stackpoolfree(s, 2)
    assert alloc.mheap.in_stacks == 32768  # kept until freeStackSpans
    alloc.gc_running = False
    assert alloc.free_stack_spans() == 1
    assert alloc.mheap.in_stacks == 0
    s = alloc.stackpoolalloc(2)
    alloc.stackpoolfree(s, 2)
    assert alloc.mheap.in_stacks == 0


def test_refill_takes_half_the_cache_and_release_trims_above_full(alloc):
    c = StackCache(4)
    s = alloc.stackalloc(2048, c)
    assert len(c.lists[0]) == 7 and c.size[0] == 7 * 2048  # refilled 8, handed out 1
    others = [alloc.stackalloc(2048, c) for _ in range(7)]
    extra = [alloc.stackalloc(2048, c) for _ in range(9)]  # refill again: 8 more
    for x in [s] + others + extra:
        alloc.stackfree(x, c)
    # a free that finds >= 32 KiB cached first releases down to <= 16 KiB
    assert c.size[0] <= 32768
    assert alloc.stacks_in_use_bytes == 0


@pytest.mark.parametrize("size", [32768, 65536, 1 << 20])
def test_large_stacks_are_own_spans_and_go_to_stacklarge_during_gc(alloc, size):
    s = alloc.stackalloc(size, StackCache(4))
    assert alloc.mheap.in_stacks == size and s.span.npages == size // 8192
    alloc.gc_running = True
    alloc.stackfree(s, StackCache(4))
    assert alloc.mheap.in_stacks == size and alloc.large_free_bytes == size
    again = alloc.stackalloc(size, StackCache(4))  # reused from stackLarge
    assert again.span is s.span and alloc.mheap.spans_allocated == 1
    alloc.stackfree(again, None)
    alloc.gc_running = False
    alloc.free_stack_spans()
    assert alloc.mheap.in_stacks == 0


def test_windows_has_two_orders_of_8k_and_16k():
    prof = resolve_profile("go1.19", "windows/amd64")
    alloc = StackAllocator(prof, MHeap())
    assert prof.fixed_stack == 8192 and prof.num_stack_orders == 2
    s = alloc.stackalloc(16384, StackCache(2))
    assert s.span.order == 1
    assert alloc.stackalloc(32768, None).span.order == -1


def test_freed_spans_are_reused_first_fit():
    heap = MHeap()
    a, b, c = heap.alloc_manual(4), heap.alloc_manual(4), heap.alloc_manual(4)
    heap.free_manual(a)
    heap.free_manual(b)
    d = heap.alloc_manual(8)  # the coalesced run of a and b, below c
    assert d.base == a.base < c.base and heap.in_stacks == 12 * 8192
    assert heap.peak_in_stacks == 12 * 8192
