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
becomes.  A class whose grown goroutines were shrunk when a GC found them parked parks at depth 0
(its entry frame and the park path: the least a parked goroutine uses); one whose were not
parks just above a quarter of its usual stack, the least that keeps the stack whole.  Both
are the least the observation allows: deeper would raise the adaptive starting size, which
in the traces measured stays at the fixed size nearly always.  Every
fitted class has frames of ``FRAME`` bytes and an entry frame of ``ENTRY`` bytes: these are
chosen, not observed, and only the depth times the frame matters for the sizes.
"""
from __future__ import annotations

import numpy as np

GUARD = 928  # StackGuard, linux/amd64 go1.19 and go1.27 (go1.12: 880)
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


def park_depth(size: int, shrunk: bool) -> int:
    """The depth a class parks at: 0 if GC shrank its parked stacks, else the least that keeps just over
    a quarter of ``size`` in use (the park path's own frames included; see the module docstring)."""
    below = BASE + ENTRY + PARK
    if shrunk:
        return 0
    return max(0, -int(-(size / 4 + SLOT - below) // (FRAME + SLOT)))
