"""How far a fit with laws moves from one seed to the next, and which class moves it.

A class fitted with laws draws each goroutine's depth and durations anew in every simulation.  Where
a few of its goroutines hold most of its stack-time (a test binary's subtests: 24 of 623 recursing to
2 – 8 MiB, 3 holding half of the class's stack-time), which goroutines draw a deep stack and a long run
changes with the seed, and so does the whole program's mean StackInuse: the encoding/json tests' fit
(GOMAXPROCS 1) was −76 to −29 % from its trace over five seeds, where the replay, which keeps each
goroutine's own values, does not move.

For ``n`` goroutines whose stack (largest size ``s``) and time running and blocked (``t``) are drawn
apart, as the laws draw them, the class's stack-time (the sum of ``s·t``) has a relative standard
deviation of ``sqrt((E[s²]·E[t²] / (E[s]·E[t])² − 1) / n)``.  Weighted by the class's share of the
program's stack-time it is how much that class alone moves the program's from seed to seed.
"""
from __future__ import annotations

import numpy as np

WARN_AT = 0.05  # a class that alone moves the program's stack-time by this much (one standard deviation)


def stack_time(r, fixed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each goroutine's largest stack (bytes) and its time running and blocked (seconds), as the laws draw them
    (not its wait for a P, which the simulation makes)."""
    size = r["max_stack"].fillna(0).to_numpy(float)
    size = np.where(size > 0, size, r["final_size"].fillna(0).to_numpy(float))
    size = np.where(size > 0, size, fixed)
    t = (r["run_first"].fillna(0.0) + r["waited"].fillna(0.0) + r["run_after"].fillna(0.0)).to_numpy(float)
    return size, t


def relative_sd(size: np.ndarray, t: np.ndarray) -> float:
    """The relative standard deviation of the sum of ``size·t`` over ``len(size)`` goroutines drawn apart."""
    n = len(size)
    m = float(np.mean(size) * np.mean(t)) if n else 0.0
    if m <= 0:
        return 0.0
    return float(np.sqrt(max(np.mean(size ** 2) * np.mean(t ** 2) / m ** 2 - 1.0, 0.0) / n))


def seed_warnings(groups: list, fixed: int) -> list[str]:
    """A warning for each class that alone moves the program's stack-time by ``WARN_AT`` or more from seed to
    seed (residents left out: they park for good, their stack-time is the run's length)."""
    parts = []
    for g in groups:
        if g.resident or not len(g.rows):
            continue
        size, t = stack_time(g.rows, fixed)
        w = size * t
        parts.append((g.name, relative_sd(size, t), float(w.sum()), w))
    total = sum(p[2] for p in parts)
    out = []
    for name, rsd, held, w in parts:
        if total <= 0 or rsd * held / total < WARN_AT:
            continue
        top = np.sort(w)[::-1]
        few = int(np.searchsorted(np.cumsum(top), top.sum() / 2) + 1)
        moved = 100 * rsd * held / total
        out.append(f"class {name}: drawn anew with each seed, it alone moves the stack-time of the program's "
                   f"goroutines by about ±{moved:.0f} % (one standard deviation) from one simulation to the next: "
                   f"{few} of its {len(w)} goroutines held half of its stack-time (largest stack x time running and "
                   "blocked) in the trace. Compare what-ifs over several seeds (simstack sweep -r 10), or fit with "
                   "--replay (docs/fit.md)")
    return out
