"""``fit_trace``: a scenario that behaves like the program a trace was recorded from.

The steps, each in its own module: :mod:`.observe` (the trace's goroutines, their runs, blocks
and stacks), :mod:`.classes` (classes by creation site), :mod:`.laws` (arrivals and durations),
:mod:`.spawns` (classes another class's goroutines made, spawned by them), :mod:`.joins` (a replay's
makers and the waits for what they made),
:mod:`.stacks` (depths from stack sizes), :mod:`.gc` (GC cycles or pacing), :mod:`.write`
(the commented YAML).  Every class's program is::

    block (the time its creator kept running after making it)
    run   (the time it ran before it first blocked)     at the depth that reaches its stack size
    block (the time it spent blocked, over ROUNDS)      at the depth it parks at
    run   (the time it ran after that, over ROUNDS)     at the park depth, or each round's law of depths
    ... block and run again, ROUNDS pairs in all (the class's median number of blocks, as many as the
        scenario's size limit leaves: see ``_rounds_caps``)

Goroutines alive at the end of the trace are a class of their own that parks for good; main's own
running time is one more class (``main_work``).  Times the trace's end cut short are lower bounds, not
values (:func:`.laws.censored`).  A class's first or last block that ended in waves, whatever its
length (a ``close`` that wakes every waiter, a chain torn down), is a ``wait`` on a gate that opens
at the waves (:mod:`.waves`).  A replay gives a class that makes goroutines and waits for them
(``t.Run``) rounds of each goroutine's own, with a ``spawn`` (and ``join``) step where it made them.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..scenario.model import goroutine_heap
from . import joins, laws, spawns, spread, stacks, waves
from .classes import Group, group
from .cpu import fit_cpu
from .gc import fit_gc
from .observe import Watcher

# a trace with stack events comes from Go 1.23 or later (Go 1.27 still writes the go1.26 format), and the
# format does not name the release: go1.27 is the modelled version nearest to every such trace
TRACED_VERSION = "go1.27"


MAX_ROUNDS = 4096  # block/run pairs at most in a fitted program
GROWTH_POINT_MIN = 0.05  # a first run is split at its growth points where one step overstates its stack-time this much
MAX_REPLAY_VALUES = 250_000  # the scenario loader's bound on the values a file holds


class FitError(ValueError):
    """The trace cannot be fitted (no goroutines of the program's own); the message says why."""


@dataclass
class FittedClass:
    name: str
    spec: dict  # the class as scenario data (times in seconds, sizes in bytes)
    notes: list = field(default_factory=list)  # what was inferred, and from what
    sites: list = field(default_factory=list)
    gates: list = field(default_factory=list)  # gates its program waits on: {"name", "open_at", "wait_for"}


@dataclass
class Fit:
    """A fitted scenario: its parts as data, the notes that go into the file, and warnings."""

    source: str
    name: str
    duration: float
    runtime: dict
    gc: dict
    classes: list
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    gc_notes: list = field(default_factory=list)
    runtime_notes: list = field(default_factory=list)
    table: pd.DataFrame | None = None  # the observed goroutines
    result: object = None  # the trace read as a Result
    watch: object = None  # the observe.Watcher that followed it

    def scenario_dict(self) -> dict:
        return {"name": self.name, "duration": self.duration, "runtime": self.runtime, "gc": self.gc,
                "gates": [gate for c in self.classes for gate in c.gates], "goroutines": [c.spec for c in self.classes]}

    def yaml(self) -> str:
        from .write import render
        return render(self)

    def scenario(self):
        """The fitted scenario, loaded from its text (what ``simstack run`` would read)."""
        from ..scenario.loader import parse_scenario
        return parse_scenario(self.yaml(), f"{self.name}.yaml")


def fit_trace(path, *, max_classes: int = 8, gc: str = "times", arrivals: str = "auto", go=None,
              platform: str = "linux/amd64", version: str | None = None, name: str | None = None,
              replay: bool = False, classify=None, observed=None, gomaxprocs: int | None = None,
              until: float | None = None) -> Fit:
    """Fit a scenario to the Go execution trace at ``path`` (Go 1.23+, ``GODEBUG=traceallocfree=1``).

    ``max_classes`` caps the goroutine classes (main's own work, ``main_work``, comes on top); ``gc``
    is ``times`` (GC at the trace's own cycle start times) or ``gogc`` (paced by GOGC from the heap
    the trace's metrics show); ``arrivals`` ``auto`` (burst, Poisson or the observed times, whichever
    the test accepts first) or ``trace`` (always the observed times).  ``platform`` and ``version``
    are written as given: a trace says neither (default: linux/amd64, go1.27).
    ``replay``: every goroutine gets its own observed values (``sequence`` distributions, in
    creation order, arrivals at the observed times) instead of its class's fitted laws: the run
    as it was, for comparing versions and policies on it; it cannot be scaled (a class's count is
    its sequence's length).  One thing a trace does not show per goroutine, how deep each of its
    later runs went, takes the class's law there too; blocks that ended in waves wait on gates, as
    with laws (each goroutine's own time would end before or after its wave, as the simulation
    reaches it earlier or later).  ``classify`` as for
    :func:`simstack.read_trace`.  ``observed``: what :func:`observe_trace` returned for this trace,
    to fit it again without reading it again.  ``gomaxprocs``: the scenario's one GOMAXPROCS (default: the
    trace's, and where the program changed it, its value at the start and each change).  ``until``: fit the trace up
    to that time (seconds from its first event), as if it ended there (a program's own steady part,
    without what it did while shutting down).
    """
    from pathlib import Path

    from ..trace.parsed import trace_format

    if max_classes < 1:
        raise FitError(f"max_classes: expected at least 1, got {max_classes}")
    if gc not in ("times", "gogc"):
        raise FitError(f"gc: expected times or gogc, got {gc!r}")
    if arrivals not in ("auto", "trace"):
        raise FitError(f"arrivals: expected auto or trace, got {arrivals!r}")
    if gomaxprocs is not None and (not isinstance(gomaxprocs, int) or gomaxprocs < 1):
        raise FitError(f"gomaxprocs: expected a whole number of at least 1, got {gomaxprocs!r}")
    path = Path(path)
    if observed is None:
        observed = observe_trace(path, go=go, classify=classify, until=until)
    res, watch = observed
    end = float(res.summary["sim_time"])
    table = watch.table(res.goroutines)
    if replay and len(table) * 8 > MAX_REPLAY_VALUES:
        raise FitError(f"{path}: {len(table):,} goroutines are too many to replay one by one (a scenario holds at "
                       f"most {MAX_REPLAY_VALUES:,} values); fit laws instead (without --replay)")
    if not len(table):
        raise FitError(f"{path}: the trace shows no goroutines of the program's own (only the runtime's and "
                       "main): nothing to fit")
    if end <= 0:
        raise FitError(f"{path}: the trace covers no time")
    fmt = trace_format(path)
    fixed = int(res.summary["trace"]["fixed_stack"])
    fit = Fit(str(path), name or path.stem, end, {}, {}, [], table=table, result=res, watch=watch)
    procs, procs_changes, procs_note = _gomaxprocs(res.summary, gomaxprocs, until)
    # the block times are measured up to the goready: with the timers' lateness in them, which the model's
    # netpoll grid would add again
    fit.runtime = {"version": version or TRACED_VERSION, "platform": platform, "gomaxprocs": procs,
                   "overrides": {"timer_resolution": 0.0}}
    if procs_changes:
        fit.runtime["gomaxprocs_changes"] = procs_changes
    fit.warnings += _few_ps(res.events, procs, procs_changes, end)
    fit.runtime_notes = [
        f"version: {version}, as given" if version else
        f"version: {TRACED_VERSION}, inferred: the trace is in the go1.{fmt} format, which does not name the "
        "release; its stack events exist from Go 1.23 on, and go1.27 is the modelled version nearest",
        f"platform: {platform}, {'as given' if platform != 'linux/amd64' else 'assumed'} (a trace does not say; "
        f"its fixed stack is {fixed} bytes)",
        procs_note,
        "overrides.timer_resolution: 0s: the block times below were measured up to each wake-up, so they "
        "hold the runtime's timer lateness (netpoll's 1 ms grid on Linux) already; the model does not add it again",
    ]
    running, blocked, blocks = watch.main_work()
    try:
        fit.gc, fit.gc_notes = fit_gc(res, watch, table, end, gc, goroutine_heap(fit.runtime["version"], platform),
                                      running)
    except ValueError as exc:
        raise FitError(f"{path}: {exc}") from None
    rate = fit.gc.pop("alloc_rate", None)
    cpu, cpu_notes = fit_cpu(watch)
    if cpu:
        fit.runtime["cpu"] = cpu
        fit.runtime_notes += cpu_notes
    groups, fit.notes = group(table, end, max_classes)
    if not replay:  # (a replay keeps each goroutine's own values: the same with every seed)
        fit.warnings += spread.seed_warnings(groups, fixed)
    # rounds as many as the goroutines blocked, within what the file leaves them: its other values are first
    # estimated (a replay's 8 a goroutine, checked above; a law's arrival times at most one; each class's laws),
    # then counted in the written file, and the rounds fitted again to what is left
    target = int(0.95 * MAX_REPLAY_VALUES)
    budget = target - len(table) * (8 if replay else 1) - 2_000 * (len(groups) + 1)
    said = list(fit.warnings)
    # a replay: which classes' goroutines get rounds of their own, and which are made by their makers (joins.py)
    owns = {g.name: _owns(g, end) for g in groups} if replay else {}
    main_rounds = watch.rounds(watch.main) if watch.main is not None else ()
    mp = joins.plan(groups, owns, watch.main, main_rounds) if replay else joins.MakerPlan()
    # rounds of their own only where a class makes goroutines that way: in every class, they gave the net/http
    # program 3,281 grows where its trace has 2,495 (not traced further; docs/fit.md)
    owns = {g.name: owns[g.name] and bool(mp.targets(g.rows["goroutine"])) for g in groups} if replay else {}
    main_blocks = len(main_rounds) if mp.main is not None else blocks if running > 0 else 0
    wanted = _rounds_caps(groups, replay, main_blocks, 10**12, owns)
    for _ in range(4):
        caps = _rounds_caps(groups, replay, main_blocks, budget, owns)
        fit.classes, fit.warnings = [], list(said)
        for g, cap in zip(groups, caps):
            fit.classes.append(_fit_class(g, end, fixed, arrivals, fit.warnings, replay, cap, owns.get(g.name, False),
                                          mp))
        taken = {c.name for c in fit.classes}
        if mp.main is not None:
            fit.classes.append(_main_maker(watch.main.run_first, main_rounds, mp, taken, caps[-1]))
        elif running > 0:
            fit.classes.append(_main_class(running, blocked, blocks, taken, caps[-1]))
        n = _values(fit.yaml())
        if n <= target and (caps == wanted or n >= 0.9 * target):
            break  # every class has all its rounds, or the file is nearly full
        budget += target - n
    if n > MAX_REPLAY_VALUES:
        raise FitError(f"{path}: {len(table):,} goroutines with one round each hold {n:,} values, more than a scenario "
                       f"holds ({MAX_REPLAY_VALUES:,}); fit laws instead (without --replay)")
    spawns.apply(fit.classes, [t for t in spawns.spawn_trees(groups, replay) if t[1] not in mp.spawned])
    if fit.gc["trigger"] == "manual":
        _follow_gates(fit)
    if rate:
        for c in fit.classes:
            c.spec["alloc_rate"] = rate
    n_before = int(table["created"].isna().sum())
    if n_before:
        fit.notes.append(f"{n_before} goroutine(s) existed before the trace started: they arrive at 0 s, and their "
                         "stacks count from the size the trace first shows")
    return fit


def _follow_gates(fit: Fit) -> None:
    """GC cycles that came after an opening waiting for goroutines (``wait_for``) follow it (``gc.follow``).

    Such an opening comes when the simulated goroutines get there, up to the next opening's time late;
    what the program does after it (the wave it released, main's next steps, the allocation that starts
    a cycle) moves with it, and a cycle at the trace's own time would find the wave still running: the
    stack test program's simulated workers, 2.5 ms late in their third wave on one trace, were scanned in
    mid-growth and the peak missed by 19 % (by 13 % following the gate)."""
    openings = sorted((t, g["name"], k < len(g["wait_for"]) and g["wait_for"][k] > 0)
                      for c in fit.classes for g in c.gates for k, t in enumerate(g["open_at"]))
    times = [t for t, _, _ in openings]
    follow = []
    for t in fit.gc["at"]:
        k = bisect.bisect_right(times, t) - 1
        follow.append(openings[k][1] if k >= 0 and openings[k][2] else None)
    n = sum(f is not None for f in follow)
    if n:
        fit.gc["follow"] = follow
        fit.gc_notes.append(f"follow: {n} of the {len(follow)} cycles came after the opening of a gate that waits for "
                            "goroutines, with no other opening between; each comes as long after that opening as in "
                            "the trace, so as late as the opening comes in the simulation")


def _gomaxprocs(summary: dict, given: int | None, until: float | None) -> tuple[int, list, str]:
    """The scenario's GOMAXPROCS, its changes (``runtime.gomaxprocs_changes``: ``[seconds, GOMAXPROCS]``)
    and their note: as given (one value), else the trace's value at its start and each procresize that
    changed it (``/sched/gomaxprocs:threads``)."""
    spans = {int(n): s for n, s in summary.get("gomaxprocs_in_effect", {}).items()}
    traced = next(iter(spans), 0) or int(summary["scenario"]["runtime"]["gomaxprocs"]) or 1
    seen = ", ".join(f"{n} for {s:.3g} s" for n, s in spans.items())
    if given is not None:
        return given, [], f"gomaxprocs: {given}, as given (the trace's /sched/gomaxprocs:threads: {seen or traced})"
    readings = [(float(t), int(n)) for t, n in summary.get("gomaxprocs_changes", ())]
    if len(readings) < 2:
        return traced, [], f"gomaxprocs: {traced}, from the trace's /sched/gomaxprocs:threads"
    start, changes = readings[0][1], [[t, n] for t, n in readings[1:] if until is None or t < until]
    return start, changes, (f"gomaxprocs: {start} at the start, then gomaxprocs_changes: the program called "
                            f"runtime.GOMAXPROCS ({seen} in all; /sched/gomaxprocs:threads at each procresize); "
                            "--gomaxprocs sets one value instead")


def _few_ps(events, procs: int, changes: list, end: float) -> list:
    """Warnings for each period of GOMAXPROCS 4 or more in which 99 % of the goroutines that exited did so on at
    most half the Ps: where the simulation spreads them over every P (the model gives each P a CPU), its stack
    caches and Ms hold more than the trace's."""
    if events is None or not len(events):
        return []
    exits = events.loc[(events["kind"] == "exit") & (events["p"] >= 0), ["time", "p"]]
    periods = [(0.0, procs)] + [(float(t), int(n)) for t, n in changes]
    out = []
    for k, (t0, n) in enumerate(periods):
        t1 = periods[k + 1][0] if k + 1 < len(periods) else end
        x = exits[(exits["time"] >= t0) & (exits["time"] < t1)]
        if n < 4 or len(x) < 100:
            continue
        counts = x["p"].value_counts()
        most = int((counts.cumsum() / len(x) < 0.99).sum()) + 1  # the fewest Ps with 99 % of the exits
        if most <= n // 2:
            out.append(f"GOMAXPROCS {n} from {t0:.4g} s to {t1:.4g} s, but {most} Ps had 99 % of the {len(x):,} goroutine "
                       f"exits then ({counts.size} had any): the machine had fewer CPUs than Ps, or the program this "
                       "little parallel work. The model gives every P a CPU of its own (with runtime.num_cpu and "
                       "share_cpus it shares them, and still spreads work over every P), so where the simulation "
                       "spreads the goroutines over more Ps, its stack caches and Ms hold more than the trace's (the "
                       "runtime's stack tests at GOMAXPROCS 32 on 2 CPUs, docs/fit.md)")
    return out


def observe_trace(path, *, go=None, classify=None, until: float | None = None) -> tuple:
    """Read the trace once for fitting: (the trace as a Result, the :class:`~.observe.Watcher` of its goroutines);
    ``until`` as for :func:`simstack.read_trace` (the trace as if it ended there)."""
    from ..trace import read_trace

    watch = Watcher()
    return read_trace(path, go=go, observe=watch, classify=classify, until=until), watch


def write_scenario(fit: Fit, path) -> None:
    """Write the fitted scenario to ``path`` once it loads (ScenarioError if not), atomically: a file
    that exists is complete."""
    import os
    import tempfile
    from pathlib import Path

    text = fit.yaml()
    fit.scenario()  # the loader's own check of the text
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _blocks(r: pd.DataFrame, resident: bool) -> np.ndarray:
    """Each goroutine's blocks that a round can hold: a resident's last, the one it was in when the trace ended,
    becomes its block forever instead."""
    return r["blocks"].to_numpy() - (1 if resident else 0) * (r["ongoing"].to_numpy() > 0)


def _values(text: str) -> int:
    """The values (scalars, lists, mappings) in a scenario's text once its aliases are expanded, as the
    scenario loader counts them against its bound."""
    import yaml

    from ..scenario.bounds import expanded_values
    return expanded_values(yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def _round_cost(g: Group, replay: bool, own: bool) -> tuple[int, int]:
    """(the rounds a class wants, the values a round costs).  Rounds of each goroutine's own (``_own_rounds``)
    are written sparse: about two values for each of a round's five fields for each goroutine that had that
    round (its ordinal and value), over the rounds of the one that blocked most."""
    blocks = _blocks(g.rows, g.resident)
    if own:
        w = int(min(MAX_ROUNDS, blocks.max()))
        return w, int(10 * np.minimum(blocks, w).sum() / max(w, 1)) + 8
    return (int(min(MAX_ROUNDS, np.median(blocks))),
            3 * (len(g.rows) if replay else min(len(g.rows), laws.MAX_VALUES)) + 8)


def _rounds_caps(groups: list, replay: bool, main_blocks: int, budget: int, owns: dict | None = None) -> list[int]:
    """The most rounds each class's program may have (the groups', then main_work's).  A round is one of its
    goroutines' real block-and-run cycles: spread over fewer, each run step holds the P for several real runs'
    time, and the goroutines behind it wait (the net/http program at GOMAXPROCS 1: its clients' 1,800 runs of
    4 us as 32 of 210 us, mean StackInuse +20 %, +9 % with a round per block).  Written out, rounds cost values
    (the loader counts an alias's values at each use: a replayed step one per goroutine, a law at most
    ``laws.MAX_VALUES``).  Where every class's wanted rounds exceed the ``budget`` the file leaves them, each
    class may spend as many values on rounds as the budget allows all of them alike (the most that fits), so
    a class of few long-lived goroutines keeps more rounds than one of many; never fewer than one."""
    wants = [_round_cost(g, replay, bool((owns or {}).get(g.name))) for g in groups]
    wants.append((int(min(MAX_ROUNDS, max(1, main_blocks))) if main_blocks else 0, 12))  # main_work: constants

    def caps(v: int) -> list[int]:
        return [max(min(w, v // c), 1 if w else 0) for w, c in wants]

    def spent(v: int) -> int:
        return sum(k * c for k, (_, c) in zip(caps(v), wants))

    lo, hi = 0, max(w * c for w, c in wants)
    if spent(hi) <= budget:
        return [w for w, _ in wants]
    while lo < hi:  # the most values a class may spend on rounds, within the budget
        mid = (lo + hi + 1) // 2
        if spent(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return caps(lo)


def _owns(g: Group, end: float) -> bool:
    """Whether a replay gives the class's goroutines rounds of their own (see ``_own_rounds``): where some of
    them blocked, it is not resident, and no gate explains its blocks (a gate is one round for all: its
    goroutines would not agree on which) or some of its blocks were joins (joins.py)."""
    blocks = _blocks(g.rows, g.resident)
    if g.resident or not (blocks > 0).any():
        return False
    if any(rnd.joined for rounds in g.rows["rounds"] for rnd in rounds):
        return True
    return not _gates(g.name, g.rows, int(min(MAX_ROUNDS, max(1, np.median(blocks)))), end, [])


def _fit_class(g: Group, end: float, fixed: int, arrivals: str, warnings: list, replay: bool = False,
               max_rounds: int = MAX_ROUNDS, own: bool = False, mp: joins.MakerPlan | None = None) -> FittedClass:
    r = g.rows.sort_values(["created", "goroutine"], na_position="first", kind="stable")
    fit_law = laws.replay_law if replay else laws.fit_law
    n = len(r)
    notes = [f"{n} goroutine(s) created by {', '.join(g.sites)}" + (" still alive at the end of the trace"
                                                                     if g.resident else "")]
    created = r["created"].fillna(0.0).to_numpy()
    mp = mp or joins.MakerPlan()
    spawned = g.name in mp.spawned
    if spawned:
        arr = {"process": "spawned", "why": "spawned, each by the goroutine that made it in the trace, in the run it "
                                            "made it in (joins.py)"}
    elif arrivals == "trace" or replay:
        arr = {"process": "trace", "times": tuple(np.sort(created).tolist()),
               "why": "the observed times" + (" (--replay)" if replay else " (--arrivals trace)")}
    else:
        arr = laws.fit_arrivals(created, end)
    notes.append(f"arrival: {arr.pop('why')}")
    count = arr.pop("count", None)
    spec: dict = {"name": g.name}
    if count is not None:
        spec["count"] = count
    spec["arrival"] = arr
    spec["frame"] = stacks.FRAME
    spec["entry_frame"] = stacks.ENTRY
    if n < laws.MIN_FIT and not replay:
        warnings.append(f"class {g.name}: only {n} goroutine(s) in the trace, too few to fit a law: its arrivals, "
                        "durations and depths are the observed values, not a fitted distribution")
    # stack sizes: where it was when it first blocked, and the largest it reached
    size_max = r["max_stack"].fillna(0).astype(int).to_numpy()
    size_max = np.where(size_max > 0, size_max, r["final_size"].astype(int).to_numpy())
    size_max = np.where(size_max > 0, size_max, fixed)
    grew = (r["grows"].fillna(0).to_numpy() > 0)
    at_block = r["size_at_block"].astype(int).to_numpy()
    blocked = r["blocks"].to_numpy() > 0
    at_block = np.where(blocked & (at_block > 0), at_block, size_max)
    d_max = stacks.depths(size_max, grew, fixed)
    d_block = stacks.depths(at_block, grew & (at_block > fixed), fixed)
    late = grew & (at_block < size_max)
    grows_late = bool(grew.any() and late[grew].mean() > 0.5)
    park, park_why = _park(g, r, size_max, grew, fixed)
    sizes = pd.Series(size_max).value_counts().sort_index()
    notes.append("stack sizes reached: " + ", ".join(f"{_kib(s)} x{c}" for s, c in sizes.items())
                 + f"; {int(r['grows'].sum())} grows, {int(r['shrinks'].sum())} shrinks")
    notes.append(f"depths inferred from those sizes ({stacks.FRAME}-byte frames, chosen): aimed at 3/4 of the "
                 f"way between the size that makes a goroutine grow to its stack and the next")
    # a goroutine still waiting to start, or in its first run, when the trace ended has not shown how deep
    # that run goes: its size is a lower bound (a saturated P leaves most of them at 2 KiB, never run); a
    # replay keeps each goroutine's own
    shown = r["first_block"].notna().to_numpy() | r["exited"].notna().to_numpy()
    # (own: a replay's class that makes goroutines and waits for them has each goroutine's own rounds)
    blocks = _blocks(r, g.resident)
    # a class whose median goroutine never blocks gets no rounds (replayed: unless its own): its goroutines'
    # running time after a block, and any growth there, goes into the one run they have
    one_run = not own and not g.resident and np.median(blocks) < 1
    d_first = d_block if (grows_late or own) and not one_run else d_max
    first_law = fit_law(d_first[shown] if shown.any() and not replay else d_first, integer=True)
    notes.append("growth: " + ("mostly after its first block, in the one run the class has (its median goroutine "
                               "never blocked: the running time after a block is part of that run)" if grows_late and one_run
                               else "mostly after its first block (the last run step goes deeper)" if grows_late
                               else "in its first run, before it first blocks" if grew.any() else "none"))
    notes.append(f"park depth {park}: {park_why}")
    # durations the trace's end cut short (a goroutine still waiting to run, or running, or alive) are
    # lower bounds: the laws take them as such (Kaplan-Meier); a replay keeps each one as it was
    cut = (lambda x, done: x) if replay else laws.censored
    exited = r["exited"].notna().to_numpy()
    if one_run:
        whole = r.assign(run_first=r["run_first"] + r["run_after"], run_to_first_grow=r["run_to_first_grow_any"],
                         run_to_last_grow=r["run_to_last_grow_any"], size_before_last_grow=r["size_before_last_grow_any"])
        program = _first_run(whole, d_first, first_law, shown, False, fixed, fit_law, cut, exited, replay, notes)
    elif own:  # the first run up to its first block, its growth points with it (later growths are the rounds')
        program = _first_run(r.assign(max_stack=at_block), d_first, first_law, shown, False, fixed, fit_law, cut,
                             np.ones(n, bool), replay, notes)
    else:
        ended_first = r["first_block"].notna().to_numpy() | exited
        program = _first_run(r, d_first, first_law, shown, grows_late, fixed, fit_law, cut, ended_first, replay, notes)
    # from its creation to its first run it waited for its creator to stop running (a new goroutine goes to
    # the creator's P, next) and then for the goroutines ahead of it.  The second wait the simulation makes
    # itself; the first it cannot (a scenario does not tie a goroutine to its creator's run): a block
    held = np.zeros(n) if spawned else r["held"].to_numpy()  # (a spawned one runs when its maker stops running)
    delay = fit_law(cut(np.where(np.isnan(held), r["start_delay"].to_numpy(), held), ~np.isnan(held)))
    if not (delay.kind == "constant" and delay.value == 0):
        program.insert(0, {"depth": 0, "block": delay})
        notes.append(f"first block: the time its creator kept running after making it ({_ms(delay.mean)} on average; "
                     f"the simulation adds the wait for goroutines ahead of it, {_ms(r['start_delay'].mean())} in "
                     "all in the trace)")
    # a goroutine that blocked k times ran between its blocks: its later running time is spread over
    # ROUNDS block/run pairs (the class's median number of blocks, at most max_rounds), not run in one
    # piece that would hold a P far longer than any of its real runs did.  A resident's last block, the
    # one it was in when the trace ended, becomes a block forever after the rounds.
    rounds = int(min(max_rounds, blocks.max() if own else np.median(blocks)))  # (most of a class that seldom blocks: none)
    if rounds < min(MAX_ROUNDS, int(np.median(blocks))):
        warnings.append(f"class {g.name}: {rounds} round(s) of block and run where its median goroutine blocked "
                        f"{int(np.median(blocks))} times: the scenario's size limit leaves no more, so each run step "
                        f"holds the P for about {np.median(blocks) / rounds:.3g} of its real runs and the goroutines "
                        "behind it wait longer" + (" (fit laws for more)" if replay else ""))
    if g.resident:
        waited_all = r["waited"].to_numpy() - r["ongoing"].to_numpy()
    elif replay:  # one still alive when the trace ended stays blocked past the end of the run, as it did
        waited_all = r["waited"].to_numpy() + np.where(r["exited"].isna().to_numpy(), end, 0.0)
    else:  # (as a law, such a tail would be drawn by any goroutine of the class: its time so far, a lower bound)
        waited_all = r["waited"].to_numpy()
    # blocks that end in waves whatever their lengths (a close, or a chain torn down, wakes them together)
    gates = {} if g.resident or not rounds or own else _gates(g.name, r, rounds, end, notes)
    waited_rounds = waited_all - sum(gate.pop("took") for gate in gates.values())
    if own:
        program += _own_rounds(r, rounds, park, d_first, at_block, fixed, end, mp)
        notes.append(f"{rounds} rounds of block and run, each goroutine's own (--replay): its blocks and the runs "
                     "after them as the trace shows them, parked as deep as GC's shrinks of its stack (else of its "
                     "class's stacks of that size) say, else just above a quarter of its stack, a run that grew at "
                     "the depth of the size it grew to; a goroutine with fewer rounds skips the others (a sparse "
                     "sequence: blocks of 0 s, which do not park, and depths it does not move to)"
                     + (f"; one that blocked more than {rounds} times has several of its rounds in one"
                        if int(blocks.max()) > rounds else ""))
    elif rounds:
        done = np.ones(len(r), bool) if g.resident else exited
        waited = fit_law(cut(np.maximum(waited_rounds, 0.0) / max(1, rounds - len(gates)), done))
        run2 = fit_law(cut(r["run_after"].to_numpy() / rounds, done))
        if not grows_late:
            last = park
        else:  # (a replay too: its goroutine's deepest in every round would be deeper than it ran)
            later = [run for runs in r["later_runs"] for run in runs]
            if len(later) >= laws.MIN_FIT:
                per_round = max(1.0, float(np.median(blocks)) / rounds)
                sizes, p = stacks.run_sizes(later, per_round)
                how = (f"inferred from the {len(later)} later runs the trace shows (a run that grew needed the size it "
                       "grew to, one that did not at most the size it began at; Turnbull's estimate)"
                       + (f", the deepest of {per_round:.3g} runs a round" if per_round > 1 else ""))
            else:
                sizes, p = stacks.round_sizes(np.where(grew, size_max, fixed),
                                              np.where(grew & (at_block > fixed), at_block, fixed), rounds)
                how = f"inferred, the law whose deepest of {rounds} run(s), with the first, reaches the sizes above"
            last = _size_law(sizes, p, fixed)
            notes.append(f"each later run's depth: {how}: "
                         + ", ".join(f"{_kib(int(z))} {100 * q:.3g} %" for z, q in zip(sizes, p)))
        for k in range(rounds):
            program.append({"depth": park, "wait": gates[k]["name"]} if k in gates else
                           {"depth": park, "block": waited})
            if not (run2.kind == "constant" and run2.value == 0 and last == park):
                program.append({"depth": last, "run": run2})
    if mp.targets(r["goroutine"]):
        if not own:  # (goroutines that never block: what they made, after their one run)
            program += _spawn_steps([[mp.made.get(int(goid), [{}])[-1]] for goid in r["goroutine"]], [None] * n, 0)
        notes.append(mp.note(r["goroutine"]))
    if g.resident:
        program.append({"depth": _resting(r, park, fixed, fit_law, notes), "block": "forever"})
    if not rounds and not g.resident:
        notes.append(f"no rounds of block and run: {np.mean(blocks == 0):.0%} of them never blocked before they ended")
    if rounds > 1 and not own:
        notes.append(f"{rounds} rounds of block and run: the median goroutine blocked "
                     + (f"{rounds} times" if rounds == int(np.median(blocks)) else
                        f"{int(np.median(blocks))} times, more rounds than the scenario's size limit leaves")
                     + f"; each round is a {rounds}th of its blocked and later running time")
    notes.append(f"durations: running {_ms(r['run_first'].mean())} before the first block, blocked "
                 f"{_ms(waited_all.mean())} in all, running {_ms(r['run_after'].mean())} after (means)"
                 + (", then blocked until the end" if g.resident else ""))
    spec["program"] = program
    return FittedClass(g.name, spec, notes, g.sites, list(gates.values()))


def _own_rounds(r: pd.DataFrame, rounds: int, park: int, d_first, at_block, fixed: int, end: float,
                mp: joins.MakerPlan) -> list:
    """A replay's rounds, each goroutine's own: round k is its k-th block (0 s where it had fewer; one still
    blocked when the trace ended stays blocked past the end, as it did) and the run after it.  It parks as
    deep as its own shrinks say (``_own_park``), within what its stack holds without growing; a run that
    grew goes to the depth of the size it grew to, one that did not stays where it parked.  A round it did not
    have moves it nowhere.  A goroutine with more blocks than ``rounds`` has its consecutive ones summed, in
    ``rounds`` groups of as equal a number as they divide into.  A round starts the goroutines it made in the
    run before (``mp``, joins.py) and, where its block was a join, waits for them instead; what it made after
    its last block it starts at the end."""
    n = len(r)
    block, run = np.zeros((rounds, n)), np.zeros((rounds, n))
    d_block, d_run = np.zeros((rounds, n), dtype=int), np.zeros((rounds, n), dtype=int)
    nrounds = np.array([min(rounds, len(own)) for own in r["rounds"]])
    cls_kept, cls_shrunk = [s for t in r["kept_at"] for s in t], [s for t in r["shrunk_at"] for s in t]
    made: list = [[{} for _ in range(rounds + 1)] for _ in range(n)]  # per goroutine, per round: {class: n}
    joined: list = [[None] * rounds for _ in range(n)]
    for i, (goid, own, ongoing) in enumerate(zip(r["goroutine"], r["rounds"], r["ongoing"].to_numpy())):
        depth, size = int(d_first[i]), int(at_block[i])
        m = nrounds[i]
        own_kept, own_shrunk = list(r["kept_at"].iloc[i]), list(r["shrunk_at"].iloc[i])
        edges = _edges(len(own), m)
        its_made, its_joined = mp.made.get(int(goid)), mp.joined.get(int(goid))
        if its_made:
            made[i][rounds] = its_made[-1]
        for k in range(m):
            part = own[edges[k]:edges[k + 1]]
            jk = its_joined[edges[k]:edges[k + 1]] if its_joined else [None] * len(part)
            if its_made:
                made[i][k] = _summed(its_made[edges[k]:edges[k + 1]])
                joined[i][k] = jk[0] if len(jk) == 1 else None
            block[k, i] = sum(x.blocked for x, j in zip(part, jk) if not (j and len(jk) == 1))
            run[k, i] = sum(x.ran for x in part)
            park = _own_park(own_kept, own_shrunk, cls_kept, cls_shrunk, size, fixed)
            depth = min(park, stacks.depth_for(size, size > fixed, fixed))
            d_block[k, i] = depth
            s0, s1 = part[0].size_start, max(x.size_end for x in part)
            if s0 and s1 > s0:
                depth = max(depth, stacks.depth_for(int(s1), True, fixed))
            size = s1 or size
            d_run[k, i] = depth
        if ongoing > 0 and pd.isna(r["exited"].iloc[i]) and m:
            block[m - 1, i] += end
    steps = []
    for k in range(rounds):
        had = k < nrounds  # the goroutines that had a k-th round: the others skip it (no park, no move)
        steps += _spawn_steps(made, [j[k] for j in joined], k)
        steps.append({"depth": laws.replay_law(d_block[k], integer=True, only=had),
                      "block": laws.replay_law(block[k], sparse=True)})
        if run[k].any() or (d_run[k] != d_block[k])[had].any():
            steps.append({"depth": laws.replay_law(d_run[k], integer=True, only=had),
                          "run": laws.replay_law(run[k], sparse=True)})
    return steps + _spawn_steps(made, [None] * n, rounds)


def _own_park(kept_at: list, shrunk_at: list, cls_kept: list, cls_shrunk: list, size: int, fixed: int) -> int:
    """A replayed goroutine's park depth at a stack of ``size`` bytes, from the sizes at which GC found it parked
    and kept or halved its stack (:func:`.stacks.park_window`), else from what GC did to its class's parked
    stacks of that size: between the bounds where there are both, just above the one that kept it, none where
    GC halved them; where GC saw none of that size, just above a quarter of it, which GC keeps (as a class's
    park depth is without evidence).  The class's window over all sizes held encoding/json's subtest runners,
    parked at 4 – 16 KiB, as deep as the two it saw kept at 256 KiB: scanned so at the first cycle, they
    raised the adaptive starting size to 4 KiB where the trace's stayed at 2 KiB."""
    lo, hi = stacks.park_window(kept_at, shrunk_at, fixed)
    if not (np.isfinite(lo) or np.isfinite(hi)):
        lo, hi = stacks.park_window([s for s in cls_kept if s == size], [s for s in cls_shrunk if s == size], fixed)
    if np.isfinite(lo) and np.isfinite(hi) and lo < hi:
        return stacks.depth_using((lo + hi) / 2)
    if np.isfinite(lo):
        return stacks.depth_above(lo)
    return 0 if np.isfinite(hi) or size <= fixed else stacks.park_depth(size, False)


def _spawn_steps(made: list, joined: list, k: int) -> list:
    """The spawn steps of position ``k`` of each goroutine's ``made`` ({class: how many}): one per class for
    the goroutines that go on running, then one per class with ``join`` for those that wait for what they
    made (``joined``: the class, or None), each starting 0 for a goroutine it is not about."""
    classes = sorted({c for m in made for c in m[k]})
    waits = np.array([j is not None for j in joined])
    steps = []
    for join in (False, True):
        for c in classes:
            count = np.array([m[k].get(c, 0) for m in made]) * (waits == join)
            if count.any():
                step = {"spawn": c, "count": laws.replay_law(count, integer=True, sparse=True)}
                steps.append({**step, "join": True} if join else step)
    return steps


def _first_run(r: pd.DataFrame, d_first, first_law, shown, grows_late: bool, fixed: int, fit_law, cut, ended,
               replay: bool, notes: list) -> list:
    """The first run's steps: one at the depth it reached, or, where the class grew there late enough to
    matter, two or three. One step holds the largest stack from the run's start, where a deep recursion
    grows as it goes (a test recursing to 8 MiB reached it two thirds of the way through its run); the
    split is made when one step would overstate the class's stack-time in first runs (size x running
    time) by ``GROWTH_POINT_MIN`` or more.

    A replay gives each goroutine three: until its first growth at no depth, until its last growth at
    the depth of the size it grew from, then at the depth it reached. Laws give two, at no depth and then
    at the depth drawn, the first as long as keeps each goroutine's stack-time as the three would: a
    second depth drawn on its own could go deeper than the first, and grow the stack further than any
    goroutine of the class did."""
    run_first = r["run_first"].to_numpy()
    whole = {"depth": first_law, "run": fit_law(cut(run_first, ended))}
    before = r["size_before_last_grow"].fillna(0).astype(int).to_numpy()
    to_last = np.minimum(r["run_to_last_grow"].fillna(0.0).to_numpy(), run_first)
    to_first = np.minimum(r["run_to_first_grow"].fillna(0.0).to_numpy(), to_last)
    size = r["max_stack"].fillna(0).astype(int).to_numpy()
    grew_here = (before > 0) & (size > before)
    if grows_late or not grew_here.any():
        return [whole]
    stack_time = float((size * run_first).sum())
    over = (size - before) * to_last + (before - fixed) * to_first  # what one step adds, per goroutine
    overstated = float(over[grew_here].sum())
    if stack_time <= 0 or overstated < GROWTH_POINT_MIN * stack_time:
        return [whole]
    to_first, to_last = np.where(grew_here, to_first, 0.0), np.where(grew_here, to_last, 0.0)
    if replay:
        d_before = np.minimum(np.where(grew_here, stacks.depths(before, before > fixed, fixed), 0), d_first)
        steps = [{"depth": 0, "run": fit_law(to_first)},
                 {"depth": fit_law(d_before, integer=True), "run": fit_law(to_last - to_first)},
                 {"depth": first_law, "run": fit_law(run_first - to_last)}]
    else:
        # at no depth for as long as holds the same stack-time: (size - fixed) * t = what one step adds
        shallow = np.where(grew_here, np.minimum(over / np.maximum(size - fixed, 1), run_first), 0.0)
        steps = [{"depth": 0, "run": fit_law(cut(shallow, ended))},
                 {"depth": first_law, "run": fit_law(cut(run_first - shallow, ended))}]
    steps = [st for st in steps[:-1] if not (st["run"].kind == "constant" and st["run"].value == 0)] + steps[-1:]
    ran = run_first[grew_here].sum()
    notes.append(f"growth points: {grew_here.sum()} of them grew first {100 * to_first.sum() / ran:.3g} % and last "
                 f"{100 * to_last.sum() / ran:.3g} % of the way through their first run (running time), so that run "
                 + ("is three steps: at its starting size until it first grew, at the size it last grew from until "
                    "then, and at the size it reached" if replay else
                    "starts with a step at its starting size, as long as keeps its stack-time")
                 + f" (one step would hold its deepest stack from the start: {100 * overstated / stack_time:.3g} % "
                 "more stack-time)")
    return steps


def _resting(r: pd.DataFrame, park: int, fixed: int, fit_law, notes: list):
    """The depth a resident parks at for good: where GC found it parked at the end and kept its grown stack,
    deep enough to keep that size (a worker parked in the middle of a job, a handler in a deep call) and
    shallow enough that GC halves a larger one to it; the class's park depth for the others."""
    size = r["final_size"].to_numpy()
    deep = (r["kept_last"].to_numpy() == size) & (size > fixed)
    if not deep.any():
        return park
    # kept at S, and halved above it: S/4 <= used + stackNosplit < S/2 (the middle, as for the park depth)
    d = np.where(deep, [stacks.depth_using(3 * int(z) / 8 - stacks.NOSPLIT) for z in size], park)
    notes.append(f"park depth for good: {int(deep.sum())} of {len(r)} were parked at the end with a grown stack GC "
                 "kept (" + ", ".join(f"{_kib(int(z))} x{c}" for z, c in
                                      pd.Series(size[deep]).value_counts().sort_index().items())
                 + "): using as much as keeps that size and lets GC halve a larger one (the middle); the others at "
                 "the park depth")
    return fit_law(d, integer=True)


def _gates(name: str, r: pd.DataFrame, rounds: int, end: float, notes: list) -> dict:
    """The class's first and last blocks that a gate explains: {round: gate}, each gate as :func:`_gate`
    makes it and ``took``, each goroutine's time in that block (which the other rounds' law leaves out)."""
    tried = [(rounds - 1, "last", r["last_park"], r["last_wake"], r["blocks"] >= 1)]
    if rounds > 1:  # (one that blocked once: its first block is its last)
        tried.insert(0, (0, "first", r["first_block"], r["first_wake"], r["blocks"] >= 2))
    gates = {}
    for k, which, park, wake, among in tried:
        gate = _gate(f"{name}_{which}_wave", park, wake, among, f"its {which} block", notes)
        if gate:
            gate["took"] = (wake.fillna(end) - park).where(among, 0.0).fillna(0.0).to_numpy()
            gates[k] = gate
    return gates


def _gate(name: str, park: pd.Series, wake: pd.Series, among: pd.Series, what: str, notes: list) -> dict:
    """A gate ``{"name", "open_at", "wait_for"}`` for the waits that began at ``park`` and ended at ``wake``
    (NaN: not by the trace's end), of the goroutines ``among``, if it explains them
    (:func:`.waves.openings`); else ``{}``."""
    times, counts, share = waves.openings(park[among], wake[among])
    if not times:
        return {}
    notes.append(f"{what}: a wait on the gate {name}. Those waits ended in waves, whatever their lengths ({share:.0%} "
                 "of them in the first wave that ended after they began), which a law, drawing each on its own, "
                 "would not do; the gate opens when each wave's first goroutine woke, " +
                 ("once as many wait on it as woke in that wave (but not past the next wave's time): each wave woke "
                  "all that were parked, as a close does" if counts else "and again when its last did: a wave woke "
                  "some of those parked, not all"))
    return {"name": name, "open_at": times, "wait_for": counts}


def _main_maker(run_first: float, rounds: tuple, mp: joins.MakerPlan, taken: set, max_rounds: int) -> FittedClass:
    """The main goroutine where it made goroutines and waited for them (a test binary's main runs each top-level
    test with t.Run): its own runs and blocks as the trace shows them, with spawn steps where it made goroutines
    of the spawned classes and a join where it waited for them (joins.py), so that they are made when main
    reaches them, not at their times."""
    m = min(max_rounds, len(rounds))
    edges = _edges(len(rounds), m)
    made, joined = mp.made.get(mp.main, [{}] * (len(rounds) + 1)), mp.joined.get(mp.main, [None] * len(rounds))
    program: list = [{"depth": 0, "run": _const(run_first)}]
    for k in range(m):
        part, jk = rounds[edges[k]:edges[k + 1]], joined[edges[k]:edges[k + 1]]
        one = len(part) == 1
        group = _summed(made[edges[k]:edges[k + 1]])
        program += _spawn_steps([[group]], [jk[0] if one else None], 0)
        wait = sum(x.blocked for x, j in zip(part, jk) if not (j and one))
        if wait:
            program.append({"depth": 0, "block": _const(wait)})
        program.append({"depth": 0, "run": _const(sum(x.ran for x in part))})
    program += _spawn_steps([[made[-1]]], [None], 0)  # (one goroutine: each count is a constant)
    name = _main_name(taken)
    spec = {"name": name, "count": 1, "arrival": {"process": "burst", "at": 0.0}, "frame": stacks.FRAME,
            "entry_frame": stacks.ENTRY, "program": [*program, {"depth": 0, "block": "forever"}]}
    n_made = sum(n for pos in made for n in pos.values())
    notes = [f"the main goroutine, which made {n_made} goroutines of the spawned classes and waited for some of them "
             f"({sum(1 for j in joined if j)} joins, joins.py): its runs and blocks as the trace shows them "
             f"({len(rounds)} blocks" + (f", in {m} rounds" if m < len(rounds) else "") + "), a spawn step where it "
             "made them, with join where it waited for them"]
    return FittedClass(name, spec, notes, ["(main goroutine)"])


def _const(v: float) -> laws.Law:
    return laws.Law("constant", float(v), float(v))


def _edges(n: int, m: int) -> np.ndarray:
    """Where ``n`` consecutive rounds split into ``m`` groups of as equal a size as they divide into."""
    return np.rint(np.arange(m + 1) * n / max(m, 1)).astype(int)


def _summed(made: list) -> dict:
    """The goroutines made in several rounds ({class: how many} each), added up."""
    return dict(sum((Counter(x) for x in made), Counter()))


def _main_name(taken: set) -> str:
    return next(n for n in ("main_work", *(f"main_work_{k}" for k in range(2, 99))) if n not in taken)


def _main_class(running: float, blocked: float, blocks: int, taken: set, max_rounds: int = MAX_ROUNDS) -> FittedClass:
    """The main goroutine's own work: in a scenario main only starts the goroutines, but in the trace it
    also ran, and its running time is P time the others wait for (fanout at GOMAXPROCS 1: 551 goroutines
    alive on average without it, 606 with it, 709 in the trace).  Only the time when none of the
    goroutines it made waited for it (their first block holds that).  One goroutine runs it for main, in rounds of
    constant run and block; its own stack is the one thing it adds that the trace has not."""
    rounds = int(min(max_rounds, max(1, blocks)))
    run, wait = _const(running / rounds), _const(blocked / rounds)
    name = _main_name(taken)
    program = [step for _ in range(rounds) for step in ({"depth": 0, "run": run}, {"depth": 0, "block": wait})]
    spec = {"name": name, "count": 1, "arrival": {"process": "burst", "at": 0.0}, "frame": stacks.FRAME,
            "entry_frame": stacks.ENTRY, "program": [*program, {"depth": 0, "block": "forever"}]}
    notes = [f"the main goroutine's own running time, {_ms(running)} in the trace between {blocks} blocks: the "
             "simulation's main only starts the goroutines, so this goroutine runs for it, in "
             f"{rounds} round(s) of run and block; its own stack ({stacks.FRAME}-byte frames, depth 0) is the one "
             "thing it adds that the trace does not have"]
    return FittedClass(name, spec, notes, ["(main goroutine)"])


def _park(g: Group, r: pd.DataFrame, size_max, grew, fixed: int) -> tuple[int, str]:
    """The depth a class parks at, and why: from the sizes GC found its goroutines parked at and halved or
    kept (:func:`.stacks.park_window`); where GC saw too little, the least the shrinks allow."""
    lo, hi = stacks.park_window([s for t in r["kept_at"] for s in t], [s for t in r["shrunk_at"] for s in t], fixed)
    if not grew.any():
        park, why = 0, "they never grew"
    elif np.isfinite(lo) and np.isfinite(hi) and lo < hi:
        return stacks.depth_using((lo + hi) / 2), (
            f"GC halved their parked stacks at {_kib(int(4 * (hi + stacks.NOSPLIT)))} and kept them at "
            f"{_kib(int(4 * (lo + stacks.NOSPLIT)))}, so they park using {lo:.0f} to {hi:.0f} bytes (shrinkstack "
            "halves when used + stackNosplit < size/4): the middle")
    else:
        # did GC shrink the grown goroutines it found parked?  (goroutines alive at the end: shrunk by then)
        shrunk = r["shrinks"].fillna(0).to_numpy() > 0
        if g.resident:
            shrunk = shrunk | ((r["final_size"].to_numpy() > 0) & (r["final_size"].to_numpy() < size_max))
        exposed = grew & ((r["parked_at_gc"].to_numpy() > 0) | g.resident)
        shallow = bool(exposed.any() and shrunk[exposed].mean() >= 0.5)
        park = stacks.park_depth(int(np.median(size_max[grew])), shallow)
        if not exposed.any():
            why = "no GC found one parked, so whether GC shrinks them is not known: parked just above a quarter " \
                  "of their stack, which keeps it"
        else:
            why = (f"GC found {int(exposed.sum())} grown ones parked and shrank {int(shrunk[exposed].sum())}: parked "
                   + ("at depth 0, which GC shrinks" if shallow else "just above a quarter of their stack, which GC "
                      "keeps"))
    if np.isfinite(lo) and stacks.depth_above(lo) > park:
        park = stacks.depth_above(lo)
        why += f"; deeper, as GC kept them parked at {_kib(int(4 * (lo + stacks.NOSPLIT)))}: more than {lo:.0f} " \
               "bytes in use"
    return park, why


def _size_law(sizes, p, fixed: int) -> laws.Law:
    """The depth law of a later run from its law of stack sizes (each size's depth as for a goroutine that
    grew to it)."""
    d = np.array([stacks.depth_for(int(z), z > fixed, fixed) for z in sizes])
    if len(d) == 1:
        return laws.Law("constant", float(d[0]), float(d[0]))
    return laws.Law("empirical", mean=float(np.dot(d, p)), values=tuple(float(x) for x in d),
                    weights=tuple(round(float(q), 4) for q in p), why="each run's stack size inferred")


def _kib(b: int) -> str:
    return f"{b // 1024} KiB" if b % 1024 == 0 else f"{b} B"


def _ms(s: float) -> str:
    return f"{1e3 * s:.3g} ms"
