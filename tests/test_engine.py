"""The engine end to end on small scenarios: arrivals, programs, GC, determinism, invariants."""
import hashlib

import numpy as np
import pytest

import simstack
from simstack.scenario import parse_scenario

SMALL = """
name: small
seed: 3
duration: 50ms
runtime: {version: go1.27, gomaxprocs: 2}
gc: {trigger: interval, interval: 10ms}
goroutines:
  - name: srv
    count: 300
    arrival: {process: poisson, rate: 10000/s}
    frame: 104B
    program:
      - {depth: {dist: uniform, low: 0, high: 120}, run: 100us}
      - {depth: 2, block: 1ms}
      - {spawn: child, count: 2}
  - name: child
    arrival: {process: spawned}
    frame: 296B
    program:
      - {depth: {dist: geometric, mean: 8}, run: 20us}
checkpoints:
  - {label: mid, at: 20ms}
  - {label: mid_metrics, at: 20ms, via: metrics}
"""


def _digest(res):
    h = hashlib.sha256()
    for name in ("events", "footprint", "checkpoints", "goroutines", "gc"):
        h.update(getattr(res, name).to_csv(index=False).encode())
    return h.hexdigest()


def test_runs_and_records_every_table():
    res = simstack.run(parse_scenario(SMALL), check_invariants=True)
    h = res.headline()
    assert h["goroutines"] == 300 * 3
    assert set(res.goroutines["class"]) == {"srv", "child"} and len(res.goroutines) == 900
    grows = res.events[res.events["kind"] == "grow"]
    assert h["grows"] == res.goroutines["grows"].sum() == grows["goroutine"].isin(res.goroutines["goroutine"]).sum()
    # besides the workload's: main's growth in package init (3) and, on 1.27, the first GC's mark worker
    assert len(grows) - h["grows"] == 3 + 1
    assert len(res.gc) == 4 and (res.gc["start"] <= res.gc["end"]).all()  # 10..40 ms; 50 ms is the end
    assert res.footprint["stack_inuse"].max() <= h["peak_stack_inuse"]
    assert (res.footprint["stack_inuse"] % 8192 == 0).all()
    sizes = [c for c in res.footprint.columns if c.startswith("n_")]
    assert all(int(c[2:]) & (int(c[2:]) - 1) == 0 for c in sizes)
    # a memstats checkpoint flushes the caches: nothing cached right after it
    mid = res.checkpoints.set_index("label")
    assert mid.loc["mid", "cached_bytes"] == 0


def test_same_seed_same_results_bit_for_bit():
    a = simstack.run(parse_scenario(SMALL))
    b = simstack.run(parse_scenario(SMALL))
    assert _digest(a) == _digest(b)
    c = simstack.run(parse_scenario(SMALL.replace("seed: 3", "seed: 4")))
    assert _digest(a) != _digest(c)


def test_overflow_ends_the_run_like_the_runtime():
    res = simstack.run(parse_scenario("""
runtime: {version: go1.19, max_stack: 1MB}
goroutines:
  - {name: deep, count: 1, frame: 1064B, program: [{depth: 100000, run: 1ms}]}
"""))
    ov = res.summary["overflow"]
    assert "goroutine stack exceeds 1000000-byte limit" in ov["message"]
    assert ov["size"] == 1 << 20 and (res.events["kind"] == "overflow").sum() == 1


@pytest.mark.parametrize("policy,expect_start", [("fixed", 2048), ("average", 16384)])
def test_starting_stack_policy_override(policy, expect_start):
    res = simstack.run(parse_scenario(f"""
runtime: {{version: go1.19, overrides: {{starting_stack_policy: {policy}}}}}
gc: {{at: [2ms]}}
goroutines:
  - {{name: w, count: 200, frame: 104B, program: [{{depth: 90, block_until: 5ms}}]}}
checkpoints: [{{label: after, at: 3ms}}]
"""))
    assert int(res.checkpoints.set_index("label").loc["after", "starting_size"]) == expect_start


