"""From observed stack sizes back to call chains: the frame and depth values a fitted class gets.

A trace gives a goroutine's stack sizes (powers of two) and when each growth happened, not
its frames.  The prologue check (``morestack`` when ``used + max(0, F - StackSmall) >= size -
StackGuard``; docs of ``simstack/runtime/growth.py``) can be inverted: a goroutine whose stack
ended at ``S`` bytes after growing used between ``S/2 - StackGuard`` and ``S - StackGuard``
bytes at its deepest.  The fit aims at the middle of that window, ``3S/4 - StackGuard``, so that
neither the guard's differences between versions (880 to 928 bytes on the modelled 64-bit
platforms) nor the runtime's own frames on the park path move a goroutine to another size.  A
goroutine that never grew used less than ``S - StackGuard``: it gets half of what the fixed
starting stack holds, so that it does not grow in a simulation that starts it smaller.

Where a goroutine parks decides whether GC shrinks its stack (when less than a quarter is in
use) and what the adaptive starting size (Go 1.19+: the average bytes in use GC scanned)
becomes.  The shrink rule inverts too (:func:`park_window`): a size at which GC halved a class's
parked stacks bounds what they use from above, one at which it kept them from below, and a
class with both parks in the middle.  With one bound only, a class parks at the least it
allows: depth 0 (its entry frame and the park path) if GC halved them, else just above a
quarter of its usual stack, the least that keeps the stack whole (:func:`park_depth`).

A long-lived goroutine's later runs each need a size of their own (:func:`run_sizes`, from the
runs the trace shows; :func:`round_sizes`, from the largest sizes, where it shows too few).  Every
fitted class has frames of ``FRAME`` bytes and an entry frame of ``ENTRY`` bytes: these are
chosen, not observed, and only the depth times the frame matters for the sizes.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

GUARD = 928  # StackGuard, linux/amd64 go1.19 and go1.27 (go1.12: 880)
NOSPLIT = 800  # stackNosplit (_StackLimit), go1.19 and go1.27 (go1.12: 752): shrinkstack adds it to the bytes in use
FRAME = 120  # bytes per recursive frame of a fitted class (8 more for the return address)
ENTRY = 64  # the fitted class's entry frame
SLOT = 8  # the return address pushed by each call
BASE = 16  # below the entry frame: goexit's return address and the call into the entry function
PARK = 192  # the runtime's frames on the park path (chanrecv1, chanrecv, gopark) in the modelled versions


def used_target(size: int, grew: bool, fixed: int = 2048) -> float:
    """The bytes in use that end at a stack of ``size`` (3/4 of the way up the window; see above); for
    a goroutine that never grew, half of what fits the fixed starting stack, whatever size it started
    at (a larger start came from the adaptive policy, which the simulation decides for itself)."""
    if grew:
        return 0.75 * size - GUARD
    return max(0.0, (fixed - GUARD) / 2)


def depth_for(size: int, grew: bool, fixed: int = 2048) -> int:
    """Frames of ``FRAME`` bytes below the entry frame that use about :func:`used_target` bytes."""
    return max(0, int(round((used_target(size, grew, fixed) - BASE - ENTRY) / (FRAME + SLOT))))


def depths(sizes, grew, start: int) -> np.ndarray:
    """The depth of every goroutine from the stack size it reached and whether it grew to reach it
    (``start``: the size to assume where the trace does not know it)."""
    return np.array([depth_for(int(s) if s > 0 else start, bool(g), start) for s, g in zip(sizes, grew)], dtype=int)


def park_window(kept_at, shrunk_at, fixed: int = 2048) -> tuple[float, float]:
    """The bytes in use a class parks with, as far as GC's shrinks tell: (least, most), either infinite.

    ``shrinkstack`` halves a parked stack of ``S`` bytes when ``used + stackNosplit < S/4``: a size at
    which GC mostly halved the class's parked stacks bounds its use from above, one at which GC mostly
    kept them bounds it from below.  Sizes GC cannot halve (the fixed stack) tell nothing."""
    kept, shrunk = Counter(kept_at), Counter(shrunk_at)
    lo, hi = -np.inf, np.inf
    for size in set(kept) | set(shrunk):
        if size <= fixed:
            continue
        edge = size / 4 - NOSPLIT
        if shrunk[size] > kept[size]:
            hi = min(hi, edge)
        elif kept[size] > shrunk[size]:
            lo = max(lo, edge)
    return lo, hi


def depth_using(used: float) -> int:
    """The park depth at which a parked goroutine uses about ``used`` bytes (its park path included)."""
    return max(0, int(round((used - BASE - ENTRY - PARK) / (FRAME + SLOT))))


def depth_above(used: float) -> int:
    """The least park depth at which a parked goroutine uses more than ``used`` bytes."""
    return max(0, int(np.floor((used - BASE - ENTRY - PARK) / (FRAME + SLOT))) + 1)


def park_depth(size: int, shrunk: bool) -> int:
    """The depth a class parks at: 0 if GC shrank its parked stacks, else the least that keeps just over
    a quarter of ``size`` in use (the park path's own frames included; see the module docstring)."""
    below = BASE + ENTRY + PARK
    if shrunk:
        return 0
    return max(0, -int(-(size / 4 + SLOT - below) // (FRAME + SLOT)))


def round_sizes(size_max, size_first, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """The stack size one of ``rounds`` later runs needs, as (sizes, probabilities): the law whose maximum
    over the rounds, with the first run's size (``size_first``), is distributed as the largest sizes the
    goroutines reached (``size_max``).

    A long-lived goroutine (a pool's worker, a connection's loop) reaches its largest stack in its
    deepest job, not in every job; a trace shows the largest, and the sizes when GC's shrinks are
    grown back.  With independent rounds, ``P(max <= s) = P(first <= s) * P(round <= s) ** rounds``,
    so each round's law is ``(F_max / F_first) ** (1 / rounds)``, made non-decreasing.  Below the
    smallest first-run size a round's size cannot be seen (the stack is larger already): its share
    goes to that size, the least the trace allows."""
    size_max = np.asarray(size_max)
    size_first = np.asarray(size_first)
    grid = np.unique(np.concatenate([size_max, size_first]))
    f_max = (size_max[:, None] <= grid).mean(axis=0)
    f_first = (size_first[:, None] <= grid).mean(axis=0)
    f = np.zeros(len(grid))
    seen = f_first > 0
    f[seen] = (f_max[seen] / f_first[seen]) ** (1.0 / max(1, rounds))
    f = np.minimum(np.maximum.accumulate(f), 1.0)
    f[-1] = 1.0
    p = np.diff(f, prepend=0.0)
    keep = p > 0
    return grid[keep], p[keep]


def run_sizes(later_runs, per_round: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The stack size one later run needs, as (sizes, probabilities), from the runs the trace shows:
    ``later_runs`` holds (size when a run began, size when it blocked again).  A run that grew the stack
    needed the size it ended at; one that did not needed at most the size it began at, which after
    GC halved a parked stack is often less than the largest.  The law is the one that makes those
    observations likeliest (Turnbull's self-consistency iteration for interval-censored data, here
    on powers of two).  ``per_round``: real runs per fitted round, whose deepest the round goes to."""
    runs = np.asarray(later_runs, dtype=float).reshape(-1, 2)
    grew = runs[:, 1] > runs[:, 0]
    grid = np.unique(np.concatenate([runs[grew, 1], runs[~grew, 0]]))
    exact = (runs[grew, 1][:, None] == grid).sum(axis=0).astype(float)
    bounds, n_bound = np.unique(runs[~grew, 0], return_counts=True)
    below = bounds[:, None] >= grid  # the sizes each bound allows
    p = np.full(len(grid), 1.0 / len(grid))
    for _ in range(1000):
        share = below * p
        counts = exact + (n_bound[:, None] * share / share.sum(axis=1, keepdims=True)).sum(axis=0)
        new = counts / counts.sum()
        if np.abs(new - p).max() < 1e-10:
            break
        p = new
    p = new
    if per_round > 1:  # the deepest of per_round runs: F ** per_round
        f = np.cumsum(p) ** per_round
        p = np.diff(f, prepend=0.0)
    keep = p > 1e-6
    return grid[keep].astype(int), p[keep] / p[keep].sum()
