"""Timers on netpoll's millisecond grid, the pacer's trigger, and mallocgc's frames under run steps."""
import pytest

import simstack
from simstack.runtime.profiles import resolve_profile
from simstack.scenario import parse_scenario

SLEEPER = """
name: sleeper
runtime: {{version: {version}, gomaxprocs: 1}}
goroutines:
  - name: s
    count: 1
    frame: 104B
    program:
      - {{depth: 1, block: {sleep}}}
      - {{depth: 1, run: 0}}
"""


def exit_time(version, sleep):
    g = simstack.run(parse_scenario(SLEEPER.format(version=version, sleep=sleep))).goroutines
    return float(g.exited.iloc[0])


def test_an_idle_runtime_wakes_on_the_millisecond_grid():
    # the P goes idle at 0 when the goroutine sleeps: epoll_wait(2 ms) ends 50 us late, 0.25 ms
    # short of the timer, then epoll_wait(1 ms) ends 50 us late again
    assert exit_time("go1.27", "2.3ms") == pytest.approx(0.0031)
    # a delay under 1 ms still waits a whole millisecond
    assert exit_time("go1.19", "200us") == pytest.approx(0.00105)
    # a whole number of milliseconds is one wait
    assert exit_time("go1.27", "4ms") == pytest.approx(0.00405)
    # go1.12's timerproc sleeps in a futex to the nanosecond
    assert exit_time("go1.12", "2.3ms") == pytest.approx(0.0023)


def test_timer_resolution_is_profile_data():
    assert resolve_profile("go1.27", "linux/amd64").timer_resolution == 0.001
    assert resolve_profile("go1.27", "linux/amd64").timer_slack == 50e-6
    assert resolve_profile("go1.27", "darwin/arm64").timer_resolution == 0.0
    assert resolve_profile("go1.12", "linux/amd64").timer_resolution == 0.0


def test_a_busy_p_runs_a_due_timer_when_it_next_schedules():
    # s, created last, runs first (runnext) and sleeps; its timer comes due at 1 ms while r's
    # 3 ms run holds the only P: it runs when r's step ends (schedule -> checkTimers), not on the
    # poller's grid
    text = """
name: busy
runtime: {gomaxprocs: 1}
goroutines:
  - name: r
    count: 1
    program:
      - {depth: 1, run: 3ms}
  - name: s
    count: 1
    program:
      - {depth: 1, block: 1ms}
      - {depth: 1, run: 0}
"""
    g = simstack.run(parse_scenario(text)).goroutines.set_index("class")
    assert g.loc["s", "exited"] == pytest.approx(0.003)


PACED = """
name: paced
duration: 1s
runtime: {{version: {version}, gomaxprocs: 1}}
gc: {{trigger: gogc, gogc: 100, live_heap: {live}}}
goroutines:
  - name: a
    count: 1
    alloc_rate: 100MB/s
    frame: 64B
    repeat: forever
    program:
      - {{depth: 1, run: 1ms}}
"""


