"""Goroutine creation, exit and reuse: gfput/gfget batching, markrootFreeGStacks, adaptive start."""
from simstack.runtime.invariants import check_state
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
    check_state(rt)


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


def test_startm_adds_an_m_per_running_p_beyond_the_baseline_threads():
    # GOMAXPROCS 8 starts with 5 Ms (m0, sysmon, three more): 8 running Ps need 8 + sysmon
    rt = Runtime(resolve_profile("go1.19", "linux/amd64"), 8)
    assert rt.threads == 5
    before = rt.mheap.in_stacks
    rt.startm(rt.allp[0], 4)
    assert rt.threads == 5 and rt.mheap.in_stacks == before
    rt.startm(rt.allp[0], 8)
    assert rt.threads == 9
    grew = rt.mheap.in_stacks - before
    # four gsignal spans of their own, and the four 8 KiB g0s come from the pools (0–2 new spans)
    assert 4 * 32768 <= grew <= 4 * 32768 + 2 * 32768 and grew % 32768 == 0
    # with GOMAXPROCS 2 the baseline (4 Ms) already covers both Ps; without a baseline Ms are not modelled
    rt2 = Runtime(resolve_profile("go1.19", "linux/amd64"), 2)
    rt2.startm(rt2.allp[0], 2)
    assert rt2.threads == 4
    rt3 = rt_(procs=8)
    rt3.startm(rt3.allp[0], 8)
    assert rt3.threads is None and rt3.mheap.in_stacks == 0


def test_runtime_goroutines_scanned_hi_sp_is_the_measured_one():
    # go1.27: forcegc 120, bgsweep 152, bgscavenge 168, runFinalizers 512, updater 152 (updatemaxprocs on)
    rt = Runtime(resolve_profile("go1.27", "linux/amd64"), 1)
    sys_used = sorted(g.sp_used for g in rt.allgs if g.kind == "system")
    assert sys_used == [120, 152, 152, 168, 512]
    off = Runtime(resolve_profile("go1.27", "linux/amd64", godebug={"updatemaxprocs": 0}), 1)
    assert sorted(g.sp_used for g in off.allgs if g.kind == "system") == [120, 152, 168, 512]
    # the first GC's marking worker outgrows 2 KiB on 1.27 and keeps 4 KiB through later cycles
    rt.gc()
    rt.gc()
    assert [g.stack.size for g in rt.mark_workers] == [4096]
    rt19 = Runtime(resolve_profile("go1.19", "linux/amd64"), 1)
    rt19.gc()
    assert [g.stack.size for g in rt19.mark_workers] == [2048]


def test_the_pacer_marks_the_goroutines_own_heap():
    rt = rt_("go1.27")
    prof = rt.profile
    p = rt.allp[0]
    gs = [rt.newproc(p, 0, 72) for _ in range(10)]
    assert rt.goroutine_heap == 10 * prof.g_heap  # new(g) for each
    rt.timeSleep(gs[0])
    rt.timeSleep(gs[0])  # gp.timer is made once
    assert rt.goroutine_heap == 10 * prof.g_heap + prof.timer_heap
    for g in gs:
        rt.enter(g, p)
        rt.goexit(g, p)
    assert rt.goroutine_heap == 10 * prof.g_heap  # gdestroy dropped the timer; allgs keeps the gs
    [rt.newproc(p, 0, 72) for _ in range(10)]  # reused gs: no new heap
    assert rt.goroutine_heap == 10 * prof.g_heap
    assert rt.marked_goroutine_heap == 0
    rt.gc(p)  # the cycle's mark sees it (and the mark workers it started)
    assert rt.marked_goroutine_heap == rt.goroutine_heap == (10 + len(rt.allp)) * prof.g_heap


def test_goroutine_heap_is_profile_data_of_64_bit_platforms():
    assert resolve_profile("go1.27", "linux/amd64").g_heap > resolve_profile("go1.19", "linux/amd64").g_heap > 0
    assert resolve_profile("go1.27", "linux/386").g_heap == 0  # not measured
    assert resolve_profile("go1.12", "linux/amd64").g_heap == 0  # not measured (no toolchain)
