"""simstack.plot: every chart draws the data of the run it is given (checked on the artists)."""
import json

import numpy as np
from matplotlib.colors import to_rgb
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

import simstack
import simstack.plot
from simstack.analysis import data
from simstack.analysis.chartkit import format_bytes
from simstack.scenario import parse_scenario

KiB, MiB = 1 << 10, 1 << 20

# short handlers and deep decoders on 3 Ps; GC with a mark phase, so large stacks freed
# during marking wait in stackLarge (large_free_bytes > 0)
MIX = """
name: mix
seed: 3
duration: 200ms
runtime: {version: go1.27, gomaxprocs: 3}
gc: {trigger: interval, interval: 25ms, mark_duration: 5ms}
goroutines:
  - name: handler
    count: 1500
    arrival: {process: poisson, rate: 8000/s}
    frame: 200B
    program:
      - {depth: {dist: lognormal, mean: 2.5, sigma: 0.5}, run: {dist: exponential, mean: 100us}}
      - {depth: 3, block: {dist: exponential, mean: 1ms}}
  - name: decoder
    count: 100
    arrival: {process: poisson, rate: 600/s}
    frame: 320B
    program:
      - {depth: {dist: uniform, low: 40, high: 200}, run: {dist: exponential, mean: 300us}}
      - {depth: 6, block: {dist: exponential, mean: 2ms}}
checkpoints:
  - {label: mid, at: 100ms}
record: {sample_every: 1ms}
"""


@pytest.fixture(scope="module")
def res():
    return simstack.run(parse_scenario(MIX))


def ys_at(poly, x):
    v = poly.get_paths()[0].vertices
    return v[np.isclose(v[:, 0], x), 1]


def test_every_chart_takes_an_axes_returns_it_and_is_on_the_accessor(res):
    for name, fn in simstack.plot.RUN_CHARTS.items():
        ax = Figure().add_subplot()
        assert fn(res, ax=ax) is ax, name
        assert isinstance(getattr(res.plot, name)(), Axes), name
    ax = res.plot()
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), res.footprint["stack_inuse"] / MiB)
    assert set(simstack.plot.RUN_CHARTS) <= set(dir(res.plot))


def test_footprint_through_the_accessor_draws_the_four_columns_and_gc_cycles(res):
    ax = res.plot.footprint()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for col, label in [("stack_inuse", "StackInuse"), ("stack_sys", "StackSys"),
                       ("stack_in_goroutines", "goroutine stacks"), ("stack_used", "bytes in use")]:
        np.testing.assert_allclose(lines[label].get_ydata(), res.footprint[col] / MiB)
        np.testing.assert_allclose(lines[label].get_xdata(), res.footprint["time"] * 1e3)
    assert ax.get_ylabel() == "bytes (MiB)" and ax.get_xlabel() == "simulated time (ms)"
    bands = [p for c in ax.collections if c.get_gid() == "gc" for p in c.get_paths()]
    starts = sorted(np.unique(b.vertices[:, 0]).min() for b in bands)
    np.testing.assert_allclose(starts, res.gc["start"] * 1e3)  # every cycle marked (mark phases: bands)


def test_a_footprint_frame_alone_is_enough(res):
    ax = simstack.plot.footprint(res.footprint)
    # without the events the axis is scaled to the samples' largest value, not to the exact peak
    top = res.footprint[["stack_inuse", "stack_sys", "stack_in_goroutines", "stack_used"]].max().max()
    scale, unit = (MiB, "MiB") if top >= MiB else (1024, "KiB")
    assert ax.get_ylabel() == f"bytes ({unit})"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), res.footprint["stack_inuse"] / scale)
    with pytest.raises(TypeError):
        simstack.plot.footprint(pd.DataFrame({"x": [1]}))


