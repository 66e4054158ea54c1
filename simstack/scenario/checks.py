"""Warnings: settings a scenario may legally have but almost certainly does not mean.

:func:`check_scenario` lists them as located :class:`~simstack.errors.ScenarioWarning`\\ s
(``simstack check`` and ``run`` print them on stderr; ``--strict`` makes them errors):

* a depth that puts more than 1 % of a step's goroutines past ``max_stack`` (each one
  is the runtime's fatal stack overflow, which ends the run);
* a lognormal written with ``mean`` (numpy's: the mean of ln(x)) whose median e^mean
  is far beyond what the field can take (deeper than fits in ``max_stack``, longer
  than the run, more goroutines than the run may create);
* arrivals and gate openings after the end of the run (checkpoints and GC there are errors);
* GOMAXPROCS above ``REAL_GOMAXPROCS``;
* a Poisson or uniform class whose ``count`` its rate cannot reach before the run (or
  ``until``) ends.

:func:`goroutine_limit_problems` finds classes that will start at least as many
goroutines as ``simstack run`` may create (``--max-goroutines``): ``run`` refuses
them, ``check`` warns.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import Problem, ScenarioWarning
from .distributions import Dist, LogNormal, Sequence
from .loader import located
from .model import GoroutineClass, RuntimeSpec, Scenario

OVERFLOW_SHARE = 0.01  # a depth warns when more of its draws than this overflow
REAL_GOMAXPROCS = 256  # more Ps than all but the largest machines have CPUs (GOMAXPROCS defaults to the CPU count)
REACHED_SHARE = 0.9  # a count warns when its rate is expected to start fewer than this share of it
DRAWS = 100_000  # draws (seed 0) from which a distribution's share past a bound is estimated


def check_scenario(sc: Scenario, *, max_goroutines: int | None = None) -> list[ScenarioWarning]:
    """Every warning for ``sc``, in file order; ``max_goroutines`` bounds spawn counts (None: no bound)."""
    found = (_depth_warnings(sc) + _time_field_warnings(sc) + _spawn_count_warnings(sc, max_goroutines)
             + _after_the_end(sc) + _gomaxprocs(sc) + _unreachable_counts(sc))
    return sorted((located(sc.source or "<scenario>", path, sc._positions, msg, ScenarioWarning)
                   for path, msg in found), key=lambda w: (w.line or 0, w.column or 0))


def goroutine_limit_problems(sc: Scenario, max_goroutines: int | None) -> list[Problem]:
    """Classes that start ``max_goroutines`` or more goroutines (expected, for Poisson), where
    ``simstack run`` would stop (exit 3): located problems naming the limit and its flag."""
    if not max_goroutines:
        return []
    limit = (f"simstack run stops at {max_goroutines:,} goroutines (--max-goroutines: raise it, or 0 for no "
             "limit)")
    found, total = [], 0.0
    for i, c in enumerate(sc.goroutines):
        n, how = expected_starts(sc, c)
        if n is None:
            continue
        total += n
        if n >= max_goroutines:
            field = "count" if c.count is not None and n >= c.count else "arrival"
            found.append((("goroutines", i, field), f"class {c.name!r} starts {how}{n:,.0f} goroutines; {limit}"))
    if not found and total >= max_goroutines:
        found.append((("goroutines",), f"the classes start {total:,.0f} goroutines in all; {limit}"))
    return [located(sc.source or "<scenario>", path, sc._positions, msg) for path, msg in found]


def expected_starts(sc: Scenario, c: GoroutineClass) -> tuple[float | None, str]:
    """How many goroutines the class's arrival process starts (None for spawned classes) and
    'about ' when that is an expectation."""
    a = c.arrival
    if a.process == "spawned":
        return None, ""
    if a.process == "burst":
        return float(c.count), ""
    if a.process == "trace":
        return float(sum(1 for t in a.times if sc.duration is None or t <= sc.duration)), ""
    by_time = _by_time(sc, c)
    if by_time is None:
        return float(c.count), ""
    n = by_time if c.count is None else min(c.count, by_time)
    return float(n), "" if c.count is not None and n == c.count or a.process == "uniform" else "about "


def _by_time(sc: Scenario, c: GoroutineClass) -> float | None:
    """Goroutines a Poisson or uniform arrival starts (expected) before ``until`` or the run's end."""
    a = c.arrival
    end = min(x for x in (a.until, sc.duration, math.inf) if x is not None)
    if math.isinf(end):
        return None
    if end < a.start:
        return 0.0
    window = end - a.start
    return window * a.rate if a.process == "poisson" else math.floor(window / a.every + 1e-9) + 1


