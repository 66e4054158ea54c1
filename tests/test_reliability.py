"""Reliability: bad input is refused cleanly, runaway scenarios end cleanly, exit statuses.

* ``tests/bad_scenarios/``: one broken scenario per file (plus a directory and a missing
  file).  Each gives exit status 2, exactly the expected message (file, line, column,
  field path, what was expected), no traceback, and no output directory.
* Runaway scenarios: unbounded recursion is the runtime's fatal ``stack overflow``
  (recorded with goroutine and depth, the run ends there, exit status 0); a scenario that
  creates too many goroutines or events stops at ``--max-goroutines``/``--max-events``
  (exit status 3) keeping the frames recorded so far.
* An invariant violation is an internal error (exit status 1, no output).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

import simstack
from simstack.api import BYTES_PER_EVENT, BYTES_PER_GOROUTINE, default_limits, memory_budget
from simstack.cli import main
from simstack.errors import ScenarioError
from simstack.scenario import parse_scenario
from simstack.scenario.loader import read_yaml
from conftest import run_cli
from test_scenario_loader import EXPECTED as LOADER_EXPECTED

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "bad_scenarios"
CORPUS = sorted(p.name for p in BAD.iterdir())
MISSING = "missing.yaml"  # not in the corpus, by definition
LIMIT = f"simstack run stops at {default_limits(streaming=True)['max_goroutines']:,} goroutines (--max-goroutines: raise it, or 0 for no limit)"
DEEP_PATH = "[0]" * 63

# stderr of `simstack run FILE`: one line per problem, each after the file name
EXPECTED = {
    'alias_bomb.yaml': [
        ':7:7: lol6: aliases expand this value to more than 250,000 values; a scenario file may hold at most 250,000 after expanding aliases',
    ],
    'alias_nesting_too_deep.yaml': [
        ':3:47: outer' + "[0]" * 40 + ': aliases nest this value more than 64 levels deep; a scenario file may nest at most 64 levels',
    ],
    'count_past_limit.yaml': [
        f":4:5: goroutines[0].count: class 'w' starts 1,000,000,000 goroutines; {LIMIT}",
    ],
    'lognormal_mean_and_median.yaml': [
        ":6:10: goroutines[0].program[0].depth: lognormal takes one of mu (the mean of ln(x); 'mean' is the same, numpy's name) or median (e^mu, in the field's unit), got mean and median",
    ],
    'gc_follow_unknown_gate.yaml': [
        ":3:26: gc.follow[0]: no gate named 'dne'; did you mean 'done'?; declare it under gates",
    ],
    'join_on_a_run_step.yaml': [
        ":7:30: goroutines[0].program[0].join: 'join' does not apply to a run step, only to spawn steps",
    ],
    'sparse_sequence_mismatch.yaml': [
        ':7:10: goroutines[0].program[0].depth: at has 1 ordinals for 2 values: expected one each',
    ],
    'lognormal_median_zero.yaml': [
        ':5:10: goroutines[0].program[0].depth: lognormal needs median > 0, got 0.0',
    ],
    'mark_durations_past_at.yaml': [
        ':2:18: gc.mark_durations: one mark phase per cycle in at: expected at most 1 value(s), got 2',
    ],
    'merge_key_bomb.yaml': [
        ':16:6: m14: aliases expand the document to more than 250,000 values by here; a scenario file may hold at most 250,000 after expanding aliases',
    ],
    'nested_too_deep.yaml': [
        f':2:76: goroutines{DEEP_PATH}: nested more than 64 levels deep; a scenario file may nest at most 64 levels',
    ],
    'poisson_past_limit.yaml': [
        f":5:5: goroutines[0].arrival: class 'req' starts about 100,000,000 goroutines; {LIMIT}",
    ],
    'bad_unit_rate.yaml': [
        ":5:33: goroutines[0].arrival.rate: expected a rate such as 1000/s or 50/ms (a bare number is per second), got '5/fortnight'",
    ],
    'bad_unit_size.yaml': [
        ":5:5: goroutines[0].frame: expected a size such as 2KiB or 2048 (bytes; units B, KB, KiB, MB, MiB, GB, GiB), got '2 KiBs'",
    ],
    'bad_unit_time.yaml': [
        ":6:20: goroutines[0].program[0].run: expected a time such as 1.5ms or 0.2 (seconds; units ns, us, ms, s, min) or a distribution, got '5 sec'",
    ],
    'binary.yaml': [
        ': is a binary file (it contains NUL bytes), expected YAML text',
    ],
    'checkpoint_after_duration.yaml': [
        ':9:19: checkpoints[0].at: time 1s is after the end of the run (duration 0.1s)',
    ],
    'comments_only.yaml': [
        ": the file is empty; expected a scenario mapping with 'goroutines'",
    ],
    'depth_draws_too_large.yaml': [
        ':6:10: goroutines[0].program[0].depth: expected integer draws below 2^53 (9007199254740992); this normal distribution can draw 2.2e+300',
    ],
    'directory.yaml': [
        ': is a directory, expected a scenario YAML file',
    ],
    'duplicate_class_names.yaml': [
        ":7:5: goroutines[1].name: duplicate class name 'worker' (first used by goroutines[0])",
    ],
    'duplicate_step_key.yaml': [
        ":6:30: goroutines[0].program[0].depth: duplicate key 'depth' (first given on line 6)",
    ],
    'duplicate_top_key.yaml': [
        ":8:1: duration: duplicate key 'duration' (first given on line 2)",
    ],
    'empty.yaml': [
        ": the file is empty; expected a scenario mapping with 'goroutines'",
    ],
    'empty_goroutines.yaml': [
        ':3:1: goroutines: expected at least 1 entry, got none',
    ],
    'empty_program.yaml': [
        ':5:5: goroutines[0].program: expected at least 1 entry, got none',
    ],
    'forever_without_duration.yaml': [
        ":5:5: goroutines[0].repeat: class 'server' repeats forever and the scenario has no duration, so the run would never end; set a duration, or give the program a 'block: forever' or 'wait' step",
    ],
    'fractional_bytes.yaml': [
        ":5:5: goroutines[0].frame: expected a size such as 2KiB or 2048 (bytes; units B, KB, KiB, MB, MiB, GB, GiB) that comes to whole bytes, got '1.0001KiB'",
    ],
    'gc_after_duration.yaml': [
        ':3:17: gc.at[1]: time 0.15s is after the end of the run (duration 0.1s)',
    ],
    'gomaxprocs_too_large.yaml': [
        ':3:3: runtime.gomaxprocs: expected a value <= 1024, got 100000',
    ],
    'latin1.yaml': [
        ': is not UTF-8 text (byte 0xe9 at offset 5), expected YAML text',
    ],
    'missing_number.yaml': [
        ":3:3: runtime.max_stack: expected a size such as 2KiB or 2048 (bytes; units B, KB, KiB, MB, MiB, GB, GiB), got 'KiB'",
    ],
    'missing_program.yaml': [
        ":3:5: goroutines[0].program: missing required field 'program'",
    ],
    'missing_rate_unit.yaml': [
        ":5:33: goroutines[0].arrival.rate: expected a rate such as 1000/s or 50/ms (a bare number is per second), got '100/'",
    ],
    'negative_count.yaml': [
        ':4:5: goroutines[0].count: expected a value >= 0, got -4',
    ],
    'negative_depth.yaml': [
        ':6:10: goroutines[0].program[0].depth: expected a non-negative integer or a distribution, got -3',
    ],
    'negative_frame.yaml': [
        ':5:5: goroutines[0].frame: expected a size such as 2KiB or 2048 (bytes; units B, KB, KiB, MB, MiB, GB, GiB), got -64',
    ],
    'negative_time.yaml': [
        ":3:8: gc.at[0]: expected a time such as 1.5ms or 0.2 (seconds; units ns, us, ms, s, min), got '-1s'",
    ],
    'recursive_alias.yaml': [
        ':2:13: goroutines[0]: recursive YAML alias',
    ],
    'size_too_large.yaml': [
        ":3:3: runtime.max_stack: expected a size of at most 2^48 bytes (256 TiB, a 48-bit address space), got '1e30'",
    ],
    'spawn_cycle_unbounded.yaml': [
        ':7:10: goroutines[0].program[1].spawn: spawn cycle a -> b -> a grows without bound: every goroutine always spawns the next; set a duration or let a count be 0',
    ],
    'spawn_cycle_zero_time.yaml': [
        ':7:10: goroutines[0].program[0].spawn: spawn cycle a -> b -> a spawns forever without simulated time passing; add a run or block step before the spawn',
    ],
    'spawn_unknown_class.yaml': [
        ":7:10: goroutines[0].program[1].spawn: no goroutine class named 'helpr'; did you mean 'helper'?",
        ":9:15: goroutines[1].arrival.process: class 'helper' has arrival process 'spawned' but no spawn step names it",
    ],
    'stack_cache_not_pages.yaml': [
        ':3:15: runtime.overrides.stack_cache_size: expected a multiple of 8KiB (8192 bytes, the page size: stack spans are whole pages) of at most 16MiB, got 12345',
    ],
    'starting_stack_not_power_of_two.yaml': [
        ':3:15: runtime.overrides.starting_stack: expected a power of two >= 2048 (stack sizes are powers of two), got 3072',
    ],
    'tabs_in_program.yaml': [
        ":6:1: YAML syntax error: while scanning for the next token, found character '\\t' that cannot start any token; tabs are not allowed for indentation, use spaces",
    ],
    'tabs_indent.yaml': [
        ":3:1: YAML syntax error: while scanning for the next token, found character '\\t' that cannot start any token; tabs are not allowed for indentation, use spaces",
    ],
    'too_few_stack_orders.yaml': [
        ':3:15: runtime.overrides.num_stack_orders: expected at least 2 stack orders on go1.27/linux/amd64 with 2048-byte fixed stacks: pool stacks must reach the 8 KiB page, since larger stacks are whole pages; got 1',
    ],
    'too_many_gc_cycles.yaml': [
        ':3:25: gc.interval: expected at most 1,000,000 GC cycles in the run: every 1e-09s for 3600s gives 3,600,000,000,000',
    ],
    'too_many_samples.yaml': [
        ':3:10: record.sample_every: expected at most 1,000,000 footprint rows in the run: every 1e-09s for 10s gives 10,000,000,000',
    ],
    'top_level_list.yaml': [
        ':2:1: expected a mapping of scenario fields at the top level, got a list',
    ],
    'uniform_low_above_high.yaml': [
        ':6:10: goroutines[0].program[0].depth: uniform needs low <= high, got low=10.0 high=2.0',
    ],
    'unknown_class_key.yaml': [
        ":3:5: goroutines[0].program: missing required field 'program'",
        ":5:5: goroutines[0].programm: unknown field 'programm'; did you mean 'program'?",
    ],
    'unknown_distribution.yaml': [
        ":6:20: goroutines[0].program[0].run: unknown distribution 'exponental'; did you mean 'exponential'?",
    ],
    'unknown_gc_key.yaml': [
        ":3:3: gc.triger: unknown field 'triger'; did you mean 'trigger'?",
    ],
    'unknown_godebug.yaml': [
        ":3:13: runtime.godebug.asyncpreemptoff: expected one of adaptivestackstart, gcshrinkstackoff, updatemaxprocs, got 'asyncpreemptoff'",
    ],
    'unknown_platform.yaml': [
        ":3:3: runtime.platform: expected one of linux/amd64, linux/arm64, linux/386, windows/amd64, darwin/arm64, got 'plan9/amd64'; did you mean 'linux/amd64'?",
    ],
    'unknown_runtime_key.yaml': [
        ":3:3: runtime.gomaxproc: unknown field 'gomaxproc'; did you mean 'gomaxprocs'?",
    ],
    'unknown_step_key.yaml': [
        ":6:10: goroutines[0].program[0].deph: unknown field 'deph'; did you mean 'depth'?",
    ],
    'unknown_top_key.yaml': [
        ":2:1: goroutines: missing required field 'goroutines'",
        ":2:1: goroutine: unknown field 'goroutine'; did you mean 'goroutines'?",
    ],
    'unknown_version.yaml': [
        ":3:3: runtime.version: expected a modelled Go version (go1.12, go1.19, go1.27, or a point release such as go1.19.8), got 'go1.21'",
    ],
    'unreadable_tagged_value.yaml': [
        ":4:12: goroutines[0].count: expected a value its tag !!int can read, got '4B'",
    ],
    'version_as_number.yaml': [
        ':3:3: runtime.version: expected a modelled Go version (go1.12, go1.19, go1.27, or a point release such as go1.19.8), got 1.19',
    ],
    'wait_for_past_open_at.yaml': [
        ':3:32: gates[0].wait_for: one count per opening in open_at: expected at most 1 value(s), got 2',
    ],
    'wait_unknown_gate.yaml': [
        ":7:20: goroutines[0].program[0].wait: no gate named 'strat'; did you mean 'start'?; declare it under gates",
    ],
    'wrong_type_bool.yaml': [
        ":3:3: record.goroutine_table: expected true or false, got 'yes'",
    ],
    'wrong_type_count.yaml': [
        ":4:5: goroutines[0].count: expected an integer, got 'many'",
    ],
    'wrong_type_goroutines.yaml': [
        ":2:1: goroutines: expected a list, got 'all of them'",
    ],
    'wrong_type_program.yaml': [
        ':5:5: goroutines[0].program: expected a list, got a mapping',
    ],
    'wrong_type_seed.yaml': [
        ':2:1: seed: expected an integer, got 1.5',
    ],
    'yaml_bad_indent.yaml': [
        ':4:12: YAML syntax error: mapping values are not allowed here',
    ],
    'yaml_two_documents.yaml': [
        ':7:1: YAML syntax error: expected a single document in the stream, but found another document',
    ],
    'yaml_unclosed_flow.yaml': [
        ":4:1: YAML syntax error: while parsing a flow sequence, expected ',' or ']', but got '<stream end>'",
    ],
    'yaml_unclosed_quote.yaml': [
        ':8:1: YAML syntax error: while scanning a quoted scalar, found unexpected end of stream',
    ],
    'zero_duration.yaml': [
        ":2:1: duration: expected a value > 0, got '0s'",
    ],
    'zero_gomaxprocs.yaml': [
        ':3:3: runtime.gomaxprocs: expected a value >= 1, got 0',
    ],
    'zero_max_stack.yaml': [
        ':3:3: runtime.max_stack: expected a value > 0, got 0',
    ],
    'zero_repeat.yaml': [
        ':5:5: goroutines[0].repeat: expected a value >= 1, got 0',
    ],
}
# the files test_scenario_loader.py checks problem by problem (through load_scenario): the same lines
EXPECTED.update({f"{name}.yaml": [line[len(name) + 5:] for line in lines]
                 for name, lines in LOADER_EXPECTED.items()})

EXPECTED[MISSING] = [": no such file"]
FILE_LEVEL = {"binary.yaml", "latin1.yaml", "directory.yaml", "empty.yaml", "comments_only.yaml", MISSING}


def _sim(*args, cwd=BAD):
    return run_cli(*args, cwd=cwd)


def _no_output(d: Path) -> None:
    assert not (d / "out").exists()
    assert not list(d.glob(".out*")), "a temporary output directory was left behind"


def test_the_corpus_is_large_and_fully_covered():
    assert len(CORPUS) >= 40
    assert set(CORPUS) | {MISSING} == set(EXPECTED)


@pytest.mark.parametrize("name", CORPUS + [MISSING])
def test_bad_scenario_is_refused_with_exit_2_and_a_located_message(name, tmp_path, monkeypatch):
    monkeypatch.chdir(BAD)
    r = CliRunner().invoke(main, ["run", name, "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert r.exit_code == 2
    assert r.output.splitlines() == [name + line for line in EXPECTED[name]]
    _no_output(tmp_path)


# one file of each kind, run as real processes (the in-process test above covers every file)
IN_PROCESSES = ["yaml_unclosed_flow.yaml", "tabs_indent.yaml", "duplicate_top_key.yaml", "unknown_step_key.yaml",
                "wrong_type_program.yaml", "bad_unit_time.yaml", "negative_count.yaml", "size_too_large.yaml",
                "unknown_version.yaml", "spawn_cycle_unbounded.yaml", "empty.yaml", "binary.yaml",
                "directory.yaml", "alias_bomb.yaml", "merge_key_bomb.yaml", "count_past_limit.yaml", MISSING]


def test_bad_scenarios_in_real_processes_exit_2_without_traceback(tmp_path):
    names = IN_PROCESSES
    for name in names:
        (tmp_path / name).mkdir()

    def one(name):
        return name, _sim("run", name, "-o", tmp_path / name / "out", "--no-charts")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, names))
    for name, r in results:
        assert r.returncode == 2, (name, r.stderr)
        assert "Traceback" not in r.stderr and r.stdout == "", name
        assert r.stderr.splitlines() == [name + line for line in EXPECTED[name]], name
        _no_output(tmp_path / name)


def test_every_problem_names_file_line_column_field_and_what_was_expected():
    """All but file-level problems (no such file, a directory, not text, empty) are located."""
    for name, lines in EXPECTED.items():
        for line in lines:
            parts = line.split(":")
            if name in FILE_LEVEL:
                assert parts[0] == "" and not parts[1].strip().isdigit(), name
                continue
            assert parts[0] == "" and parts[1].isdigit() and parts[2].isdigit(), (name, line)
            rest = line.split(": ", 1)[1]
            if rest.startswith("YAML syntax error") or rest.startswith("expected a mapping"):
                continue
            field, message = rest.split(": ", 1)
            assert field and " " not in field, (name, line)  # a field path such as goroutines[0].count
            assert any(w in message for w in ("expected", "duplicate", "unknown", "recursive", "spawn cycle",
                                              "no goroutine class", "no gate", "needs", "would never end",
                                              "after the end", "has arrival process", "missing", "at most",
                                              "--max-goroutines", "takes one of", "takes exactly one of",
                                              "does not apply")), (name, line)


def test_unknown_names_suggest_the_right_one():
    suggestions = [line for name in CORPUS if name.startswith("unknown_") for line in EXPECTED[name]
                   if "did you mean" in line]
    assert len(suggestions) >= 6


# --- bounded reading ------------------------------------------------------------------------

def _limited(*args, cwd=BAD, address_space=2 * 2**30):
    """simstack in a real process whose memory is capped: reading that is not bounded dies there."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    return run_cli(*args, cwd=cwd, preexec_fn=cap, timeout=300)


