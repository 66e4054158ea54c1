"""The scenario loader: good files, defaults, round trips, the JSON Schema and located errors."""
import random
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from simstack.errors import Problem, ScenarioError
from simstack.scenario import (Step, load_scenario, parse_scenario, scenario_from_dict, scenario_json_schema)

BAD = Path(__file__).parent / "bad_scenarios"  # the one folder of broken scenarios (test_reliability.py has them all)

FULL = """\
name: full
description: every feature once
seed: 7
duration: 2s
runtime:
  version: go1.19.8
  platform: linux/arm64
  gomaxprocs: 4
  max_stack: 1MiB
  godebug: {adaptivestackstart: 0, gcshrinkstackoff: 1}
  baseline: none
  overrides: {starting_stack: 4KiB, starting_stack_policy: per_site, keep_grown_stacks: 16KiB,
              shrink_below: 0.125, growth_factor: 4, num_stack_orders: 3, stack_cache_size: 64KiB}
gc:
  trigger: gogc
  gogc: off
  at: [0.5s, 1s]
  live_heap: 8MB
  mark_duration: 100us
goroutines:
  - name: server
    count: 3
    repeat: forever
    alloc_rate: 10MiB/s
    park_path: [{frame: 40, nosplit: true}, {frame: 136}]
    program:
      - {depth: {dist: sequence, values: [1, 2, 3]}, run: {dist: exponential, mean: 1ms}}
      - {depth: 3, block: 10ms, park_frames: [96, 1KiB], transient: 8KiB}
      - {spawn: worker, count: {dist: empirical, values: [0, 1, 2], weights: [1, 2, 1]}}
  - name: worker
    arrival: {process: spawned}
    frame: 128B
    entry_frame: 48
    park_path: none
    program:
      - {depth: {dist: lognormal, mean: 2.0, sigma: 0.5}, run: 200us, frame: 256}
      - {depth: 0, block_until: 1.5s}
      - {depth: 1, block: forever}
  - name: ticker
    arrival: {process: uniform, every: 100ms, start: 0.1s, until: 1s}
    program: [{depth: 2, run: 1ms}]
  - name: replay
    arrival: {process: trace, times: [0.3, 0.1, 20ms]}
    program: [{depth: {dist: normal, mean: 5, std: 1}, block: {dist: uniform, low: 1ms, high: 3ms}}]
  - name: clients
    count: 50
    arrival: {process: poisson, rate: 100/s}
    program: [{depth: {dist: geometric, mean: 4}, run: {dist: constant, value: 2ms}}]
checkpoints:
  - {label: mid, at: 1s, via: metrics}
  - {label: end, at: 2s}
record: {events: [grow, shrink], goroutine_table: false}
"""

MINIMAL = """\
goroutines:
  - name: worker
    count: 10
    program:
      - {depth: 4, run: 1ms}
"""