def test_keep_grown_stacks_lets_dead_goroutines_keep_their_stacks():
    doc = """
runtime: {version: go1.27, gomaxprocs: 1%s}
goroutines:
  - {name: a, count: 50, frame: 104B, arrival: {process: burst, at: 0}, program: [{depth: 60, run: 0}]}
  - {name: b, count: 50, frame: 104B, arrival: {process: burst, at: 1ms}, program: [{depth: 60, block_until: 2ms}]}
"""
    plain = simstack.run(parse_scenario(doc % ""))
    kept = simstack.run(parse_scenario(doc % ", overrides: {keep_grown_stacks: 128KiB}"))
    assert kept.headline()["grows"] < plain.headline()["grows"]
    assert kept.headline()["bytes_copied"] < plain.headline()["bytes_copied"]


def test_platform_profiles_change_the_numbers():
    # depth 20 of 112-byte frames: 2248 bytes used at the last call; windows' 8 KiB fixed stack with its
    # 5024-byte guard holds it, linux needs 4 KiB (2 KiB - 928 is too small)
    doc = """
runtime: {version: go1.27, platform: %s}
goroutines:
  - {name: w, count: 100, frame: 104B, program: [{depth: 20, block: forever}]}
checkpoints: [{label: c, at: 1ms}]
"""
    win = simstack.run(parse_scenario(doc % "windows/amd64"))
    lin = simstack.run(parse_scenario(doc % "linux/amd64"))
    assert set(int(c[2:]) for c in win.checkpoints.columns if c.startswith("n_") and win.checkpoints[c].iloc[0]) \
        == {8192}
    assert np.any(lin.checkpoints.filter(like="n_4096").to_numpy() == 100)


@pytest.mark.parametrize("version", ["go1.12", "go1.19", "go1.27"])
@pytest.mark.parametrize("start", ["16KiB", "32KiB"])
def test_large_starting_stack_what_if_runs(version, start):
    # g0 stacks (8 or 16 KiB) are then smaller than _FixedStack: they get a _FixedStack stack
    res = simstack.run(parse_scenario(f"""
runtime: {{version: {version}, gomaxprocs: 2, overrides: {{starting_stack: {start}}}}}
goroutines:
  - {{name: w, count: 50, frame: 104B, program: [{{depth: 40, block_until: 2ms}}]}}
checkpoints: [{{label: c, at: 1ms}}]
"""), check_invariants=True)
    row = res.checkpoints.iloc[0]
    size = {"16KiB": 16384, "32KiB": 32768}[start]
    assert row[f"n_{size}"] == 50 and res.headline()["grows"] == 0


def test_draws_bound_inf_and_nan_before_the_integer_cast():
    # the loader refuses distributions that can reach 2^53; the engine still never wraps to a negative depth
    import numpy as np
    from simstack.engine.draws import INT_CAP, Draw

    class Wild:
        is_constant = False

        def sample_many(self, rng, n, index=None):
            return np.array([np.inf, np.nan, 1e30, -np.inf, 3.5, 2.49])

    ints = Draw(Wild(), None, True)
    assert [ints.value(0) for _ in range(6)] == [int(INT_CAP), 0, int(INT_CAP), 0, 4, 2]
    times = Draw(Wild(), None, False)
    assert [times.value(0) for _ in range(6)] == [np.inf, 0.0, 1e30, 0.0, 3.5, 2.49]


# timers at equal instants: 1 ms blocks after 100 us runs, arrivals every 50 us (uniform), 4 Ps
TIED = """
name: tied
seed: 5
runtime: {version: go1.19, gomaxprocs: 4}
gc: {at: [2ms, 6ms]}
goroutines:
  - name: w
    count: 200
    arrival: {process: uniform, every: 50us}
    frame: 200B
    program:
      - {depth: 12, run: 100us}
      - {depth: 3, block: 1ms}
      - {depth: {dist: uniform, low: 0, high: 40}, run: 50us}
  - name: r
    count: 100
    arrival: {process: poisson, rate: 20000/s}
    frame: 120B
    program:
      - {depth: {dist: geometric, mean: 6}, block: 1ms}
      - {depth: 30, run: 10us}
"""


