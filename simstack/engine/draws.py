"""Per-goroutine draws, fast: constants as values, random fields in blocks.

A class's random fields draw from the class's own stream; instead of one numpy call
per goroutine (a microsecond each), each field takes 1024 draws at a time and hands
them out in order.  Same seed, same values, every run.  ``sequence`` fields stay
indexed by the goroutine's ordinal in its class.
"""
from __future__ import annotations

import numpy as np

from ..scenario.distributions import Sequence

BLOCK = 1024
INT_CAP = float(2**62)  # largest integer draw (depths, counts)


class Draw:
    """The values of one per-goroutine field (a step's depth, duration or spawn count)."""

    __slots__ = ("dist", "rng", "integer", "const", "buf", "pos", "seq")

    def __init__(self, dist, rng, integer: bool):
        self.dist, self.rng, self.integer = dist, rng, integer
        self.const = None
        self.buf: list = []
        self.pos = 0
        self.seq = isinstance(dist, Sequence)
        if dist.is_constant and not isinstance(dist, Sequence):
            self.const = self._clip(np.asarray([dist.support()[0]]))[0]

    def _clip(self, a: np.ndarray) -> list:
        """The contract's rounding: integers to nearest (halves up) and at least 0; times at least 0."""
        if self.integer:
            # bounded before the cast: a heavy tail (lognormal, pareto) can pass int64; such a depth
            # overflows any stack anyway, and the loader refuses inf/NaN parameters
            return np.clip(np.nan_to_num(np.floor(a + 0.5), nan=0.0, posinf=INT_CAP), 0, INT_CAP).astype(np.int64).tolist()
        return np.maximum(0.0, np.nan_to_num(a, nan=0.0, posinf=np.inf)).tolist()

    def __call__(self, index: int):
        if self.const is not None:
            return self.const
        if self.seq:
            return self._clip(self.dist.sample_many(self.rng, 1, index))[0]
        if self.pos == len(self.buf):
            self.buf = self._clip(self.dist.sample_many(self.rng, BLOCK))
            self.pos = 0
        v = self.buf[self.pos]
        self.pos += 1
        return v


class CStep:
    """A program step resolved for the engine: plain attributes, draws ready."""

    __slots__ = ("kind", "depth", "frame", "duration", "forever", "until", "wait", "transient", "park_frames",
                 "spawn", "count", "index")

    def __init__(self, step, index: int, rng):
        self.index = index
        self.kind = step.kind
        self.depth = Draw(step.depth, rng, True) if step.depth is not None else None
        self.frame = step.frame
        self.duration = Draw(step.duration, rng, False) if step.duration is not None else None
        self.forever = bool(getattr(step, "forever", False))
        self.until = step.until
        self.wait = getattr(step, "wait", None)
        self.transient = step.transient
        self.park_frames = tuple(step.park_frames or ())
        self.spawn = step.spawn
        self.count = Draw(step.count, rng, True) if step.count is not None else None