def errors_of(text: str, source: str = "scen.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source)
    return str(info.value).splitlines()


# --- good files ----------------------------------------------------------------------

def test_full_scenario_is_normalized():
    s = parse_scenario(FULL)
    rt = s.runtime
    assert (rt.version, rt.version_full, rt.platform, rt.gomaxprocs, rt.max_stack) == \
        ("go1.19", "go1.19.8", "linux/arm64", 4, 2**20)
    assert rt.godebug == {"adaptivestackstart": 0, "gcshrinkstackoff": 1} and rt.baseline == "none"
    assert rt.overrides.starting_stack == 4096 and rt.overrides.keep_grown_stacks == 16384
    assert rt.overrides.stack_guard is None
    assert (s.gc.trigger, s.gc.gogc, s.gc.at, s.gc.live_heap, s.gc.mark_duration) == \
        ("gogc", None, [0.5, 1.0], 8_000_000, 1e-4)
    server, worker, ticker, replay, clients = s.goroutines
    assert server.repeat is None and server.alloc_rate == 10 * 2**20
    assert [(f.frame, f.nosplit) for f in server.park_path] == [(40, True), (136, False)]
    assert worker.park_path == "none" and worker.frame == 128 and worker.entry_frame == 48
    assert ticker.arrival.every == 0.1 and ticker.arrival.until == 1.0 and ticker.count is None
    assert replay.arrival.times == [0.02, 0.1, 0.3]  # sorted
    assert clients.arrival.rate == 100.0
    assert s.checkpoints[1].via == "memstats" and s.record.events == ["grow", "shrink"]
    assert s.record.sample_every == 0.002  # duration / 1000


def test_steps_expose_the_normalized_form():
    s = parse_scenario(FULL)
    run, block, spawn = s.goroutines[0].program
    assert (run.kind, run.duration.mean(), run.until, run.forever) == ("run", 0.001, None, False)
    assert (block.kind, block.duration.value, block.park_frames, block.transient) == ("block", 0.01, [96, 1024], 8192)
    assert (spawn.kind, spawn.spawn, spawn.depth) == ("spawn", "worker", None)
    _, until, forever = s.goroutines[1].program
    assert (until.kind, until.until.value, until.duration) == ("block_until", 1.5, None)
    assert (forever.kind, forever.forever, forever.duration) == ("block", True, None)
    assert s.goroutines[1].program[0].frame == 256


def test_step_can_be_built_from_the_normalized_form():
    assert Step(kind="block", depth=3, forever=True) == Step(depth=3, block="forever")
    assert Step(kind="run", depth=1, duration="1ms").run.value == 0.001
    assert Step(kind="block_until", depth=1, until=2).until.value == 2.0
    spawn = Step(kind="spawn", spawn="w")
    assert spawn.count.value == 1 and spawn.kind == "spawn"


def test_defaults_are_filled():
    s = parse_scenario(MINIMAL)
    assert (s.name, s.description, s.seed, s.duration, s.source) == ("scenario", "", 0, None, None)
    assert (s.runtime.version, s.runtime.platform, s.runtime.gomaxprocs, s.runtime.baseline) == \
        ("go1.27", "linux/amd64", 1, "auto")
    assert s.runtime.max_stack is None and s.runtime.godebug == {}
    assert (s.gc.trigger, s.gc.at, s.gc.gogc, s.gc.live_heap, s.gc.mark_duration) == ("manual", [], 100, 4_000_000, 0)
    c = s.goroutines[0]
    assert (c.frame, c.entry_frame, c.repeat, c.alloc_rate, c.park_path) == (64, 32, 1, 0.0, "auto")
    assert (c.arrival.process, c.arrival.at, c.arrival.start, c.arrival.until) == ("burst", 0.0, 0.0, None)
    assert s.checkpoints == [] and s.record.events == "all" and s.record.goroutine_table is True
    assert s.record.sample_every is None  # no duration: resolved by the engine


def test_name_and_source_come_from_the_file(tmp_path):
    path = tmp_path / "my-run.yaml"
    path.write_text(MINIMAL)
    s = load_scenario(path)
    assert (s.name, s.source) == ("my-run", str(path))
    assert load_scenario(str(path)) == s
    named = tmp_path / "other.yaml"
    named.write_text("name: explicit\n" + MINIMAL)
    assert load_scenario(named).name == "explicit"


@pytest.mark.parametrize("text", [FULL, MINIMAL])
def test_to_yaml_dict_round_trips(text):
    s = parse_scenario(text)
    d = s.to_yaml_dict()
    assert scenario_from_dict(d) == s
    assert parse_scenario(yaml.safe_dump(d)) == s  # also as YAML text
    assert scenario_from_dict(d).to_yaml_dict() == d
    assert "source" not in d and d["gc"].get("gogc") in (100, "off")


def test_to_yaml_dict_writes_keywords_and_base_units():
    d = parse_scenario(FULL).to_yaml_dict()
    assert d["gc"]["gogc"] == "off" and d["goroutines"][0]["repeat"] == "forever"
    assert d["goroutines"][1]["program"][2]["block"] == "forever"
    assert d["goroutines"][0]["program"][1]["block"] == 0.01  # a constant is written bare
    assert d["runtime"]["max_stack"] == 1048576 and d["goroutines"][0]["alloc_rate"] == 10485760.0


def test_yaml_anchors_and_merge_keys():
    s = parse_scenario(textwrap.dedent("""\
        goroutines:
          - {<<: &common {count: 2, frame: 96}, name: a, program: [{depth: 1, run: 1ms}]}
          - {<<: *common, name: b, count: 5, program: [{depth: 1, run: 1ms}]}
        """))
    assert [(c.count, c.frame) for c in s.goroutines] == [(2, 96), (5, 96)]


def test_yaml_12_booleans():
    s = parse_scenario(MINIMAL + "gc: {gogc: off}\nrecord: {goroutine_table: false}\n")
    assert s.gc.gogc is None and s.record.goroutine_table is False
    assert "expected true or false, got 'no'" in errors_of(MINIMAL + "record: {goroutine_table: no}\n")[0]


def test_scenario_files_in_the_repo_load():
    for path in sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml")):
        assert load_scenario(path).source == str(path)


def test_sequence_names_its_field_at_sampling_time():
    s = parse_scenario(MINIMAL.replace("count: 10", "count: 2").replace("depth: 4", "depth: {dist: sequence, "
                                                                                      "values: [3, 4]}"))
    d = s.goroutines[0].program[0].depth
    assert d.sample(np.random.default_rng(0), 1) == 4
    with pytest.raises(IndexError, match=r"^goroutines\[0\]\.program\[0\]\.depth: sequence has 2 values"):
        d.sample(np.random.default_rng(0), 2)


# --- JSON Schema ---------------------------------------------------------------------

jsonschema = pytest.importorskip("jsonschema")


def validator():
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("text", [FULL, MINIMAL])
def test_good_scenarios_match_the_schema(text):
    v = validator()
    assert list(v.iter_errors(yaml.safe_load(text))) == []  # YAML 1.1 reads 'off' as false: accepted too
    assert list(v.iter_errors(parse_scenario(text).to_yaml_dict())) == []


def test_every_field_the_loader_takes_is_in_the_schema():
    # the schema once lacked runtime.overrides.timer_resolution, which every fitted scenario sets
    from simstack.scenario import model as m

    schema = scenario_json_schema()
    defs, top = schema["$defs"], schema["properties"]
    rt = defs["runtime"]["properties"]
    objects = {"runtime": (m.RuntimeSpec, defs["runtime"]), "gc": (m.GCSpec, defs["gc"]),
               "arrival": (m.Arrival, defs["arrival"]), "step": (m.Step, defs["step"]),
               "goroutine_class": (m.GoroutineClass, defs["goroutine_class"]),
               "runtime.overrides": (m.Overrides, rt["overrides"]), "runtime.cpu": (m.CpuCosts, rt["cpu"]),
               "gates": (m.Gate, top["gates"]["items"]), "semaphores": (m.Semaphore, top["semaphores"]["items"]),
               "checkpoints": (m.Checkpoint, top["checkpoints"]["items"]), "record": (m.RecordSpec, top["record"]),
               "(top level)": (m.Scenario, schema)}
    missing = {name: sorted(set(model.model_fields) - set(obj.get("properties", {})))
               for name, (model, obj) in objects.items()}
    assert not any(missing.values()), missing


def test_repo_scenarios_match_the_schema():
    v = validator()
    for path in sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml")):
        assert list(v.iter_errors(yaml.safe_load(path.read_text()))) == [], path


@pytest.mark.parametrize("name", ["unknown_keys", "bad_units", "bad_runtime", "bad_steps"])
def test_bad_scenarios_fail_the_schema(name):
    assert list(validator().iter_errors(yaml.safe_load((BAD / f"{name}.yaml").read_text())))


def test_schema_describes_user_spellings():
    v = validator()
    ok = yaml.safe_load(MINIMAL)
    ok["goroutines"][0].update(repeat="forever", frame="1KiB", alloc_rate="1MB/s", park_path="none")
    ok["gc"] = {"gogc": "off", "at": ["1ms", 2]}
    assert list(v.iter_errors(ok)) == []
    ok["goroutines"][0]["program"].append({"depth": 1, "run": "1ms", "block": "1ms"})
    assert list(v.iter_errors(ok))


# --- errors --------------------------------------------------------------------------

EXPECTED = {
    "tabs": [
        "tabs.yaml:3:1: YAML syntax error: while scanning for the next token, found character '\\t' that cannot "
        "start any token; tabs are not allowed for indentation, use spaces",
    ],
    "duplicate_keys": [
        "duplicate_keys.yaml:5:5: goroutines[0].count: duplicate key 'count' (first given on line 4)",
        "duplicate_keys.yaml:8:1: seed: duplicate key 'seed' (first given on line 1)",
    ],
    "unknown_keys": [
        "unknown_keys.yaml:1:1: duraton: unknown field 'duraton'; did you mean 'duration'?",
        "unknown_keys.yaml:6:30: goroutines[0].program[0].frmae: unknown field 'frmae'; did you mean 'frame'?",
        "unknown_keys.yaml:7:5: goroutines[0].xyzzy: unknown field 'xyzzy'; expected one of: alloc_rate, arrival, "
        "count, entry_frame, frame, name, park_path, program, repeat",
    ],
    "bad_units": [
        "bad_units.yaml:1:1: duration: expected a time such as 1.5ms or 0.2 (seconds; units ns, us, ms, s, min), "
        "got '10 parsecs'",
        "bad_units.yaml:5:5: goroutines[0].frame: expected a size such as 2KiB or 2048 (bytes; units B, KB, KiB, "
        "MB, MiB, GB, GiB) that comes to whole bytes, got '1.5B'",
        "bad_units.yaml:6:5: goroutines[0].alloc_rate: expected a byte rate such as 10MiB/s or 1048576 (bytes per "
        "second), got '1MB/hour'",
        "bad_units.yaml:8:10: goroutines[0].program[0].depth: expected a non-negative integer or a distribution, "
        "got 'abc'",
        "bad_units.yaml:9:47: goroutines[0].program[1].block.mean: expected a time such as 1.5ms or 0.2 (seconds; "
        "units ns, us, ms, s, min), got 'soon'",
    ],
    "bad_runtime": [
        "bad_runtime.yaml:2:3: runtime.version: expected a modelled Go version (go1.12, go1.19, go1.27, or a point "
        "release such as go1.19.8), got 'go1.21'",
        "bad_runtime.yaml:3:3: runtime.platform: expected one of linux/amd64, linux/arm64, linux/386, "
        "windows/amd64, darwin/arm64, got 'linux/amd46'; did you mean 'linux/amd64'?",
        "bad_runtime.yaml:4:3: runtime.gomaxprocs: expected a value >= 1, got 0",
        "bad_runtime.yaml:6:5: runtime.godebug.gcshrinkstackoff: expected 0 or 1, got 2",
        "bad_runtime.yaml:7:5: runtime.godebug.asyncpreemptoff: expected one of adaptivestackstart, "
        "gcshrinkstackoff, updatemaxprocs, got 'asyncpreemptoff'",
    ],
    "bad_steps": [
        "bad_steps.yaml:4:5: goroutines[0].program: expected at least 1 entry, got none",
        "bad_steps.yaml:8:30: goroutines[1].program[0].block: a step takes exactly one of run, block, "
        "block_until, wait, spawn, wake, acquire, release; this one has run and block",
        "bad_steps.yaml:9:9: goroutines[1].program[1]: a step takes exactly one of run, block, block_until, "
        "wait, spawn, wake, acquire, release; this one has none",
        "bad_steps.yaml:10:9: goroutines[1].program[2].depth: a run step needs a depth",
        "bad_steps.yaml:11:25: goroutines[1].program[3].depth: 'depth' does not apply to a spawn step",
    ],
    "cross_fields": [
        "cross_fields.yaml:2:17: gc.at[1]: time 2s is after the end of the run (duration 1s)",
        "cross_fields.yaml:8:10: goroutines[0].program[1].spawn: no goroutine class named 'helpr'; "
        "did you mean 'helper'?",
        "cross_fields.yaml:10:15: goroutines[1].arrival.process: class 'helper' has arrival process 'spawned' "
        "but no spawn step names it",
        "cross_fields.yaml:13:5: goroutines[2].name: duplicate class name 'worker' (first used by goroutines[0])",
        "cross_fields.yaml:18:18: checkpoints[0].at: time 1.5s is after the end of the run (duration 1s)",
        "cross_fields.yaml:19:6: checkpoints[1].label: duplicate checkpoint label 'end'",
    ],
    "spawn_cycle": [
        "spawn_cycle.yaml:6:10: goroutines[0].program[1].spawn: spawn cycle a -> b -> a grows without bound: "
        "every goroutine always spawns the next; set a duration or let a count be 0",
    ],
    "comments_only": ["comments_only.yaml: the file is empty; expected a scenario mapping with 'goroutines'"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_files_report_every_problem_with_its_location(name):
    path = BAD / f"{name}.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).replace(str(BAD) + "/", "").splitlines() == EXPECTED[name]
    assert all(p.file == str(path) for p in info.value.problems)


def test_every_file_checked_here_is_in_the_bad_scenarios():
    assert set(EXPECTED) <= {p.stem for p in BAD.glob("*.yaml")}


def test_problem_fields_and_format():
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "bad_units.yaml")
    p = info.value.problems[3]
    assert (p.line, p.column, p.path) == (8, 10, "goroutines[0].program[0].depth")
    assert str(p) == f"{p.file}:8:10: goroutines[0].program[0].depth: {p.message}"
    assert str(Problem("f.yaml", None, None, "", "no such file")) == "f.yaml: no such file"


def test_file_level_errors(tmp_path):
    def message(path):
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        (problem,) = info.value.problems
        assert problem.line is None and problem.path == ""
        return problem.message

    assert message(tmp_path / "missing.yaml") == "no such file"
    assert message(tmp_path) == "is a directory, expected a scenario YAML file"
    (tmp_path / "bin.yaml").write_bytes(b"goroutines:\x00\x01")
    assert message(tmp_path / "bin.yaml") == "is a binary file (it contains NUL bytes), expected YAML text"
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert message(tmp_path / "latin1.yaml") == "is not UTF-8 text (byte 0xe9 at offset 9), expected YAML text"
    (tmp_path / "empty.yaml").write_text("")
    assert message(tmp_path / "empty.yaml").startswith("the file is empty")


@pytest.mark.parametrize("text, expected", [
    ("- 1\n- 2\n", "scen.yaml:1:1: expected a mapping of scenario fields at the top level, got a list"),
    ("a: 1\n---\nb: 2\n", "scen.yaml:2:1: YAML syntax error: expected a single document in the stream, "
                          "but found another document"),
    ("goroutines: [\n", "scen.yaml:2:1: YAML syntax error: while parsing a flow node, expected the node content, "
                        "but found '<stream end>'"),
    ('name: "a\x07"\n', "scen.yaml:1:9: YAML syntax error: character '\\x07' is not allowed in YAML"),
    ("goroutines: {}\n", "scen.yaml:1:1: goroutines: expected a list, got a mapping"),
    ("seed: 1\n", "scen.yaml:1:1: goroutines: missing required field 'goroutines'"),
    ("runtime: go1.19\n" + MINIMAL, "scen.yaml:1:1: runtime: expected a mapping, got 'go1.19'"),
])
def test_syntax_and_shape_errors(text, expected):
    assert errors_of(text)[0] == expected


@pytest.mark.parametrize("extra, expected", [
    ("runtime: {version: go1.19, version_full: go1.27.3}",
     "runtime.version_full: expected a release of go1.19 such as go1.19.1, got 'go1.27.3'"),
    ("runtime: {overrides: {starting_stack: 3KiB}}",
     "runtime.overrides.starting_stack: expected a power of two >= 2048 (stack sizes are powers of two), got 3072"),
    ("runtime: {overrides: {growth_factor: 3}}",
     "runtime.overrides.growth_factor: expected a power of two >= 2 (stack sizes are powers of two), got 3"),
    ("runtime: {overrides: {shrink_below: 1}}", "runtime.overrides.shrink_below: expected a value < 1.0, got 1"),
    ("gc: {trigger: interval}", "gc.interval: trigger 'interval' needs an interval, e.g. interval: 10ms"),
    ("gc: {interval: 1s}", "gc.interval: interval only applies to trigger 'interval', not 'manual'"),
    ("gc: {trigger: gcpercent}", "gc.trigger: expected one of manual, interval, gogc, got 'gcpercent'"),
    ("duration: 0s", "duration: expected a value > 0, got '0s'"),
    ("record: {events: [grow, shrunk]}", "record.events[1]: expected one of spawn, stackalloc, stackfree, grow, "
                                         "shrink, cache_refill, cache_release, span_alloc, span_free, gc_start, "
                                         "gc_end, exit, overflow, got 'shrunk'; did you mean 'shrink'?"),
    ("record: {events: some}", "record.events: expected one of all, got 'some'"),
    ("checkpoints: [{label: x, at: 1s, via: readmemstats}]",
     "checkpoints[0].via: expected one of memstats, metrics, got 'readmemstats'; did you mean 'memstats'?"),
])
def test_field_errors(extra, expected):
    (line,) = errors_of(MINIMAL + extra + "\n")
    assert line.split(": ", 1)[1] == expected


@pytest.mark.parametrize("cls, expected", [
    ("{name: w, program: [{depth: 1, run: 1ms}]}", "goroutines[1].count: a burst needs a count"),
    ("{name: w, arrival: {process: poisson}, count: 3, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].arrival.rate: process 'poisson' needs 'rate'"),
    ("{name: w, arrival: {process: uniform, every: 1ms}, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].count: process 'uniform' needs a count or arrival.until"),
    ("{name: w, arrival: {process: poisson, rate: 5/s, at: 1s}, count: 3, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].arrival.at: 'at' only applies to process 'burst', not 'poisson'"),
    ("{name: w, arrival: {process: trace, times: [1]}, count: 1, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].count: count does not apply to arrival process 'trace' (one goroutine per trace time)"),
    ("{name: w, count: 1, arrival: {start: 2s, until: 1s}, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].arrival.until: until (1s) must be after start (2s)"),
    ("{name: 9w, count: 1, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].name: expected a name of letters, digits, '_', '.', '-' (not starting with a digit), got '9w'"),
    ("{name: w, count: 3, program: [{depth: {dist: sequence, values: [1, 2]}, run: 1ms}]}",
     "goroutines[1].program[0].depth: sequence has 2 values but the class starts 3 goroutines"),
    ("{name: w, count: 1, repeat: forever, program: [{depth: 1, run: 0s}, {depth: 2, block_until: 1s}]}",
     "goroutines[1].repeat: repeat: forever with a program that always takes 0s would loop forever at one "
     "instant; give a run or block step a positive time"),
    ("{name: w, count: 1, repeat: 0, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].repeat: expected a value >= 1, got 0"),
    ("{name: w, count: 1, park_path: auto-ish, program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].park_path: expected one of auto, none, got 'auto-ish'; did you mean 'auto'?"),
    ("{name: w, count: 1, park_path: [{frame: 8, nosplit: maybe}], program: [{depth: 1, run: 1ms}]}",
     "goroutines[1].park_path[0].nosplit: expected true or false, got 'maybe'"),
    ("{name: w, count: 1, program: [{depth: 1, run: 1ms, park_frames: [8]}]}",
     "goroutines[1].program[0].park_frames: park_frames only apply to block and block_until steps"),
    ("{name: w, count: 1, program: [{depth: 1, run: 1ms, count: 2}]}",
     "goroutines[1].program[0].count: 'count' only applies to spawn steps"),
    ("{name: w, count: 1, program: [{depth: 1, block: sometime}]}",
     "goroutines[1].program[0].block: expected a time such as 1.5ms or 0.2 (seconds; units ns, us, ms, s, min) "
     "or a distribution, got 'sometime'"),
])
def test_class_errors(cls, expected):
    (line,) = errors_of(MINIMAL + "  - " + cls + "\n")
    assert line.split(": ", 1)[1] == expected
    assert line.startswith("scen.yaml:6:")


def test_spawn_cycle_with_a_duration_must_take_time():
    text = textwrap.dedent("""\
        duration: 1s
        goroutines:
          - name: a
            count: 1
            program: [{spawn: a}, {depth: 1, run: 1ms}]
        """)
    assert errors_of(text) == ["scen.yaml:5:16: goroutines[0].program[0].spawn: spawn cycle a -> a spawns forever "
                               "without simulated time passing; add a run or block step before the spawn"]
    ok = text.replace("[{spawn: a}, {depth: 1, run: 1ms}]", "[{depth: 1, run: 1ms}, {spawn: a}]")
    assert parse_scenario(ok).duration == 1.0
    maybe = text.replace("{spawn: a}", "{spawn: a, count: {dist: uniform, low: 0, high: 2}}")
    assert parse_scenario(maybe.replace("duration: 1s\n", "")).duration is None  # may die out


def test_dict_input_has_no_line_numbers():
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"goroutines": [{"name": "w", "count": "many", "program": [{"depth": 1, "run": 1}]}]})
    assert str(info.value) == "<dict>: goroutines[0].count: expected an integer, got 'many'"
    with pytest.raises(ScenarioError, match="top level, got a list"):
        scenario_from_dict([1, 2])