def test_growth_shrink_counts_every_event_and_accumulates_bytes_copied(res):
    ax = res.plot.growth_shrink(bins=50)
    heights = np.array([p.get_height() for p in ax.patches])
    ev = res.events
    assert heights[heights > 0].sum() == (ev["kind"] == "grow").sum()
    assert -heights[heights < 0].sum() == (ev["kind"] == "shrink").sum()
    # the red bars and the line are the scenario's goroutines: the headline's figures
    user = ev[ev["class"] != "runtime"]
    h = res.summary["headline"]
    red = np.array([p.get_height() for p in ax.patches if p.get_facecolor()[:3] == to_rgb("tab:red")])
    assert red.sum() == (user["kind"] == "grow").sum() == h["grows"]
    (twin,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    total = user.loc[user["kind"].isin(["grow", "shrink"]), "bytes_copied"].sum()
    assert total == h["bytes_copied"]
    scale = MiB if total >= MiB else KiB
    assert twin.get_lines()[0].get_ydata()[-1] == pytest.approx(total / scale)
    assert "ms" in ax.get_ylabel()  # a rate: events per bin of a stated width


def test_stack_sizes_at_a_checkpoint_are_stacked_by_class(res):
    ax = res.plot.stack_sizes(at="mid")
    cp = res.checkpoints.set_index("label").loc["mid"]
    by_class = json.loads(cp["goroutine_stacks"])
    sizes = sorted({int(s) for d in by_class.values() for s in d})
    assert [t.get_text() for t in ax.get_xticklabels()] == [format_bytes(s) for s in sizes]
    bars = [p for p in ax.patches if p.get_gid() == "bar"]
    classes = sorted(by_class)
    assert len(bars) == len(classes) * len(sizes)
    for k, cls in enumerate(classes):  # one bar per size per class, stacked in class order
        got = [bars[k * len(sizes) + j].get_height() for j in range(len(sizes))]
        assert got == [by_class[cls].get(str(s), 0) for s in sizes]
    totals = {s: sum(d.get(str(s), 0) for d in by_class.values()) for s in sizes}
    assert totals == {s: int(cp[f"n_{s}"]) for s in sizes}  # the classes add up to the checkpoint's counts
    notes = [t.get_text() for t in ax.texts]
    assert notes == [format_bytes(s * totals[s]) for s in sizes]
    assert ax.get_title() == "Goroutine stack sizes at checkpoint 'mid'"


def test_stack_sizes_at_a_time_are_the_last_sample_at_or_before_it(res):
    fp = res.footprint
    t = 0.0735  # between samples: the one at 73 ms
    row = fp[fp["time"] <= t].iloc[-1]
    ax = res.plot.stack_sizes(at=t)
    cols = [c for c in fp.columns if c.startswith("n_")]
    sizes = sorted(int(c[2:]) for c in cols)
    assert [p.get_height() for p in ax.patches] == [row[f"n_{s}"] for s in sizes]
    end = res.plot.stack_sizes()
    assert [p.get_height() for p in end.patches] == [fp.iloc[-1][f"n_{s}"] for s in sizes]
    with pytest.raises(KeyError, match="no checkpoint 'nope'"):
        res.plot.stack_sizes(at="nope")
    with pytest.raises(ValueError):
        res.plot.stack_sizes(at=-1.0)


def replay_cache(events):
    """An independent replay of the per-P stack caches, event by event."""
    level, out = {}, []
    for row in events.itertuples():
        k = row.kind
        if k == "cache_refill":
            level[row.p] = level.get(row.p, 0) + row.bytes
        elif k == "cache_release":
            level[row.p] = level.get(row.p, 0) - row.bytes
        elif k in ("stackalloc", "stackfree") and row.p >= 0 and row.order >= 0:
            level[row.p] = level.get(row.p, 0) + (row.bytes if k == "stackfree" else -row.bytes)
        else:
            continue
        out.append((row.time, dict(level)))
    return out


def test_cache_occupancy_replays_the_cache_events_per_p_and_adds_up_to_cached_bytes(res):
    occ = data.cache_occupancy(res)
    ps = [c for c in occ.columns if c != "time"]
    assert ps == [0, 1, 2]
    history = replay_cache(res.events)
    times = np.array([t for t, _ in history])
    for i in range(0, len(occ), 7):
        j = np.searchsorted(times, occ["time"].iloc[i], side="right") - 1
        expect = history[j][1] if j >= 0 else {}
        assert [occ[p].iloc[i] for p in ps] == [expect.get(p, 0) for p in ps]
    fp = res.footprint
    later = fp["time"] > 0  # at t=0 the sampler runs in the middle of the start-up events
    np.testing.assert_array_equal(occ[ps].sum(axis=1)[later], fp["cached_bytes"][later])
    assert (occ[ps].to_numpy() >= 0).all() and (occ[ps].to_numpy() <= 4 * 32 * KiB).all()


def test_cache_occupancy_chart_stacks_the_ps_under_the_footprint_total(res):
    ax = res.plot.cache_occupancy()
    occ = data.cache_occupancy(res)
    polys = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() != "gc"]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["P0", "P1", "P2"]
    assert "KiB" in ax.get_ylabel()
    tops = np.cumsum(occ[[0, 1, 2]].to_numpy().T, axis=0) / KiB
    for poly, top in zip(polys, tops):
        for i in range(5, len(occ), 23):
            assert ys_at(poly, occ["time"].iloc[i] * 1e3).max() == pytest.approx(top[i])
    (total,) = [ln for ln in ax.get_lines() if ln.get_label() == "all Ps (footprint)"]
    np.testing.assert_allclose(total.get_ydata(), res.footprint["cached_bytes"] / KiB)


