"""GOMAXPROCS changed during a run (``runtime.gomaxprocs_changes``): procresize and p.destroy."""
import pytest

import simstack
from simstack.errors import ScenarioError
from simstack.runtime.invariants import check_state
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime
from simstack.scenario import parse_scenario


def rt_(procs=4, max_procs=0):
    return Runtime(resolve_profile("go1.27", "linux/amd64"), procs, baseline=False, max_procs=max_procs)


def test_a_destroyed_ps_queue_goes_to_the_global_queues_head_in_order_runnext_first():
    rt = rt_(procs=2)
    p1 = rt.allp[1]
    gs = [rt.newproc(p1, 0, 72) for _ in range(4)]
    for gp in gs:
        rt.runqput(p1, gp, True)  # each takes runnext, kicking the one before it to the queue's tail
    rt.global_runq.append(other := rt.newproc(rt.allp[0], 0, 72))
    rt.procresize(1)
    assert list(rt.global_runq) == [gs[3], gs[0], gs[1], gs[2], other]
    assert rt.local_runnable == 0 and p1.runnext is None and not p1.runq
    assert rt.allp == [rt.allp_made[0]]


def test_a_destroyed_ps_stack_cache_and_free_gs_are_released():
    rt = rt_(procs=2)
    p1 = rt.allp[1]
    gs = [rt.newproc(p1, 0, 72) for _ in range(40)]
    for gp in gs:
        rt.enter(gp, p1)
        rt.move_to_depth(gp, p1, 20, 104)  # grown to 4 KiB: freed to P1's cache at exit
    for gp in gs:
        rt.goexit(gp, p1)
    assert len(p1.gfree) == 40 and p1.stackcache.bytes > 0  # fewer than 64: none moved to the global lists yet
    inuse = rt.mheap.in_stacks
    rt.procresize(1)  # freemcache -> stackcache_clear; gfpurge
    assert not p1.gfree and len(rt.gfree_stack) + len(rt.gfree_nostack) == 40
    assert p1.stackcache.bytes == 0 and rt.stacks.cached_bytes == 0
    assert rt.mheap.in_stacks < inuse  # the cached stacks' spans, all free now, went back to the heap
    check_state(rt)


def test_added_ps_start_empty_and_a_p_made_again_is_the_same_p_emptied():
    rt = rt_(procs=1, max_procs=3)
    assert len(rt.allp) == 1 and len(rt.allp_made) == 3
    rt.procresize(3)
    assert [pp.id for pp in rt.allp] == [0, 1, 2]
    p2 = rt.allp[2]
    gp = rt.newproc(p2, 0, 72)
    rt.enter(gp, p2)
    rt.goexit(gp, p2)
    rt.procresize(2)
    rt.procresize(3)
    assert rt.allp[2] is p2 and not p2.gfree and p2.runnext is None
    with pytest.raises(ValueError, match="at most 3 Ps"):
        rt.procresize(4)


SCENARIO = """
name: resized
seed: 3
duration: 100ms
runtime:
  version: go1.27
  gomaxprocs: 4
  gomaxprocs_changes: [{{at: {at}, gomaxprocs: 1}}{more}]{extra}
goroutines:
  - name: spin
    count: 4
    arrival: {{process: burst, at: 0s}}
    frame: 512B
    program:
      - {{depth: 30, run: 10ms}}
"""


def _run(at="5ms", more="", extra="", **kw):
    return simstack.run(parse_scenario(SCENARIO.format(at=at, more=more, extra=extra), "resized.yaml"),
                        check_invariants=True, **kw)


def test_goroutines_running_on_a_destroyed_p_keep_the_rest_of_their_steps():
    """Four 10 ms steps on 4 Ps, GOMAXPROCS 1 from 5 ms: 5 ms done each, 20 ms left on one P."""
    res = _run()
    g = res.goroutines
    assert len(g) == 4 and g["exited"].notna().all()
    assert g["exited"].max() == pytest.approx(0.025, abs=1e-6)
    ev = res.events
    late = ev[(ev.time > 0.005) & (ev.p >= 0)]
    assert set(late.p) <= {0}  # after the change only P0 runs anything


def test_a_change_back_up_spreads_the_waiting_goroutines_over_the_ps_again():
    res = _run(more=", {at: 10ms, gomaxprocs: 4}")
    # 5 ms each at 4 Ps, then P0 alone runs one of them for 5 ms, then 4 Ps again: the three others
    # still need 5 ms each, the first is done
    assert res.goroutines["exited"].max() == pytest.approx(0.015, abs=1e-6)


