"""Streaming recording: a run written straight to a directory (``simstack.run(output=)``,
``simstack run``) gives the very frames, CSV, charts and summary of the in-memory path
for the same seed, holds only a bounded part of the events and goroutine rows at a time,
and leaves nothing behind when it fails."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import simstack
from simstack.recording import stream
from simstack.recording.results import iter_table
from simstack.api import write_results  # with the charts, as `simstack run -o` writes them
from simstack.scenario import parse_scenario
from test_determinism import RANDOM

ROOT = Path(__file__).resolve().parents[1]

# spawns, checkpoints of both kinds, an interval GC with a mark phase: every table has rows
MIXED = RANDOM

TABLES = ("events", "footprint", "checkpoints", "goroutines", "gc")


def _scenario(name):
    return parse_scenario(MIXED) if name == "mixed" else simstack.load_scenario(ROOT / "scenarios" / f"{name}.yaml")


def _without_wall(summary: dict) -> dict:
    return {**summary, "headline": {k: v for k, v in summary["headline"].items() if k != "wall_time_s"}}


def _files(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and p.suffix in (".png", ".csv")}


@pytest.fixture
def small_row_groups(monkeypatch):
    """Row groups of a few hundred rows, so that these small runs stream many of them."""
    monkeypatch.setattr(stream, "EVENT_ROWS", 512)
    monkeypatch.setattr(stream, "GOROUTINE_ROWS", 64)
    monkeypatch.setattr(stream, "FOOTPRINT_ROWS", 16)


# worker-pool: 64 workers live the whole run, so goroutine rows wait behind them (the watermark)
@pytest.mark.parametrize("name", ["mixed", "fanout", "worker-pool", "walkthrough"])
def test_a_streamed_run_gives_the_frames_and_files_of_the_in_memory_path(tmp_path, small_row_groups, name):
    sc = _scenario(name)
    mem = simstack.run(sc)
    streamed = simstack.run(sc, output=tmp_path / "streamed")
    assert streamed.events is None and streamed.goroutines is None and streamed.directory == tmp_path / "streamed"
    back = simstack.read_results(tmp_path / "streamed")
    for key in TABLES:
        pd.testing.assert_frame_equal(getattr(back, key), getattr(mem, key), check_exact=True, obj=key)
    for key in ("footprint", "checkpoints", "gc"):  # the small frames the streamed Result carries
        pd.testing.assert_frame_equal(getattr(streamed, key), getattr(mem, key), check_exact=True, obj=key)
    assert _without_wall(back.summary) == _without_wall(mem.summary) == _without_wall(streamed.summary)
    # the charts and the CSV are the same bytes as those written from the in-memory frames
    write_results(mem, tmp_path / "memory")
    assert _files(tmp_path / "streamed") == _files(tmp_path / "memory")
    assert {"charts/footprint.png", "charts/stacks_by_size.png", "charts/growth_shrink.png", "checkpoints.csv"} \
        <= set(_files(tmp_path / "streamed"))
    if len(mem.events) > 512:
        assert pq.ParquetFile(tmp_path / "streamed" / "events.parquet").metadata.num_row_groups > 1
    if len(mem.footprint) > 16:
        assert pq.ParquetFile(tmp_path / "streamed" / "footprint.parquet").metadata.num_row_groups > 1


def test_the_recorder_holds_at_most_a_few_row_groups_and_releases_goroutine_rows(
        tmp_path, small_row_groups, monkeypatch):
    held = {"queued": 0, "goroutines": 0}
    wake, row = stream.ParquetStream.wake, stream.StreamingRecorder.goroutine_row

    def watched_wake(self):
        held["queued"] = max(held["queued"], len(self.chunks))
        wake(self)

    def watched_row(self, *a):
        row(self, *a)
        held["goroutines"] = max(held["goroutines"], len(self._goroutines) // 64)

    monkeypatch.setattr(stream.ParquetStream, "wake", watched_wake)
    monkeypatch.setattr(stream.StreamingRecorder, "goroutine_row", watched_row)
    out = tmp_path / "out"
    res = simstack.run(_scenario("mixed"), output=out)
    h = res.summary["headline"]
    assert h["events"] > 20 * 512 and h["goroutines"] > 20 * 64
    # events: row groups of exactly EVENT_ROWS but the last, at most three of them queued at once
    meta = pq.ParquetFile(out / "events.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert set(sizes[:-1]) == {512} and 0 < sizes[-1] <= 512 and sum(sizes) == h["events"]
    assert 1 <= held["queued"] <= 3
    # goroutine rows wait only for the goroutines still alive (a few dozen at a time here)
    assert held["goroutines"] < 4 * 64 < h["goroutines"]


def test_read_results_reads_some_columns_and_rows(tmp_path):
    simstack.run(_scenario("mixed"), output=tmp_path / "out", charts=False)
    full = simstack.read_results(tmp_path / "out")
    part = simstack.read_results(tmp_path / "out", skip=("goroutines",), columns={"events": ["time", "kind"]},
                                 filters={"events": [("kind", "==", "grow")]})
    grows = full.events.loc[full.events["kind"] == "grow", ["time", "kind"]].reset_index(drop=True)
    assert part.goroutines is None and list(part.events.columns) == ["time", "kind"]
    assert len(part.events) == len(grows) > 0
    assert (part.events["time"].to_numpy() == grows["time"].to_numpy()).all()
    assert (part.events["kind"].astype(str) == "grow").all()
    chunks = list(iter_table(tmp_path / "out", "events", ["time", "bytes_copied"], batch_size=1000))
    assert len(chunks) > 1 and sum(map(len, chunks)) == len(full.events)
    assert np.array_equal(np.concatenate([c["bytes_copied"].to_numpy() for c in chunks]),
                          full.events["bytes_copied"].to_numpy())


def test_a_failing_streamed_run_leaves_the_older_result_and_nothing_else(tmp_path, small_row_groups, monkeypatch):
    out = tmp_path / "out"
    simstack.run(_scenario("walkthrough"), output=out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    calls = []
    real = stream.ParquetStream._write

    def failing(self, frame):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, frame)

    monkeypatch.setattr(stream.ParquetStream, "_write", failing)
    with pytest.raises(OSError, match="disk full"):
        simstack.run(_scenario("mixed"), output=out)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_goroutine_rows_queued_twice_are_written_once(tmp_path, small_row_groups, monkeypatch):
    """Interrupted between queueing rows and dropping them from the buffer, the next flush
    queues them again: the writer drops the rows it has written."""
    flush = stream.StreamingRecorder._flush_goroutines

    def queue_twice(self, below):
        rows = np.frombuffer(self._goroutines, dtype=stream.GOROUTINE_DTYPE)
        ready = np.ones(len(rows), bool) if below is None else rows["goroutine"] < below
        if ready.any():
            self._goroutine_stream.chunks.append(stream.goroutines_frame(rows[ready], self._classes))
        flush(self, below)

    monkeypatch.setattr(stream.StreamingRecorder, "_flush_goroutines", queue_twice)
    sc = _scenario("mixed")
    simstack.run(sc, output=tmp_path / "out", charts=False)
    pd.testing.assert_frame_equal(simstack.read_results(tmp_path / "out").goroutines, simstack.run(sc).goroutines)


def test_footprint_rows_spilled_twice_are_written_once(tmp_path, small_row_groups, monkeypatch):
    """Likewise footprint rows interrupted between the spill file and leaving the list."""
    spill = stream.StreamingRecorder._spill_samples

    def spill_twice(self):
        stream.pickle.dump((self._n_spilled, list(self._samples)), self._spill)
        spill(self)

    monkeypatch.setattr(stream.StreamingRecorder, "_spill_samples", spill_twice)
    sc = _scenario("mixed")
    res = simstack.run(sc, output=tmp_path / "out", charts=False)
    expected = simstack.run(sc).footprint
    assert len(expected) > 3 * 16
    pd.testing.assert_frame_equal(simstack.read_results(tmp_path / "out").footprint, expected, check_exact=True)
    pd.testing.assert_frame_equal(res.footprint, expected, check_exact=True)
    assert not (tmp_path / "out" / ".footprint.spill").exists()


def test_a_run_streamed_to_disk_stops_when_too_many_goroutines_are_alive_at_once(tmp_path):
    sc = parse_scenario("""
        goroutines:
          - name: parked
            count: 5000
            program: [{depth: 1, run: 0s}, {depth: 1, block: forever}]
        """)
    res = simstack.run(sc, output=tmp_path / "out", max_live=1000, charts=False)
    assert not res.complete and "stopped at 1,000 live goroutines" in res.summary["stopped"]["reason"]
    back = simstack.read_results(tmp_path / "out")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["complete"] is False
    assert 900 < len(back.goroutines) <= 1000


def test_the_streamed_default_limit_fits_this_machine():
    from simstack.api import BYTES_PER_GOROUTINE, STREAMED_MAX_GOROUTINES, default_limits, memory_budget

    lim = default_limits(streaming=True)
    assert lim["max_events"] is None  # finished goroutines and events: on disk
    # goroutines created are bounded by time, not memory: perf-10m's ten million fit, a billion do not
    assert lim["max_goroutines"] == STREAMED_MAX_GOROUTINES and 10_000_000 < STREAMED_MAX_GOROUTINES < 10**9
    assert lim["max_live"] * BYTES_PER_GOROUTINE <= memory_budget()
    assert lim["max_live"] >= 100_000 or memory_budget() < 2**30  # room for real workloads
