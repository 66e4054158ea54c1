"""The scenario's ``runtime.cpu`` from the trace: the P time its goroutines' running does not hold.

A fitted class's run steps are the goroutines' own running time, which holds what the runtime did
on their behalf (a ``go`` statement, a growth, the park path up to the switch). What they do not
hold is the time GC's background mark workers ran, and each P's switch from a goroutine that
parked or exited to the next one (``park_m`` or ``goexit0``, ``schedule``, ``execute``). On a
saturated P that time sets how fast the run queue grows, so it is fitted: ``mark_cycle`` and
``mark_goroutine`` from the workers' time per completed cycle against the goroutines alive at its
start (least squares, neither below 0), ``park`` and ``goexit`` the median switches. The model
charges the mark's work to the busy Ps during each cycle's mark phase, whose length the GC section
gives (``Ps.mark_debt``).
"""
from __future__ import annotations

import numpy as np


def fit_cpu(watch) -> tuple[dict, list]:
    """(``runtime.cpu`` fields, notes) from a :class:`~.observe.Watcher` that followed the whole trace."""
    cpu, notes = {}, []
    # the last cycle may be cut by the trace's end: only cycles followed by another, or ended, count
    cycles = watch.mark_work[:-1] if watch.marking else watch.mark_work
    if cycles:
        work = np.array([w for w, _ in cycles])
        live = np.array([n for _, n in cycles], dtype=float)
        a, b = _line(work, live)
        cpu["mark_cycle"], cpu["mark_goroutine"] = a, b
        notes.append(f"cpu.mark_cycle, mark_goroutine: GC's background mark workers ran {1e3 * work.sum():.3g} ms "
                     f"in the trace's {len(cycles)} cycles ({1e3 * work.min():.3g} to {1e3 * work.max():.3g} ms "
                     f"each), fitted as {1e6 * a:.4g} us a cycle and {1e6 * b:.4g} us a live goroutine "
                     f"({live.min():.0f} to {live.max():.0f} at the cycles' starts); the model takes it from the "
                     "busy Ps during each mark phase")
    for field, to in (("park", "Waiting"), ("goexit", "NotExist")):
        gaps = watch.switches.get(to, ())
        if gaps:
            cpu[field] = float(np.median(gaps))
            notes.append(f"cpu.{field}: the median of {len(gaps):,} switches a P made from a goroutine that "
                         f"{'parked' if to == 'Waiting' else 'exited'} to the next one, already runnable "
                         f"({1e6 * cpu[field]:.3g} us)")
    return cpu, notes


def _line(work: np.ndarray, live: np.ndarray) -> tuple[float, float]:
    """work = a + b * live by least squares, a and b at least 0 (one of them 0 if the fit wants it below)."""
    if len(work) >= 2 and np.ptp(live) > 0:
        b, a = np.polyfit(live, work, 1)
        if a >= 0 and b >= 0:
            return float(a), float(b)
        if b < 0:
            return float(work.mean()), 0.0
        return 0.0, float((work * live).sum() / (live * live).sum())
    return float(work.mean()), 0.0