@pytest.mark.parametrize("text", [SMALL, TIED])
def test_a_timer_running_its_p_at_once_changes_nothing(text):
    """A timer that fires alone at its instant runs the woken P from its own callback instead of
    scheduling the P's event; the event path must give the very same run, bit for bit."""
    from simstack.engine.simulation import Simulation
    from simstack.recording.recorder import Recorder

    def run(event_path: bool):
        sc = parse_scenario(text)
        sim = None
        rec = Recorder(lambda: sim.env.now if sim is not None else 0.0)
        sim = Simulation(sc, rec)
        ps = sim.ps
        ps.res = 0.0  # timers run when due (no netpoll grid): the path with the shortcut
        if event_path:
            def timer_fired(ev):
                ps.rt.runqput(ev.pp, ev.gp, True)
                ps.wake(ev.pp)  # always through the P's event
            ps.timer_callback = timer_fired
        sim.run()
        frames = rec.frames(release=True)
        return [frames[k].to_csv(index=False) for k in ("events", "footprint", "goroutines")]

    assert run(event_path=False) == run(event_path=True)


GATED = """
name: gated
seed: 1
duration: 20ms
runtime: {{version: go1.27, gomaxprocs: {procs}}}
gates: [{{name: go, open_at: [5ms]}}]
goroutines:
  - name: w
    count: {n}
    arrival: {{process: burst, at: 1ms}}
    program:
      - {{depth: 0, wait: go}}
      - {{depth: 1, run: 10us}}
"""


def _exit_order(procs, n):
    res = simstack.run(parse_scenario(GATED.format(procs=procs, n=n)))
    ev = res.events
    spawned = list(ev[(ev.kind == "spawn") & (ev.time > 0.0005) & (ev.time < 0.002)].goroutine)  # the 1 ms burst
    return spawned, list(ev[ev.kind == "exit"].goroutine)


def test_a_gate_readies_its_waiters_as_closechan_does():
    """close(ch) readies the waiters last parked first, each goready taking runnext: at GOMAXPROCS 1 the
    first parked runs first, then the rest from the last parked back (traced in go1.27.3)."""
    spawned, exits = _exit_order(1, 6)
    parked = spawned[-1:] + spawned[:-1]  # main's go statements: the last one waits in runnext
    assert exits == [parked[0]] + parked[:0:-1]
    # park order (see gate's docstring) when the release would spill into the global queue, and at GOMAXPROCS 2
    spawned, exits = _exit_order(1, 300)
    assert len(exits) == 300 and exits[1:] != sorted(exits[1:], reverse=True)
    spawned, exits = _exit_order(2, 6)
    parked = spawned[-1:] + spawned[:-1]
    assert sorted(exits) == sorted(spawned) and exits != [parked[0]] + parked[:0:-1]


def test_main_stack_and_threads_at_start_set_the_process_at_start():
    """runtime.main_stack and runtime.threads_at_start replace the profile's start-up figures."""
    text = """
name: start
runtime: {{version: go1.27, gomaxprocs: 1{extra}}}
goroutines:
  - {{name: w, count: 1, program: [{{depth: 1, run: 1ms}}]}}
checkpoints: [{{label: a, at: 0}}]
"""

    def inuse(extra=""):
        return int(simstack.run(parse_scenario(text.format(extra=extra))).checkpoints.stack_inuse.iloc[0])

    default = inuse()
    assert inuse(", main_stack: 16KiB, threads_at_start: 3") == default  # the go1.27 profile's
    # an 8 KiB main no longer shares a 16 KiB-order span with an M's g0: a span of its own
    assert inuse(", main_stack: 8KiB") == default + 32768
    # each more M: its 32 KiB signal stack (a span) and a 16 KiB g0 (here: one more pool span)
    assert inuse(", threads_at_start: 5") == default + 2 * 32768 + 32768


CHAIN = """
name: chain
seed: 1
runtime: {{version: go1.27, gomaxprocs: {procs}}}
gates: [{{name: baton, wake_at: [5ms]}}]
goroutines:
  - name: link
    count: 40
    program:
      - {{depth: 0, wait: baton}}
      - {{depth: 3, run: 5us}}
      - {{wake: baton}}
"""


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_a_chain_of_wakes_keeps_the_exits_on_one_p(procs):
    """Goroutine i wakes i+1 (a send to a waiting receiver readies it in the sender's runnext), so the
    chain runs and exits on the P main woke the first one on, at any GOMAXPROCS."""
    res = simstack.run(parse_scenario(CHAIN.format(procs=procs)))
    ev = res.events
    exits = ev[ev.kind == "exit"]
    assert len(exits) == 40 and set(exits.p) == {0}
    assert list(exits.time) == sorted(exits.time) and exits.time.iloc[0] > 0.005  # one after the other


