"""Recording: columnar events, frames of the contract, atomic writing and reading back."""
import json

import numpy as np
import pandas as pd
import pytest

from simstack.recording import EVENT_KINDS, Recorder, Result, read_results
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
    pd.testing.assert_frame_equal(back.events, res.events)
    pd.testing.assert_frame_equal(back.goroutines, res.goroutines)
    assert json.loads(back.checkpoints.loc[0, "goroutine_stacks"]) == {"w": {"2048": 1}}
    assert back.summary["complete"] is True


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    rec, _ = recorder()
    res = _result(rec)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError):
        write_results(res, tmp_path / "run", charts=False)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_directory_that_is_not_a_result(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError):
        write_results(_result(recorder()[0]), tmp_path / "mine", charts=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
