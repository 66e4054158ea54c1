"""Warnings: legal settings that are almost certainly not meant (issue #16).

``tests/warn_scenarios/`` holds one such scenario per file.  ``simstack check`` prints
exactly the expected warnings on stderr (``file:line:col: path: warning: ...``) and the
resolved scenario on stdout, exit status 0; with ``--strict`` the same lines are errors
(exit 2, nothing on stdout), and ``simstack run --strict`` writes nothing.  The example
scenarios have no warnings, so their outputs do not change.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from simstack.api import default_limits
from simstack.cli import main
from simstack.scenario import check_scenario, parse_scenario
from simstack.scenario.checks import deepest_fit, goroutine_limit_problems

ROOT = Path(__file__).resolve().parents[1]
WARN = Path(__file__).parent / "warn_scenarios"
CORPUS = sorted(p.name for p in WARN.iterdir())
LIMIT = "1000000"  # --max-goroutines for the corpus, so that messages do not depend on this machine's memory

# stderr of `simstack check --max-goroutines 1000000 FILE`, each line after the file name
EXPECTED = {
    'entry_frame_past_max_stack.yaml': [
        ":6:5: goroutines[0].entry_frame: warning: the 16,384-byte entry function alone does not fit in the 8,192-byte stack limit; the first goroutine of class 'big' ends the run with the runtime's fatal stack overflow",
    ],
    'arrivals_after_end.yaml': [
            ":3:75: runtime.gomaxprocs_changes[1].at: warning: time 1s is at or after the end of the run (duration 1s): GOMAXPROCS never becomes 4 then",
            ":7:15: goroutines[0].arrival.at: warning: time 2s is after the end of the run (duration 1s): class 'late_burst' never starts",
            ":11:45: goroutines[1].arrival.start: warning: time 1.5s is after the end of the run (duration 1s): class 'late_poisson' never starts",
            ':14:49: goroutines[2].arrival.times[2]: warning: 2 of the 4 trace times are after the end of the run (duration 1s): those goroutines never start',
            ":17:31: gates[0].open_at[1]: warning: time 5s is after the end of the run (duration 1s): gate 'go' never opens then",
        ],
    'count_at_limit.yaml': [
            ":4:5: goroutines[0].count: warning: class 'w' starts 2,000,000 goroutines; simstack run stops at 1,000,000 goroutines (--max-goroutines: raise it, or 0 for no limit)",
        ],
    'count_unreachable_poisson.yaml': [
            ':5:5: goroutines[0].count: warning: count is 1,000, but poisson arrivals at 100/s from 0s until the end of the run (1s) start about 100 (10%); the rest never start',
        ],
    'count_unreachable_uniform.yaml': [
            ':4:5: goroutines[0].count: warning: count is 50, but uniform arrivals at one every 0.01s from 0s until 0.1s start 11 (22%); the rest never start',
        ],
    'depth_constant_past_max_stack.yaml': [
            ":7:10: goroutines[0].program[0].depth: warning: depth 2,000 is deeper than 897 frames, the most that fit in the 65,536-byte stack limit with 64-byte frames; the first such goroutine ends the run with the runtime's fatal stack overflow",
        ],
    'depth_past_max_stack.yaml': [
            ":8:10: goroutines[0].program[0].depth: warning: about 15.9% of its draws are deeper than 5,037 frames, the most that fit in the 1,048,576-byte stack limit with 200-byte frames; the first such goroutine ends the run with the runtime's fatal stack overflow",
        ],
    'depth_sequence_past_max_stack.yaml': [
            ":8:9: goroutines[0].program[0].depth: warning: 2 of its 40 values are deeper than 61 frames, the most that fit in the 32,768-byte stack limit with 512-byte frames; the first such goroutine ends the run with the runtime's fatal stack overflow",
        ],
    'gomaxprocs_unreal.yaml': [
            ':2:11: runtime.gomaxprocs: warning: GOMAXPROCS 1000 is far above the CPUs of all but the largest machines (more than 256); every P has its own stack cache and run queue, so this shapes the result; give the CPU count of the machine meant',
        ],
    'lognormal_mean_as_median.yaml': [
            ":6:10: goroutines[0].program[0].depth: warning: lognormal's mean is numpy's, the mean of ln(x), not of x: mean: 20 draws values around e^20 = 4.85e+08 frames, far deeper than 7,456,527 frames, the most that fit in the 1,000,000,000-byte stack limit with 64-byte frames; for values around 20 write median: 20 (mu: 20 is the same as mean: 20)",
        ],
    'lognormal_spawn_count.yaml': [
            ":6:24: goroutines[0].program[0].count: warning: lognormal's mean is numpy's, the mean of ln(x), not of x: mean: 16 draws values around e^16 = 8.89e+06 goroutines, more than the run may create (1,000,000, --max-goroutines); for values around 16 write median: 16 (mu: 16 is the same as mean: 16)",
        ],
    'lognormal_time_mean.yaml': [
            ":7:20: goroutines[0].program[0].run: warning: lognormal's mean is numpy's, the mean of ln(x), not of x: mean: 2 draws values around e^2 = 7.39 s, longer than the whole run (1 s); for values around 2 write median: 2 (mu: 2 is the same as mean: 2)",
        ],
}


def _check(*args, cwd=WARN):
    return CliRunner().invoke(main, ["check", *map(str, args)], catch_exceptions=False)


def test_the_corpus_is_fully_covered():
    assert set(CORPUS) == set(EXPECTED) and len(CORPUS) >= 10


@pytest.mark.parametrize("name", CORPUS)
def test_check_prints_each_warning_located_and_exits_0(name, monkeypatch):
    monkeypatch.chdir(WARN)
    r = _check(name, "--max-goroutines", LIMIT)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == [name + line for line in EXPECTED[name]]
    assert yaml.safe_load(r.stdout)["goroutines"]  # the resolved scenario, as without warnings


@pytest.mark.parametrize("name", CORPUS)
def test_strict_check_makes_them_errors(name, monkeypatch):
    monkeypatch.chdir(WARN)
    r = _check(name, "--max-goroutines", LIMIT, "--strict")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [name + _as_error(line) for line in EXPECTED[name]]


def _as_error(line: str, strict: bool = True) -> str:
    return line.replace(" warning: ", " ", 1) + (" [--strict]" if strict else "")


@pytest.mark.parametrize("name", CORPUS)
def test_strict_run_refuses_and_writes_nothing(name, tmp_path, monkeypatch):
    """Under --strict `run` refuses as `check --strict` does; a class past the goroutine limit is
    an error for `run` with or without --strict."""
    monkeypatch.chdir(WARN)
    r = CliRunner().invoke(main, ["run", name, "-o", str(tmp_path / "out"), "--max-goroutines", LIMIT, "--strict"],
                           catch_exceptions=False)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [name + _as_error(line, strict="(--max-goroutines:" not in line)
                                     for line in EXPECTED[name]]
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_every_warning_names_file_line_column_and_field():
    for name, lines in EXPECTED.items():
        for line in lines:
            where, field, rest = line.split(": ", 2)
            _, row, col = where.split(":")
            assert row.isdigit() and col.isdigit() and field and " " not in field, (name, line)
            assert rest.startswith("warning: "), (name, line)


def test_run_prints_the_warnings_then_runs(tmp_path):
    """Without --strict a warning does not stop the run (a real process: stderr, exit 0, results)."""
    name = "count_unreachable_poisson.yaml"
    r = subprocess.run([sys.executable, "-m", "simstack.cli", "run", name, "-o", str(tmp_path / "out"), "-q",
                        "--no-charts"], capture_output=True, text=True, cwd=WARN)
    assert r.returncode == 0 and r.stderr.splitlines() == [name + line for line in EXPECTED[name]]
    assert (tmp_path / "out" / "summary.json").is_file()


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml")))
def test_the_examples_have_no_warnings(example, monkeypatch):
    monkeypatch.chdir(ROOT / "scenarios")
    r = _check(example, "--strict")
    assert r.exit_code == 0 and r.stderr == ""


# --- the goroutine limit -------------------------------------------------------------------

def test_check_warns_at_runs_default_limit_and_run_refuses_there(tmp_path, monkeypatch):
    """`check` without --max-goroutines uses the limit `run` uses by default (simstack.api.default_limits)."""
    monkeypatch.chdir(ROOT / "tests" / "bad_scenarios")
    limit = default_limits(streaming=True)["max_goroutines"]
    expected = (f"count_past_limit.yaml:4:5: goroutines[0].count: warning: class 'w' starts 1,000,000,000 "
                f"goroutines; simstack run stops at {limit:,} goroutines (--max-goroutines: raise it, or 0 for no "
                "limit)")
    r = _check("count_past_limit.yaml")
    assert r.exit_code == 0 and r.stderr.splitlines() == [expected]
    r = CliRunner().invoke(main, ["run", "count_past_limit.yaml", "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and r.stderr.splitlines() == [expected.replace(" warning: ", " ")]
    assert not (tmp_path / "out").exists()


SMALL = """
goroutines:
  - name: w
    count: 3000
    program: [{depth: 1, run: 1ms}]
  - name: v
    count: 2000
    program: [{depth: 1, run: 1ms}]