def test_each_gc_cycle_at_a_time_can_have_its_own_mark_phase():
    text = SMALL_GC.format(gc="{at: [5ms, 10ms, 15ms], mark_durations: [1ms, 3ms], mark_duration: 2ms}")
    gc = simstack.run(parse_scenario(text)).gc
    assert (gc["end"] - gc["start"]).tolist() == pytest.approx([1e-3, 3e-3, 2e-3])


def test_a_gate_that_waits_for_its_waiters_opens_when_the_last_parks_but_not_past_the_next_opening():
    # on one P, 40 goroutines park on the gate one by one, at 0.2, 0.4, ... 8 ms; the gate is due at 5 ms
    def exits(gate):
        res = simstack.run(parse_scenario(BARRIER.format(gate=gate)))
        return res.events[res.events.kind == "exit"].time
    assert exits("open_at: [5ms]").min() == pytest.approx(0.0052)  # the 25 parked by then, after the 26th's run
    assert exits("open_at: [5ms], wait_for: [40]").min() == pytest.approx(0.008)  # all 40, once the 40th parks
    # not past the next opening, due at 7 ms: the 35 parked by then, after the 36th's run
    assert exits("open_at: [5ms, 7ms], wait_for: [40, 0]").min() == pytest.approx(0.0072)


def test_a_gc_cycle_that_follows_a_gate_comes_as_late_as_its_opening():
    # the gate, due at 5 ms, waits for all 40 goroutines and opens at 8 ms (above): 3 ms late; main's timers
    # on time, so that each cycle starts when it is due
    def starts(follow):
        text = BARRIER.format(gate="open_at: [5ms], wait_for: [40]").replace(
            "gates:", f"gc: {{at: [2ms, 6ms, 9ms], follow: {follow}}}\ngates:").replace(
            "gomaxprocs: 1}", "gomaxprocs: 1, overrides: {timer_resolution: 0s}}")
        return simstack.run(parse_scenario(text)).gc["start"].tolist()
    assert starts("[]") == pytest.approx([0.002, 0.006, 0.009])
    # before the gate's first opening a cycle keeps its time; after it, 1 ms and 4 ms after the opening
    assert starts("[done, done, done]") == pytest.approx([0.002, 0.009, 0.012])
    assert starts("[null, done]") == pytest.approx([0.002, 0.009, 0.009])  # the third follows nothing


BARRIER = """
name: barrier
duration: 30ms
runtime: {{version: go1.27, gomaxprocs: 1}}
gates: [{{name: done, {gate}}}]
goroutines:
  - name: w
    count: 40
    program:
      - {{depth: 2, run: 200us}}
      - {{depth: 0, wait: done}}
"""


SMALL_GC = """
name: marks
duration: 30ms
runtime: {{version: go1.27, gomaxprocs: 1}}
gc: {gc}
goroutines:
  - name: w
    count: 50
    program:
      - {{depth: 20, block: 20ms}}
"""


def test_a_wake_with_nobody_waiting_does_nothing():
    text = CHAIN.format(procs=1).replace("wake_at: [5ms]", "open_at: [5ms]")
    res = simstack.run(parse_scenario(text))  # all released at once: every wake finds no waiter
    assert (res.events.kind == "exit").sum() == 40


def test_a_burst_repeated_n_times():
    text = """
name: bursts
runtime: {gomaxprocs: 1}
goroutines:
  - name: w
    count: 4
    arrival: {process: burst, at: 1ms, every: 10ms, bursts: 3}
    program:
      - {depth: 2, run: 10us}
"""
    g = simstack.run(parse_scenario(text)).goroutines
    # main sleeps until each burst; the P goes idle when a burst's 4 x 10 us are done and its M
    # waits in epoll_wait for whole milliseconds from then (1; then 9 and 1 more), each wait
    # ending Linux's 50 us timer slack late
    assert sorted(g.created.round(6).value_counts().items()) == [(0.00105, 4), (0.01119, 4), (0.02133, 4)]
    on_time = simstack.run(parse_scenario(text.replace("gomaxprocs: 1", "gomaxprocs: 1, version: go1.12")))
    assert sorted(on_time.goroutines.created.round(6).value_counts().items()) == [(0.001, 4), (0.011, 4), (0.021, 4)]


