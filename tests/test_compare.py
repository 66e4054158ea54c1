"""simstack compare: headline figures side by side, scenario differences, overlaid footprints."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

import simstack
from simstack.analysis.compare import compare, format_table, headline_table, read_light
from simstack.cli import main
from simstack.recording.writer import write_results
from simstack.sweep import with_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    walk = ROOT / "scenarios" / "walkthrough.yaml"
    out = []
    for version in ("go1.12", "go1.27"):
        res = simstack.run(with_settings(walk, {"runtime.version": version}))
        out.append(write_results(res, d / version, charts=False))
    return out


def test_cli_prints_headline_figures_side_by_side_and_what_differs(runs, tmp_path):
    chart = tmp_path / "cmp.png"
    r = CliRunner().invoke(main, ["compare", *map(str, runs), "-o", str(chart), "--csv", str(tmp_path / "t.csv")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["figure", "go1.12", "go1.27"]
    a, b = (simstack.read_results(d).summary["headline"] for d in runs)
    grows = next(ln for ln in lines if ln.startswith("grows "))
    assert grows.split()[1:3] == [f"{a['grows']:,}", f"{b['grows']:,}"]
    peak = next(ln for ln in lines if ln.startswith("peak_stack_inuse "))
    assert f"({a['peak_stack_inuse']:,} B)" in peak and f"({b['peak_stack_inuse']:,} B)" in peak
    change = (b["peak_stack_inuse"] - a["peak_stack_inuse"]) / a["peak_stack_inuse"] * 100
    assert f"[{change:+.1f}%]" in peak
    assert "scenario differences:" in r.output
    diff = next(ln for ln in lines if ln.startswith("runtime.version "))
    assert diff.split()[1:] == ["go1.12", "go1.27"]
    table = pd.read_csv(tmp_path / "t.csv", index_col="figure")
    assert table.loc["grows"].tolist() == [a["grows"], b["grows"]]
    img = imread(chart)
    assert img.shape[:2] == (550, 990) and img[..., :3].std() > 0.05


def test_overlaid_footprints_are_each_runs_stack_inuse(runs, tmp_path, monkeypatch):
    drawn = {}
    import simstack.analysis.plots as plots
    real = plots.plot_compare_footprints

    def spy(results, labels, column="stack_inuse", ax=None):
        ax = real(results, labels, column=column, ax=ax)
        drawn[column] = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}, ax.get_ylabel()
        return ax
    monkeypatch.setattr(plots, "plot_compare_footprints", spy)
    table, diffs = compare(runs, chart=tmp_path / "c.png")
    lines, ylabel = drawn["stack_inuse"]
    assert ylabel == "StackInuse (KiB)" and list(lines) == ["go1.12", "go1.27"]
    for d in runs:
        fp = simstack.read_results(d).footprint
        np.testing.assert_allclose(lines[d.name], fp["stack_inuse"] / 1024)
        np.testing.assert_allclose(drawn["stack_in_goroutines"][0][d.name], fp["stack_in_goroutines"] / 1024)
    assert list(diffs.index) == ["runtime.version", "runtime.version_full"]
    assert table.loc["mean_stack_inuse", "go1.12"] > 0


def test_comparing_does_not_read_the_events(runs):
    light = read_light(runs[0])
    assert len(light.events) == 0 and len(light.footprint) > 0
    full = simstack.read_results(runs[0])
    assert headline_table([light], ["x"]).equals(headline_table([full], ["x"]))


def test_format_table_limits_rows_and_labels_non_numbers():
    t = pd.DataFrame({"a": [1, 2, 3], "b": [2, 2, 3]}, index=pd.Index(["grows", "shrinks", "x"], name="figure"))
    text = format_table(t, max_rows=2)
    assert text.splitlines()[-1] == "... and 1 more" and "[+100.0%]" in text


def test_compare_rejects_a_missing_directory(runs, tmp_path):
    r = CliRunner().invoke(main, ["compare", str(runs[0]), str(tmp_path / "nope"), "--no-chart"])
    assert r.exit_code == 2 and "not a simstack result directory" in r.output
    r = CliRunner().invoke(main, ["compare", *map(str, runs), "--labels", "one", "--no-chart"])
    assert r.exit_code == 2 and "--labels has 1 names for 2 directories" in r.output


def test_compare_writes_nothing_unless_asked_and_speaks_json(runs, tmp_path, monkeypatch):
    import json
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["compare", *map(str, runs)])
    assert r.exit_code == 0, r.output
    assert list(tmp_path.iterdir()) == []  # no compare.png in the working directory
    r = CliRunner().invoke(main, ["compare", *map(str, runs), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    a = simstack.read_results(runs[0]).summary["headline"]
    assert out["headline"]["go1.12"]["grows"] == a["grows"]
    assert out["scenario_differences"]["go1.27"]["runtime.version"] == "go1.27"
