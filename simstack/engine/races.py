"""The races between Ps at GOMAXPROCS >= 2: seeded draws of what the real runtime leaves to timing.

At GOMAXPROCS 1 the runtime is deterministic, and so is the model: it makes no draw at all.
With two or more Ps the real outcome depends on how fast each P's thread happens to be: how
soon an idle P woken by ``wakep`` starts taking work, how the work readied at one instant
(a gate's release, a burst of ``go`` statements) splits between the Ps that do take part,
hence which P each goroutine exits on (which decides which dead goroutines, and their
stacks, stay on which P's free list), how many Ps run at once and how many Ms (each with a
g0 and a signal stack) the runtime starts. Measured runs of one configuration differ by
whole spans, so the model draws these outcomes from what the real runtime did.

A **race** is the zero-time work of one instant on more than one P. When the first P is
woken at an instant, the model draws one *measured release* from the table of the
(GOMAXPROCS, CPU count) point nearest the scenario's (``benchmarks/races_measure.py``
traced them; the table is ``races-<version>.json`` beside this module, docs/races.md says
how it was measured): the share of the release's goroutines each P ran (the readying P
first) and, for each P woken in turn, how many goroutines had run before it took its
first (its wake-up latency, in goroutines). The model then

* wakes one idle P at a time (``wakep`` does nothing while a woken M is still spinning);
  the woken P joins once the race has run its measured number of goroutines, or at the
  end of the instant if the instant's work ends first; a P the measured release never
  used joins only then (its M woke and spun, and found the work gone). Once a woken P finds
  work it wakes the next (``resetspinning``);
* after each goroutine a P keeps its turn with probability its share / the shares of
  the Ps running, so the Ps split the work as the measured release did;
* ``startm`` starts an M for a woken P when none is idle, as before: the Ms follow from
  how many Ps the races let run at once;
* a burst of ``go`` statements that take time (``runtime.cpu`` set: timed validation, fitted
  scenarios) is split where the P its first one woke joined: after a measured number of them
  (``burst-joins-<version>.json``, ``benchmarks/burst_join_measure.py``; ``Ps.burst_go``);
* each GC cycle starts Ms too (the first cycle's mark workers are started one at a time, on
  different Ps if their Ms are up; idle Ps woken by ``startTheWorld``'s ``wakep`` run idle
  mark workers and wake the next): the run follows one measured process's threads after
  each cycle (``gc-threads.json``, ``benchmarks/gc_threads_measure.py``), drawn once per run.

Every draw comes from one random stream of the scenario's seed: same seed, same run, bit
for bit.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

BLOCK = 1024
HERE = Path(__file__).resolve().parent
# the measured table each version's runs draw from: only go1.27.3 has been traced (execution
# traces need Go 1.23+); go1.19.8's six instrumented W6 runs (README, Fidelity) lie inside it
TABLE_OF = {"go1.12": "go1.27", "go1.19": "go1.27", "go1.27": "go1.27"}
# the threads-by-GC-cycle curves: measured on go1.19.8 and go1.27.3; go1.12 has no toolchain here
GC_TABLE_OF = {"go1.12": "go1.19", "go1.19": "go1.19", "go1.27": "go1.27"}


@lru_cache(maxsize=None)
def race_table(version: str) -> dict:
    """The measured releases a version's runs draw from: {(gomaxprocs, num_cpu, depth): [(shares,
    joins), ...]} and where they came from (``source``)."""
    doc = json.loads((HERE / f"races-{TABLE_OF[version]}.json").read_text())
    table: dict = {}
    for w in doc["releases"]:
        key = (w["gomaxprocs"], w["num_cpu"], w["depth"])
        table.setdefault(key, []).append((tuple(w["share"]), tuple(w["join"])))
    return {"points": table, "source": doc["source"]}


def nearest(measured, gomaxprocs: int, num_cpu: int) -> tuple[int, int]:
    """The measured (GOMAXPROCS, CPUs) point nearest the scenario's: the same Ps per CPU first, on
    a log scale, then the same GOMAXPROCS."""
    ratio = np.log(gomaxprocs / num_cpu)
    return min(set(measured), key=lambda k: (round(abs(np.log(k[0] / k[1]) - ratio), 6),
                                             abs(np.log(k[0] / gomaxprocs)), k))


def nearest_points(points, gomaxprocs: int, num_cpu: int) -> dict:
    """For the scenario's GOMAXPROCS and CPUs: the nearest measured point's releases at each depth
    measured there."""
    best = nearest({k[:2] for k in points}, gomaxprocs, num_cpu)
    return {k[2]: points[k] for k in sorted(points) if k[:2] == best}


@lru_cache(maxsize=None)
def gc_thread_curves(version: str) -> dict:
    """The measured processes' threads after each GC cycle, less their GOMAXPROCS (a process that
    had every P running at once has about GOMAXPROCS + 2: sysmon and an M without a P, such as
    the one blocked in netpoll): {(gomaxprocs, num_cpu): [curve, ...]}."""
    doc = json.loads((HERE / "gc-threads.json").read_text())
    want = GC_TABLE_OF[version]
    curves: dict = {}
    for r in doc["runs"]:
        if ".".join(r["version"].split(".")[:2]) == want:
            curves.setdefault((r["gomaxprocs"], r["num_cpu"]), []).append(
                tuple(t - r["gomaxprocs"] for t in r["after_gc"]))
    return curves


@lru_cache(maxsize=None)
def burst_joins(version: str) -> dict:
    """The measured bursts' joins: how many ``go`` statements the creator had made when a P the first
    of them woke took its first goroutine of the burst (None: none before the creator had made them
    all), in a process's first burst and in its later ones:
    {(gomaxprocs, num_cpu): {"first": (...), "later": (...)}} (``burst-joins-<version>.json``,
    ``benchmarks/burst_join_measure.py``)."""
    doc = json.loads((HERE / f"burst-joins-{TABLE_OF[version]}.json").read_text())
    return {(pt["gomaxprocs"], pt["num_cpu"]): {
        which: tuple(None if j >= pt["burst"] else j for j in pt[which]) for which in ("first", "later")}
        for pt in doc["points"]}


class Races:
    """The race model's state and draws for one run (GOMAXPROCS >= 2 only)."""

    def __init__(self, version: str, rng: np.random.Generator, nprocs: int, num_cpu: int) -> None:
        table = race_table(version)
        self.by_depth = nearest_points(table["points"], nprocs, num_cpu)
        self.depths = sorted(self.by_depth)
        self.rng = rng
        self.at = -1.0  # the instant of the current race
        self.ran = 0  # goroutines run in it
        self.shares: tuple = ()
        self.joins: tuple = ()
        self.joined = 0  # Ps woken in it so far
        self.weight = [0.0] * nprocs
        self.uniform: list[float] = []
        # the threads by GC cycle: one measured process's curve, from a stream of its own (the
        # releases' draws stay as they were)
        curves = gc_thread_curves(version)
        runs = curves[nearest(curves, nprocs, num_cpu)]
        gc_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
        self.gc_curve = tuple(nprocs + t for t in runs[int(gc_rng.integers(len(runs)))])
        # the joins of Ps woken by a burst's go statements, from a stream of their own
        bursts = burst_joins(version)
        self.burst_joins = bursts[nearest(bursts, nprocs, num_cpu)]
        self.burst_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])

    def _u(self) -> float:
        if not self.uniform:
            self.uniform = self.rng.random(BLOCK).tolist()
        return self.uniform.pop()

    def begin(self, now: float, waker: int, depth: int) -> bool:
        """A P is woken at ``now`` for a goroutine at ``depth`` frames; if that starts a race, draw
        its measured release (True), from the releases measured at the nearest depth (log scale):
        how far a goroutine unwinds is most of its work, which sets how soon the others join."""
        if now == self.at:
            return False
        self.at = now
        self.ran = 0
        self.joined = 0
        d = min(self.depths, key=lambda m: (abs(np.log((m + 1) / (depth + 1))), m))
        releases = self.by_depth[d]
        self.shares, self.joins = releases[int(self._u() * len(releases))]
        w = self.weight
        for i in range(len(w)):
            w[i] = 1.0 / len(w)  # a P already running when the race began: an equal share
        w[waker] = self.shares[0]
        return True

    def burst_join(self, first: bool) -> int:
        """After how many of a burst's ``go`` statements a P the first of them woke takes its first
        goroutine: one measured burst's (``first``: the process's first burst, whose go statements make
        new gs and take longer), -1 where that burst's P took none before the creator was done."""
        pool = self.burst_joins["first" if first else "later"]
        j = pool[int(self.burst_rng.integers(len(pool)))]
        return -1 if j is None else j

    def gc_threads(self, cycle: int) -> int:
        """The threads (Ms) the measured process had after GC cycle ``cycle`` (1, 2, ...; past the
        measured cycles, the last)."""
        return self.gc_curve[min(cycle, len(self.gc_curve)) - 1]

    def join_at(self, pid: int) -> int:
        """P ``pid`` is woken in the current race: it joins once the race has run this many
        goroutines (``ran``), or never (-1) if the measured release used no further P."""
        k = self.joined
        if k >= len(self.joins):
            return -1
        self.joined += 1
        self.weight[pid] = self.shares[k + 1]
        return self.joins[k]

    def keep_turn(self, pid: int, running: list) -> bool:
        """Whether P ``pid``, having run a goroutine of the race, runs the next one too."""
        self.ran += 1
        w = self.weight
        total = 0.0
        for i in running:
            total += w[i]
        if total <= 0.0:
            return False
        return self._u() * total < w[pid]