@pytest.mark.parametrize("name", ["alias_bomb.yaml", "merge_key_bomb.yaml", "alias_nesting_too_deep.yaml"])
def test_alias_bombs_are_refused_within_bounded_memory(name):
    """`simstack check` on a few hundred bytes that expand to billions of values: refused, in a process
    capped at 2 GiB of address space (unbounded, the alias bomb grew past 4 GB)."""
    r = _limited("check", name)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == "", r.stderr
    assert r.stderr.splitlines() == [name + line for line in EXPECTED[name]]


def test_a_file_over_4_mib_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("goroutines: [{name: w, count: 1, program: [{depth: 1, run: 1ms}]}]\n"
                   + ("# " + "x" * 1021 + "\n") * (4 * 1024 + 1))
    r = _limited("check", big, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"{big}: is larger than 4 MiB; a scenario file may have at most 4 MiB "
                                      "(4,194,304 bytes)"]
    with pytest.raises(ScenarioError) as e:
        parse_scenario(big.read_text(), "big.yaml")
    assert str(e.value) == "big.yaml: is larger than 4 MiB; a scenario file may have at most 4 MiB (4,194,304 bytes)"


def test_more_than_250000_values_are_refused_where_the_limit_is_crossed(tmp_path):
    doc = "goroutines: [{name: w, count: 1, program: [{depth: 1, run: 1ms}]}]\nx: [" + "1," * 250_000 + "1]\n"
    with pytest.raises(ScenarioError) as e:
        parse_scenario(doc, "many.yaml")
    # the root mapping, 'goroutines' and its 14 values, 'x' and its list come first: 17 before x[0]
    assert str(e.value) == ("many.yaml:2:499971: x[249983]: more than 250,000 values (scalars, lists, mappings); "
                            "a scenario file may hold at most 250,000")


