"""simstack plot / simstack report: regenerated charts, a self-contained HTML page, opened in a real browser."""
import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import simstack
from simstack.analysis.report import build_report, format_figure
from simstack.recording.writer import write_results
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
CHARTS = ["footprint", "stacks_by_size", "growth_shrink", "stack_sizes", "cache_occupancy", "free_bytes",
          "class_summary"]


sim = run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    res = simstack.run(ROOT / "scenarios" / "walkthrough.yaml")
    return write_results(res, tmp_path_factory.mktemp("report") / "walk", charts=False)


def test_plot_regenerates_every_chart_of_a_run(run_dir, tmp_path):
    r = sim("plot", run_dir)
    assert r.returncode == 0, r.stderr
    assert sorted(p.stem for p in (run_dir / "charts").glob("*.png")) == sorted(CHARTS)
    for p in (run_dir / "charts").glob("*.png"):
        img = imread(p)
        assert img.shape[:2] == (round(4.5 * 110), 9 * 110) and img[..., :3].std() > 0.05, p.name
    r = sim("plot", run_dir, "--only", "stack_sizes", "--at", "after_gc1", "-o", tmp_path / "one")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["stack_sizes.png"]


def test_plot_and_report_reject_what_is_not_a_result(tmp_path):
    from click.testing import CliRunner

    from simstack.cli import main
    runner = CliRunner()
    for cmd in ("plot", "report"):
        r = runner.invoke(main, [cmd, str(tmp_path / "nothing")])
        assert r.exit_code == 2 and "not a simstack result directory" in r.output, r.output
    r = runner.invoke(main, ["plot", str(ROOT / "scenarios"), "--only", "nope"])
    assert r.exit_code == 2 and "no chart 'nope'" in r.output


def embedded_pngs(page):
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_is_one_self_contained_page_with_headline_charts_and_scenario(run_dir):
    r = sim("report", run_dir)
    assert r.returncode == 0, r.stderr
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    res = simstack.read_results(run_dir)
    h = res.summary["headline"]
    # headline table: every figure, formatted
    for key in ("peak_stack_inuse", "grows", "shrinks", "bytes_copied", "gc_cycles", "mean_stack_inuse"):
        assert f"<th>{key}</th>" in page
    assert html.escape(format_figure("peak_stack_inuse", h["peak_stack_inuse"])) in page
    assert f"<td>{h['grows']:,}</td>" in page
    # every chart embedded as a PNG, nothing loaded from elsewhere
    pngs = embedded_pngs(page)
    assert len(pngs) == len(CHARTS) and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert [f'id="chart-{c}"' in page for c in CHARTS] == [True] * len(CHARTS)
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page and "@import" not in page
    # scenario echo and tables
    assert "walkthrough" in page and "name: walker" in page and "after_gc3" in page
    assert "<h2>GC cycles</h2>" in page and "6 cycles" in page


def test_report_warns_for_an_incomplete_run():
    res = simstack.run(ROOT / "scenarios" / "walkthrough.yaml", max_events=40)
    page = build_report(res)
    assert "Incomplete run" in page


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_opens_headless_in_chromium(run_dir, tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium on PATH (Debian package 'chromium'; .ci/run installs it when it can)")
    page = run_dir / "report.html"
    if not page.exists():
        assert sim("report", run_dir).returncode == 0
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,900",
           "--hide-scrollbars", page.resolve().as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), r.stderr[-2000:]
    img = imread(shot)[..., :3]
    assert img.shape[:2] == (900, 1200)
    ink = (img.mean(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert ink > 0.02, f"screenshot looks blank ({ink:.2%} non-white)"
    assert colours > 50, f"screenshot has only {colours} colours: no chart rendered?"
    # the first chart is in view below the headline table: chart colours (matplotlib's blue) on the page
    blue = np.all(np.abs(img - np.array([0x1f, 0x77, 0xb4]) / 255) < 0.08, axis=2).sum()
    assert blue > 100, "no chart line pixels in the screenshot"