"""


def test_run_refuses_what_would_stop_at_the_limit_and_runs_below_it(tmp_path):
    """The run stops when it has created --max-goroutines goroutines: 5,000 are refused at 5,000 (all
    classes together), run at 5,001; 0 lifts the limit."""
    scen = tmp_path / "small.yaml"
    scen.write_text(SMALL)
    r = CliRunner().invoke(main, ["run", str(scen), "-o", str(tmp_path / "a"), "--max-goroutines", "5000", "-q"])
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"{scen}:2:1: goroutines: the classes start 5,000 goroutines in all; simstack "
                                     "run stops at 5,000 goroutines (--max-goroutines: raise it, or 0 for no limit)"]
    for flag in ("5001", "0"):
        out = tmp_path / f"ok{flag}"
        r = CliRunner().invoke(main, ["run", str(scen), "-o", str(out), "--max-goroutines", flag, "-q", "--no-charts"])
        assert r.exit_code == 0 and r.stderr == ""
    assert goroutine_limit_problems(parse_scenario(SMALL), None) == []


def test_expected_counts_follow_the_arrival_process():
    sc = parse_scenario("""
duration: 10s
goroutines:
  - {name: p, arrival: {process: poisson, rate: 1000/s, until: 5s}, program: [{depth: 1, run: 1ms}]}
  - {name: q, count: 100, arrival: {process: poisson, rate: 1000/s}, program: [{depth: 1, run: 1ms}]}
  - {name: u, arrival: {process: uniform, every: 1ms, start: 1s, until: 2s}, program: [{depth: 1, run: 1ms}]}
  - {name: t, arrival: {process: trace, times: [1, 2, 11]}, program: [{depth: 1, run: 1ms}]}
