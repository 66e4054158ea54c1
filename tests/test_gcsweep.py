"""Proportional sweeping: an allocation that sweeps spans first goes deeper on the goroutine's stack."""
import pytest

import simstack
from simstack.runtime.mgcsweep import Sweeper
from simstack.runtime.profiles import resolve_profile
from simstack.scenario import parse_scenario

PAGE = 8192


def test_allocators_pay_their_sweep_debt_until_bgsweep_gets_ahead():
    sw = Sweeper(PAGE, 128e-9)
    assert not sw.deductSweepCredit(1e6, 0.0)  # never paced (no cycle yet): nothing to sweep
    # 8,192 pages to sweep over 32 MiB of allocation: a page per 4 KiB allocated
    sw.gcPaceSweeper(heap_bytes=64 << 20, heap_distance=32 << 20, idle_seconds=1.0)
    assert sw.pages_per_byte == pytest.approx(1 / 4096)
    assert sw.deductSweepCredit(10 * 4096, 1.0)  # owes 10 pages, none swept: sweeps them
    assert sw.pages_swept == pytest.approx(10)
    assert not sw.deductSweepCredit(10 * 4096, 1.0)  # nothing allocated since: no debt
    # 100 us of idle P: bgsweep has swept 781 pages, ahead of the 500 the allocators owe
    assert not sw.deductSweepCredit(500 * 4096, 1.0 + 100e-6)
    assert sw.deductSweepCredit(1000 * 4096, 1.0 + 100e-6)
    # idle long enough to sweep every page: proportional sweep is over
    assert not sw.deductSweepCredit(2000 * 4096, 1.0 + 8192 * 128e-9)
    assert sw.isSweepDone()


def test_the_next_cycle_finishes_the_sweep():
    sw = Sweeper(PAGE, 0.0)  # no bgsweep
    sw.gcPaceSweeper(64 << 20, 32 << 20, 0.0)
    assert sw.deductSweepCredit(4096, 0.0)
    sw.finishsweep_m()  # gcStart's sweep termination
    assert not sw.deductSweepCredit(1 << 30, 0.0)


@pytest.mark.parametrize("version, untraced, traced", [("go1.19", 656, None), ("go1.27", 736, 976)])
def test_the_sweeping_path_is_profile_data(version, untraced, traced):
    # frames read with go tool objdump; which path is the deepest was measured by the depth at which an
    # allocation from a 4 KiB stack first grew it, and a traceback there (debug.SetMaxStack)
    prof = resolve_profile(version)
    assert sum(f.frame for f in prof.malloc_sweep_path) == untraced
    assert sum(f.frame for f in prof.malloc_sweep_path) > sum(f.frame for f in prof.malloc_path)
    assert "runtime.(*sweepLocked).sweep" in [f.name for f in prof.malloc_sweep_path]
    assert (sum(f.frame for f in prof.trace_sweep_path) if prof.trace_sweep_path else None) == traced


PROBES = """
name: sweeping
seed: 1
duration: 150ms
runtime: {{version: go1.27, gomaxprocs: 2}}
gc: {{trigger: gogc, gogc: 100, live_heap: 64MiB}}
goroutines:
  - name: alloc
    count: 2
    alloc_rate: 1GB/s
    repeat: {repeat}
    program: {program}
  - name: probe
    arrival: {{process: trace, times: [50ms, 80ms, 110ms]}}
    frame: 104B
    entry_frame: 64B
    alloc_rate: 1MB/s
    program:
      - {{depth: {depth}, run: 10us}}
"""
BUSY = {"program": "[{depth: 0, run: 50us}]", "repeat": 3000}  # both Ps busy all along
IDLE = {"program": "[{depth: 0, run: 2ms}, {depth: 0, block: 1ms}]", "repeat": 50}  # idle a third


def probe_grows(load, depth, **changes):
    res = simstack.run(parse_scenario(PROBES.format(depth=depth, **load)), profile_changes=changes or None)
    assert len(res.gc) >= 2  # the probes come after a cycle's end, while its spans are being swept
    return res.goroutines.set_index("class").loc["probe"].grows.tolist()


def test_a_step_that_sweeps_needs_the_room_of_sweeps_frames():
    # 4 frames of 112 bytes with mallocgc's refill path below fit in 2 KiB; with deductSweepCredit ->
    # sweepone -> sweep below them (the allocating Ps never idle, so the allocators sweep) they do not
    assert probe_grows(BUSY, 4) == [1, 1, 1]
    assert probe_grows(BUSY, 2) == [0, 0, 0]
    assert probe_grows(BUSY, 6) == [1, 1, 1]  # refill alone does not fit any more
    # with a P idle a third of the time, bgsweep has swept every span before the probes come
    assert probe_grows(IDLE, 4) == [0, 0, 0]
    assert probe_grows(IDLE, 4, sweep_page_cost=0.0) == [1, 1, 1]  # without bgsweep they sweep
    assert probe_grows(IDLE, 6) == [1, 1, 1]
