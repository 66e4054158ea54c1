"""The real-time program for timed scenarios: the schedule (plain Python) and one traced run (Go 1.23+)."""
from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import traced_toolchain

from simstack import run as simulate
from simstack.scenario import load_scenario, scenario_from_dict
from simstack.validate.timed import build_schedule, schedule_text, timed_problems

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "name": "timed-small", "seed": 5, "duration": "400ms",
    "runtime": {"version": "go1.27", "platform": "linux/amd64", "gomaxprocs": 2},
    "gc": {"trigger": "gogc", "gogc": 100, "live_heap": "24MiB", "at": ["120ms"]},
    "goroutines": [
        {"name": "req", "count": 40, "arrival": {"process": "poisson", "rate": "400/s", "until": "150ms"},
         "frame": "184B", "entry_frame": "96B", "alloc_rate": "100MB/s",
         "program": [
             {"depth": {"dist": "lognormal", "mean": 2.3, "sigma": 0.6},
              "run": {"dist": "exponential", "mean": "150us"}},
             {"spawn": "helper", "count": 2},
             {"depth": 4, "block": {"dist": "exponential", "mean": "2ms"}, "transient": "1KiB"},
             {"depth": 2, "block_until": "200ms", "park_frames": ["64B", "128B"]}]},
        {"name": "helper", "arrival": {"process": "spawned"}, "frame": "104B", "entry_frame": "72B",
         "program": [{"depth": 6, "run": "50us"}]},
        {"name": "daemon", "count": 2, "frame": "248B", "repeat": "forever",
         "program": [{"depth": 20, "run": "1ms"}, {"depth": 2, "block": "5ms"}]},
        {"name": "waiter", "count": 3, "frame": "128B", "entry_frame": "64B",
         "program": [{"depth": 3, "wait": "go"}, {"depth": 5, "run": "100us"}]},
    ],
    "gates": [{"name": "go", "open_at": ["50ms", "180ms"]}],
    "checkpoints": [{"label": "mid", "at": "100ms"}, {"label": "late", "at": "250ms", "via": "metrics"}],
}


def small(**changes):
    doc = {**SMALL, **changes}
    return scenario_from_dict(doc, source="<test>")


# ---- the schedule: the model's own draws -------------------------------------------------------

def test_schedule_has_the_models_goroutines_and_arrival_times():
    from simstack.validate.timed import SAMPLE_EVERY

    sc = small()
    sched = build_schedule(sc)
    res = simulate(sc, main_ticks=SAMPLE_EVERY)  # the model as validate runs it: main samples too
    model = res.goroutines
    assert sched.counts() == dict(Counter(model["class"]))
    for cls in ("req", "daemon", "waiter"):
        assert sorted(sched.arrivals(cls)) == sorted(model.loc[model["class"] == cls, "created"].tolist())
    # the program is told when main's sleep for each was due: never after the model made it
    due = sorted(e.time for e in sched.events if e.kind == "spawn")
    made = sorted(sched.arrivals())
    assert len(due) == len(made) and all(d <= m + 1e-12 for d, m in zip(due, made))
    assert any(d < m for d, m in zip(due, made))  # main's sleeps end on netpoll's grid
    # spawned goroutines are created at their spawner's spawn step, not by main
    assert sched.arrivals("helper") == []
    assert all(g.parent is not None for g in sched.goroutines if g.cls == "helper")


def test_schedule_ops_follow_the_program():
    sched = build_schedule(small())
    reqs = [g for g in sched.goroutines if g.cls == "req"]
    assert len(reqs) == 40
    for g in reqs:
        assert [o.kind for o in g.ops] == ["run", "spawn", "block", "until"]
        run, spawn, block, until = g.ops
        assert run.value > 0 and run.frame == 184
        assert len(spawn.children) == 2
        assert all(sched.goroutines[k].cls == "helper" and sched.goroutines[k].parent == g.gid
                   for k in spawn.children)
        assert block.depth == 4 and block.transient == 1024 and block.value > 0
        assert until.depth == 2 and until.value == pytest.approx(0.2) and until.park_frames == (64, 128)
        assert g.exits
    daemons = [g for g in sched.goroutines if g.cls == "daemon"]
    # forever goroutines: the model's run, then drawn on for the run's length (no real goroutine gets
    # further by the end, where the program's goroutines park for good as the model's do)
    assert all(not g.exits for g in daemons)
    assert all(sum(o.value for o in g.ops if o.kind in ("run", "block")) > 0.4 for g in daemons)
    assert all(o.value == pytest.approx(1e-3) for g in daemons for o in g.ops if o.kind == "run")
    assert all([o.kind for o in g.ops[:4]] == ["run", "block", "run", "block"] for g in daemons)


