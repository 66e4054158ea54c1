"""Timed validation's comparison (simstack.validate.timedcheck), on frames made here."""
import json
import math

from pathlib import Path

import pandas as pd
import pytest

from simstack.validate.timedcheck import GOAL, _same_sizes, compare, window_mean

ROOT = Path(__file__).resolve().parents[1]


def test_window_mean_holds_each_row_until_the_next():
    fp = pd.DataFrame({"time": [0.0, 1.0, 3.0], "stack_inuse": [10, 20, 40]})
    assert window_mean(fp, 0.0, 4.0) == pytest.approx((10 * 1 + 20 * 2 + 40 * 1) / 4)
    assert window_mean(fp, 1.0, 3.0) == pytest.approx(20)
    assert window_mean(fp, 0.5, 1.5) == pytest.approx(15)


def test_same_sizes_counts_goroutines_whose_size_the_other_side_has():
    a = {"req": {"2048": 8, "4096": 2}}
    assert _same_sizes(a, a, ["req"]) == 1.0
    assert _same_sizes(a, {"req": {"2048": 6, "8192": 4}}, ["req"]) == pytest.approx(6 / 10)
    assert _same_sizes({}, {}, ["req"]) == 1.0


def _figs(mean, peak, grows, gc, **more):
    return {"mean_stack_inuse": mean, "peak_stack_inuse": peak, "grows": grows, "gc_cycles": gc, **more}


def test_goal_rows_are_judged_against_the_real_runs_mean():
    sim = _figs(1000.0, 2000.0, 100.0, 5.0, shrinks=3.0, **{"stacks@cp": {"req": {"2048": 4}}})
    real = [_figs(950.0, 2100.0, 95.0, 6.0, shrinks=10.0, **{"stacks@cp": {"req": {"2048": 4}}}),
            _figs(1050.0, 1900.0, 105.0, 5.0, shrinks=12.0, **{"stacks@cp": {"req": {"2048": 2, "4096": 2}}})]
    t = compare(sim, real, ["req"]).set_index("metric")
    assert set(t.index[t["goal"]]) == set(GOAL)
    assert t.loc["mean_stack_inuse", "real_mean"] == 1000.0 and t.loc["mean_stack_inuse", "ok"]
    assert t.loc["gc_cycles", "real_mean"] == 5.5 and t.loc["gc_cycles", "allowed"] == 1 and t.loc["gc_cycles", "ok"]
    assert json.loads(t.loc["grows", "real_runs"]) == [95.0, 105.0]
    assert t.loc["shrinks", "ok"] is None  # beside the verdict, not part of it
    assert t.loc["stacks@cp", "real_mean"] == pytest.approx((1.0 + 0.5) / 2)


def test_a_figure_past_ten_percent_fails_and_gc_past_one_cycle_fails():
    t = compare(_figs(1000.0, 2000.0, 100.0, 8.0), [_figs(1200.0, 2000.0, 100.0, 6.0)], []).set_index("metric")
    assert not t.loc["mean_stack_inuse", "ok"] and t.loc["mean_stack_inuse", "relative"] == pytest.approx(-200 / 1200)
    assert not t.loc["gc_cycles", "ok"]
    assert t.loc["peak_stack_inuse", "ok"] and t.loc["grows", "ok"]


def test_no_real_runs_leaves_the_verdict_open():
    t = compare(_figs(1.0, 1.0, 1.0, 1.0), [], [])
    assert t["real_mean"].isna().all() and t["ok"].isna().all()
    assert all(math.isnan(v) for v in t["difference"])


def test_replications_give_a_median_and_a_band_scored_as_simstack_reference_scores():
    sims = [_figs(900.0, 2000.0, 100.0, 5.0), _figs(1000.0, 2000.0, 100.0, 5.0), _figs(1500.0, 2000.0, 100.0, 9.0)]
    real = [_figs(1000.0, 2000.0, 100.0, 5.0), _figs(1100.0, 2000.0, 100.0, 6.0)]
    t = compare(sims, real, []).set_index("metric")
    assert t.loc["mean_stack_inuse", "simulated"] == 1000.0 and t.loc["mean_stack_inuse", "replications"] == 3
    assert (t.loc["mean_stack_inuse", "simulated_lo"], t.loc["mean_stack_inuse", "simulated_hi"]) == (900.0, 1500.0)
    # 900..1500 overlaps 1000..1100 widened by 10 % of 1100, but is wider than 2 x 100 + 2 x 110: no prediction
    assert not t.loc["mean_stack_inuse", "ok"] and t.loc["mean_stack_inuse", "allowed"] == pytest.approx(110.0)
    # GC cycles 5..9 against 5..6 widened by one cycle: overlaps, width 4 <= 2 x 1 + 2 x 1
    assert t.loc["gc_cycles", "ok"] and t.loc["peak_stack_inuse", "ok"]
    narrow = compare(sims[:2], real, []).set_index("metric")
    assert narrow.loc["mean_stack_inuse", "ok"]  # 900..1000 reaches the runs' widened range