def deepest_fit(rs: RuntimeSpec, entry_frame: int, frame: int) -> tuple[int, int]:
    """(deepest recursion of ``frame``-byte functions below the entry function that the model
    runs without its fatal stack overflow, the stack limit in bytes), found by newstack itself;
    -1 when the entry function alone overflows."""
    return _deepest_fit(rs.model_dump_json(), entry_frame, frame)


@lru_cache(maxsize=256)
def _deepest_fit(runtime_json: str, entry_frame: int, frame: int) -> tuple[int, int]:
    from ..runtime.growth import StackOverflow
    from ..runtime.profiles import resolve_profile
    from ..runtime.runtime import Runtime
    from .distributions import MAX_INT_DRAW

    rs = RuntimeSpec.model_validate_json(runtime_json)
    prof = resolve_profile(rs.version, rs.platform, godebug=dict(rs.godebug), max_stack=rs.max_stack,
                           overrides=rs.overrides.model_dump())
    rt = Runtime(prof, 1, baseline=False)
    p = rt.allp[0]
    gp = rt.newproc(p, 0, entry_frame)
    try:
        rt.enter(gp, p)  # -1: not even the entry function fits
        rt.move_to_depth(gp, p, MAX_INT_DRAW, frame)
    except StackOverflow as exc:
        return exc.depth - 1, exc.limit
    return MAX_INT_DRAW, prof.max_stack


def _share_above(d: Dist, bound: float) -> float:
    """Share of the integer draws of ``d`` above ``bound``: exact for a sequence, else from DRAWS draws."""
    x = (np.asarray(d.values + ([d.others or 0] if d.at is not None else []), dtype=float) if isinstance(d, Sequence)
         else d.sample_many(np.random.default_rng(0), DRAWS))
    return float(np.mean(np.floor(x + 0.5) > bound))


def _steps(sc: Scenario, field: str):
    for i, c in enumerate(sc.goroutines):
        for j, st in enumerate(c.program):
            if getattr(st, field) is not None and isinstance(getattr(st, field), Dist):
                yield ("goroutines", i, "program", j, field), c, st, getattr(st, field)


def _log_mean_beyond(d: Dist, bound: float, unit: str, beyond: str) -> str | None:
    """The lognormal-``mean`` warning, when e^mean is past ``bound``."""
    if not isinstance(d, LogNormal) or d.mean_ is None or not math.exp(min(d.mean_, 700)) > bound:
        return None
    m = d.mean_
    return (f"lognormal's mean is numpy's, the mean of ln(x), not of x: mean: {m:g} draws values around "
            f"e^{m:g} = {math.exp(min(m, 700)):.3g}{unit}, {beyond}; for values around {m:g} write "
            f"median: {m:g} (mu: {m:g} is the same as mean: {m:g})")


def _depth_warnings(sc: Scenario) -> list:
    found = []
    for i, c in enumerate(sc.goroutines):
        deepest, limit = deepest_fit(sc.runtime, c.entry_frame, c.frame)
        if deepest < 0:
            found.append((("goroutines", i, "entry_frame"), f"the {c.entry_frame:,}-byte entry function alone does not "
                          f"fit in the {limit:,}-byte stack limit; the first goroutine of class {c.name!r} ends "
                          "the run with the runtime's fatal stack overflow"))
    for path, c, st, d in _steps(sc, "depth"):
        frame = st.frame if st.frame is not None else c.frame
        deepest, limit = deepest_fit(sc.runtime, c.entry_frame, frame)
        if deepest < 0:
            continue
        fits = f"{deepest:,} frames, the most that fit in the {limit:,}-byte stack limit with {frame}-byte frames"
        message = _log_mean_beyond(d, deepest, " frames", f"far deeper than {fits}")
        if message is None:
            share = _share_above(d, deepest)
            if share <= OVERFLOW_SHARE:
                continue
            if d.is_constant:
                what = f"depth {math.floor(d.support()[0] + 0.5):,} is"
            elif isinstance(d, Sequence):
                what = f"{round(share * len(d.values)):,} of its {len(d.values):,} values are"
            else:
                what = f"{'all' if share == 1 else f'about {share:.1%}'} of its draws are"
            message = (f"{what} deeper than {fits}; the first such goroutine ends the run with the runtime's "
                       "fatal stack overflow")
        found.append((path, message))
    return found


