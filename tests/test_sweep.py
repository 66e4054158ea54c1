"""simstack sweep: --set validation, seeds, the same sweep.parquet whichever executor runs it
(in-process, local processes, a Dask LocalCluster), failed runs, interruption and resume."""
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import simstack
from simstack.cli import main
from simstack.sweep import parse_set, replication_seed, run_sweep, with_settings
from simstack.sweep.params import SweepError, split_path, split_values
from conftest import run_cli

SMALL = """\
name: small
seed: 7
duration: 100ms
runtime: {version: go1.27, gomaxprocs: 2}
gc: {trigger: interval, interval: 20ms}
goroutines:
  - name: req
    count: 800
    arrival: {process: poisson, rate: 10000/s}
    frame: 184B
    program:
      - {depth: {dist: lognormal, mean: 2.3, sigma: 0.6}, run: {dist: exponential, mean: 150us}}
      - {depth: 4, block: {dist: exponential, mean: 2ms}}
record: {sample_every: 1ms}
"""
GRID = ["--set", "runtime.version=go1.12,go1.27", "--set", "runtime.overrides.starting_stack=2KiB,4KiB"]


sim = run_cli


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    p = tmp_path_factory.mktemp("sweep") / "small.yaml"
    p.write_text(SMALL)
    return p


@pytest.fixture(scope="module")
def reference(scenario):
    """The sweep run in-process (-j 1): 2 x 2 grid x 2 replications."""
    out = scenario.parent / "j1"
    r = sim("sweep", scenario, *GRID, "-r", "2", "-j", "1", "-o", out)
    assert r.returncode == 0, r.stderr
    return out


# --- parameters ----------------------------------------------------------------------
def test_set_options_parse_keys_and_yaml_values():
    assert parse_set("runtime.overrides.starting_stack=2KiB,8KiB") == ("runtime.overrides.starting_stack",
                                                                        ["2KiB", "8KiB"])
    assert parse_set("gc.gogc=50,off,100")[1] == [50, "off", 100]
    assert parse_set("x=true,false")[1] == [True, False]
    assert split_values("[1, 2],{a: 1, b: 2},'x,y'") == ["[1, 2]", "{a: 1, b: 2}", "'x,y'"]
    assert split_path("goroutines[0].program[1].depth") == ["goroutines", 0, "program", 1, "depth"]
    assert split_path("goroutines.req.count") == ["goroutines", "req", "count"]
    for bad in ("noequals", "a..b=1", "a=", "a[x]=1"):
        with pytest.raises(SweepError):
            parse_set(bad)


@pytest.mark.parametrize("option, message", [
    ("runtime.versoin=go1.12", "--set runtime.versoin=go1.12: runtime.versoin: unknown field 'versoin'; "
                               "did you mean 'version'?"),
    ("runtime.version=go1.13", "--set runtime.version=go1.13: runtime.version: expected a modelled Go version"),
    ("runtime.overrides.starting_stack=3KiB", "--set runtime.overrides.starting_stack=3KiB: "
                                              "runtime.overrides.starting_stack: expected a power of two"),
    ("runtime.overrides.starting_stack=2KB", "2KB is 2,000 bytes (KB, MB, GB are 1000-based); the binary unit is 2KiB"),
    ("goroutines.nope.count=3", "--set goroutines.nope.count=3: goroutines.nope.count: no item named 'nope' "
                                "(names: req)"),
    ("runtime.overrides.starting_stack_policy=avg", "expected one of fixed, average, per_site, got 'avg'"),
    ("seed.x=1", "cannot set a field inside a int value"),
])
def test_bad_set_exits_2_naming_the_option_before_running_anything(scenario, tmp_path, option, message):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(scenario), "--set", option, "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert not out.exists()