def test_scripts_the_models_run_left_unfinished_are_drawn_to_their_end():
    # GOMAXPROCS 1 and requests of 20 ms: the model's run starts a few of the 40 by the end; a real run
    # that starts others (its own order) must find their work in the schedule, not an empty script
    busy = [{**SMALL["goroutines"][0], "program": [{"depth": 3, "run": "20ms"}, *SMALL["goroutines"][0]["program"][1:]]},
            *SMALL["goroutines"][1:]]
    sc = small(goroutines=busy, runtime={**SMALL["runtime"], "gomaxprocs": 1})
    sched = build_schedule(sc)
    res = simulate(sc, main_ticks=1e-3)
    model = res.goroutines[res.goroutines["class"] == "req"]
    assert model["exited"].isna().sum() > 20  # most never finished in the model
    reqs = [g for g in sched.goroutines if g.cls == "req"]
    assert len(reqs) == 40 and all(g.exits for g in reqs)
    assert all([o.kind for o in g.ops] == ["run", "spawn", "block", "until"] for g in reqs)
    assert all(g.ops[0].value == pytest.approx(0.02) and g.ops[2].value > 0 for g in reqs)
    # their spawn steps made helpers too, each with its own script
    helpers = [g for g in sched.goroutines if g.cls == "helper"]
    assert len(helpers) == 80 and sorted(k for g in reqs for k in g.ops[1].children) == [g.gid for g in helpers]
    assert all(g.exits and [(o.kind, o.depth) for o in g.ops] == [("run", 6)] for g in helpers)
    assert [g.index for g in helpers] == list(range(80))


def test_main_events_in_model_order():
    sched = build_schedule(small())
    kinds = [(e.kind, e.label) for e in sched.events if e.kind != "spawn"]
    # gogc-paced cycles are the runtime's own: main runs only the gc.at one
    assert kinds == [("open", ""), ("checkpoint", "mid"), ("gc", ""), ("open", ""), ("checkpoint", "late"),
                     ("end", "")]
    assert [e.time for e in sched.events if e.kind == "open"] == pytest.approx([0.05, 0.18])
    waiters = [g for g in sched.goroutines if g.cls == "waiter"]
    assert [[(o.kind, o.depth, o.gate) for o in g.ops] for g in waiters] == [[("wait", 3, 0), ("run", 5, -1)]] * 3
    times = [e.time for e in sched.events]
    assert times == sorted(times) and times[-1] == pytest.approx(0.4)


def test_interval_gc_times():
    sc = small(gc={"trigger": "interval", "interval": "100ms"})
    gcs = [e.time for e in build_schedule(sc).events if e.kind == "gc"]
    assert gcs == pytest.approx([0.1, 0.2, 0.3])


def test_schedule_is_deterministic():
    from simstack.validate.gosource import Layout
    from simstack.validate.plan import frame_targets

    sc = small()
    lay = Layout.from_targets(frame_targets(sc))
    a, b = schedule_text(build_schedule(sc), lay), schedule_text(build_schedule(sc), lay)
    assert a == b
    assert a.startswith("simstack-timed-2\n4 req helper daemon waiter\n100000000 0 0 0\n1000000 65536 25165824\n1\n")


@pytest.mark.parametrize("name", ["http-server", "worker-pool", "fanout", "perf-1m", "perf-timed"])
def test_example_timed_scenarios_are_expressible(name):
    assert timed_problems(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), "linux/amd64") == []


def test_timed_problems_say_why():
    doc = {**SMALL, "runtime": {**SMALL["runtime"], "overrides": {"starting_stack": 8192}},
           "gc": {**SMALL["gc"], "mark_duration": "1ms"},
           "checkpoints": [{"label": "two words", "at": "100ms"}]}
    probs = timed_problems(scenario_from_dict(doc, source="<test>"), "linux/arm64")
    text = "\n".join(probs)
    assert len(probs) == 4
    for word in ("linux/arm64", "overrides (starting_stack)", "mark_duration", "'two words'"):
        assert word in text
    # gates need a duration (the program could not tell when to end), and nothing else
    doc = {k: v for k, v in SMALL.items() if k != "duration"}
    doc["goroutines"] = [c for c in SMALL["goroutines"] if c["name"] != "daemon"]
    probs = timed_problems(scenario_from_dict(doc, source="<test>"), "linux/amd64")
    assert len(probs) == 1 and "gates without a duration" in probs[0]
    assert timed_problems(small(), "linux/amd64") == []


