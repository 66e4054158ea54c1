"""Growth by the prologue check, newstack doubling, overflow, and shrinking."""
import pytest

from simstack.runtime.growth import StackOverflow
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime


def make(version="go1.19", **kw):
    rt = Runtime(resolve_profile(version, "linux/amd64", **kw), 1, baseline=False)
    p = rt.allp[0]
    g = rt.newproc(p, 0, 72)
    rt.enter(g, p)
    return rt, p, g


def per_frame(rt, p, g, depth, frame):
    """The slow reference: one call at a time."""
    for _ in range(depth):
        rt.call(g, p, frame)


@pytest.mark.parametrize("version", ["go1.12", "go1.19", "go1.27"])
@pytest.mark.parametrize("frame", [40, 104, 296, 1064, 6184])
@pytest.mark.parametrize("depth", [1, 7, 12, 13, 30, 100, 333])
def test_closed_form_run_equals_frame_by_frame(version, frame, depth):
    rt1, p1, g1 = make(version)
    rt1.move_to_depth(g1, p1, depth, frame)
    rt2, p2, g2 = make(version)
    per_frame(rt2, p2, g2, depth, frame)
    assert (g1.stack.size, g1.top, g1.grows, g1.bytes_copied) == (g2.stack.size, g2.top, g2.grows, g2.bytes_copied)


def test_small_frame_threshold_on_2k():
    # entry at hi-40, entry frame 72; k-th call of a 40-byte frame enters at 120 + 48(k-1).
    # 1.19: grows iff U >= 2048 - 928 = 1120  ->  k >= 21.8, so 21 frames fit, the 22nd grows
    rt, p, g = make("go1.19")
    rt.move_to_depth(g, p, 21, 40)
    assert g.stack.size == 2048
    rt.move_to_depth(g, p, 22, 40)
    assert g.stack.size == 4096 and g.grows == 1
    # 1.12's guard is 880: U >= 1168 -> the 23rd call grows
    rt, p, g = make("go1.12")
    rt.move_to_depth(g, p, 22, 40)
    assert g.stack.size == 2048


def test_huge_frame_doubles_until_it_fits_on_119_but_copies_repeatedly_on_112():
    rt, p, g = make("go1.19")
    rt.move_to_depth(g, p, 1, 6184)
    assert g.stack.size == 8192 and g.grows == 1  # 2K -> 8K in one newstack
    rt, p, g = make("go1.12")
    rt.move_to_depth(g, p, 1, 6184)
    assert g.stack.size == 8192 and g.grows == 2  # 2K -> 4K -> 8K, two copies


def test_returning_never_shrinks_and_gc_halves_once_per_cycle():
    rt, p, g = make("go1.19")
    rt.move_to_depth(g, p, 300, 104)
    big = g.stack.size
    rt.move_to_depth(g, p, 0, 104)
    rt.park(g, p)
    assert g.stack.size == big
    sizes = []
    for _ in range(6):
        rt.gc(p)
        sizes.append(g.stack.size)
    assert sizes[:3] == [big // 2, big // 4, big // 8]
    # parked at the entry frame a goroutine uses 112 + park path (40+144+32) = 328 bytes:
    # 328 + 800 >= 4096/4, so the stack stops at 4 KiB
    assert sizes[-1] == 4096 and g.sp_used == 328


@pytest.mark.parametrize("version, shrinks", [("go1.12", True), ("go1.19", False), ("go1.27", False)])
def test_a_goroutine_in_the_middle_of_a_run_step_keeps_its_stack_from_1_14_on(version, shrinks):
    """isShrinkStackSafe: GC stops busy code with an asynchronous preemption (Go 1.14+), where the
    stack cannot be copied; the shrink waits for a synchronous safe point (gp.preemptShrink)."""
    rt, p, g = make(version)
    rt.move_to_depth(g, p, 300, 104)
    rt.move_to_depth(g, p, 2, 104)  # a shallow step on a stack a deep one grew
    big = g.stack.size
    g.in_step = True
    rt.gc(p)
    assert (g.stack.size < big) == shrinks
    g.in_step = False  # the step is done: parked, it shrinks
    rt.gc(p)
    assert g.stack.size < big


def test_gcshrinkstackoff_and_floor():
    rt, p, g = make("go1.19", godebug={"gcshrinkstackoff": 1})
    rt.move_to_depth(g, p, 100, 104)
    rt.move_to_depth(g, p, 0, 104)
    size = g.stack.size
    rt.gc(p)
    assert g.stack.size == size
    rt, p, g = make("go1.19")
    rt.park(g, p, park_path=())
    rt.gc(p)
    assert g.stack.size == 2048  # never below _FixedStack


def test_overflow_is_the_runtimes_fatal_error():
    rt, p, g = make("go1.19", max_stack=1_000_000)
    with pytest.raises(StackOverflow) as exc:
        rt.move_to_depth(g, p, 10_000, 104)
    assert "goroutine stack exceeds 1000000-byte limit" in str(exc.value)
    assert "fatal error: stack overflow" in str(exc.value)
    assert g.stack.size == 524288  # 512 KiB is the largest stack under a 1e6 limit


def test_what_if_overrides_change_the_mechanism():
    # growth_factor 4: one newstack takes 2 KiB straight to 8 KiB
    rt, p, g = make("go1.19", overrides={"growth_factor": 4})
    rt.move_to_depth(g, p, 22, 40)
    assert g.stack.size == 8192 and g.grows == 1
    # shrink_below 1/2: GC halves a stack while less than half of it is used
    rt, p, g = make("go1.19", overrides={"shrink_below": 0.5})
    rt.move_to_depth(g, p, 60, 104)  # 8 KiB
    rt.move_to_depth(g, p, 0, 104)
    rt.park(g, p)  # 328 + 800 used: under half of 4 KiB, not under a quarter
    for _ in range(3):
        rt.gc(p)
    assert g.stack.size == 2048
    # starting_stack 8 KiB replaces _StackMin: fresh goroutines start at 8 KiB, the floor follows
    rt, p, g = make("go1.19", overrides={"starting_stack": 8192})
    assert g.stack.size == 8192 and rt.profile.fixed_stack == 8192


def test_stack_cache_size_and_orders_overrides():
    from simstack.runtime.profiles import resolve_profile
    prof = resolve_profile("go1.19", overrides={"stack_cache_size": 65536, "num_stack_orders": 5})
    assert prof.small_stack_limit == 65536 and prof.stacks_per_span[4] == 2
    rt = Runtime(prof, 1, baseline=False)
    p = rt.allp[0]
    s = rt.stacks.stackalloc(32768, p.stackcache)  # now a small, cached size (order 4)
    assert s.span.order == 4 and rt.mheap.in_stacks == 65536