@pytest.mark.parametrize("version, ratio", [("go1.27", 61 / 64), ("go1.19", 0.95)])
def test_gogc_cycles_start_at_the_pacers_latest_trigger(version, ratio):
    res = simstack.run(parse_scenario(PACED.format(version=version, live="8MiB")))
    # 100 MB over the second; a cycle after each (8 MiB + the few KiB of stacks scanned) x ratio
    per_cycle = ratio * (8 << 20)
    assert int(100e6 // (per_cycle + 64 * 1024)) <= len(res.gc) <= int(100e6 // per_cycle)


def test_a_small_live_heap_paces_against_the_heap_minimum():
    small = simstack.run(parse_scenario(PACED.format(version="go1.27", live="64KiB")))
    # goal at least 4 MiB: a runway of 4 MiB - 64 KiB, not 64 KiB (which would be ~1500 cycles)
    assert 20 <= len(small.gc) <= 26


ALLOC = """
name: alloc
runtime: {{version: {version}, gomaxprocs: 1}}
goroutines:
  - name: a
    count: 1
    frame: 104B
    entry_frame: 64B
    alloc_rate: {rate}
    program:
      - {{depth: 6, run: 10us}}
"""


@pytest.mark.parametrize("version", ["go1.19", "go1.27"])
def test_an_allocating_run_step_goes_down_mallocgcs_frames(version):
    prof = resolve_profile(version)
    assert sum(f.frame for f in prof.malloc_path) == {"go1.19": 488, "go1.27": 440}[version]
    quiet = simstack.run(parse_scenario(ALLOC.format(version=version, rate=0))).goroutines
    busy = simstack.run(parse_scenario(ALLOC.format(version=version, rate="1GB/s"))).goroutines
    # 6 x 112 bytes fit in 2 KiB; with refill -> cacheSpan -> grow -> mheap.alloc below them they do not
    assert quiet.max_stack.iloc[0] == 2048 and quiet.grows.iloc[0] == 0
    assert busy.max_stack.iloc[0] == 4096 and busy.grows.iloc[0] == 1


HELD = """
name: held
runtime: {gomaxprocs: 1}
gc: {at: [1ms]}
goroutines:
  - name: busy
    count: 19
    program:
      - {depth: 1, run: 5ms}
  - name: late
    arrival: {process: trace, times: [6ms]}
    program:
      - {depth: 1, run: 0}
"""


def test_runtime_gc_holds_main_behind_a_saturated_ps_queue():
    # main's timer (1 ms) runs when the first busy step ends (5 ms): main takes runnext and calls
    # runtime.GC(); mark termination readies it at the tail of the local queue (injectglist), behind
    # the other 18 steps, so the arrival due at 6 ms waits for runtime.GC() to return at 95 ms (its
    # sweep yield is at once: nothing else is runnable by then)
    res = simstack.run(parse_scenario(HELD))
    assert res.gc.start.tolist() == pytest.approx([0.005])
    g = res.goroutines.set_index("class")
    assert g.loc["late", "created"] == pytest.approx(0.095)


def test_validates_schedule_keeps_mains_due_times():
    # the timed program is late on its own: it is given the times main's actions were due
    from simstack.validate.timed import build_schedule
    events = build_schedule(parse_scenario(HELD.replace("name: held", "name: held\nduration: 200ms"))).events
    assert [e.time for e in events if e.kind == "gc"] == pytest.approx([0.001])
    assert max(e.time for e in events if e.kind == "spawn") == pytest.approx(0.006)


def test_validates_model_ends_when_main_gets_there():
    # validate's model (main_ticks): the scripts end at 50 ms; the busy step that starts then ends at
    # 55 ms and the ones still queued park for good when they get the P instead of running; main,
    # held in runtime.GC() since 5 ms, returns, makes the arrival due at 6 ms and reaches its end:
    # the run's window is [0, 55 ms], as the program's would be
    sc = parse_scenario(HELD.replace("name: held", "name: held\nduration: 50ms"))
    res = simstack.run(sc, main_ticks=0.001)
    assert res.summary["sim_time"] == pytest.approx(0.055)
    g = res.goroutines
    assert g.loc[g["class"] == "late", "created"].tolist() == pytest.approx([0.055])
    assert g["exited"].max() == pytest.approx(0.055) and g["exited"].notna().sum() == 11
    # a plain run stops at the duration
    assert simstack.run(sc).summary["sim_time"] == pytest.approx(0.05)


def test_the_goroutines_heap_is_in_the_marked_heap():
    # 20,000 goroutines sleep through the run: after the first cycle their gs and timers are
    # marked heap, so the goal (and the runway to the next trigger) grows by them
    text = PACED.format(version="go1.27", live="8MiB") + """
  - name: sleeper
    count: 20000
    frame: 64B
    program:
      - {depth: 1, block: 10s}
"""
    res = simstack.run(parse_scenario(text))
    prof = resolve_profile("go1.27", "linux/amd64")
    marked = (8 << 20) + 20000 * (prof.g_heap + prof.timer_heap)
    ratio = 61 / 64
    # the first cycle comes at (8 MiB) x ratio; every later one after (marked + stacks) x ratio
    first = ratio * (8 << 20)
    stacks = 20000 * 2048  # at most: every sleeper's whole stack scanned
    later = int((100e6 - first) // (ratio * (marked + stacks))), int((100e6 - first) // (ratio * marked))
    assert 1 + later[0] <= len(res.gc) <= 1 + later[1]


HOG = """
name: hog
duration: 100ms
runtime: {version: go1.27, gomaxprocs: 1}
goroutines:
  - name: a
    count: 1
    frame: 64B
    repeat: forever
    program:
      - {depth: 1, run: 1ms}
  - name: b
    count: 1
    arrival: {process: burst, at: 3ms}
    frame: 64B
    program:
      - {depth: 1, run: 0}
"""


def test_sysmon_preempts_a_goroutine_10_to_20ms_into_its_time_slice_whatever_steps_it_ran():
    # a runs 1 ms steps back to back on the only P: no step is a preemption point, so main (its timer
    # due at 3 ms) waits for sysmon's retake. sysmon sleeps 20 us (+ 50 us of timer slack) 51 times,
    # then doubles up to 10 ms: it wakes at 0.07, ..., 9.0, 14.17, 24.22, 34.27 ms. It sees a's slice
    # at 0.07 ms and preempts a at its first wake 10 ms after that, 14.17 ms. Main is readied into
    # runnext, but the P's schedtick is still 0 (a got the P from runnext), so schedule looks at the
    # global queue first: a, preempted there, starts a new slice at 14.17 ms, seen at 24.22 and
    # preempted at 34.27 ms: b is made then, and runs at once
    g = simstack.run(parse_scenario(HOG)).goroutines.set_index("class")
    assert g.loc["b", "created"] == pytest.approx(0.03427)
    assert g.loc["b", "exited"] == pytest.approx(0.03427)


def test_sysmons_wakes_ramp_from_20us_to_10ms_and_a_slice_is_preempted_at_the_first_10ms_after_it_is_seen():
    from simstack.engine.sysmon import Sysmon
    s = Sysmon(50e-6)
    assert s.ramp[:2] == pytest.approx([70e-6, 140e-6]) and s.ramp[50] == pytest.approx(51 * 70e-6)
    assert s.ramp[51] - s.ramp[50] == pytest.approx(90e-6)  # 40 us, the first doubling, after 1 ms idle
    assert s.period == pytest.approx(0.01005) and s.ramp[-1] == pytest.approx(0.02422)
    assert s.wake_after(s.ramp[-1]) == pytest.approx(0.03427)  # strictly after
    # seen at the first wake after it began, preempted at the first wake 10 ms after that: 10 - 20 ms
    assert s.preempt_at(1.0, 1.0) - 1.0 == pytest.approx(0.01917, abs=1e-9)
    for start in (1.0, 1.003, 1.0091, 1.0092):
        assert 0.010 <= s.preempt_at(start, start) - start <= 0.0201
    # a goroutine from runnext inherits its P's slice: one that sysmon already preempted ends at the next wake
    assert s.preempt_at(1.0, 1.05) == pytest.approx(s.wake_after(1.05))


def test_what_a_mark_phase_allocates_is_marked_and_paces_the_next_cycle():
    # 100 MB/s through a 50 ms mark phase is 5 MB allocated black: the next goal counts it (go1.19: its
    # trigger sits at 0.95 of the runway, not moved by cons/mark as 1.21+'s is, below)
    text = PACED.format(version="go1.19", live="8MiB").replace("live_heap: 8MiB", "live_heap: 8MiB, mark_duration: 50ms")
    gc = simstack.run(parse_scenario(text)).gc
    runway = 0.95 * ((8 << 20) + 100e6 * 0.050)  # (+ a few KiB of scanned stack)
    gaps = gc.start.diff().dropna()
    # allocation is counted as each 1 ms step ends: the trigger and the black bytes are each
    # within a step of the exact figures (without the black bytes the gaps would be 130 ms)
    assert gaps.iloc[1:].to_numpy() == pytest.approx(0.050 + runway / 100e6, abs=0.002)


@pytest.mark.parametrize("procs, idle_share, mark, lowest", [(1, 0.0, "20ms", False), (2, 0.5, "5ms", False),
                                                              (1, 0.0, "50ms", True)])
def test_go127_triggers_the_runway_its_cons_mark_asks_for_before_the_goal(procs, idle_share, mark, lowest):
    # gcControllerState.endCycle/commit/trigger: a mark phase that allocated B bytes with the background
    # workers at 25 % of the busy Ps and all of the idle ones asks for B * (0.25 + idle) / 0.75 * 3 of
    # runway before the goal (the scan work the same each cycle), the trigger no earlier than 45/64 of
    # the way from the marked heap to the goal (50 ms: 5 MB black, a runway of 5 MB, past it)
    text = PACED.format(version="go1.27", live="8MiB").replace("live_heap: 8MiB", f"live_heap: 8MiB, mark_duration: {mark}")
    text = text.replace("gomaxprocs: 1", f"gomaxprocs: {procs}, races: false")
    gc = simstack.run(parse_scenario(text)).gc
    black = 100e6 * float(mark[:-2]) / 1e3
    goal_runway = (8 << 20) + black
    cons_runway = black * (0.25 + idle_share) / 0.75 * 3
    trigger = max(goal_runway - cons_runway, 45 / 64 * goal_runway)
    assert (trigger == 45 / 64 * goal_runway) is lowest
    assert (61 / 64 * goal_runway - trigger) / 100e6 > 0.005  # well before the trigger without cons/mark
    gaps = gc.start.diff().dropna()
    assert gaps.iloc[1:].to_numpy() == pytest.approx(black / 100e6 + trigger / 100e6, abs=0.002)


def test_a_cycle_that_allocated_nothing_while_it_marked_leaves_the_trigger_at_the_latest():
    # heapLive <= triggered: endCycle returns before it updates cons/mark (every quiet replay's cycle)
    res = simstack.run(parse_scenario(PACED.format(version="go1.27", live="8MiB")))
    gaps = res.gc.start.diff().dropna()
    assert gaps.iloc[1:].to_numpy() == pytest.approx(61 / 64 * (8 << 20) / 100e6, abs=0.002)


STARTER = """
name: starter
runtime: {{version: {version}, gomaxprocs: 1, cpu: {{newproc: 1ms}}}}
gc: {{at: [2ms]}}
goroutines:
  - name: sleeper
    count: 1
    program:
      - {{depth: 1, block: 1500us}}
      - {{depth: 1, run: 10ms}}
"""


@pytest.mark.parametrize("version", ["go1.19", "go1.27"])
def test_the_first_runtime_gc_waits_for_its_mark_worker_to_run(version):
    # main's go statement takes P0 to 1 ms (cpu.newproc), the sleeper sleeps until 2.5 ms, P0 idles.
    # main's timer (2 ms) wakes the idle P on the millisecond grid at 2.05 ms and main calls
    # runtime.GC(). go1.23+ (gcBgMarkStartWorkers): main makes the mark worker, runnext, and waits on
    # <-ready; P0 pays that go statement until 3.05 ms, when the sleeper's timer has fallen due: it
    # takes runnext, and the worker runs after the sleeper's 10 ms step. go1.19 blocks the M in
    # notetsleepg instead, not modelled: the cycle starts at once
    res = simstack.run(parse_scenario(STARTER.format(version=version)))
    wait = resolve_profile(version).mark_worker_start_wait
    assert wait is (version == "go1.27")
    assert res.gc.start.tolist() == pytest.approx([0.01305 if wait else 0.00205])
    if wait:  # the sleeper ran from 3.05 ms, ahead of the worker
        assert res.goroutines.exited.tolist() == pytest.approx([0.01305])