def _time_field_warnings(sc: Scenario) -> list:
    if sc.duration is None:
        return []
    found = []
    for field in ("run", "block"):
        for path, _, _, d in _steps(sc, field):
            message = _log_mean_beyond(d, sc.duration, " s", f"longer than the whole run ({sc.duration:g} s)")
            if message is not None:
                found.append((path, message))
    return found


def _spawn_count_warnings(sc: Scenario, max_goroutines: int | None) -> list:
    if not max_goroutines:
        return []
    found = []
    for path, _, _, d in _steps(sc, "count"):
        message = _log_mean_beyond(d, max_goroutines, " goroutines",
                                   f"more than the run may create ({max_goroutines:,}, --max-goroutines)")
        if message is not None:
            found.append((path, message))
    return found


def _after_the_end(sc: Scenario) -> list:
    """Arrivals, gate openings and GOMAXPROCS changes after ``duration``: they never happen."""
    if sc.duration is None:
        return []
    end = f"after the end of the run (duration {sc.duration:g}s)"
    found = []
    for i, c in enumerate(sc.goroutines):
        a = c.arrival
        for field in ("at", "start"):
            t = getattr(a, field)
            if t is not None and t > sc.duration and (field == "at") == (a.process == "burst"):
                found.append((("goroutines", i, "arrival", field), f"time {t:g}s is {end}: class {c.name!r} "
                                                                    "never starts"))
        late = [k for k, t in enumerate(a.times or []) if t > sc.duration]
        if late:
            found.append((("goroutines", i, "arrival", "times", late[0]),
                          f"{len(late)} of the {len(a.times)} trace times are {end}: those goroutines never start"))
    for k, g in enumerate(sc.gates):
        for n, t in enumerate(g.open_at):
            if t > sc.duration:
                found.append((("gates", k, "open_at", n), f"time {t:g}s is {end}: gate {g.name!r} never opens then"))
    for k, c in enumerate(sc.runtime.gomaxprocs_changes):
        if c.at >= sc.duration:
            found.append((("runtime", "gomaxprocs_changes", k, "at"), f"time {c.at:g}s is at or {end}: GOMAXPROCS "
                                                                      f"never becomes {c.gomaxprocs} then"))
    return found


def _gomaxprocs(sc: Scenario) -> list:
    rs = sc.runtime
    values = [(("runtime", "gomaxprocs"), rs.gomaxprocs)] + [
        (("runtime", "gomaxprocs_changes", i, "gomaxprocs"), c.gomaxprocs) for i, c in enumerate(rs.gomaxprocs_changes)]
    return [(where, f"GOMAXPROCS {n} is far above the CPUs of all but the largest machines (more than "
                    f"{REAL_GOMAXPROCS}); every P has its own stack cache and run queue, so this shapes the result; "
                    "give the CPU count of the machine meant") for where, n in values if n > REAL_GOMAXPROCS]


def _unreachable_counts(sc: Scenario) -> list:
    """A Poisson or uniform class whose rate starts clearly fewer than ``count`` before its window ends."""
    found = []
    for i, c in enumerate(sc.goroutines):
        a = c.arrival
        if a.process not in ("poisson", "uniform") or c.count is None:
            continue
        by_time = _by_time(sc, c)
        if by_time is None or by_time >= REACHED_SHARE * c.count or sc.duration is not None and a.start > sc.duration:
            continue  # (a start after the end has its own warning)
        pace = f"{a.rate:g}/s" if a.process == "poisson" else f"one every {a.every:g}s"
        end = f"{a.until:g}s" if a.until is not None and (sc.duration is None or a.until <= sc.duration) \
            else f"the end of the run ({sc.duration:g}s)"
        found.append((("goroutines", i, "count"),
                      f"count is {c.count:,}, but {a.process} arrivals at {pace} from {a.start:g}s until {end} start "
                      f"{'about ' if a.process == 'poisson' else ''}{by_time:,.0f} ({by_time / c.count:.0%}); "
                      "the rest never start"))
    return found