def test_cache_occupancy_needs_the_cache_events():
    sc = parse_scenario(MIX.replace("record: {sample_every: 1ms}",
                                    "record: {sample_every: 1ms, events: [grow, shrink]}"))
    r = simstack.run(sc)
    with pytest.raises(ValueError, match="cache_refill"):
        r.plot.cache_occupancy()


def test_free_bytes_draws_pool_and_large_free_bytes_and_their_share(res):
    fp = res.footprint
    assert fp["large_free_bytes"].max() > 0 and fp["pool_free_bytes"].max() > 0
    ax = res.plot.free_bytes()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["free in pool spans"].get_ydata(), fp["pool_free_bytes"] / KiB)
    np.testing.assert_allclose(lines["free large spans (stackLarge)"].get_ydata(), fp["large_free_bytes"] / KiB)
    (twin,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    share = (fp["pool_free_bytes"] + fp["large_free_bytes"]) / fp["stack_inuse"] * 100
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), share)
    assert ax.get_ylabel() == "free stack bytes (KiB)" and "%" in twin.get_ylabel()


def test_class_summary_bars_are_the_peak_stack_percentiles(res):
    ax = res.plot.class_summary()
    g = res.goroutines
    classes = sorted(g["class"].unique())
    assert [t.get_text() for t in ax.get_yticklabels()] == classes
    for gid, q in [("max_stack_p50", 50), ("max_stack_p99", 99), ("max_stack_max", 100)]:
        bars = [p for p in ax.patches if p.get_gid() == gid]
        expect = [np.percentile(g.loc[g["class"] == c, "max_stack"], q, method="lower") / KiB for c in classes]
        assert [b.get_width() for b in bars] == pytest.approx(expect)
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "class-note"]
    for cls, note in zip(classes, notes):
        sub = g[g["class"] == cls]
        assert note.startswith(f"{len(sub):,} goroutines, {sub['grows'].sum() / len(sub):.2f} grows each, "
                               f"{format_bytes(int(sub['bytes_copied'].sum()))} copied")
    assert ax.get_xlabel().endswith("(KiB)")


