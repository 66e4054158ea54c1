"""Goroutine creation, exit and reuse: gfput/gfget batching, markrootFreeGStacks, adaptive start."""
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime


def rt_(version="go1.19", procs=1, **kw):
    return Runtime(resolve_profile(version, "linux/amd64", **kw), procs, baseline=False)


def spawn_exit(rt, p, n, depth=0, frame=104):
    gs = [rt.newproc(p, 0, 72) for _ in range(n)]
    for g in gs:
        rt.enter(g, p)
        rt.move_to_depth(g, p, depth, frame)
    for g in gs:
        rt.goexit(g, p)
    return gs


def test_gfput_keeps_starting_size_stacks_and_batches_to_global():
    rt = rt_()
    p = rt.allp[0]
    spawn_exit(rt, p, 64)
    # the 64th put moves 33 to the global list, 31 stay
    assert len(p.gfree) == 31 and len(rt.gfree_stack) == 33
    assert all(g.stack is not None for g in p.gfree)


def test_grown_stacks_are_freed_at_exit():
    rt = rt_()
    p = rt.allp[0]
    spawn_exit(rt, p, 10, depth=50)
    assert all(g.stack is None for g in p.gfree)


def test_gfget_reuses_local_then_refills_32_from_global():
    rt = rt_()
    p = rt.allp[0]
    spawn_exit(rt, p, 64)
    reused = [rt.newproc(p, 0, 72) for _ in range(32)]
    assert len(p.gfree) == 31 - 31 + 32 - 1  # local drained after 31, then 32 came from global
    assert len(rt.gfree_stack) == 1
    assert rt.goid_seq == 64 + 32 and len({g.goid for g in reused}) == 32


def test_gc_frees_stacks_of_global_free_list_only():
    rt = rt_()
    p = rt.allp[0]
    spawn_exit(rt, p, 64)
    rt.gc(p)
    assert not rt.gfree_stack and len(rt.gfree_nostack) == 33
    assert sum(g.stack is not None for g in p.gfree) >= 30  # a mark worker reused one
    rt.check_invariants()


def test_adaptive_starting_size_and_reuse():
    rt = rt_("go1.19")
    p = rt.allp[0]
    gs = [rt.newproc(p, 0, 72) for _ in range(100)]
    for g in gs:
        rt.enter(g, p)
        rt.move_to_depth(g, p, 90, 104)  # ~10 KiB used
        rt.park(g, p)
    rt.gc(p)
    assert rt.starting_stack_size == 16384
    for g in gs:
        rt.goexit(g, p)
    fresh = rt.newproc(p, 0, 72)  # a dead G whose 16 KiB stack matches the starting size
    assert fresh.stack.size == 16384


def test_go112_has_no_adaptive_start_and_119_can_turn_it_off():
    for version, kw in (("go1.12", {}), ("go1.19", {"godebug": {"adaptivestackstart": 0}})):
        rt = rt_(version, **kw)
        p = rt.allp[0]
        g = rt.newproc(p, 0, 72)
        rt.enter(g, p)
        rt.move_to_depth(g, p, 90, 104)
        rt.park(g, p)
        rt.gc(p)
        assert rt.starting_stack_size == 2048


def test_baseline_matches_the_measured_start_up_composition():
    # spec §6.5: GOMAXPROCS=1, 3 threads, after the first ReadMemStats
    for version, expected in (("go1.12", 163840 + 32768), ("go1.19", 196608), ("go1.27", 196608)):
        rt = Runtime(resolve_profile(version, "linux/amd64"), 1)
        assert rt.read_memstats()["stack_inuse"] == expected, version  # 1.12: main 16 KiB, not 8