def test_the_bounds_leave_room_for_real_scenarios():
    """Lists nested 63 deep and 250,000 values are read; aliases of ordinary size are expanded."""
    data, _, problems = read_yaml("x: " + "[" * 62 + "1" + "]" * 62 + "\n", "ok.yaml")
    inner = data["x"]
    for _ in range(62):
        inner = inner[0]
    assert not problems and inner == 1
    data, _, _ = read_yaml("x: [" + "1," * 249_996 + "1]\n", "ok.yaml")  # with the root, "x" and the list: 250,000
    assert len(data["x"]) == 249_997
    doc = ("goroutines:\n  - {name: c0, count: 1, program: [&step {depth: {dist: uniform, low: 1, high: 9}, "
           "run: 1ms}]}\n" + "".join(f"  - {{name: c{i}, count: 1, program: [*step, *step, *step]}}\n"
                                      for i in range(1, 300)))
    sc = parse_scenario(doc)
    assert len(sc.goroutines) == 300
    assert sc.goroutines[299].program[2].model_dump() == sc.goroutines[0].program[0].model_dump()


# --- runaway scenarios ---------------------------------------------------------------------

RECURSION = """
duration: 1s
runtime: {max_stack: 1MiB}
goroutines:
  - name: fine
    count: 3
    program: [{depth: 10, run: 1ms}, {depth: 1, block: forever}]
  - name: runaway
    count: 1
    arrival: {at: 2ms}
    frame: 200B
    program: [{depth: 100000000, run: 1ms}]
  - name: later
    count: 5
    arrival: {at: 10ms}
    program: [{depth: 1, run: 1ms}]
"""


