"""``fit_trace``: a scenario that behaves like the program a trace was recorded from.

The steps, each in its own module: :mod:`.observe` (the trace's goroutines, their runs, blocks
and stacks), :mod:`.classes` (classes by creation site), :mod:`.laws` (arrivals and durations),
:mod:`.spawns` (classes another class's goroutines made, spawned by them),
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
at the waves (:mod:`.waves`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..scenario.model import goroutine_heap
from . import laws, spawns, stacks, waves
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
    to fit it again without reading it again.  ``gomaxprocs``: the scenario's, where the program changed
    it during the trace (default: the one in effect longest, with a warning).  ``until``: fit the trace up
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
    procs, procs_note = _gomaxprocs(res.summary, gomaxprocs, fit.warnings)
    # the block times are measured up to the goready: with the timers' lateness in them, which the model's
    # netpoll grid would add again
    fit.runtime = {"version": version or TRACED_VERSION, "platform": platform, "gomaxprocs": procs,
                   "overrides": {"timer_resolution": 0.0}}
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
    # rounds as many as the goroutines blocked, within what the file leaves them: its other values are first
    # estimated (a replay's 8 a goroutine, checked above; a law's arrival times at most one; each class's laws),
    # then counted in the written file, and the rounds fitted again to what is left
    target = int(0.95 * MAX_REPLAY_VALUES)
    budget = target - len(table) * (8 if replay else 1) - 2_000 * (len(groups) + 1)
    said, n = list(fit.warnings), 0
    wanted = _rounds_caps(groups, replay, blocks if running > 0 else 0, 10**12)
    for _ in range(4):
        caps = _rounds_caps(groups, replay, blocks if running > 0 else 0, budget)
        fit.classes, fit.warnings = [], list(said)
        for g, cap in zip(groups, caps):
            fit.classes.append(_fit_class(g, end, fixed, arrivals, fit.warnings, replay, cap))
        if running > 0:
            fit.classes.append(_main_class(running, blocked, blocks, {c.name for c in fit.classes}, caps[-1]))
        if caps == wanted:
            n = 0
            break  # every class has all its rounds
        n = _values(fit.yaml())
        if 0.9 * target <= n <= target:
            break
        budget += target - n
    if n > MAX_REPLAY_VALUES:
        raise FitError(f"{path}: {len(table):,} goroutines with one round each hold {n:,} values, more than a scenario "
                       f"holds ({MAX_REPLAY_VALUES:,}); fit laws instead (without --replay)")
    spawns.apply(fit.classes, spawns.spawn_trees(groups, replay))
    if rate:
        for c in fit.classes:
            c.spec["alloc_rate"] = rate
    n_before = int(table["created"].isna().sum())
    if n_before:
        fit.notes.append(f"{n_before} goroutine(s) existed before the trace started: they arrive at 0 s, and their "
                         "stacks count from the size the trace first shows")
    return fit


def _gomaxprocs(summary: dict, given: int | None, warnings: list) -> tuple[int, str]:
    """The scenario's GOMAXPROCS and its note: as given, else the trace's, the one in effect longest where
    the program changed it (a scenario has one; a warning says what the others were)."""
    spans = {int(n): s for n, s in summary.get("gomaxprocs_in_effect", {}).items()}
    traced = next(iter(spans), 0) or int(summary["scenario"]["runtime"]["gomaxprocs"]) or 1
    seen = ", ".join(f"{n} for {s:.3g} s" for n, s in spans.items())
    if len(spans) > 1 and given is None:
        warnings.append(f"GOMAXPROCS changed during the trace ({seen}): a scenario has one, fitted at {traced}, "
                        "the one in effect longest (--gomaxprocs sets another); in the other periods the real "
                        "runtime had other Ps, with their own stack caches, and started other Ms")
    if given is not None:
        return given, f"gomaxprocs: {given}, as given (the trace's /sched/gomaxprocs:threads: {seen or traced})"
    if len(spans) > 1:
        return traced, f"gomaxprocs: {traced}, in effect longest of the trace's {seen} (/sched/gomaxprocs:threads)"
    return traced, f"gomaxprocs: {traced}, from the trace's /sched/gomaxprocs:threads"


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


def _rounds_caps(groups: list, replay: bool, main_blocks: int, budget: int) -> list[int]:
    """The most rounds each class's program may have (the groups', then main_work's).  A round is one of its
    goroutines' real block-and-run cycles: spread over fewer, each run step holds the P for several real runs'
    time, and the goroutines behind it wait (the net/http program at GOMAXPROCS 1: its clients' 1,800 runs of
    4 us as 32 of 210 us, mean StackInuse +20 %, +9 % with a round per block).  Written out, rounds cost values
    (the loader counts an alias's values at each use: a replayed step one per goroutine, a law at most
    ``laws.MAX_VALUES``).  Where every class's wanted rounds exceed the ``budget`` the file leaves them, each
    class may spend as many values on rounds as the budget allows all of them alike (the most that fits), so
    a class of few long-lived goroutines keeps more rounds than one of many; never fewer than one."""
    wants = [(int(min(MAX_ROUNDS, np.median(_blocks(g.rows, g.resident)))),
              3 * (len(g.rows) if replay else min(len(g.rows), laws.MAX_VALUES)) + 8) for g in groups]
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


def _fit_class(g: Group, end: float, fixed: int, arrivals: str, warnings: list, replay: bool = False,
               max_rounds: int = MAX_ROUNDS) -> FittedClass:
    r = g.rows.sort_values(["created", "goroutine"], na_position="first", kind="stable")
    fit_law = laws.replay_law if replay else laws.fit_law
    n = len(r)
    notes = [f"{n} goroutine(s) created by {', '.join(g.sites)}" + (" still alive at the end of the trace"
                                                                     if g.resident else "")]
    created = r["created"].fillna(0.0).to_numpy()
    if arrivals == "trace" or replay:
        arr = {"process": "trace", "times": tuple(np.sort(created).tolist()), "why": "the observed times" + (" (--replay)" if replay else " (--arrivals trace)")}
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
    # a class whose median goroutine never blocks gets no rounds: its goroutines' running time after a block,
    # and any growth there, goes into the one run they have
    one_run = not g.resident and np.median(_blocks(r, g.resident)) < 1
    d_first = d_block if grows_late and not one_run else d_max
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
    else:
        ended_first = r["first_block"].notna().to_numpy() | exited
        program = _first_run(r, d_first, first_law, shown, grows_late, fixed, fit_law, cut, ended_first, replay, notes)
    # from its creation to its first run it waited for its creator to stop running (a new goroutine goes to
    # the creator's P, next) and then for the goroutines ahead of it.  The second wait the simulation makes
    # itself; the first it cannot (a scenario does not tie a goroutine to its creator's run): a block
    held = r["held"].to_numpy()
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
    blocks = _blocks(r, g.resident)
    rounds = int(min(max_rounds, np.median(blocks)))  # (most of a class that seldom blocks: none)
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
    gates = {} if g.resident or not rounds else _gates(g.name, r, rounds, end, notes)
    waited_rounds = waited_all - sum(gate.pop("took") for gate in gates.values())
    if rounds:
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
    if g.resident:
        program.append({"depth": _resting(r, park, fixed, fit_law, notes), "block": "forever"})
    if not rounds and not g.resident:
        notes.append(f"no rounds of block and run: {np.mean(blocks == 0):.0%} of them never blocked before they ended")
    if rounds > 1:
        notes.append(f"{rounds} rounds of block and run: the median goroutine blocked "
                     + (f"{rounds} times" if rounds == int(np.median(blocks)) else
                        f"{int(np.median(blocks))} times, more rounds than the scenario's size limit leaves")
                     + f"; each round is a {rounds}th of its blocked and later running time")
    notes.append(f"durations: running {_ms(r['run_first'].mean())} before the first block, blocked "
                 f"{_ms(waited_all.mean())} in all, running {_ms(r['run_after'].mean())} after (means)"
                 + (", then blocked until the end" if g.resident else ""))
    spec["program"] = program
    return FittedClass(g.name, spec, notes, g.sites, list(gates.values()))


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


def _main_class(running: float, blocked: float, blocks: int, taken: set, max_rounds: int = MAX_ROUNDS) -> FittedClass:
    """The main goroutine's own work: in a scenario main only starts the goroutines, but in the trace it
    also ran, and its running time is P time the others wait for (fanout at GOMAXPROCS 1: 551 goroutines
    alive on average without it, 606 with it, 709 in the trace).  Only the time when none of the
    goroutines it made waited for it (their first block holds that).  One goroutine runs it for main, in rounds of
    constant run and block; its own stack is the one thing it adds that the trace has not."""
    rounds = int(min(max_rounds, max(1, blocks)))
    run = laws.Law("constant", running / rounds, running / rounds)
    wait = laws.Law("constant", blocked / rounds, blocked / rounds)
    name = next(n for n in ("main_work", *(f"main_work_{k}" for k in range(2, 99))) if n not in taken)
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
