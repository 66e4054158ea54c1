"""Recording: columnar events, frames of the contract, atomic writing and reading back."""
import json

import numpy as np
import pandas as pd
import pytest

from simstack.recording import EVENT_KINDS, Recorder, Result, read_results
from simstack.analysis.chartset import write_charts
from simstack.recording.writer import OutputError, write_results

FIG = dict(stack_inuse=32768, stack_sys=32768, stack_in_goroutines=2048, stack_used=40, cached_bytes=14336,
           pool_free_bytes=14336, large_free_bytes=0, goroutines=1, starting_size=2048)


def recorder(kinds=None):
    t = {"now": 0.0}
    rec = Recorder(lambda: t["now"], kinds=kinds)
    return rec, t


def test_events_are_columns_of_the_contract():
    rec, t = recorder()
    rec.emit("span_alloc", -1, -1, 0, 2048, 0, 0, 0, 7, 32768)
    t["now"] = 0.5
    rec.emit("grow", 3, 1, 2048, 4096, 1200, 1200, -1, -1, 0)
    ev = rec.frames()["events"]
    assert list(ev.columns) == ["time", "kind", "goroutine", "p", "old_size", "new_size", "used", "bytes_copied",
                                "order", "span", "bytes"]
    assert list(ev["kind"].cat.categories) == list(EVENT_KINDS)
    assert ev["time"].tolist() == [0.0, 0.5] and ev["kind"].tolist() == ["span_alloc", "grow"]
    assert ev.loc[1, ["goroutine", "p", "old_size", "new_size", "used", "bytes_copied"]].tolist() == \
        [3, 1, 2048, 4096, 1200, 1200]
    assert ev.loc[0, "bytes"] == 32768 and ev.loc[0, "span"] == 7


def test_kind_filter_keeps_only_the_listed_kinds():
    rec, _ = recorder(kinds=["grow"])
    rec.emit("stackalloc", 1, 0, 0, 2048, 0, 0, 0, 1, 2048)
    rec.emit("grow", 1, 0, 2048, 4096, 10, 10, -1, -1, 0)
    assert rec.n_events == 1 and rec.frames()["events"]["kind"].tolist() == ["grow"]
    with pytest.raises(ValueError):
        Recorder(lambda: 0.0, kinds=["nope"])


def test_footprint_size_columns_are_the_union_zero_filled():
    rec, _ = recorder()
    rec.sample(0.0, FIG, {2048: 3})
    rec.sample(1.0, FIG, {4096: 1})
    fp = rec.frames()["footprint"]
    assert fp["n_2048"].tolist() == [3, 0] and fp["n_4096"].tolist() == [0, 1]
    assert fp["stack_inuse"].dtype == np.int64


def test_empty_frames_still_have_their_columns():
    fr = Recorder(lambda: 0.0).frames()
    assert {"time", "kind", "goroutine"} <= set(fr["events"].columns)
    assert {"cycle", "start", "end", "starting_size"} <= set(fr["gc"].columns)
    assert {"goroutine", "class", "max_stack"} <= set(fr["goroutines"].columns)


def test_goroutine_and_gc_tables_are_typed():
    rec, _ = recorder()
    rec.goroutine_row(2, "w", 0.5, None, 8192, 2, 1, 6144)
    rec.goroutine_row(1, "w", 0.0, 1.0, 2048, 0, 0, 0)
    rec.gc_row({"cycle": 1, "start": 0.25, "end": 0.5, "stacks_shrunk": 3, "bytes_released": 4096, "spans_freed": 1,
                "starting_size": 2048, "not_in_the_contract": 0})
    fr = rec.frames()
    g, gc = fr["goroutines"], fr["gc"]
    assert g["goroutine"].tolist() == [1, 2] and np.isnan(g.loc[1, "exited"])  # sorted; alive at end: NaN
    assert g["max_stack"].dtype == np.int64 and g["exited"].dtype == np.float64
    assert list(gc.columns) == ["cycle", "start", "end", "stacks_shrunk", "bytes_released", "spans_freed",
                                "starting_size"]
    assert gc["cycle"].dtype == np.int64 and gc["end"].dtype == np.float64 and gc.loc[0, "bytes_released"] == 4096
    assert Recorder(lambda: 0.0, goroutine_table=False).frames()["goroutines"].empty


def _result(rec):
    fr = rec.frames()
    return Result(summary={"complete": True, "headline": {"events": rec.n_events}}, **fr)


def test_write_then_read_round_trip(tmp_path):
    rec, _ = recorder()
    rec.emit("spawn", 1, 0, 0, 2048, 40, 0, 0, -1, 0)
    rec.sample(0.0, FIG, {2048: 1})
    rec.checkpoint("c", 0.0, "memstats", FIG, {2048: 1}, {"goroutine_stacks": {"w": {2048: 1}}})
    rec.goroutine_row(1, "w", 0.0, float("nan"), 2048, 0, 0, 0)
    rec.gc_row({"cycle": 1, "start": 0.0, "end": 0.0, "stacks_shrunk": 0, "bytes_released": 0, "spans_freed": 0,
                "starting_size": 2048})
    res = _result(rec)
    out = write_results(res, tmp_path / "run", charts=False)
    back = read_results(out)
    for name in ("events", "footprint", "goroutines", "gc", "checkpoints"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(res, name), check_dtype=name != "checkpoints")
    assert json.loads(back.checkpoints.loc[0, "goroutine_stacks"]) == {"w": {"2048": 1}}
    assert back.summary["complete"] is True


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    rec, _ = recorder()
    res = _result(rec)

    real, calls = pd.DataFrame.to_parquet, []

    def boom(self, path, **k):  # the second parquet file fails, after the first was written
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(self, path, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError):
        write_results(res, tmp_path / "run", charts=False)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_directory_that_is_not_a_result(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError):
        write_results(_result(recorder()[0]), tmp_path / "mine", charts=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_replaces_a_previous_result_and_writes_deterministic_json(tmp_path):
    res = _result(recorder()[0])
    res.summary = {"b": 1, "a": {"z": np.int64(2), "y": 1.5}}
    out = write_results(res, tmp_path / "run", charts=False)
    first = (out / "summary.json").read_text()
    (out / "stale.txt").write_text("from the older run")
    write_results(res, out, charts=write_charts)
    assert (out / "summary.json").read_text() == first and first.index('"a"') < first.index('"b"')
    assert not (out / "stale.txt").exists() and sorted(p.name for p in (out / "charts").iterdir()) == \
        ["footprint.png", "growth_shrink.png", "stacks_by_size.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temp or old directory left


def test_a_failed_swap_puts_the_previous_result_back(tmp_path, monkeypatch):
    res = _result(recorder()[0])
    out = write_results(res, tmp_path / "run", charts=False)
    real_rename = type(out).rename

    def rename(self, target):
        if self.name.startswith(".run.tmp-"):
            raise OSError("interrupted")
        return real_rename(self, target)

    monkeypatch.setattr(type(out), "rename", rename)
    with pytest.raises(OSError):
        write_results(res, out, charts=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and (out / "summary.json").is_file()


def test_reading_a_directory_without_results_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a simstack result directory"):
        read_results(tmp_path)