def test_each_bad_value_is_reported_at_once(scenario, tmp_path):
    r = CliRunner().invoke(main, ["sweep", str(scenario), "--set", "runtime.version=go1.12,go1.2",
                                  "--set", "runtime.gomaxprocs=2,0", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "runtime.version=go1.2:" in r.output and "runtime.gomaxprocs=0:" in r.output


def test_with_settings_validates_like_the_loader(scenario):
    sc = with_settings(scenario, {"runtime.version": "go1.12", "goroutines.req.count": 10})
    assert sc.runtime.version == "go1.12" and sc.runtime.version_full == "go1.12" and sc.goroutines[0].count == 10


# --- running -------------------------------------------------------------------------
def test_sweep_writes_a_tidy_frame_charts_and_runs(reference, scenario):
    df = pd.read_parquet(reference / "sweep.parquet")
    assert len(df) == 8 and (df["status"] == "ok").all()
    assert list(df.columns[:7]) == ["run_id", "point", "label", "replication", "seed", "runtime.version",
                                    "runtime.overrides.starting_stack"]
    assert {"peak_stack_inuse", "mean_stack_inuse", "grows", "shrinks", "bytes_copied", "goroutines"} <= set(df)
    assert "wall_time_s" not in df  # timings are not results: kept in sweep.json and the row files
    assert df["runtime.overrides.starting_stack"].tolist() == [2048, 2048, 4096, 4096] * 2  # resolved bytes
    assert df["runtime.version"].tolist() == ["go1.12"] * 4 + ["go1.27"] * 4
    # seeds: from the scenario's seed and the replication only (common random numbers across points)
    assert df.groupby("replication")["seed"].nunique().tolist() == [1, 1]
    assert df.loc[df["replication"] == 1, "seed"].iloc[0] == replication_seed(7, 1) != replication_seed(7, 0)
    # a row is what simstack.run gives for that point and seed
    row = df.iloc[5]
    res = simstack.run(with_settings(scenario, {
        "runtime.version": row["runtime.version"], "seed": int(row["seed"]),
        "runtime.overrides.starting_stack": int(row["runtime.overrides.starting_stack"])}))
    for k in ("peak_stack_inuse", "grows", "shrinks", "bytes_copied", "events"):
        assert row[k] == res.summary["headline"][k], k
    meta = json.loads((reference / "sweep.json").read_text())
    assert meta["complete"] and meta["runs"] == 8 and meta["status"] == {"ok": 8}
    assert meta["grid"] == {"runtime.version": ["go1.12", "go1.27"],
                            "runtime.overrides.starting_stack": ["2KiB", "4KiB"]}
    fp = pd.read_parquet(reference / "runs" / row["run_id"] / "footprint.parquet")
    pd.testing.assert_frame_equal(fp, res.footprint)
    charts = sorted(p.name for p in (reference / "charts").glob("*.png"))
    assert "bytes_copied__version.png" in charts and "grows__starting_stack.png" in charts and len(charts) == 10


def test_same_sweep_parquet_in_process_in_local_processes_and_on_a_dask_cluster(reference, scenario, tmp_path):
    distributed = pytest.importorskip("distributed")
    r = sim("sweep", scenario, *GRID, "-r", "2", "-j", "2", "--no-charts", "-q", "-o", tmp_path / "j2")
    assert r.returncode == 0, r.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        r = sim("sweep", scenario, *GRID, "-r", "2", "--scheduler", cluster.scheduler_address, "--no-charts", "-q",
                "-o", tmp_path / "dask")
        assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "dask" / "sweep.json").read_text())["executor"].startswith("dask tcp://")
    assert sha(reference / "sweep.parquet") == sha(tmp_path / "j2" / "sweep.parquet") == \
        sha(tmp_path / "dask" / "sweep.parquet")


FAILING = """
runtime: {version: go1.27}
goroutines:
  - name: parent
    count: 1
    program:
      - {spawn: child, count: 2}
      - {depth: 1, run: 1ms}
  - name: child
    arrival: {process: spawned}
    frame: 104B
    program:
      - {depth: {dist: sequence, values: [10, 20, 30]}, run: 1ms}
"""