def test_mangled_files_only_ever_raise_scenario_error():
    rng = random.Random(1)
    for _ in range(300):
        chars = list(FULL)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            op = rng.choice(["del", "dup", "swap", "junk"])
            if op == "del":
                del chars[i]
            elif op == "dup":
                chars.insert(i, chars[i])
            elif op == "swap" and i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            else:
                chars.insert(i, rng.choice(":-[]{}\t&*!|>'\"#%@`, 0x"))
        try:
            parse_scenario("".join(chars))
        except ScenarioError as e:
            assert e.problems and all(isinstance(p, Problem) for p in e.problems)


def test_main_stack_and_threads_at_start_are_runtime_fields():
    sc = parse_scenario("runtime: {main_stack: 8KiB, threads_at_start: 4}\n" + MINIMAL)
    assert (sc.runtime.main_stack, sc.runtime.threads_at_start) == (8192, 4)
    assert parse_scenario(MINIMAL).runtime.main_stack is None  # the profile's
    assert sc.to_yaml_dict()["runtime"]["main_stack"] == 8192
    errs = errors_of("runtime:\n  main_stack: 12KiB\n  threads_at_start: 0\n" + MINIMAL)
    assert any(":2:3: runtime.main_stack: expected a power of two >= 2048" in e for e in errs), errs
    assert any(":3:3: runtime.threads_at_start: expected a value >= 1, got 0" in e for e in errs), errs


