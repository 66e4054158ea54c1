"""Tidy forms of the frames and figures that agree with each other (issue #19)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simstack
from simstack.recording.tidy import RUNTIME_CLASS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def walk():
    return simstack.run(ROOT / "scenarios" / "walkthrough.yaml")


@pytest.fixture(scope="module")
def bursty():
    return simstack.run(ROOT / "scenarios" / "bursty-batch.yaml")


def test_events_carry_the_class_of_their_goroutine(walk):
    ev, g = walk.events, walk.goroutines
    assert list(ev["class"].cat.categories) == ["walker", RUNTIME_CLASS]
    # from its spawn event on; the stack newproc1 allocates for it just before is no goroutine's
    spawned = ev.index.to_series().where(ev["kind"] == "spawn").groupby(ev["goroutine"]).transform("min")
    after = ev.index.to_series() >= spawned
    before = ev[(ev["goroutine"] >= 0) & ~after]
    assert set(before["kind"].astype(str)) <= {"stackalloc"} and before["class"].isna().all()
    user = ev[ev["goroutine"].isin(g["goroutine"]) & after]
    assert len(user) and (user["class"] == "walker").all()
    # the runtime's own goroutines: main (grown at package init), system goroutines, mark workers
    rt = ev[(ev["goroutine"] >= 0) & ~ev["goroutine"].isin(g["goroutine"]) & after]
    assert len(rt) and (rt["class"] == RUNTIME_CLASS).all()
    assert ev.loc[ev["goroutine"] < 0, "class"].isna().all()


def test_growth_counts_agree_between_headline_events_and_chart(walk):
    ev = walk.events
    grows = ev[ev["kind"] == "grow"]
    h = walk.summary["headline"]
    assert (grows["class"] != RUNTIME_CLASS).sum() == h["grows"] == int(walk.goroutines["grows"].sum())
    assert (grows["class"] == RUNTIME_CLASS).sum() > 0  # what made the chart show 8 against 4
    from simstack.analysis.data import growth_shrink_series
    _, g, _, cum = growth_shrink_series(walk)
    _, rg, _, _ = growth_shrink_series(walk, runtime=True)
    assert g.sum() == h["grows"] and g.sum() + rg.sum() == len(grows)
    assert cum[-1] == h["bytes_copied"]


def test_class_column_survives_writing_and_reading(walk, tmp_path):
    from simstack.recording.writer import write_results
    write_results(walk, tmp_path / "r", charts=False)
    back = simstack.read_results(tmp_path / "r")
    pd.testing.assert_series_equal(back.events["class"].astype(object), walk.events["class"].astype(object))


def test_stack_sizes_long_form_holds_the_n_columns(walk):
    long = walk.stack_sizes
    assert list(long.columns) == ["time", "size", "goroutines"]
    assert str(long["size"].dtype) == "Int64" and str(long["goroutines"].dtype) == "Int64"
    fp = walk.footprint
    wide = long.pivot_table(index="time", columns="size", values="goroutines", aggfunc="sum").fillna(0)
    for size in wide.columns:
        col = fp.set_index("time")[f"n_{size}"]
        np.testing.assert_array_equal(wide[size].reindex(col.index, fill_value=0).to_numpy(dtype=int),
                                      col.to_numpy())
    assert (long["goroutines"] > 0).all()


def test_checkpoint_stacks_is_the_json_as_a_table(walk):
    t = walk.checkpoint_stacks
    assert list(t.columns) == ["label", "time", "class", "size", "goroutines"]
    for _, cp in walk.checkpoints.iterrows():
        hist = json.loads(cp["goroutine_stacks"])
        rows = t[t["label"] == cp["label"]]
        assert {(r["class"], int(r["size"])): int(r["goroutines"]) for _, r in rows.iterrows()} == \
            {(c, int(s)): n for c, d in hist.items() for s, n in d.items()}


def test_nullable_events_replace_minus_one_with_na(walk):
    ev, nev = walk.events, walk.events_nullable()
    for c in ("goroutine", "p", "order", "span"):
        assert str(nev[c].dtype) == "Int64"
        assert (nev[c].isna().to_numpy() == (ev[c] < 0).to_numpy()).all()
    assert (walk.events["order"] == -1).any()  # the legacy frame is unchanged


def test_exact_peak_and_baseline_in_the_headline(bursty):
    h = bursty.summary["headline"]
    fp = bursty.footprint
    # the peak falls during the first GC, between samples: the footprint's highest sample is below it
    assert fp["stack_inuse"].max() < h["peak_stack_inuse"]
    ev = bursty.events
    sign = np.select([ev["kind"] == "span_alloc", ev["kind"] == "span_free"], [1, -1], 0)
    level = np.cumsum(sign * ev["bytes"].to_numpy())
    assert level.max() == h["peak_stack_inuse"]
    assert h["peak_stack_inuse_time"] == ev["time"].iloc[int(level.argmax())]
    # the baseline: StackInuse after the runtime's start-up, before the first of the scenario's events
    first_user = int(np.argmax(ev["class"].notna().to_numpy() & (ev["class"] != RUNTIME_CLASS).to_numpy()))
    assert h["baseline_stack_inuse"] == level[first_user - 1] > 0
    assert h["peak_stack_inuse_over_baseline"] == h["peak_stack_inuse"] - h["baseline_stack_inuse"]


def test_baseline_none_has_zero_baseline():
    sc = simstack.load_scenario(ROOT / "scenarios" / "walkthrough.yaml")
    from simstack.sweep import with_settings
    res = simstack.run(with_settings(sc, {"runtime.baseline": "none"}))
    assert res.summary["headline"]["baseline_stack_inuse"] == 0


def test_footprint_chart_marks_the_exact_peak(bursty):
    ax = bursty.plot.footprint()
    (peak,) = [ln for ln in ax.get_lines() if ln.get_gid() == "peak"]
    h = bursty.summary["headline"]
    MiB = 1 << 20
    assert peak.get_ydata()[0] == pytest.approx(h["peak_stack_inuse"] / MiB)
    assert ax.get_ylim()[1] >= h["peak_stack_inuse"] / MiB


def test_all_goroutines_lists_the_runtimes_own_with_a_class_of_their_own(walk):
    allg = walk.all_goroutines
    rt = allg[allg["class"] == RUNTIME_CLASS]
    ev = walk.events
    assert set(rt["goroutine"]) == set(ev.loc[ev["class"] == RUNTIME_CLASS, "goroutine"])
    assert len(allg) == len(walk.goroutines) + len(rt)
    # main grew at package init, a mark worker in the first GC: the grows the headline leaves out
    assert rt["grows"].sum() == ((ev["kind"] == "grow") & (ev["class"] == RUNTIME_CLASS)).sum() > 0
    assert (rt["max_stack"] >= 2048).all() and rt["exited"].isna().all()
    assert allg["goroutine"].is_monotonic_increasing
