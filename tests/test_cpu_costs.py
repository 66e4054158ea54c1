"""The runtime's own P time (scenario ``runtime.cpu``) and its measurement on this machine."""
from __future__ import annotations

import pytest
from conftest import traced_toolchain

import simstack
from simstack.errors import ScenarioError
from simstack.scenario import parse_scenario

TWO = """
name: costs
runtime: {{version: go1.27, gomaxprocs: 1, overrides: {{timer_resolution: 0s}}{cpu}}}
goroutines:
  - name: w
    count: 2
    frame: {frame}
    program:
      - {{depth: {depth}, run: 1ms}}
      - {{depth: 1, block: 1ms}}
      - {{depth: 1, run: 1ms}}
"""


def exits(cpu: str = "", frame: str = "64B", depth: int = 1) -> list[float]:
    g = simstack.run(parse_scenario(TWO.format(cpu=cpu, frame=frame, depth=depth))).goroutines
    return sorted(g.exited.round(9))


def test_without_costs_only_the_steps_hold_the_p():
    # g2 (runnext) runs 0-1 ms and sleeps to 2 ms; g1 runs 1-2 ms and sleeps to 3 ms; each then runs 1 ms
    assert exits() == pytest.approx([0.003, 0.004])


def test_the_p_pays_for_go_statements_parks_and_exits_before_it_schedules_again():
    # main's two go statements (20 us) come before the first schedule; each park holds the P 200 us
    # after the goroutine left it, so g1 starts at 1.22 ms and g2's wake-up (due at 2.02 ms) waits for
    # the P until 2.42 ms; g2's exit (100 us) comes before g1 runs again
    assert exits(", cpu: {newproc: 10us, goexit: 100us, park: 200us}") == pytest.approx([0.00342, 0.00452])


def test_a_go_statement_that_makes_a_new_g_costs_malg_on_top_of_newproc():
    # the program's two goroutines are new gs (no dead one to reuse): 10 + 40 us each before the first
    # schedule, so everything of the costs test above comes 80 us later
    assert exits(", cpu: {newproc: 10us, malg: 40us, goexit: 100us, park: 200us}") == \
        pytest.approx([0.00350, 0.00460])
    # a reused g costs newproc alone: of a hundred goroutines 1 ms apart, each exiting 10 us after it
    # starts, only the first makes a g (100 us more); the last starts 1 us after it is made
    text = """
runtime: {version: go1.27, gomaxprocs: 1, overrides: {timer_resolution: 0s}, cpu: {newproc: 1us, malg: 100us}}
goroutines:
  - {name: w, count: 100, arrival: {process: uniform, every: 1ms}, program: [{depth: 1, run: 10us}]}
"""
    g = simstack.run(parse_scenario(text)).goroutines.sort_values("created")
    assert g["exited"].iloc[0] == pytest.approx(100e-6 + 1e-6 + 10e-6)
    assert g["exited"].iloc[-1] == pytest.approx(0.099 + 1e-6 + 10e-6)


def test_a_growth_costs_its_p_time_when_the_goroutine_leaves_the_p():
    # 1 KiB frames three deep: each goroutine grows its 2 KiB stack once, before its first run step;
    # the 300 us is paid when it parks, so g1 starts at 1.3 ms, g2 runs at 2.6 ms (its timer was due at 2)
    assert exits(frame="1KiB", depth=3) == pytest.approx([0.003, 0.004])
    assert exits(", cpu: {morestack: 300us}", frame="1KiB", depth=3) == pytest.approx([0.0036, 0.0046])


def test_costs_are_times_of_at_least_zero():
    with pytest.raises(ScenarioError, match=r"runtime\.cpu\.park"):
        parse_scenario(TWO.format(cpu=", cpu: {park: -1us}", frame="64B", depth=1))
    with pytest.raises(ScenarioError, match=r"runtime\.cpu"):
        parse_scenario(TWO.format(cpu=", cpu: {schedule: 1us}", frame="64B", depth=1))


def test_this_machines_costs_are_measured_traced(tmp_path):
    from simstack.validate.cpucost import measure_cpu_costs, measured_rounds
    tc = traced_toolchain("the cost program is traced with traceallocfree")
    costs = measure_cpu_costs(tc, tmp_path)
    assert set(costs) == {"newproc", "malg", "goexit", "park", "morestack", "mark_cycle", "mark_goroutine"}
    # each a runtime operation: more than nothing, far less than a scheduling quantum (a mark cycle
    # of a heap with next to nothing to scan: less than one)
    for name, t in costs.items():
        assert 0 < t < (10e-3 if name == "mark_cycle" else 100e-6), name
    # a sleep (timer, park, wake-up, schedule) is more work than a go statement
    assert costs["park"] > costs["newproc"]
    # each round as measured, for timed validation's replications: the medians are theirs
    rounds = measured_rounds(tc)
    assert len(rounds) == 7
    for name in ("newproc", "goexit", "park", "morestack"):
        assert sorted(r[name] for r in rounds)[3] == costs[name], name
    assert all(r["mark_cycle"] == costs["mark_cycle"] for r in rounds)



MARK = """
name: mark
runtime: {{version: go1.27, gomaxprocs: {procs}, races: false, baseline: none,
          overrides: {{timer_resolution: 0s}}, cpu: {{mark_cycle: 1ms, mark_goroutine: 100us}}}}
gc: {{trigger: manual, at: [1ms]}}
goroutines:
  - name: w
    count: {n}
    frame: 64B
    program:
      - {{depth: 1, run: 10ms}}
"""


@pytest.mark.parametrize("procs, n, busy", [(2, 0, 0), (2, 1, 1), (2, 2, 2), (1, 2, 1)])
def test_the_mark_lasts_its_work_at_a_quarter_of_each_busy_p_and_all_of_an_idle_one(procs, n, busy):
    r = simstack.run(parse_scenario(MARK.format(procs=procs, n=n)))
    work = 1e-3 + 100e-6 * (n + procs)  # the cycle, and the scan of each goroutine's stack (a mark worker per P)
    length = work / (0.25 * busy + (procs - busy))
    assert (r.gc.end - r.gc.start).iloc[0] == pytest.approx(length)
    if procs == 1:
        # the busy P owes the workers' quarter of the phase: the second goroutine starts after it
        assert sorted(r.goroutines.exited) == pytest.approx([0.010, 0.020 + 0.25 * length])


@pytest.mark.parametrize("given", [2e-3, 8e-3])
def test_a_mark_of_given_length_still_takes_its_work_from_the_busy_p(given):
    # gc.mark_duration sets the phase's length (a fitted scenario's, from its trace); runtime.cpu's mark
    # work still holds the busy P: its quarter of the phase, or of the phase the work alone would take
    # (1.3 ms of work: 5.2 ms at a quarter of the one P) when the given one is longer
    text = MARK.format(procs=1, n=2).replace("at: [1ms]}", f"at: [1ms], mark_duration: {given * 1e3:g}ms}}")
    r = simstack.run(parse_scenario(text))
    assert (r.gc.end - r.gc.start).iloc[0] == pytest.approx(given)
    work = 1e-3 + 100e-6 * 3
    owed = 0.25 * min(given, work / 0.25)
    assert sorted(r.goroutines.exited) == pytest.approx([0.010, 0.020 + owed])