def test_a_traced_runs_ms_are_its_start_count_then_each_m_the_trace_shows_first_capped_by_its_end_count():
    from types import SimpleNamespace

    from simstack.validate.timedcheck import threads_seen
    run = SimpleNamespace(summary={"marks": {"start": 0.5}, "mark_values": {"start": {"threads": 4},
                                                                              "end": {"threads": 5}},
                                   "m_first_seen": [0.0, 0.1, 0.5, 0.6, 2.0]})
    # Ms first seen before time zero are in the start count; the second later one would pass the end count
    assert threads_seen(run) == [(0.0, 4), (pytest.approx(0.1), 5)]
    assert threads_seen(SimpleNamespace(summary={"marks": {}, "mark_values": {}})) is None


def test_the_model_has_at_least_the_ms_it_is_given_from_their_times_on():
    import simstack
    from simstack.scenario import parse_scenario
    sc = parse_scenario("""
name: ms
duration: 100ms
runtime: {version: go1.27, gomaxprocs: 1}
goroutines:
  - {name: a, count: 1, program: [{depth: 1, block: 50ms}]}
""")
    plain = simstack.run(sc).footprint
    given = simstack.run(sc, threads_seen=[(0.04, 5)]).footprint
    at = lambda fp, t: int(fp.loc[fp.time <= t, "stack_inuse"].iloc[-1])  # noqa: E731
    assert at(given, 0.039) == at(plain, 0.039)
    # two more Ms (3 at start on GOMAXPROCS 1): each a g0 (16 KiB, from a pool span) and a 32 KiB gsignal
    assert at(given, 0.041) - at(plain, 0.041) >= 2 * 32768


def test_the_timed_model_runs_as_the_program_does_its_main_frame_and_the_tracers_goroutines():
    from types import SimpleNamespace

    from simstack.runtime.profiles import resolve_profile
    from simstack.scenario import parse_scenario
    from simstack.validate.timedcheck import MAIN_ASLEEP_BEYOND_FRAME, program_changes
    sc = parse_scenario("name: x\nruntime: {version: go1.27}\ngoroutines: [{name: a, count: 1, program: [{depth: 1, run: 0}]}]")
    prog = SimpleNamespace(simulated=sc, layout=SimpleNamespace(others={"main": 12096, "spin": 88}))
    ch = program_changes(prog)
    prof = resolve_profile("go1.27", "linux/amd64")
    assert ch["main_gc_wait_used"] == 12096 + MAIN_ASLEEP_BEYOND_FRAME
    assert ch["system_goroutines"] == prof.system_goroutines + prof.trace_goroutines
    assert len(prof.trace_goroutines) == 3  # runtime/trace.Start: CPU samples, the advancer, the writer
    # a step's garbage is made in spin with make([]byte, n): mallocgc's path starts below both
    assert [f.frame for f in ch["malloc_path"]] == [88, 32] + [f.frame for f in prof.malloc_path]
    # ... and the sweeping one as runtime/trace makes it (its sweep records a stack)
    assert [f.frame for f in ch["malloc_sweep_path"]] == [88, 32] + [f.frame for f in prof.trace_sweep_path]
    assert "runtime.traceStack" in [f.name for f in ch["malloc_sweep_path"]]


def test_with_measured_costs_the_replications_are_the_medians_then_each_rounds(monkeypatch):
    # a saturated P is chaotic in these costs (fanout at GOMAXPROCS 1: +32 % and -2 % with park at
    # 0.70 and 0.73 us), so the model runs once per measured round, at any GOMAXPROCS
    import simstack.validate.cpucost as cc
    from simstack.scenario.loader import load_scenario
    from simstack.validate.timedcheck import _cpu_as_measured, replica_scenarios
    medians = dict(newproc=2e-7, goexit=2e-7, park=8e-7, morestack=3e-7, mark_cycle=1.7e-4, mark_goroutine=8e-7)
    rounds = [{**medians, "park": p} for p in (8e-7, 1.4e-6, 7e-7)]
    monkeypatch.setattr(cc, "measure_cpu_costs", lambda tc, d: medians)
    monkeypatch.setattr(cc, "measured_rounds", lambda tc: rounds)
    sc = load_scenario(ROOT / "scenarios" / "fanout.yaml")
    notes = []
    measured, got = _cpu_as_measured(sc, object(), "/tmp", notes, lambda m: None)
    assert measured.runtime.cpu.park == 8e-7 and got == rounds
    assert "the medians of 3 rounds" in notes[0] and "park 0.80, 1.40, 0.70 µs" in notes[0]
    parks = [x.runtime.cpu.park for x in replica_scenarios(measured, got, 5)]
    assert parks == [8e-7, 8e-7, 1.4e-6, 7e-7, 8e-7]
    assert [x.runtime.cpu.park for x in replica_scenarios(measured, [], 3)] == [8e-7] * 3
    # a scenario that sets its own costs keeps them, and has no rounds
    own, none = _cpu_as_measured(measured, object(), "/tmp", [], lambda m: None)
    assert own is measured and none == []
