"""The race model (issue #14): off at GOMAXPROCS 1, seeded at >= 2, measured data, num_cpu, bands."""
import numpy as np
import pandas as pd
import pytest

from simstack import run
from simstack.engine.races import Races, nearest_points, race_table
from simstack.engine.simulation import Simulation
from simstack.recording.recorder import Recorder
from simstack.reference.compare import band_ok
from simstack.scenario import scenario_from_dict


def waves(procs, seed=0, cpus=None, races=True, depth=10, n=512, waves_=3):
    """benchmarks/races's workload: n goroutines park on a gate, the gate opens, they exit; repeated."""
    rt = {"version": "go1.27", "gomaxprocs": procs, "races": races}
    if cpus:
        rt["num_cpu"] = cpus
    return scenario_from_dict({
        "name": "waves", "seed": seed, "runtime": rt,
        "goroutines": [{"name": f"w{k}", "count": n, "arrival": {"process": "burst", "at": 2 * k},
                        "program": [{"depth": depth, "wait": f"g{k}"}]} for k in range(waves_)],
        "gates": [{"name": f"g{k}", "open_at": [2 * k + 1]} for k in range(waves_)],
        "checkpoints": [{"label": f"c{k}", "at": 2 * k + 1.5, "via": "memstats"} for k in range(waves_)]})


def exits_by_p(res):
    ev = res.events
    return ev[ev["kind"] == "exit"].groupby("p").size().to_dict()


def test_gomaxprocs_1_is_untouched_by_seed_and_switch():
    base = run(waves(1, seed=0)).events
    pd.testing.assert_frame_equal(base, run(waves(1, seed=7)).events)
    pd.testing.assert_frame_equal(base, run(waves(1, seed=0, races=False)).events)


def test_old_random_streams_unchanged():
    """Adding the races' stream leaves every class's and the arrivals' stream as they were."""
    sc = waves(2, seed=11)
    sim = Simulation(sc, Recorder(lambda: 0.0, kinds=[]))
    old = np.random.SeedSequence(11).spawn(len(sc.goroutines) + 1)
    assert sim.arrival_rng.random() == np.random.default_rng(old[-1]).random()
    assert sim.ps.races is not None


def test_same_seed_same_run_other_seeds_other_splits():
    a, b = run(waves(2, seed=3)), run(waves(2, seed=3))
    pd.testing.assert_frame_equal(a.events, b.events)
    splits = {tuple(sorted(exits_by_p(run(waves(2, seed=s))).items())) for s in range(8)}
    assert len(splits) > 1  # the races differ from seed to seed
    # and none is the deterministic model's equal turns every time
    assert splits != {tuple(sorted(exits_by_p(run(waves(2, races=False))).items()))}


def test_measured_table_and_nearest_point():
    table = race_table("go1.27")
    pts = table["points"]
    assert (2, 2, 10) in pts and all(len(v) >= 10 for v in pts.values())
    for shares, joins in (r for v in pts.values() for r in v):
        assert abs(sum(shares) - 1) < 1e-3 and len(joins) == len(shares) - 1
        assert list(joins) == sorted(joins)
    assert set(nearest_points(pts, 2, 2)) == {10, 100, 1000}
    assert nearest_points(pts, 8, 8) == nearest_points(pts, 2, 2)  # one P per CPU: the 2-on-2 releases
    assert nearest_points(pts, 32, 2)[10] == pts[(32, 2, 10)]
    assert nearest_points(pts, 2, 1)[10] == pts[(2, 1, 10)]


def test_num_cpu_defaults_to_gomaxprocs_and_selects_the_releases():
    assert waves(4).runtime.num_cpu is None
    on_2 = Simulation(waves(4, cpus=2), Recorder(lambda: 0.0, kinds=[])).ps.races
    on_4 = Simulation(waves(4), Recorder(lambda: 0.0, kinds=[])).ps.races
    assert isinstance(on_2, Races) and on_2.by_depth != on_4.by_depth


def test_far_fewer_ms_than_ps_above_the_cpu_count():
    """GOMAXPROCS 32 on 2 CPUs: Ps join one at a time (wakep with an M spinning does nothing), so
    far fewer than 32 run at once and far fewer Ms start; equal turns woke every P."""
    def threads(races):
        sim = Simulation(waves(32, cpus=2, races=races, n=2048), Recorder(lambda: 0.0, kinds=[]))
        sim.run()
        return sim.rt.threads
    assert threads(False) == 33
    assert 5 <= threads(True) < 16


@pytest.mark.parametrize("sim, meas, ok", [
    ([100], [90, 110], True),                    # one replication: inside the band
    ([0, 300_000], [500, 510], False),            # overlaps, but far wider than the runs
    ([480, 520], [500, 510], True),
    ([200_000, 210_000], [0, 10], False),         # no overlap
    ([0, 65536 * 2 + 20], [0, 10], True),         # width: 2 x 10 + the widening (2 x 64 KiB)
    ([0, 65536 * 2 + 21], [0, 10], False),
])
def test_band_criterion(sim, meas, ok):
    assert band_ok(sim, meas, 65536, 0.02) is ok


