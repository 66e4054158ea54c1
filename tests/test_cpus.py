"""The machine's CPUs shared by the Ps' threads (``runtime.share_cpus``, engine/cpus.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import simpy

import simstack
from simstack.engine.cpus import Cpus, base_slice
from simstack.scenario import parse_scenario


def _run(n_cpus: int, slice_: float, wants: list[tuple[int, float, int]]) -> list[tuple[int, float]]:
    """Each (P, seconds, times): the P runs that long, that many times in a row; returns (P, end) in order."""
    env = simpy.Environment()
    cpus = Cpus(env, n_cpus, slice_)
    ends = []

    def step(pid, seconds, left):
        def done(_ev):
            ends.append((pid, round(env.now, 9)))
            if left > 1:
                step(pid, seconds, left - 1)
            else:
                cpus.release(pid)
        cpus.hold(pid, seconds, done)

    for pid, seconds, times in wants:
        step(pid, seconds, times)
    env.run()
    return ends


def test_a_p_beyond_the_cpus_waits_for_one_to_be_free():
    assert _run(2, 0.003, [(0, 0.001, 1), (1, 0.001, 1), (2, 0.001, 1)]) == [(0, 0.001), (1, 0.001), (2, 0.002)]


def test_a_p_that_used_its_slice_gives_its_cpu_to_the_next_in_line():
    # P0 runs 1 ms steps on the one CPU; P1 waits; after 2 ms (its slice) P0 goes to the back of the line
    ends = _run(1, 0.002, [(0, 0.001, 4), (1, 0.001, 1)])
    assert ends == [(0, 0.001), (0, 0.002), (1, 0.003), (0, 0.004), (0, 0.005)]


def test_nobody_waiting_means_no_turn_taking():
    assert _run(1, 0.002, [(0, 0.001, 4)]) == [(0, 0.001), (0, 0.002), (0, 0.003), (0, 0.004)]


def test_the_base_slice_is_eevdfs_for_the_cpus():
    assert [base_slice(n) for n in (1, 2, 4, 8, 64)] == pytest.approx([0.00075, 0.0015, 0.00225, 0.003, 0.003])


FOUR = """
name: shared
seed: 3
runtime: {{version: go1.27, gomaxprocs: 4, races: false{extra}}}
goroutines:
  - name: w
    count: 4
    program:
      - {{depth: 1, run: 10ms}}
"""


def exits(extra: str) -> list[float]:
    return sorted(simstack.run(parse_scenario(FOUR.format(extra=extra))).goroutines.exited.round(9))


def test_four_ps_on_two_shared_cpus_take_twice_as_long():
    assert exits("") == pytest.approx([0.01] * 4)
    assert exits(", num_cpu: 2") == pytest.approx([0.01] * 4)  # num_cpu alone: a CPU per P, as before
    assert exits(", num_cpu: 2, share_cpus: true") == pytest.approx([0.01, 0.01, 0.02, 0.02])


def test_sharing_as_many_cpus_as_ps_changes_nothing():
    text = Path("scenarios/fanout.yaml").read_text()
    a = simstack.run(parse_scenario(text))
    doc = text.replace("  gomaxprocs: 4\n", "  gomaxprocs: 4\n  num_cpu: 4\n  share_cpus: true\n")
    assert "share_cpus" in doc
    b = simstack.run(parse_scenario(doc))
    assert a.footprint.equals(b.footprint) and a.goroutines.equals(b.goroutines)


def test_shared_runs_are_deterministic_and_say_how_long_the_ps_waited():
    doc = Path("scenarios/fanout.yaml").read_text().replace("  gomaxprocs: 4\n",
                                                            "  gomaxprocs: 4\n  num_cpu: 2\n  share_cpus: true\n")
    a, b = (simstack.run(parse_scenario(doc)) for _ in range(2))
    assert a.footprint.equals(b.footprint) and a.events.equals(b.events)
    assert a.summary["headline"]["cpu_wait_s"] == b.summary["headline"]["cpu_wait_s"] > 0


def test_timed_validation_shares_the_real_runs_cpus():
    from simstack.validate.gotimed import with_shared_cpus
    notes: list = []
    sc = with_shared_cpus(parse_scenario(FOUR.format(extra=", num_cpu: 2")), notes)
    assert sc.runtime.share_cpus and sc.runtime.num_cpu == 2
    assert notes and "GOMAXPROCS 4 on 2 CPUs" in notes[0]