def test_unbounded_recursion_is_the_runtimes_fatal_stack_overflow():
    res = simstack.run(parse_scenario(RECURSION), check_invariants=True)
    ov = res.summary["overflow"]
    ev = res.events
    runaway = res.goroutines.set_index("class").loc["runaway", "goroutine"]
    assert ov["goroutine"] == runaway and ov["limit"] == 2**20 and ov["size"] == 2**21
    assert ov["message"] == "runtime: goroutine stack exceeds 1048576-byte limit\nfatal error: stack overflow"
    # the program dies there: nothing happens after the fatal error, later goroutines never start
    assert ov["time"] == pytest.approx(0.002) and res.summary["sim_time"] == pytest.approx(0.002)
    assert list(ev.loc[ev["kind"] == "overflow", "goroutine"]) == [runaway]
    assert ev.iloc[-1]["kind"] == "overflow"
    assert "later" not in set(res.goroutines["class"])
    assert res.summary["complete"]  # the simulated program ran to its (fatal) end


def test_overflow_records_the_depth_reached():
    ov = simstack.run(parse_scenario(RECURSION)).summary["overflow"]
    step = 200 + 8  # frame + return address on linux/amd64
    # the failing call is the first whose frame does not fit in 1 MiB: about 1 MiB / 208 frames deep
    assert abs(ov["depth"] - 2**20 // step) <= 16, ov


def test_overflow_on_one_p_ends_the_run_on_every_p():
    doc = RECURSION.replace("max_stack: 1MiB}", "max_stack: 1MiB, gomaxprocs: 4}").replace(
        "    count: 1\n    arrival: {at: 2ms}", "    count: 4\n    arrival: {at: 2ms}")
    res = simstack.run(parse_scenario(doc))
    assert (res.events["kind"] == "overflow").sum() == 1  # the first fatal error kills the process
    assert res.events.iloc[-1]["kind"] == "overflow"


def test_cli_overflow_exits_0_with_the_fatal_error_and_its_results(tmp_path):
    scen = tmp_path / "rec.yaml"
    scen.write_text(RECURSION)
    r = _sim("run", scen, "-o", tmp_path / "out", "--no-charts", "-q", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "fatal error: stack overflow" in r.stderr and "(goroutine " in r.stderr and "Traceback" not in r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["complete"] and summary["overflow"]["goroutine"] > 0


EXPLOSION = """
duration: 10s
goroutines:
  - name: seed
    count: 1
    program: [{spawn: cell, count: 2}]
  - name: cell
    arrival: {process: spawned}
    program:
      - {depth: 3, run: 1ms}
      - {spawn: cell, count: 2}
"""


def test_goroutine_explosion_stops_at_the_limit_keeping_the_frames(tmp_path):
    scen = tmp_path / "boom.yaml"
    scen.write_text(EXPLOSION)
    r = _sim("run", scen, "-o", tmp_path / "out", "--max-goroutines", "5000", "-q", cwd=ROOT)
    assert r.returncode == 3, r.stderr
    assert "stopped at 5,000 goroutines: the limit is 5,000 (--max-goroutines)" in r.stderr
    assert "Traceback" not in r.stderr
    res = simstack.read_results(tmp_path / "out")
    assert not res.summary["complete"] and res.summary["stopped"]["reason"].startswith("stopped at 5,000")
    assert res.summary["headline"]["goroutines"] == 5000
    assert len(res.goroutines) == 5000 and set(res.goroutines["class"]) == {"seed", "cell"}
    assert res.footprint["time"].iloc[-1] == res.summary["stopped"]["time"] == res.summary["sim_time"]
    assert (tmp_path / "out" / "charts" / "footprint.png").is_file()


def test_event_flood_stops_at_the_event_limit(tmp_path):
    scen = tmp_path / "flood.yaml"
    scen.write_text(textwrap.dedent("""
        duration: 1000s
        goroutines:
          - name: w
            count: 1000000
            arrival: {process: uniform, every: 1ms}
            program: [{depth: 50, run: 10us}]
        """))
    r = _sim("run", scen, "-o", tmp_path / "out", "--max-events", "20000", "--no-charts", "-q", cwd=ROOT)
    assert r.returncode == 3, r.stderr
    assert "the limit is 20,000 (--max-events)" in r.stderr
    res = simstack.read_results(tmp_path / "out")
    assert not res.summary["complete"] and 20000 <= len(res.events) < 20100


def test_default_limits_fit_this_machine():
    lim = default_limits()
    assert lim["max_goroutines"] * BYTES_PER_GOROUTINE + lim["max_events"] * BYTES_PER_EVENT <= memory_budget()
    assert lim["max_goroutines"] >= 100_000 or memory_budget() < 2**30  # room for real workloads


MEASURE = '''
import json, resource, simstack
from simstack.errors import ScenarioError
from simstack.scenario import parse_scenario
from simstack.scenario.loader import read_yaml
simstack.run(parse_scenario("goroutines: [{name: w, count: 10, program: [{depth: 1, run: 0s}]}]"))  # imports, caches
sc = parse_scenario("""
goroutines:
  - name: a
    count: 150000
    program: [{depth: {dist: uniform, low: 0, high: 60}, run: 0s}, {depth: 1, block: forever}]
""")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
res = simstack.run(sc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"kib": after - before, "g": res.summary["headline"]["goroutines"], "e": len(res.events)}))
'''


def test_per_goroutine_and_per_event_costs_are_not_underestimated():
    """The default limits assume at most BYTES_PER_GOROUTINE and BYTES_PER_EVENT: measure a run's peak."""
    r = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, cwd=ROOT)
    m = json.loads(r.stdout)
    assert m["g"] == 150000 and m["kib"] * 1024 <= m["g"] * BYTES_PER_GOROUTINE + m["e"] * BYTES_PER_EVENT, m


def test_an_invariant_violation_is_an_internal_error_exit_1(tmp_path, monkeypatch):
    from simstack.runtime import invariants

    def broken(rt, *a, **kw):
        raise invariants.InvariantError("StackInuse 1 != 2 bytes of the 1 stack spans held")

    monkeypatch.setattr(invariants, "check_state", broken)
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(main, ["run", "scenarios/walkthrough.yaml", "-o", str(tmp_path / "out"),
                                  "--check-invariants"], catch_exceptions=False)
    assert r.exit_code == 1
    assert "internal error" in r.output and "StackInuse 1 != 2" in r.output
    _no_output(tmp_path)


def test_a_sequence_that_runs_out_at_run_time_is_bad_input(tmp_path):
    """The one input check only the run can make: spawned goroutines outnumber a sequence's values."""
    scen = tmp_path / "seq.yaml"
    scen.write_text(textwrap.dedent("""
        goroutines:
          - name: parent
            count: 1
            program:
              - {spawn: child, count: 5}
              - {depth: 1, run: 1ms}
          - name: child
            arrival: {process: spawned}
            program:
              - {depth: {dist: sequence, values: [10, 20, 30]}, run: 1ms}
        """))
    r = _sim("run", scen, "-o", tmp_path / "out", cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{scen}: goroutines[1].program[0].depth: sequence has 3 values")
    _no_output(tmp_path)


@pytest.mark.parametrize("what", ["gc_cycles", "classes"])
def test_long_runs_and_many_classes_record_without_overflow(what):
    if what == "gc_cycles":
        # a goroutine that blocks, so that main gets the P for each call (one that ran for the second
        # would hold it until sysmon preempts it, 10 - 20 ms at a time: about 50 cycles)
        doc = "duration: 1s\ngc: {trigger: interval, interval: 2ms}\n" \
              "goroutines: [{name: a, count: 1, program: [{depth: 1, block: 1s}]}]\n"
    else:
        doc = "goroutines:\n" + "".join(f"  - {{name: c{i}, count: 1, program: [{{depth: 1, run: 1ms}}]}}\n"
                                        for i in range(200))
    res = simstack.run(parse_scenario(doc))
    assert res.complete
    if what == "gc_cycles":
        assert res.summary["headline"]["gc_cycles"] == 499 and res.events["order"].max() == 499
    else:
        assert len(res.goroutines) == 200
