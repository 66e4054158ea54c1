"""The command line end to end: run, check, schema, reference, and bad input."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import simstack
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


sim = run_cli


def test_run_writes_every_file_of_the_contract(tmp_path):
    out = tmp_path / "walk"
    r = sim("run", ROOT / "scenarios" / "walkthrough.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    for name in ("events.parquet", "footprint.parquet", "checkpoints.csv", "goroutines.parquet", "gc.parquet",
                 "summary.json", "charts/footprint.png", "charts/stacks_by_size.png", "charts/growth_shrink.png"):
        assert (out / name).is_file(), name
    res = simstack.read_results(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["headline"]["grows"] == 4 and summary["headline"]["shrinks"] == 3
    assert list(res.goroutines["max_stack"]) == [32768]
    cps = pd.read_csv(out / "checkpoints.csv").set_index("label")
    assert [json.loads(cps.loc[f"after_gc{i}", "goroutine_stacks"])["walker"] for i in (1, 2, 3, 4)] == \
        [{"16384": 1}, {"8192": 1}, {"4096": 1}, {"4096": 1}]
    assert not list(tmp_path.glob(".walk.tmp-*"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_example_scenario_checks(path):
    r = sim("check", path)
    assert r.returncode == 0, r.stderr
    assert "goroutines:" in r.stdout


def test_bad_file_exit_2_names_line_and_field_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("goroutines:\n  - name: a\n    count: 3\n    program:\n      - {depth: deep, run: 1ms}\n")
    out = tmp_path / "out"
    r = sim("run", bad, "-o", out)
    assert r.returncode == 2
    assert "bad.yaml:5:" in r.stderr and "goroutines[0].program[0].depth" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    r = sim("run", tmp_path / "missing.yaml")
    assert r.returncode == 2 and "missing.yaml" in r.stderr and "Traceback" not in r.stderr


def test_schema_is_json_and_validates_examples():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml
    r = sim("schema")
    schema = json.loads(r.stdout)
    for p in SCENARIOS:
        jsonschema.validate(yaml.safe_load(p.read_text()), schema)


def test_reference_command_report_and_emitted_scenarios(tmp_path):
    from test_reference import REFERENCE
    if not REFERENCE.is_file():
        pytest.skip("reference data not available")
    report = tmp_path / "report.csv"
    r = sim("reference", REFERENCE, "--only", "W2-a256-grow160", "--report", report, "--emit-scenarios",
            tmp_path / "scen")
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_csv(report)
    assert set(df.columns) >= {"record", "config_id", "go_version", "label", "metric", "measured", "simulated", "ok"}
    assert df["ok"].all() and "share ok" in r.stdout
    emitted = sorted((tmp_path / "scen").glob("*.yaml"))
    assert emitted
    out = tmp_path / "run"
    r = sim("run", emitted[0], "-o", out, "--no-charts", "-q")
    assert r.returncode == 0, r.stderr
    sim_cps = pd.read_csv(out / "checkpoints.csv").set_index("label")
    config, version = emitted[0].stem.rsplit("-", 1)
    rows = df[(df["metric"] == "stack_inuse") & (df["config_id"] == config) & df["go_version"].str.startswith(version)]
    assert len(rows)
    got = {lab: int(sim_cps.loc[lab, "stack_inuse"]) for lab in rows["label"]}
    assert {lab: int(v) for lab, v in zip(rows["label"], rows["simulated"])} == got


def test_refuses_an_output_directory_that_is_not_a_result_before_simulating(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = sim("run", ROOT / "scenarios" / "walkthrough.yaml", "-o", tmp_path, "-q")
    assert r.returncode == 2 and "not a simstack result directory" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def pysim(*args, cwd=ROOT):
    """`python -m simstack`, as a user without the console script would run it."""
    return subprocess.run([sys.executable, "-m", "simstack", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_run_refuses_to_replace_a_result_without_overwrite(tmp_path):
    out = tmp_path / "walk"
    walk = ROOT / "scenarios" / "walkthrough.yaml"
    assert pysim("run", walk, "-o", out, "-q", "--no-charts").returncode == 0
    (out / "report.html").write_text("the user's report")
    r = pysim("run", walk, "-o", out, "-q")
    assert r.returncode == 2 and "--overwrite" in r.stderr and "Traceback" not in r.stderr
    assert (out / "report.html").read_text() == "the user's report"  # nothing replaced, as `sweep` does
    r = pysim("run", walk, "-o", out, "-q", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert not (out / "report.html").exists() and (out / "charts" / "footprint.png").is_file()


def test_run_set_and_seed_change_the_scenario_for_one_run(tmp_path):
    walk = ROOT / "scenarios" / "walkthrough.yaml"
    r = pysim("run", walk, "-o", tmp_path / "a", "--no-charts", "--json", "--seed", "5",
              "--set", "runtime.version=go1.19", "--set", "runtime.overrides.starting_stack=8KiB")
    assert r.returncode == 0, r.stderr
    head = json.loads(r.stdout)  # --json: only the JSON object on stdout
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert head["peak_stack_inuse"] == summary["headline"]["peak_stack_inuse"] and head["complete"]
    sc = summary["scenario"]
    assert sc["seed"] == 5 and sc["runtime"]["version"] == "go1.19"
    assert sc["runtime"]["overrides"]["starting_stack"] == 8192
    assert head["grows"] < 4  # an 8 KiB start skips the first growths
    assert head["peak_stack_inuse_over_baseline"] == head["peak_stack_inuse"] - head["baseline_stack_inuse"]


@pytest.mark.parametrize("option, message", [
    ("runtime.overrides.starting_stack=2KB", "the binary unit is 2KiB"),
    ("runtime.gomaxprocs=1,2", "expected one value for a run, got 2"),
    ("runtime.versoin=go1.19", "did you mean 'version'?"),
])
def test_run_bad_set_exits_2_before_running(tmp_path, option, message):
    r = pysim("run", ROOT / "scenarios" / "walkthrough.yaml", "-o", tmp_path / "x", "--set", option)
    assert r.returncode == 2 and message in r.stderr and f"--set {option}" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "x").exists()


def test_python_m_simstack_is_the_command():
    r = pysim("--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: simstack ")