""")
    lines = [str(p) for p in goroutine_limit_problems(sc, 1000)]
    tail = "simstack run stops at 1,000 goroutines (--max-goroutines: raise it, or 0 for no limit)"
    assert lines == [f"<scenario>:4:15: goroutines[0].arrival: class 'p' starts about 5,000 goroutines; {tail}",
                     f"<scenario>:6:15: goroutines[2].arrival: class 'u' starts 1,001 goroutines; {tail}"]


# --- lognormal: mu and median ------------------------------------------------------------

def _depth(spec: str):
    return parse_scenario(f"goroutines: [{{name: w, count: 1, program: [{{depth: {spec}, run: 1ms}}]}}]") \
        .goroutines[0].program[0].depth


def test_mu_is_mean_and_median_is_e_to_the_mu():
    by_mean, by_mu = _depth("{dist: lognormal, mean: 3, sigma: 0.8}"), _depth("{dist: lognormal, mu: 3, sigma: 0.8}")
    by_median = _depth(f"{{dist: lognormal, median: {float(np.exp(3))!r}, sigma: 0.8}}")
    draws = [d.sample_many(np.random.default_rng(7), 1000) for d in (by_mean, by_mu, by_median)]
    assert np.array_equal(draws[0], draws[1]) and np.allclose(draws[0], draws[2], rtol=1e-12)
    assert by_mu.mean() == by_mean.mean() == pytest.approx(np.exp(3 + 0.8**2 / 2))


def test_median_is_in_the_fields_unit_and_written_back_as_given():
    sc = parse_scenario("goroutines: [{name: w, count: 1, program: [{depth: {dist: lognormal, median: 20, "
                        "sigma: 0.8}, run: {dist: lognormal, median: 2ms, sigma: 0.5}}]}]")
    step = sc.goroutines[0].program[0]
    assert step.run.median == 0.002 and step.run.log_mean == pytest.approx(np.log(0.002))
    assert np.median(step.depth.sample_many(np.random.default_rng(0), 100_000)) == pytest.approx(20, rel=0.02)
    written = sc.to_yaml_dict()["goroutines"][0]["program"][0]
    assert written["depth"] == {"dist": "lognormal", "median": 20.0, "sigma": 0.8}
    assert parse_scenario(yaml.safe_dump(sc.to_yaml_dict())) == sc


def test_the_issues_lognormal_written_with_median_has_no_warning():
    doc = (WARN / "lognormal_mean_as_median.yaml").read_text().replace("mean: 20", "median: 20")
    assert check_scenario(parse_scenario(doc)) == []


def test_the_depth_limit_is_the_models_own():
    """deepest_fit is where the engine's run dies: one frame deeper overflows, that depth does not."""
    import simstack

    doc = ("runtime: {max_stack: 1MiB, version: %s}\n"
           "goroutines: [{name: r, count: 1, frame: 200B, program: [{depth: %d, run: 1ms}]}]\n")
    for version in ("go1.12", "go1.19", "go1.27"):
        deepest, limit = deepest_fit(parse_scenario(doc % (version, 1)).runtime, 32, 200)
        assert limit == 2**20 and abs(deepest - 2**20 // 208) < 16
        assert "overflow" not in simstack.run(parse_scenario(doc % (version, deepest))).summary
        assert simstack.run(parse_scenario(doc % (version, deepest + 1))).summary["overflow"]["depth"] == deepest + 1


def test_the_json_schema_takes_exactly_one_of_mean_mu_median():
    jsonschema = pytest.importorskip("jsonschema")
    from simstack.scenario import scenario_json_schema

    validator = jsonschema.Draft202012Validator(scenario_json_schema())

    def doc(dist):
        return {"goroutines": [{"name": "w", "count": 1, "program": [{"depth": dist, "run": "1ms"}]}]}
    for ok in ({"mean": 3}, {"mu": 3}, {"median": 20}):
        assert validator.is_valid(doc({"dist": "lognormal", "sigma": 0.5, **ok})), ok
    for bad in ({}, {"mean": 3, "median": 20}, {"mu": 3, "mean": 3}):
        assert not validator.is_valid(doc({"dist": "lognormal", "sigma": 0.5, **bad})), bad
