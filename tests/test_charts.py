"""Charts draw the data they are given: the artists on the returned Axes hold the frames' values."""
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import imread

from simstack.analysis import format_bytes, plot_footprint, plot_growth_shrink, plot_stacks_by_size, write_charts
from simstack.recording import EVENT_KINDS, Result

MiB = 1 << 20
TIMES = np.array([0.0, 0.01, 0.02, 0.03, 0.04])  # 40 ms: the time axis is in ms


def result():
    fp = pd.DataFrame({"time": TIMES,
                       "stack_inuse": np.array([1, 2, 3, 2, 2]) * MiB, "stack_sys": np.array([2, 3, 4, 4, 4]) * MiB,
                       "stack_in_goroutines": np.array([1, 2, 2, 1, 1]) * MiB,
                       "stack_used": np.array([0.5, 1, 1, 0.5, 0.5]) * MiB,
                       "n_2048": [5, 4, 3, 2, 1], "n_4096": [0, 2, 2, 1, 0], "n_8192": [0, 0, 1, 1, 1]})
    kinds = ["spawn", "grow", "grow", "shrink", "grow", "shrink"]
    ev = pd.DataFrame({"time": [0.0, 0.001, 0.012, 0.022, 0.023, 0.035],
                       "kind": pd.Categorical(kinds, categories=list(EVENT_KINDS)),
                       "bytes_copied": [0, 1000, 2000, 500, 4000, 300]})
    gc = pd.DataFrame({"cycle": [1, 2], "start": [0.015, 0.03], "end": [0.02, 0.03]})
    return Result(events=ev, footprint=fp, checkpoints=pd.DataFrame(), goroutines=pd.DataFrame(), gc=gc)


def gc_marks(ax):
    """x positions (in the axis' units) of the GC bands and lines on ``ax``."""
    spans = [tuple(np.unique(p.vertices[:, 0])) for c in ax.collections if c.get_gid() == "gc"
             and isinstance(c, PolyCollection) for p in c.get_paths()]
    lines = [seg[0][0] for c in ax.collections if c.get_gid() == "gc" and isinstance(c, LineCollection)
             for seg in c.get_segments()]
    return spans, lines


def test_format_bytes():
    assert format_bytes(1572864) == "1.5 MiB"
    assert format_bytes(2048) == "2 KiB" and format_bytes(512) == "512 B" and format_bytes(0) == "0 B"


def test_footprint_lines_are_the_columns_in_mib_over_ms():
    r = result()
    ax = plot_footprint(r)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for col, label in [("stack_inuse", "StackInuse"), ("stack_sys", "StackSys"),
                       ("stack_in_goroutines", "goroutine stacks"), ("stack_used", "bytes in use")]:
        np.testing.assert_allclose(lines[label].get_xdata(), TIMES * 1e3)
        np.testing.assert_allclose(lines[label].get_ydata(), r.footprint[col] / MiB)
    assert "MiB" in ax.get_ylabel() and "ms" in ax.get_xlabel()
    spans, vlines = gc_marks(ax)
    np.testing.assert_allclose(spans, [(15.0, 20.0)])  # cycle 1 has a mark phase: a band
    np.testing.assert_allclose(vlines, [30.0])  # cycle 2 is instantaneous: a line
    assert "GC cycle" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_stacks_by_size_stacks_the_size_columns():
    r = result()
    ax = plot_stacks_by_size(r)
    polys = [c for c in ax.collections if c.get_gid() != "gc"]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["2 KiB", "4 KiB", "8 KiB"]
    counts = r.footprint[["n_2048", "n_4096", "n_8192"]].to_numpy().T
    tops = np.cumsum(counts, axis=0)
    bottoms = np.vstack([np.zeros(len(TIMES)), tops[:-1]])
    assert len(polys) == 3
    for poly, top, bottom in zip(polys, tops, bottoms):
        v = poly.get_paths()[0].vertices
        for j, t in enumerate(TIMES * 1e3):
            ys = v[np.isclose(v[:, 0], t), 1]
            assert ys.max() == top[j] and ys.min() == bottom[j]
    assert ax.get_ylabel() == "goroutines"


def test_growth_shrink_bars_count_events_and_line_accumulates_bytes_copied():
    r = result()
    ax = plot_growth_shrink(r, bins=4)  # bins of 10 ms over the footprint's 40 ms
    heights = [p.get_height() for p in ax.patches]
    assert heights[:4] == [1, 1, 1, 0] and heights[4:8] == [0, 0, -1, -1]  # grows up, shrinks down
    np.testing.assert_allclose([p.get_x() for p in ax.patches[:4]], [0, 10, 20, 30])
    (twin,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    (line,) = twin.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [10, 20, 30, 40])
    np.testing.assert_allclose(line.get_ydata(), np.array([1000, 3000, 7500, 7800]) / 1024)
    assert "KiB" in twin.get_ylabel()
    assert gc_marks(ax) == ([(15.0, 20.0)], [30.0])


def test_draws_on_the_axes_it_is_given():
    ax = Figure().add_subplot()
    assert plot_footprint(result(), ax=ax) is ax and len(ax.get_lines()) == 4


def test_write_charts_saves_pngs_at_110_dpi(tmp_path):
    paths = write_charts(result(), tmp_path / "charts")
    assert [p.name for p in paths] == ["footprint.png", "stacks_by_size.png", "growth_shrink.png"]
    for p in paths:
        assert imread(p).shape[:2] == (round(4.5 * 110), 9 * 110)


def test_an_empty_run_still_charts(tmp_path):
    from simstack.recording import Recorder
    fr = Recorder(lambda: 0.0).frames()
    assert len(write_charts(Result(**fr), tmp_path)) == 3


def test_a_long_footprint_is_drawn_from_each_slices_extremes():
    """Beyond MAX_ROWS footprint rows, a chart draws each slice's smallest and largest rows:
    at most MAX_ROWS of them, every peak and trough kept; up to MAX_ROWS, every row."""
    from simstack.analysis.chartkit import MAX_ROWS, drawn_rows

    n = 5 * MAX_ROWS
    v = np.random.default_rng(1).integers(0, 1000, n)
    v[[7, n // 2]] = -1, 5000
    fp = pd.DataFrame({"time": np.arange(n) / 1000, "stack_inuse": v})
    drawn = drawn_rows(fp, v)
    assert len(drawn) <= MAX_ROWS and drawn["time"].is_monotonic_increasing
    assert {7, n // 2} <= set(drawn.index) and drawn["stack_inuse"].max() == 5000
    short = fp.iloc[:MAX_ROWS]
    assert drawn_rows(short, short["stack_inuse"].to_numpy()) is short


def test_step_band_holds_each_value_until_the_next_and_shade_band_fills_between():
    from simstack.analysis.chartkit import shade_band, step_band

    t, lo, hi = step_band([([0.0, 1.0, 3.0], [1, 2, 0]), ([0.0, 2.0], [5, 1]), ([], [])])
    assert list(t) == [0, 1, 2, 3] and list(lo) == [1, 2, 1, 0] and list(hi) == [5, 5, 2, 1]
    ax = Figure().add_subplot()
    band = shade_band(ax, t, lo, hi, step="post", label="band")
    assert isinstance(band, PolyCollection) and band.get_label() == "band"
    assert all(len(a) == 0 for a in step_band([]))