SEM = """
name: sem
runtime: {{gomaxprocs: {procs}}}
semaphores: [{{name: slots, tokens: 3}}]
goroutines:
  - name: w
    count: 10
    program:
      - {{depth: 2, acquire: slots}}
      - {{depth: 6, run: 1ms}}
      - {{release: slots}}
"""


@pytest.mark.parametrize("procs", [4, 8])
def test_a_semaphore_lets_tokens_goroutines_work_at_once(procs):
    """Three tokens: at most three goroutines are past acquire at any time; each release hands the token
    to the next waiter on the releaser's P, so ten goroutines of 1 ms take four rounds on 4 or 8 Ps
    (GOMAXPROCS 1 runs them one after the other anyway)."""
    res = simstack.run(parse_scenario(SEM.format(procs=procs)))
    exits = sorted(res.goroutines.exited)
    assert len(exits) == 10
    rounds = sorted({round(t, 6) for t in exits})
    assert rounds == [0.001, 0.002, 0.003, 0.004]
    assert [sum(round(t, 6) == r for t in exits) for r in rounds] == [3, 3, 3, 1]


JOIN = """
name: join
seed: 5
duration: 100ms
runtime: {version: go1.27, gomaxprocs: GMP}
goroutines:
  - name: parent
    count: 3
    arrival: {process: uniform, every: 20ms}
    program:
      - {depth: 1, run: 100us}
      - {spawn: child, count: 4, join: true}
      - {depth: 1, run: 50us}
      - {depth: 1, block: 0s}
      - {depth: 1, run: 50us}
  - name: child
    arrival: {process: spawned}
    program:
      - {depth: 2, run: {dist: uniform, low: 1ms, high: 3ms}}
"""


@pytest.mark.parametrize("gomaxprocs", [1, 2])
def test_a_joining_spawn_waits_for_the_last_child_and_a_zero_block_does_not_park(gomaxprocs):
    res = simstack.run(parse_scenario(JOIN.replace("GMP", str(gomaxprocs))), check_invariants=True)
    g = res.goroutines.set_index("goroutine")
    ev = res.events
    spawns = ev[ev.kind == "spawn"]
    parents = g[g["class"] == "parent"].index
    assert len(parents) == 3 and (g["class"] == "child").sum() == 12
    for pid in parents:
        made = spawns[(spawns.time > g.loc[pid, "created"]) & (spawns.time < g.loc[pid, "created"] + 0.001)]
        kids = [k for k in made.goroutine if g.loc[k, "class"] == "child"]
        assert len(kids) == 4
        last = max(g.loc[k, "exited"] for k in kids)
        # it ran its 100 us before them, and its 100 us after the last of them exited (a block of 0 s is no
        # park: the P stays with it), on the P that ran that child (runnext)
        assert last < g.loc[pid, "exited"] <= last + 100e-6 + 1e-9
        assert g.loc[pid, "exited"] == pytest.approx(last + 100e-6, abs=1e-9)


def test_join_is_only_for_spawn_steps():
    bad = JOIN.replace("GMP", "1").replace("{depth: 1, run: 50us}\n      - {depth: 1, block: 0s}",
                                           "{depth: 1, run: 50us, join: true}\n      - {depth: 1, block: 0s}")
    with pytest.raises(Exception, match="'join' does not apply to a run step, only to spawn steps"):
        parse_scenario(bad)


def test_a_sparse_sequence_names_some_goroutines_and_a_depth_without_others_leaves_the_rest_where_they_are():
    sc = parse_scenario("""
name: sparse
duration: 10ms
runtime: {version: go1.27, gomaxprocs: 1}
goroutines:
  - name: w
    count: 4
    arrival: {process: uniform, every: 1ms}
    frame: 1KiB
    program:
      - {depth: 12, run: 100us}
      - {depth: {dist: sequence, values: [40], at: [2]}, run: {dist: sequence, values: [1ms], at: [1], others: 10us}}
""")
    res = simstack.run(sc)
    g = res.goroutines.sort_values("created")
    # 12 frames of 1 KiB grow every stack to 16 KiB; only goroutine #2 goes on to 40 frames (64 KiB)
    assert list(g["max_stack"]) == [16384, 16384, 65536, 16384]
    life = (g["exited"] - g["created"]).to_numpy()
    assert life[1] == pytest.approx(1.1e-3) and life[0] == pytest.approx(110e-6)
