"""Goroutines woken together: a class whose first or last blocks end in waves waits on a gate.

A law draws each goroutine's block on its own.  Where a program releases its goroutines
together (a chain torn down in order, a ``close`` that wakes every waiter, clients stopped at
a deadline) their blocks end in a few waves whatever their lengths: a goroutine that parked
early waits long, one that parked late waits little, and the wave decides.  Drawn on their
own, the late ones outlive the wave and the early ones die before it (the Go tree's chain at
GOMAXPROCS 2: 2,800 goroutines alive at most in its first round where the trace has 9,000,
and every dead goroutine's stack that the runtime keeps on its free lists with them).

A gate (docs/scenario-extensions.md, §6 and §16) is what such a program does: every goroutine
parked on it wakes at its next opening, or, with ``wait_for``, once as many wait as the wave
woke.  :func:`openings` finds the waves and says whether a gate explains the blocks.
"""
from __future__ import annotations

import numpy as np

SPLIT = 0.1  # a gap longer than this share of the median block separates two waves
MATCH = 0.9  # the share of blocks a gate must explain: each woke in the first wave after it parked
PER_WAVE = 20  # at least this many goroutines per wave on average (fewer: the wakes are not waves)
FALSE_START = 0.1  # a wave this small beside the goroutines parked and the next wave is its start (_paused)


def openings(park, wake, min_count: int = 20) -> tuple[tuple, tuple, float]:
    """A gate for blocks that began at ``park`` and ended at ``wake`` (NaN: not by the trace's end):
    (its openings, how many each waits for, the share of the blocks it explains).

    The wakes fall in waves where, sorted, a gap longer than :data:`SPLIT` of the median block
    splits them, but for a release that paused (:func:`_paused`).  Where every wave woke (nearly)
    all the goroutines then parked, as a ``close`` does, the gate opens at each wave's first wake
    once as many wait on it as woke in that wave (main's ``WaitGroup.Wait`` before its ``close``,
    or a chain's last link parked): the
    simulation's goroutines reach it later or earlier than the real ones, and a fixed time would
    leave the late ones parked.  Otherwise (a wave that woke a few of the parked ones) it opens at
    each wave's first wake and again at its last, for those that parked while the wave was on, and
    waits for none.  It explains a block when the goroutine woke in the first wave that ended after
    it parked, or, not woken, parked after the last.  No gate, ``()``, when there are fewer than
    ``min_count`` blocks, fewer than :data:`PER_WAVE` a wave, or it explains less than :data:`MATCH`
    of them."""
    park = np.asarray(park, dtype=float)
    wake = np.asarray(wake, dtype=float)
    woken = ~np.isnan(wake)
    if len(park) < min_count or woken.sum() < min_count:
        return (), (), 0.0
    w = np.sort(wake[woken])
    split = SPLIT * float(np.median(wake[woken] - park[woken]))
    if split <= 0:
        return (), (), 0.0
    cut = np.flatnonzero(np.diff(w) > split)
    first, last = np.concatenate(([0], cut + 1)), np.concatenate((cut, [len(w) - 1]))
    first, last = _paused(first, last, w, park, wake)
    starts, ends = w[first], w[last]
    if len(park) < PER_WAVE * len(starts):
        return (), (), 0.0
    # the wave each goroutine woke in, and the first that ended after it parked (len(ends): none)
    woke_in = np.searchsorted(starts, wake, side="right") - 1
    due = np.searchsorted(ends, park, side="left")
    explained = np.where(woken, woke_in == due, due == len(ends))
    share = float(explained.mean())
    if share < MATCH:
        return (), (), share
    counts = last - first + 1
    parked = np.array([np.sum((park < t) & ~(wake < t)) for t in starts])  # parked when each wave began
    if np.all(counts >= MATCH * parked):
        return tuple(starts.tolist()), tuple(int(n) for n in counts), share
    return tuple(np.unique(np.concatenate((starts, ends))).tolist()), (), share


def _paused(first, last, w, park, wake) -> tuple:
    """Waves (``first``, ``last``: indices into the sorted wakes ``w``) with each release that paused made
    one: a wave that woke fewer than :data:`FALSE_START` of the goroutines parked when it began, and fewer
    than that share of the wave right after it, is that wave's start.  The chain at GOMAXPROCS 2 (traced):
    a round's wake, which runs back through its 10,000 goroutines, woke a few of them (5 to 108 of 2,157
    to 7,950 parked, in two recordings), paused while the P ran the round's goroutines still queued to
    their receive, then woke the rest; taken apart, the rest counted as woken a wave late, and the chain
    got its gate in two recordings of six (2026-12-06; all six since).  A wave that woke half of those
    parked is a wave of its own, however small."""
    f, l = [int(first[0])], [int(last[0])]
    for a, b in zip(first[1:], last[1:]):
        n, t0 = l[-1] - f[-1] + 1, w[f[-1]]
        parked = int(np.sum((park < t0) & ~(wake < t0)))
        if n < FALSE_START * (b - a + 1) and n < FALSE_START * parked:
            l[-1] = int(b)  # (the paused release goes on)
        else:
            f.append(int(a))
            l.append(int(b))
    return np.asarray(f), np.asarray(l)