def test_block_until_takes_a_distribution():
    sc = parse_scenario(MINIMAL.replace("{depth: 4, run: 1ms}",
                                        "{depth: 4, block_until: {dist: uniform, low: 1ms, high: 5ms}}"))
    d = sc.goroutines[0].program[0].until
    assert (d.low, d.high) == (0.001, 0.005)
    assert parse_scenario(MINIMAL.replace("run: 1ms", "block_until: 2ms")).goroutines[0].program[0].until.is_constant
    errs = errors_of(MINIMAL.replace("{depth: 4, run: 1ms}",
                                     "{depth: 4, block_until: {dist: sequence, values: [1ms, 2ms]}}"))
    assert any("block_until: sequence has 2 values but the class starts 10 goroutines" in e for e in errs), errs


def test_an_error_does_not_echo_a_long_list_whole():
    values = ", ".join(str(i) for i in range(10_000))
    errs = errors_of(MINIMAL.replace("run: 1ms", f"block_until: [{values}]"))
    assert len(errs) == 1 and len(errs[0]) < 300, errs[0][:400]
    assert "got [0, 1, 2, 3, 4, 5, ...] (10,000 values)" in errs[0]


def test_wake_steps_name_a_gate_and_take_no_depth():
    text = ("gates: [{name: baton, wake_at: [1ms]}]\n" + MINIMAL.replace("{depth: 4, run: 1ms}",
            "{depth: 0, wait: baton}\n      - {wake: baton}"))
    sc = parse_scenario(text)
    assert sc.goroutines[0].program[1].kind == "wake" and sc.gates[0].wake_at == [0.001]
    errs = errors_of(text.replace("{wake: baton}", "{wake: batton, depth: 2}"))
    assert any("program[1].depth: 'depth' does not apply to a wake step" in e for e in errs), errs
    errs = errors_of(text.replace("{wake: baton}", "{wake: batton}"))
    assert any("program[1].wake: no gate named 'batton'; did you mean 'baton'?" in e for e in errs), errs