def test_races_seed_varies_the_race_stream_alone():
    """A replication (simstack validate --replications) draws the races from another seed's stream;
    every class's and the arrivals' draws stay the scenario's."""
    sc = waves(2, seed=4)
    rec = lambda: Recorder(lambda: 0.0, kinds=[])  # noqa: E731
    own, other = Simulation(sc, rec()), Simulation(sc, rec(), races_seed=9)
    assert own.arrival_rng.random() == other.arrival_rng.random()
    assert all(own.classes[c].rng.random() == other.classes[c].rng.random() for c in own.classes)
    drawn = other.ps.races.rng.random()
    assert own.ps.races.rng.random() != drawn
    assert drawn == Simulation(waves(2, seed=9), rec()).ps.races.rng.random()  # seed 9's races stream
    # the scenario's own seed is the run itself
    pd.testing.assert_frame_equal(run(sc).events, run(sc, races_seed=4).events)
    # a scenario that draws nothing else: replication r is the scenario at seed r (simstack reference's)
    pd.testing.assert_frame_equal(run(sc, races_seed=1).events, run(waves(2, seed=1)).events)


def test_races_seed_changes_nothing_at_gomaxprocs_1_or_without_races():
    base = run(waves(1)).events
    pd.testing.assert_frame_equal(base, run(waves(1), races_seed=5).events)
    off = run(waves(2, races=False)).events
    pd.testing.assert_frame_equal(off, run(waves(2, races=False), races_seed=5).events)


def gc_waves(procs, seed=0, cpus=2, version="go1.27", cycles=8):
    """benchmarks/gcthreads's workload: main parks goroutines, then runs runtime.GC() again and again."""
    return scenario_from_dict({
        "name": "gcthreads", "seed": seed,
        "runtime": {"version": version, "gomaxprocs": procs, "num_cpu": cpus},
        "goroutines": [{"name": "parked", "count": 64, "arrival": {"process": "burst", "at": 0},
                        "program": [{"depth": 10, "wait": "never"}]}],
        "gates": [{"name": "never", "open_at": []}],
        "gc": {"trigger": "manual", "at": [0.01 + 0.002 * k for k in range(cycles)]}})


def test_gc_cycles_start_the_measured_processes_ms():
    """After cycle k a run has (at least) the threads its drawn measured process had after cycle k;
    the curves come from the table of the scenario's version at the nearest measured point."""
    from simstack.engine.races import gc_thread_curves, nearest
    for version, procs in (("go1.27", 6), ("go1.19", 8), ("go1.12", 4)):
        curves = gc_thread_curves(version)
        assert curves and all(list(c) == sorted(c) for cs in curves.values() for c in cs)  # Ms never exit
        measured = {tuple(procs + t for t in c) for c in curves[nearest(curves, procs, 2)]}
        seen = set()
        for seed in range(6):
            sim = Simulation(gc_waves(procs, seed, version=version), Recorder(lambda: 0.0, kinds=[]))
            sim.run()
            assert sim.ps.races.gc_curve in measured
            assert sim.rt.gc_cycle == 8
            assert sim.rt.threads >= sim.ps.races.gc_threads(8)
            assert sim.rt.threads <= max(sim.ps.races.gc_threads(8), procs + 2)
            seen.add(sim.ps.races.gc_curve)
        assert len(seen) > 1  # a draw, not one curve


def test_gc_threads_leave_gomaxprocs_1_alone():
    sim = Simulation(gc_waves(1, cpus=1), Recorder(lambda: 0.0, kinds=[]))
    sim.run()
    assert sim.ps.races is None and sim.rt.gc_cycle == 8


def pool_burst(seed, cpu=True, procs=2):
    """A worker pool's start: main makes 64 workers in one burst (the timed example's)."""
    rt = {"version": "go1.27", "gomaxprocs": procs, "num_cpu": 2}
    if cpu:
        rt["cpu"] = {"newproc": "0.2us", "malg": "1us"}
    return scenario_from_dict({
        "name": "pool", "seed": seed, "duration": "1us", "runtime": rt,
        "goroutines": [{"name": "w", "count": 64, "arrival": {"process": "burst", "at": 0},
                        "program": [{"depth": 2, "run": "3ms"}, {"depth": 2, "block": "5ms"}]}]})


def taken_by_p(sc):
    """How many of the burst's goroutines each P holds (queued or running) once the burst is made."""
    sim = Simulation(sc, Recorder(lambda: 0.0, kinds=[]))
    sim.run()
    return [len(pp.runq) + (pp.runnext is not None) + (sim.ps.p_current[pp.id] is not None)
            for pp in sim.rt.allp]


def test_a_burst_whose_go_statements_take_time_is_split_where_the_woken_p_joined():
    """benchmarks/burst_join_measure.py: a P the burst's first go woke steals once its M is up, when
    the creator has made the measured number (first bursts at 2 Ps: a median of about 16 of 1024),
    so it takes half of those, not half of the burst; without go statements' time, half the burst."""
    assert taken_by_p(pool_burst(0, cpu=False)) == [32, 32]
    splits = [taken_by_p(pool_burst(s)) for s in range(12)]
    assert all(sum(s) == 64 for s in splits)
    p1 = sorted(s[1] for s in splits)
    assert p1[len(p1) // 2] < 20 and len(set(p1)) > 2  # mostly an early join, drawn from seed to seed
    assert splits == [taken_by_p(pool_burst(s)) for s in range(12)]  # same seed, same split