def test_a_failed_run_is_reported_with_its_parameters_and_the_others_are_kept(tmp_path):
    # a spawned class's depth sequence cannot be checked against a count known only at run
    # time: spawning 5 children with 3 values passes validation and fails in the run
    scen = tmp_path / "failing.yaml"
    scen.write_text(FAILING)
    r = sim("sweep", scen, "--set", "goroutines[0].program[0].count=2,5", "-j", "2", "-o", tmp_path / "f")
    assert r.returncode == 1
    assert "goroutines[0].program[0].count=5" in r.stderr and "sequence has 3 values" in r.stderr
    df = pd.read_parquet(tmp_path / "f" / "sweep.parquet")
    assert df["status"].tolist() == ["ok", "failed"]
    assert df["error"].iloc[1].startswith("IndexError: goroutines[1].program[0].depth: sequence has 3 values")
    assert df["grows"].iloc[0] > 0 and pd.isna(df["grows"].iloc[1])
    assert (tmp_path / "f" / "charts" / "grows__count.png").is_file()


def test_interrupt_keeps_finished_runs_and_resume_gives_the_same_result(reference, scenario, tmp_path):
    out = tmp_path / "intr"
    proc = subprocess.Popen([sys.executable, "-m", "simstack.cli", "sweep", str(scenario), *GRID, "-r", "2",
                             "-j", "1", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as test_interrupt's Cli
    deadline = time.time() + 60
    while not list(out.glob("runs/*/row.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "finished runs kept" in err and "Traceback" not in err
    part = pd.read_parquet(out / "sweep.parquet")
    assert 1 <= len(part) < 8 and (part["status"] == "ok").all()
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["interrupted"] and not meta["complete"] and meta["finished_runs"] == len(part)
    r = CliRunner().invoke(main, ["sweep", str(scenario), *GRID, "-r", "2", "-o", str(out)])
    assert r.exit_code == 2 and "--resume" in r.output  # not silently replaced
    r = sim("sweep", scenario, *GRID, "-r", "2", "-j", "1", "-o", out, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    assert sha(out / "sweep.parquet") == sha(reference / "sweep.parquet")
    r = CliRunner().invoke(main, ["sweep", str(scenario), "--set", "seed=1,2", "-o", str(out), "--resume"])
    assert r.exit_code == 2 and "different sweep" in r.output


def test_refuses_a_directory_that_holds_something_else(scenario, tmp_path):
    (tmp_path / "mine.txt").write_text("not a sweep")
    r = CliRunner().invoke(main, ["sweep", str(scenario), "--set", "seed=1", "-o", str(tmp_path)])
    assert r.exit_code == 2 and "holds no sweep" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_python_api_with_named_points_in_memory(scenario):
    sw = run_sweep(scenario, points={"2 KiB": {"runtime.overrides.starting_stack": "2KiB"},
                                     "4 KiB, go1.12": {"runtime.overrides.starting_stack": "4KiB",
                                                       "runtime.version": "go1.12"}},
                   replications=2, progress=False)
    df = sw.frame
    assert sw.complete and sw.directory is None and len(df) == 4
    assert df["label"].tolist() == ["2 KiB", "2 KiB", "4 KiB, go1.12", "4 KiB, go1.12"]
    assert df["runtime.version"].tolist() == ["go1.27", "go1.27", "go1.12", "go1.12"]  # the default filled in
    assert df.groupby("label")["grows"].mean().loc["2 KiB"] > df.groupby("label")["grows"].mean().loc["4 KiB, go1.12"]


def test_a_script_without_a_main_guard_can_use_worker_processes(scenario, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("from simstack.sweep import run_sweep\n"
                      f"sw = run_sweep({str(scenario)!r}, grid={{'seed': [1, 2, 3]}}, jobs=2, progress=False)\n"
                      "print(sw.frame['status'].tolist())\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['ok', 'ok', 'ok']"


def test_sweeping_the_seed_keeps_both_the_swept_and_the_derived_seed(scenario):
    sw = run_sweep(scenario, grid={"seed": [1, 2]}, replications=2, progress=False)
    df = sw.frame
    assert sw.params == ["scenario.seed"]
    assert df["scenario.seed"].tolist() == [1, 1, 2, 2]
    assert df["seed"].tolist() == [replication_seed(s, r) for s in (1, 2) for r in (0, 1)]


# --- statistics and the command line (issue #19) ------------------------------------------
def test_statistics_per_point_are_printed_and_written(reference):
    from scipy import stats as sps
    df = pd.read_parquet(reference / "sweep.parquet")
    st = pd.read_csv(reference / "statistics.csv")
    assert list(st.columns[:4]) == ["point", "label", "runtime.version", "runtime.overrides.starting_stack"]
    assert set(st["figure"]) >= {"peak_stack_inuse", "grows", "bytes_copied"} and len(st["point"].unique()) == 4
    for (point, fig), row in st.set_index(["point", "figure"]).iterrows():
        vals = df.loc[df["point"] == point, fig].astype(float)
        assert row["n"] == 2 and row["mean"] == pytest.approx(vals.mean()) and row["std"] == pytest.approx(vals.std())
        lo, hi = sps.t.interval(0.95, 1, loc=vals.mean(), scale=vals.std() / 2 ** 0.5) if vals.std() else (vals.mean(),) * 2
        assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)


def test_sweep_prints_statistics_and_json(scenario, tmp_path):
    r = sim("sweep", scenario, "--set", "runtime.overrides.starting_stack=2KiB,8KiB", "-r", "2", "-j", "1",
            "--no-charts", "-o", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert "mean ± 95% CI" in r.stdout and "starting_stack=2KiB" in r.stdout and "statistics.csv" in r.stdout
    r = sim("sweep", "--resume", "-o", tmp_path / "s", "--json", "-j", "1", "--no-charts")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["runs"] == 4 and out["complete"] and {s["label"] for s in out["statistics"]} == {
        "starting_stack=2KiB", "starting_stack=8KiB"}


def test_resume_takes_the_sweep_from_sweep_json(reference, scenario, tmp_path):
    """`simstack sweep --resume -o DIR` alone finishes an interrupted sweep: the scenario, grid
    and replications are those in DIR/sweep.json."""
    out = tmp_path / "part"
    r = sim("sweep", scenario, *GRID, "-r", "2", "-j", "1", "-o", out, "-q")
    assert r.returncode == 0, r.stderr
    for rid in ("p001r01", "p003r00"):  # as if interrupted before these runs
        for f in (out / "runs" / rid).iterdir():
            f.unlink()
        (out / "runs" / rid).rmdir()
    (out / "sweep.parquet").unlink()
    r = sim("sweep", "--resume", "-o", out, "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert sha(out / "sweep.parquet") == sha(reference / "sweep.parquet")
    r = CliRunner().invoke(main, ["sweep", "--resume", "-o", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "no sweep.json" in r.output
    r = CliRunner().invoke(main, ["sweep"])
    assert r.exit_code == 2 and "scenario FILE is needed" in r.output


def test_report_and_compare_accept_a_sweep_directory(reference, tmp_path):
    r = CliRunner().invoke(main, ["report", str(reference), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "r.html").read_text()
    st = pd.read_csv(reference / "statistics.csv")
    assert "Statistics per point" in page and page.count("data:image/png;base64,") == 10
    for label in st["label"].unique():
        assert f"<td>{label}</td>" in page
    r = CliRunner().invoke(main, ["compare", str(reference), "-o", str(tmp_path / "c.png"), "--json"])
    assert r.exit_code == 0, r.output
    got = pd.DataFrame(json.loads(r.output)["statistics"])
    assert got[["point", "figure", "n", "mean"]].equals(st[["point", "figure", "n", "mean"]])
    assert (tmp_path / "c.png").is_file()
    r = CliRunner().invoke(main, ["compare", str(reference), str(reference)])
    assert r.exit_code == 2 and "compared on its own" in r.output