# ---- one real traced run -------------------------------------------------------------------------

def _toolchain():
    return traced_toolchain("the timed program's checks read the trace with go tool trace -d=parsed")


def parsed_trace(tc, trace: Path, cache: Path) -> str:
    """The trace as the toolchain's own parser prints it (``go tool trace -d=parsed``)."""
    from simstack.validate.toolchain import offline_env

    r = subprocess.run([str(tc.go), "tool", "trace", "-d=parsed", str(trace)], capture_output=True, text=True,
                       env=offline_env(cache), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


CREATE_RE = re.compile(r"NotExist->Runnable.*\nTransitionStack=\n\t(\S+) @")
LOG_RE = re.compile(r'G=1 Log Time=(\d+) Task=\d+ Category="(simstack\.\w+)" Message="([^"]*)"')


def test_the_timed_program_calls_gomaxprocs_at_each_change(tmp_path):
    """runtime.gomaxprocs_changes: main calls runtime.GOMAXPROCS(n) at each change's time, after its other
    events of that instant; the trace's /sched/gomaxprocs:threads shows each procresize."""
    from simstack import read_trace
    from simstack.validate.gotimed import generate_timed, run_timed

    tc = _toolchain()
    sc = small(runtime={**SMALL["runtime"], "gomaxprocs_changes": [{"at": "100ms", "gomaxprocs": 1},
                                                                   {"at": "200ms", "gomaxprocs": 2}]})
    assert timed_problems(sc, "linux/amd64") == []
    sched = build_schedule(sc)
    procs = [(e.time, e.gid) for e in sched.events if e.kind == "procs"]
    assert procs == [(0.1, 1), (0.2, 2)]
    prog = generate_timed(sc, tc, tmp_path / "prog")
    out = run_timed(prog, tmp_path / "trace.out", timeout=120)
    assert out["exit_status"] == 0
    summary = read_trace(tmp_path / "trace.out", go=tc.go, kinds=[]).summary
    changes = summary["gomaxprocs_changes"]
    assert [n for _, n in changes] == [2, 1, 2]
    start = summary["window"]["start"]  # the program's time zero (its simstack.start log)
    assert 0.1 <= changes[1][0] - start < 0.15 and 0.2 <= changes[2][0] - start < 0.25


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    tc = _toolchain()
    from simstack.validate import default_cache_dir
    from simstack.validate.gotimed import generate_timed, run_timed

    d = tmp_path_factory.mktemp("timed")
    prog = generate_timed(small(), tc, d / "prog")  # builds in the session's cache ($SIMSTACK_GOCACHE)
    out = run_timed(prog, d / "trace.out", timeout=120)
    return tc, prog, out, parsed_trace(tc, d / "trace.out", default_cache_dir())


def test_trace_holds_each_class_goroutines(traced):
    tc, prog, out, text = traced
    created = Counter(CREATE_RE.findall(text))
    funcs = prog.class_functions
    assert funcs == {"req": "main.g_req.func1", "helper": "main.g_helper.func1", "daemon": "main.g_daemon.func1",
                     "waiter": "main.g_waiter.func1"}
    assert {c: created[f] for c, f in funcs.items()} == prog.schedule.counts() == {"req": 40, "helper": 80,
                                                                                   "daemon": 2, "waiter": 3}
    assert out["output"]["goroutines"] == 125 and out["exit_status"] == 0
    # every frame the scenario names is the compiler's $FRAME, so the model simulates the scenario as written
    assert {f.name: f.reported for f in prog.layout.funcs.values()} == {f.name: f.target
                                                                          for f in prog.layout.funcs.values()}
    assert (prog.program_dir / "README.md").is_file() and (prog.program_dir / "schedule.txt").is_file()


def test_trace_holds_the_observations(traced):
    tc, prog, out, text = traced
    res = out["output"]
    logs = [(int(t), c, dict(kv.split("=") for kv in m.split())) for t, c, m in LOG_RE.findall(text)]
    by = Counter(c for _, c, _ in logs)
    # every reading is bracketed: a simstack.read mark just before it (the reader's window)
    assert by["simstack.read"] == by["simstack.start"] + by["simstack.checkpoint"] + by["simstack.sample"] \
        + by["simstack.end"]
    logs = [x for x in logs if x[1] != "simstack.read"]
    assert by["simstack.start"] == 1 and by["simstack.end"] == 1 and by["simstack.checkpoint"] == 2
    assert 1 <= by["simstack.sample"] <= 401 and by["simstack.sample"] == res["samples"]
    cps = [m for _, c, m in logs if c == "simstack.checkpoint"]
    assert [m["label"] for m in cps] == ["mid", "late"]
    assert [int(m["stack_inuse"]) for m in cps] == [c["stack_inuse"] for c in res["checkpoints"]]
    end = next(m for _, c, m in logs if c == "simstack.end")
    start = next(m for _, c, m in logs if c == "simstack.start")
    assert int(end["stack_inuse"]) == res["stack_inuse"] and int(end["gc_cycles"]) == res["gc_cycles"]
    assert int(start["gc_cycles"]) == res["gc_cycles_start"]
    assert res["gc_cycles"] - res["gc_cycles_start"] >= 1  # at least the gc.at cycle
    assert all(int(m["stack_inuse"]) > 0 and int(m["stack_inuse"]) % 8192 == 0 for _, _, m in logs)
    # the program ran for the duration: 400 ms from its time zero (taken just before the start log, which
    # a loaded machine can delay by tens of microseconds) to the end, or a little longer
    assert 0.4 <= res["elapsed_ns"] / 1e9 < 5
    t_start = next(t for t, c, _ in logs if c == "simstack.start")
    t_end = next(t for t, c, _ in logs if c == "simstack.end")
    assert res["elapsed_ns"] / 1e9 - 0.01 <= (t_end - t_start) / 1e9 < 5  # the trace's window: the same run


def test_the_setup_runs_no_cycle_but_mains_two(traced):
    # the schedule loads and the live heap (24 MiB) is built with GC off (on, the ramp ran three cycles
    # of its own), so no ramp is in the pacer's cons/mark history (it keeps the largest of five cycles'):
    # before time zero only main's runtime.GC() before and after the build ran
    assert traced[2]["output"]["gc_cycles_start"] == 2


def test_gate_waiters_leave_when_it_opens(traced):
    tc, prog, out, text = traced
    goids = {int(g) for g, fn in re.findall(r"GoID=(\d+) NotExist->Runnable.*\nTransitionStack=\n\t(\S+) @", text)
             if fn == "main.g_waiter.func1"}
    t0 = int(next(t for t, c, _ in LOG_RE.findall(text) if c == "simstack.start"))
    exits = {int(g): int(t) for t, g in re.findall(r"Time=(\d+) GoID=(\d+) Running->NotExist", text)}
    assert len(goids) == 3 and goids <= set(exits)
    # parked at t=0 on the gate, released by main at its first opening (50 ms), then 100 us of run
    assert all(exits[g] - t0 >= 50e6 for g in goids)


def test_environment_follows_the_scenario(traced):
    tc, prog, out, text = traced
    env = prog.env()
    assert env["GOGC"] == "100" and env["GOMAXPROCS"] == "2" and env["GODEBUG"].startswith("traceallocfree=1")
    manual = small(gc={"trigger": "manual", "at": ["100ms"]})
    from dataclasses import replace
    assert replace(prog, simulated=manual).env()["GOGC"] == "off"


def test_the_trace_reader_rebuilds_every_reading_the_program_logged(traced):
    """simstack.trace reads the timed program's trace: StackInuse rebuilt from the trace's span events
    equals every reading the program took (each within its simstack.read window), and the goroutines
    of each class are those the schedule has."""
    from simstack.trace import read_trace

    tc, prog, out, _ = traced
    start_fns = {fn: c for c, fn in prog.class_functions.items()}
    real = read_trace(out["trace"], classify=lambda creator, start: start_fns.get(start))
    logged = real.summary["logged_stack_inuse"]
    assert logged["n"] >= 4 and logged["equal"] == logged["n"], logged["first_mismatch"]
    counts = real.goroutines["class"].value_counts()
    assert {c: int(counts.get(c, 0)) for c in prog.schedule.counts()} == prog.schedule.counts()
    w = real.summary["window"]
    assert w["start"] < w["end"] and w["peak"] >= w["mean"] > 0


def test_schedule_of_a_saturated_pool_runs_to_mains_end():
    # worker-pool at GOMAXPROCS 1: the model's main is held in its first runtime.GC() past the end;
    # the schedule still gives the program every call due before it, and its forever workers' scripts
    # go on for the run's length past where the model's run reached the duration
    sc = load_scenario(ROOT / "scenarios" / "worker-pool.yaml")
    sched = build_schedule(scenario_from_dict({**sc.to_yaml_dict(), "runtime": {
        **sc.to_yaml_dict()["runtime"], "gomaxprocs": 1}}, source="<test>"))
    gcs = [e.time for e in sched.events if e.kind == "gc"]
    assert gcs == pytest.approx([0.2 * k for k in range(1, 10)])
    assert len(sched.goroutines) == 64 and not any(g.exits for g in sched.goroutines)
    assert all(sum(o.value for o in g.ops if o.kind in ("run", "block")) > 2.0 for g in sched.goroutines)
    assert [e.kind for e in sched.events][-1] == "end"


def test_past_the_end_the_programs_goroutines_park_for_good_so_a_starved_main_ends_the_run(tmp_path):
    # 16 forever workers wanting 6 Ps on 1: main, readied by its timers, waits behind them. Their scripts
    # hold the run's length of steps past the model's reach (about 1.8 s of run steps on the one P), so
    # main would end the run only when they ran out; from the end on each parks at its next op instead,
    # as the model's goroutines do (Ps.wind_down)
    from simstack.validate.gotimed import generate_timed, run_timed

    tc = _toolchain()
    sc = scenario_from_dict({
        "name": "timed-pool", "seed": 3, "duration": "300ms",
        "runtime": {"version": "go1.27", "platform": "linux/amd64", "gomaxprocs": 1},
        "gc": {"trigger": "interval", "interval": "100ms"},
        "goroutines": [{"name": "worker", "count": 16, "arrival": {"process": "burst", "at": 0}, "frame": "248B",
                        "entry_frame": "120B", "repeat": "forever",
                        "program": [{"depth": 10, "run": {"dist": "exponential", "mean": "3ms"}},
                                    {"depth": 2, "block": {"dist": "exponential", "mean": "5ms"}}]}]},
        source="<test>")
    prog = generate_timed(sc, tc, tmp_path / "prog")
    assert prog.schedule.run_time() > 1.5
    out = run_timed(prog, tmp_path / "trace.out", timeout=120)["output"]
    assert 0.3 <= out["elapsed_ns"] / 1e9 < 0.8  # 1.1 - 1.5 s here without the wind-down, 0.30 with it
    assert out["gc_cycles"] - out["gc_cycles_start"] >= 2  # main's runtime.GC() calls due before the end ran


def test_a_run_step_holds_its_p_for_its_duration_and_a_descheduled_one_does_not_count(tmp_path):
    # two goroutines of one 40 ms step each on one P: sysmon preempts each at 10 – 20 ms of its slice,
    # so they take turns. Each step's time on the P (its goroutine's Running intervals in the trace)
    # is its duration, not more (the other's turns do not count towards it) and not less
    from simstack.validate.gotimed import generate_timed, run_timed

    tc = _toolchain()
    sc = scenario_from_dict({
        "name": "timed-turns", "seed": 1, "duration": "200ms",
        "runtime": {"version": "go1.27", "platform": "linux/amd64", "gomaxprocs": 1},
        "goroutines": [{"name": "busy", "count": 2, "arrival": {"process": "burst", "at": "10ms"}, "frame": "104B",
                        "entry_frame": "72B", "program": [{"depth": 2, "run": "40ms"}]}]},
        source="<test>")
    prog = generate_timed(sc, tc, tmp_path / "prog")
    out = run_timed(prog, tmp_path / "trace.out", timeout=120)
    text = parsed_trace(tc, tmp_path / "trace.out", tmp_path / "cache")
    goids = {m.group(1) for m in re.finditer(r"GoID=(\d+) NotExist->Runnable.*\nTransitionStack=\n\tmain\.g_busy", text)}
    assert len(goids) == 2
    on_p: Counter = Counter()
    turns: Counter = Counter()
    since: dict = {}
    for m in re.finditer(r"Time=(\d+) GoID=(\d+) (\w+)->(\w+)", text):
        t, g, a, b = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if g not in goids:
            continue
        if b == "Running":
            since[g] = t
            turns[g] += 1
        elif a == "Running":
            on_p[g] += t - since.pop(g)
    assert all(turns[g] >= 2 for g in goids), turns  # they took turns
    stalled = out["output"]["run_stall_ns"]  # its thread stopped 1 ms or more while it held the P: not counted
    for g in goids:
        # at least its 40 ms (a descheduled gap counted would leave it short); more by its non-spin work
        # and any stall of 1 ms or more of its thread (a CI machine's CPU taken away: 44.2 ms once)
        assert 40e6 <= on_p[g] <= 40e6 * 1.10 + stalled, (on_p, stalled)
    assert out["output"]["run_sched_ns"] == 80_000_000


JOINS = {
    "name": "timed-joins", "seed": 5, "duration": "300ms",
    "runtime": {"version": "go1.27", "platform": "linux/amd64", "gomaxprocs": 2},
    "gc": {"trigger": "interval", "interval": "100ms"},
    "goroutines": [
        {"name": "coordinator", "count": 40, "arrival": {"process": "poisson", "rate": "150/s"}, "frame": "136B",
         "program": [{"depth": 3, "run": "100us"}, {"spawn": "fetcher", "count": 4, "join": True},
                     {"depth": 1, "run": "50us"}]},
        {"name": "fetcher", "arrival": {"process": "spawned"}, "frame": "248B",
         "program": [{"depth": 30, "run": {"dist": "exponential", "mean": "1ms"}}]}]}


def test_a_joining_spawn_is_performed_as_a_wait_for_the_last_child(tmp_path):
    # the program starts a join's children from join(), which receives from a channel the last of them
    # closes: in the trace every coordinator ends after all four of its fetchers, as in the model
    from simstack.trace import read_trace
    from simstack.validate.gotimed import generate_timed, run_timed

    tc = _toolchain()
    sc = scenario_from_dict(JOINS, source="<test>")
    sched = build_schedule(sc)
    coords = [g for g in sched.goroutines if g.cls == "coordinator"]
    assert coords and all([o.kind for o in g.ops] == ["run", "join", "run"] and len(g.ops[1].children) == 4
                          for g in coords if g.exits)
    prog = generate_timed(sc, tc, tmp_path / "prog")
    run_timed(prog, tmp_path / "trace.out", timeout=120)
    res = read_trace(tmp_path / "trace.out", go=tc.go)
    g = res.goroutines
    made = res.events[res.events["kind"] == "spawn"]
    coordinators = g[g["class"].str.contains("spawn_coordinator")]
    fetchers = g[~g["class"].str.contains("spawn_coordinator") & g["class"].str.startswith("main.")]
    ended = coordinators[coordinators["exited"].notna()]
    assert len(ended) >= 30 and len(fetchers) >= 4 * len(ended)
    # each one ended after the four fetchers it made (made after it, before it ended; at 2 Ps another
    # coordinator's may come between): a join, not a plain spawn, whose coordinator ends 50 us later
    # (another coordinator's fetchers made in the window may be alive at the end: NaN, which sorted() would
    # put anywhere; its own four have ended)
    after = sum(c["exited"] >= sorted(fetchers[(fetchers["created"] >= c["created"])
                                               & (fetchers["created"] <= c["exited"])]["exited"].dropna())[3]
                for _, c in ended.iterrows())
    assert after == len(ended), (after, len(ended))
    assert len(made) > 0


BUSY = {
    "name": "busy", "seed": 1, "duration": "200ms",
    "runtime": {"version": "go1.27", "platform": "linux/amd64", "gomaxprocs": 1},
    "goroutines": [{"name": "spinner", "count": 3, "frame": "248B", "entry_frame": "120B",
                    "program": [{"depth": 20, "run": "60ms"}]}],
}


def test_a_run_step_is_preempted_in_its_middle_asynchronously(tmp_path):
    # the model keeps the stack of a goroutine stopped in a run step (isShrinkStackSafe refuses an
    # asynchronous safe point); a call with a stack check in the busy loop (heldP at every clock read,
    # 01:42 to 08:10 on 2026-12-06) took sysmon's preemptions synchronously, where GC shrinks the stack
    from simstack.validate.gotimed import generate_timed, run_timed

    tc = _toolchain()
    prog = generate_timed(scenario_from_dict(BUSY, source="<test>"), tc, tmp_path / "prog")
    run_timed(prog, tmp_path / "trace.out", timeout=120)
    parsed = subprocess.run([str(tc.go), "tool", "trace", "-d=parsed", str(tmp_path / "trace.out")],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    # each preemption's stack: its first frame, on the line after TransitionStack=
    tops = re.findall(r'Running->Runnable Reason="preempted"\nTransitionStack=\n\t(\S+)', parsed)
    # three 60 ms steps on one P, turns of 10 - 20 ms (sysmon's forcePreemptNS): several preemptions each
    assert len(tops) >= 6, tops
    assert Counter(tops)["runtime.asyncPreempt2"] >= 0.8 * len(tops), Counter(tops)
