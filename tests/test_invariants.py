"""Allocator invariants (``--check-invariants``): the checker sees every operation, catches
every kind of corruption it promises to, and holds on random scenarios (hypothesis).

See ``simstack/runtime/invariants.py`` for what is checked, and when.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simstack
from simstack.recording.recorder import Recorder
from simstack.runtime.invariants import InvariantError, attach, check_state
from simstack.runtime.profiles import resolve_profile
from simstack.runtime.runtime import Runtime
from simstack.scenario import parse_scenario, scenario_from_dict

EXAMPLES = int(os.environ.get("SIMSTACK_HYPOTHESIS_EXAMPLES", "150"))

SMALL = """
seed: 5
duration: 40ms
runtime: {version: go1.19, gomaxprocs: 3}
gc: {at: [10ms, 20ms, 30ms], mark_duration: 1ms}
goroutines:
  - name: srv
    count: 40
    arrival: {process: poisson, rate: 4000/s}
    frame: 184B
    program:
      - {depth: {dist: uniform, low: 0, high: 150}, run: 200us}
      - {depth: 1, block: 2ms}
      - {spawn: child, count: {dist: empirical, values: [0, 1, 2]}}
  - name: child
    arrival: {process: spawned}
    frame: 600B
    program:
      - {depth: {dist: geometric, mean: 30}, run: 50us}
  - name: parser
    count: 3
    frame: 1KiB
    program:
      - {depth: 300, run: 1ms}
      - {depth: 0, block_until: 35ms}
checkpoints:
  - {label: a, at: 15ms}
  - {label: b, at: 25ms, via: metrics}