def test_compare_footprints_overlays_each_runs_column(res):
    other = simstack.run(parse_scenario(MIX.replace("version: go1.27", "version: go1.12")))
    ax = simstack.plot.compare_footprints([res, other], ["go1.27", "go1.12"])
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    scale = MiB if max(res.footprint["stack_inuse"].max(), other.footprint["stack_inuse"].max()) >= MiB else KiB
    np.testing.assert_allclose(lines["go1.27"].get_ydata(), res.footprint["stack_inuse"] / scale)
    np.testing.assert_allclose(lines["go1.12"].get_ydata(), other.footprint["stack_inuse"] / scale)
    assert ax.get_ylabel().startswith("StackInuse (")


def test_sweep_chart_draws_means_intervals_and_every_replication():
    frame = pd.DataFrame({
        "version": ["go1.12"] * 4 + ["go1.27"] * 4,
        "starting_stack": [2048, 2048, 8192, 8192] * 2,
        "replication": [0, 1] * 4,
        "status": ["ok"] * 7 + ["failed"],
        "bytes_copied": [10, 14, 2, 4, 8, 12, 1, np.nan],
    }) * 1
    frame["bytes_copied"] = frame["bytes_copied"] * MiB
    ax = simstack.plot.sweep(frame, "bytes_copied", "starting_stack", by=["version"])
    means = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_gid() == "mean"}
    np.testing.assert_allclose(means["version go1.12"].get_ydata(), [12, 3])
    np.testing.assert_allclose(means["version go1.27"].get_ydata(), [10, 1])  # the failed run is left out
    assert all(ln.get_linestyle() == "None" for ln in means.values())  # categories are not joined by lines
    dots = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_gid() == "replications"]
    assert sorted(np.concatenate([d.get_offsets()[:, 1] for d in dots]).tolist()) == [1, 2, 4, 8, 10, 12, 14]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2 KiB", "8 KiB"]
    assert ax.get_ylabel() == "bytes_copied (MiB)"
    ser = __import__("simstack.analysis.plots", fromlist=["x"]).sweep_series(frame, "bytes_copied", "starting_stack",
                                                                                ["version"])
    assert ser[["min", "max"]].to_numpy().tolist() == [[10 * MiB, 14 * MiB], [2 * MiB, 4 * MiB],
                                                        [8 * MiB, 12 * MiB], [1 * MiB, 1 * MiB]]
    # 95 % interval of a mean of two: t(0.975, 1) = 12.706 times sd / sqrt(2); none from one run
    half = 12.7062047 * np.std([10, 14], ddof=1) / np.sqrt(2) * MiB
    assert ser["ci_high"].iloc[0] - ser["mean"].iloc[0] == pytest.approx(half)
    assert np.isnan(ser["ci_low"].iloc[3])
    # the error bars are those intervals, in MiB; the point with one run has none
    bars = [seg for c in ax.collections if c.get_gid() == "ci" for seg in c.get_segments()]
    assert sorted((round(s[0, 1], 6), round(s[1, 1], 6)) for s in bars) == sorted(
        (round(lo / MiB, 6), round(hi / MiB, 6)) for lo, hi in ser[["ci_low", "ci_high"]].dropna().to_numpy())


def test_headline_adds_time_weighted_mean_and_peaks(res):
    h = data.headline(res)
    fp = res.footprint
    t, v = fp["time"].to_numpy(), fp["stack_inuse"].to_numpy()
    assert h["mean_stack_inuse"] == pytest.approx(np.sum(v[:-1] * np.diff(t)) / (t[-1] - t[0]))
    assert h["peak_stack_sys"] == fp["stack_sys"].max()
    assert h["grows"] == res.summary["headline"]["grows"]


def test_an_empty_run_still_draws_every_chart(tmp_path):
    from simstack.analysis.chartset import write_charts
    from simstack.recording import Recorder, Result
    empty = Result(**Recorder(lambda: 0.0).frames())
    assert len(write_charts(empty, tmp_path, names="all")) == len(simstack.plot.RUN_CHARTS)