def test_a_burst_repeated():
    text = MINIMAL.replace("    count: 10\n", "    count: 10\n    arrival: {process: burst, at: 1ms, every: 5ms, bursts: 3}\n")
    arr = parse_scenario(text).goroutines[0].arrival
    assert (arr.at, arr.every, arr.bursts) == (0.001, 0.005, 3)
    errs = errors_of(text.replace(", every: 5ms", ""))
    assert any("arrival.every: 3 bursts need 'every'" in e for e in errs), errs
    errs = errors_of(text.replace("process: burst, at: 1ms", "process: uniform"))
    assert any("arrival.bursts: 'bursts' only applies to process 'burst'" in e for e in errs), errs
    errs = errors_of(text.replace("{depth: 4, run: 1ms}", "{depth: {dist: sequence, values: [1, 2]}, run: 1ms}"))
    assert any("sequence has 2 values but the class starts 30 goroutines" in e for e in errs), errs


def test_semaphores_acquire_and_release():
    text = ("semaphores: [{name: slots, tokens: 2}]\n" + MINIMAL.replace("{depth: 4, run: 1ms}",
            "{depth: 1, acquire: slots}\n      - {depth: 4, run: 1ms}\n      - {release: slots}"))
    sc = parse_scenario(text)
    assert [st.kind for st in sc.goroutines[0].program] == ["acquire", "run", "release"]
    assert sc.semaphores[0].tokens == 2
    errs = errors_of(text.replace("{release: slots}", "{release: slot, depth: 1}"))
    assert any("program[2].depth: 'depth' does not apply to a release step" in e for e in errs), errs
    errs = errors_of(text.replace("{release: slots}", "{release: slot}"))
    assert any("program[2].release: no semaphore named 'slot'; did you mean 'slots'?" in e for e in errs), errs
    errs = errors_of(text.replace("tokens: 2", "tokens: 0"))
    assert any("semaphores[0].tokens: expected a value >= 1, got 0" in e for e in errs), errs