"""


# --- the checker is installed only when asked, and then sees everything ---------------

def test_checker_sees_every_event_and_operation(monkeypatch):
    seen = {}
    real_attach = attach

    def spy(rt):
        seen["checker"] = real_attach(rt)
        return seen["checker"]

    monkeypatch.setattr("simstack.runtime.invariants.attach", spy)
    res = simstack.run(parse_scenario(SMALL), check_invariants=True)
    c = seen["checker"].counts
    # the runtime's start-up events happen before the checker is attached (it checks the state then)
    rec = Recorder(lambda: 0.0)
    Runtime(resolve_profile("go1.19", "linux/amd64"), 3, baseline=True, tracer=rec.tracer)
    baseline = rec.frames()["events"]
    assert c["events"] == len(res.events) - len(baseline) > 1000  # every later event went through the checker
    for kind in ("stackalloc", "stackfree", "span_alloc", "span_free", "grow", "shrink"):
        assert c[kind] == (res.events["kind"] == kind).sum() - (baseline["kind"] == kind).sum(), kind
    for op in ("newproc", "goexit", "enter", "move_to_depth", "park", "gc_start", "gc_end", "read_memstats",
               "cache_refill", "full_check"):
        assert c[op] > 0, op
    assert res.headline()["grows"] > 0 and res.headline()["shrinks"] > 0


def test_checker_is_not_installed_by_default(monkeypatch):
    def boom(rt):
        raise AssertionError("attached without check_invariants")

    monkeypatch.setattr("simstack.runtime.invariants.attach", boom)
    res = simstack.run(parse_scenario(SMALL))
    assert res.complete


def test_checking_does_not_change_results():
    a = simstack.run(parse_scenario(SMALL))
    b = simstack.run(parse_scenario(SMALL), check_invariants=True)
    for name in ("events", "footprint", "checkpoints", "goroutines", "gc"):
        assert getattr(a, name).equals(getattr(b, name)), name


# --- the checker has teeth: each corruption is caught --------------------------------

def _runtime(procs=2, version="go1.19"):
    rt = Runtime(resolve_profile(version, "linux/amd64"), procs, baseline=True)
    return rt, attach(rt), rt.allp[0]


def _grown(rt, chk, p, depth=40):
    """A goroutine at ``depth``, with the checks the engine makes after each operation."""
    g = rt.newproc(p, 0, 72)
    chk.settled("newproc")
    rt.enter(g, p)
    chk.settled("enter")
    rt.move_to_depth(g, p, depth, 104)
    chk.settled("move_to_depth")
    return g


def test_double_free_is_caught():
    rt, chk, p = _runtime()
    g = _grown(rt, chk, p, 0)
    stk = g.stack
    rt.stacks.stackfree(stk, p.stackcache, g.goid, p.id)
    with pytest.raises(InvariantError, match="not handed out: freed twice"):
        rt.stacks.stackfree(stk, p.stackcache, g.goid, p.id)


def test_use_after_free_is_caught():
    rt, chk, p = _runtime()
    g = _grown(rt, chk, p, 0)
    rt.stacks.stackfree(g.stack, p.stackcache, g.goid, p.id)  # freed, but the goroutine still uses it
    rt.move_to_depth(g, p, 1, 104)
    with pytest.raises(InvariantError, match="two places|use after free"):
        chk.settled("move_to_depth")


def test_large_stack_used_after_its_span_is_freed_is_caught():
    rt, chk, p = _runtime()
    g = _grown(rt, chk, p, 400)  # 64 KiB: a span of its own
    span = g.stack.span
    assert span.order == -1
    rt.stacks.stackfree(g.stack, p.stackcache, g.goid, p.id)  # GC off: the span goes back to the heap
    rt.move_to_depth(g, p, 1, 104)
    with pytest.raises(InvariantError, match="use after free|never handed out"):
        chk.settled("move_to_depth")


def test_lost_stack_is_caught():
    rt, chk, p = _runtime()
    _grown(rt, chk, p, 0)
    c = p.stackcache
    order = next(o for o, lst in enumerate(c.lists) if lst)
    stk = c.lists[order].pop()  # dropped on the floor, counters adjusted to hide it
    c.size[order] -= stk.size
    rt.stacks.cached_bytes -= stk.size
    with pytest.raises(InvariantError, match="lost"):
        chk.full_check("test")


def test_stack_in_two_places_is_caught():
    rt, chk, p = _runtime()
    g = _grown(rt, chk, p, 0)
    c = p.stackcache
    c.lists[0].append(g.stack)  # also "free" in the cache while the goroutine runs on it
    c.size[0] += g.stack.size
    rt.stacks.cached_bytes += g.stack.size
    with pytest.raises(InvariantError, match="two places"):
        chk.full_check("test")


def test_stack_inuse_drift_is_caught():
    rt, chk, p = _runtime()
    _grown(rt, chk, p)
    rt.mheap.in_stacks += 8192
    with pytest.raises(InvariantError, match="StackInuse"):
        chk.full_check("test")


def test_negative_counter_is_caught_at_the_next_event():
    rt, _, p = _runtime()
    rt.live_used = -rt.live_used - 1
    with pytest.raises(InvariantError, match="negative"):
        rt.newproc(p, 0, 72)


def test_span_freed_with_a_stack_out_is_caught():
    rt, chk, p = _runtime()
    g = _grown(rt, chk, p, 0)
    assert g.stack.span.order >= 0  # a pool span: the allocator frees it when its last stack comes back
    with pytest.raises(InvariantError, match="still handed out"):
        rt.stacks._free_pool_span(g.stack.span)


def test_running_total_drift_is_caught():
    rt, chk, p = _runtime()
    _grown(rt, chk, p)
    rt.stacks.pool_free_bytes += 2048
    with pytest.raises(InvariantError, match="pool_free_bytes"):
        chk.full_check("test")


def test_check_state_without_a_ledger_on_a_plain_runtime():
    rt = Runtime(resolve_profile("go1.12", "linux/arm64"), 4, baseline=True)
    p = rt.allp[1]
    gs = []
    for d in (0, 10, 100, 500):
        g = rt.newproc(p, 0, 72)
        rt.enter(g, p)
        rt.move_to_depth(g, p, d, 104)
        gs.append(g)
    rt.gc_start(rt.allp[0])
    check_state(rt)  # mid-GC: empty spans kept for freeStackSpans are legal
    for g in gs:
        rt.goexit(g, p)
    check_state(rt)
    rt.gc_end()
    check_state(rt)
    rt.stacks.large_free_bytes -= 1
    with pytest.raises(InvariantError):
        check_state(rt)


# --- random scenarios: the invariants hold on all of them ---------------------------

VERSIONS = ("go1.12", "go1.19.8", "go1.27")
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/386", "windows/amd64", "darwin/arm64")


def _ms(x: float) -> str:
    return f"{x:g}ms"


@st.composite
def depths(draw):
    return draw(st.one_of(
        st.integers(0, 400),
        st.builds(lambda lo, w: {"dist": "uniform", "low": lo, "high": lo + w}, st.integers(0, 100),
                  st.integers(0, 300)),
        st.builds(lambda m: {"dist": "geometric", "mean": m}, st.integers(1, 80)),
        st.builds(lambda v: {"dist": "empirical", "values": v}, st.lists(st.integers(0, 600), min_size=1,
                                                                         max_size=4)),
    ))


@st.composite
def steps(draw, duration_ms: float, spawnable: list[str]):
    kind = draw(st.sampled_from(["run", "run", "block", "block_until", "wait"] + (["spawn"] if spawnable else [])))
    if kind == "spawn":
        return {"spawn": draw(st.sampled_from(spawnable)), "count": draw(st.integers(0, 3))}
    if kind == "wait":
        return {"depth": draw(depths()), "wait": "g"}
    step = {"depth": draw(depths())}
    if kind == "run":
        step["run"] = draw(st.sampled_from(["0s", "20us", "300us", "2ms", {"dist": "exponential", "mean": "1ms"}]))
    elif kind == "block":
        step["block"] = draw(st.sampled_from(["0s", "100us", "3ms", {"dist": "uniform", "low": "0s", "high": "5ms"}]))
    else:
        step["block_until"] = _ms(draw(st.floats(0, duration_ms, allow_nan=False)))
    if draw(st.booleans()):
        step["frame"] = draw(st.sampled_from([8, 120, 512, 2048, 9000]))
    if kind != "run" and draw(st.integers(0, 3)) == 0:
        step["park_frames"] = draw(st.lists(st.sampled_from([16, 256, 4096]), max_size=2))
    if draw(st.integers(0, 4)) == 0:
        step["transient"] = draw(st.sampled_from([256, 8192]))
    return step


@st.composite
def scenarios(draw):
    duration = draw(st.sampled_from([5.0, 20.0, 60.0]))
    n = draw(st.integers(1, 4))
    names = [f"c{i}" for i in range(n)]
    spawned = {name for name in names[1:] if draw(st.booleans())}
    classes = []
    for i, name in enumerate(names):
        # spawn edges only go to later classes: a tree (or DAG), never a cycle
        targets = [t for t in names[i + 1:] if t in spawned]
        program = [draw(steps(duration, targets)) for _ in range(draw(st.integers(1, 4)))]
        if all("spawn" in s for s in program):
            program.append({"depth": 1, "run": "100us"})
        cls = {"name": name, "frame": draw(st.sampled_from([16, 104, 296, 1024, 4000])),
               "entry_frame": draw(st.sampled_from([0, 72, 512])), "program": program}
        if name in spawned:
            cls["arrival"] = {"process": "spawned"}
        else:
            cls["count"] = draw(st.integers(1, 30))
            if draw(st.integers(0, 4)) == 0:  # goroutine i of the class goes to depth values[i]
                program.insert(0, {"depth": {"dist": "sequence",
                                             "values": draw(st.lists(st.integers(0, 500), min_size=cls["count"],
                                                                     max_size=cls["count"]))},
                                   "run": "10us"})
            cls["arrival"] = draw(st.sampled_from([
                {"process": "burst", "at": _ms(duration * draw(st.floats(0, 0.5)))},
                {"process": "poisson", "rate": "2/ms"},
                {"process": "uniform", "every": "300us"},
            ]))
        if draw(st.integers(0, 3)) == 0:
            cls["repeat"] = draw(st.sampled_from([2, 3, "forever"]))
            if cls["repeat"] == "forever":
                program.append({"depth": 0, "block": "1ms"})
        classes.append(cls)
    for name in spawned:  # every spawned class needs a spawner
        if not any(s.get("spawn") == name for c in classes for s in c["program"]):
            k = names.index(name) - 1
            classes[k]["program"].insert(0, {"spawn": name, "count": 1})
    runtime = {"version": draw(st.sampled_from(VERSIONS)), "platform": draw(st.sampled_from(PLATFORMS)),
               "gomaxprocs": draw(st.integers(1, 6)), "baseline": draw(st.sampled_from(["auto", "none"]))}
    if draw(st.booleans()):
        runtime["godebug"] = {"gcshrinkstackoff": draw(st.integers(0, 1))}
        if runtime["version"] != "go1.12":
            runtime["godebug"]["adaptivestackstart"] = draw(st.integers(0, 1))
    if draw(st.integers(0, 4)) == 0:
        runtime["max_stack"] = draw(st.sampled_from(["64KiB", "256KiB", "1MiB"]))
    if draw(st.integers(0, 3)) == 0:
        runtime["overrides"] = draw(st.fixed_dictionaries({}, optional={
            "starting_stack_policy": st.sampled_from(["fixed", "average", "per_site"]),
            "keep_grown_stacks": st.sampled_from([0, 8192, 16384]),
            "shrink_below": st.sampled_from([0.125, 0.5]),
            "starting_stack": st.sampled_from([2048, 4096]),
        }))
    gc = {"at": sorted(draw(st.lists(st.floats(0, duration, allow_nan=False).map(_ms), max_size=5))),
          "mark_duration": draw(st.sampled_from(["0s", "500us"]))}
    trigger = draw(st.sampled_from(["manual", "interval", "gogc"]))
    if trigger == "interval":
        gc["trigger"] = "interval"
        gc["interval"] = _ms(duration / draw(st.integers(1, 8)))
    elif trigger == "gogc":  # heap-paced: the classes allocate while they run
        gc.update(trigger="gogc", live_heap=draw(st.sampled_from(["256KiB", "1MiB"])),
                  gogc=draw(st.sampled_from([50, 100])))
        for c in classes:
            c["alloc_rate"] = draw(st.sampled_from(["0", "50MB/s", "500MB/s"]))
    doc = {"seed": draw(st.integers(0, 2**32)), "duration": _ms(duration), "runtime": runtime, "gc": gc,
           "goroutines": classes,
           "gates": [{"name": "g", "open_at": sorted(draw(st.lists(st.floats(0, duration, allow_nan=False).map(_ms),
                                                                  max_size=3)))}],
           "checkpoints": [{"label": f"cp{k}", "at": _ms(t), "via": draw(st.sampled_from(["memstats", "metrics"]))}
                           for k, t in enumerate(draw(st.lists(st.floats(0, duration, allow_nan=False),
                                                               max_size=3)))]}
    return doc


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=scenarios())
def test_invariants_hold_on_random_scenarios(doc):
    sc = scenario_from_dict(doc)  # the generator only makes valid scenarios
    res = simstack.run(sc, check_invariants=True, max_goroutines=400)  # full checks are O(goroutines)
    s = res.summary
    assert s["complete"] or s["stopped"]["reason"].startswith("stopped at")
    if "overflow" in s:  # the fatal error is recorded (exactly once: tests/test_reliability.py)
        ev = res.events
        assert s["overflow"]["goroutine"] in set(ev.loc[ev["kind"] == "overflow", "goroutine"])
    assert (res.footprint["stack_inuse"] >= 0).all()
    assert (res.footprint["stack_inuse"] % 8192 == 0).all()