def test_the_change_frees_the_destroyed_ps_cached_stacks():
    res = _run()
    fp = res.footprint.set_index("time")
    before, after = fp.loc[fp.index < 0.005, "cached_bytes"].iloc[-1], fp.loc[fp.index >= 0.005, "cached_bytes"].iloc[0]
    assert after < before
    rel = res.events[(res.events.kind == "cache_release") & (res.events.time == 0.005)]
    assert set(rel.p) <= {1, 2, 3} and len(rel)


def test_shared_cpus_with_a_change_keep_every_steps_time():
    """4 Ps on 2 shared CPUs: by 5 ms the two CPUs have run 10 ms of the 40; after, P0 runs the 30 ms left."""
    res = _run(extra="\n  num_cpu: 2\n  share_cpus: true")
    assert res.goroutines["exited"].max() == pytest.approx(0.035, abs=1e-6)


def test_cpus_are_shared_from_the_start_where_a_later_gomaxprocs_exceeds_them():
    """2 Ps on 2 CPUs, 4 Ps from 1 ms, 1 P from 5 ms: the CPUs are shared from the start (2 Ps on 2: nobody
    waits); P1's 10 ms step ran 5 ms, and P0 runs its other 5 ms after its own step."""
    text = SCENARIO.format(at="1ms", more=", {at: 5ms, gomaxprocs: 1}", extra="\n  num_cpu: 2\n  share_cpus: true")
    text = text.replace("gomaxprocs: 4\n", "gomaxprocs: 2\n").replace("{at: 1ms, gomaxprocs: 1}", "{at: 1ms, gomaxprocs: 4}")
    text = text.replace("count: 4", "count: 2")
    res = simstack.run(parse_scenario(text, "resized.yaml"), check_invariants=True)
    assert sorted(res.goroutines["exited"].round(9)) == [0.01, 0.015]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("to", [1, 4])
def test_goroutines_made_at_the_instant_of_a_change_each_run_to_their_end_once(seed, to):
    """A burst (and its spawns) at the very instant GOMAXPROCS changes, while the race model has a P waking."""
    text = f"""
name: same-instant
seed: {seed}
duration: 40ms
runtime: {{version: go1.27, gomaxprocs: 2, gomaxprocs_changes: [{{at: 5ms, gomaxprocs: {to}}}, {{at: 6ms, gomaxprocs: 2}}]}}
goroutines:
  - {{name: b, count: 64, arrival: {{process: burst, at: 5ms}}, frame: 200B,
     program: [{{depth: 10, run: 30us}}, {{spawn: h, count: 1}}]}}
  - {{name: w, count: 20, arrival: {{process: poisson, rate: 4000/s}}, frame: 100B, program: [{{depth: 4, run: 50us}}]}}
  - {{name: h, arrival: {{process: spawned}}, frame: 100B, program: [{{depth: 6, run: 10us}}]}}
"""
    res = simstack.run(parse_scenario(text, "same-instant.yaml"), check_invariants=True)
    exits = res.events[res.events.kind == "exit"]
    assert len(res.goroutines) == 64 + 64 + 20 and res.goroutines["exited"].notna().all()
    assert not exits["goroutine"].duplicated().any()


def test_same_seed_same_run_with_changes():
    a = _run(more=", {at: 7ms, gomaxprocs: 3}")
    b = _run(more=", {at: 7ms, gomaxprocs: 3}")
    assert a.events.equals(b.events) and a.footprint.equals(b.footprint)


@pytest.mark.parametrize("changes, where, expected", [
    ("[{at: 5ms, gomaxprocs: 2}, {at: 5ms, gomaxprocs: 3}]", "gomaxprocs_changes[1].at", "in time order"),
    ("[{at: 5ms, gomaxprocs: 0}]", "gomaxprocs_changes[0].gomaxprocs", "expected a value >= 1"),
    ("[{at: 5ms}]", "gomaxprocs_changes[0]", "gomaxprocs"),
])
def test_bad_changes_are_named(changes, where, expected):
    text = SCENARIO.format(at="5ms", more="", extra="").replace(
        "gomaxprocs_changes: [{at: 5ms, gomaxprocs: 1}]", f"gomaxprocs_changes: {changes}")
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "resized.yaml")
    msg = str(exc.value)
    assert "resized.yaml:" in msg and where in msg and expected in msg, msg
