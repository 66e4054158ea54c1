"""Per-goroutine draws, fast: constants as values, random fields in blocks.

A class's random fields draw from the class's own stream; instead of one numpy call
per goroutine (a microsecond each), each field takes 1024 draws at a time and hands
them out in order.  Same seed, same values, every run.  ``sequence`` fields stay
indexed by the goroutine's ordinal in its class.  Compiled with the Ps (``setup.py``),
which read a step's fields and draw its values for every goroutine.
"""
from __future__ import annotations

from typing import Any, Final, Optional

import numpy as np

from ..scenario.distributions import Sequence

BLOCK: Final = 1024
INT_CAP: Final = float(2**62)  # largest integer draw (depths, counts)


class Draw:
    """The values of one per-goroutine field (a step's depth, duration or spawn count)."""

    def __init__(self, dist: Any, rng: Any, integer: bool) -> None:
        self.dist: Any = dist
        self.rng: Any = rng
        self.integer = integer
        self.const: Any = None  # the value, for a constant field
        self.buf: list[Any] = []
        self.pos = 0
        self.seq = isinstance(dist, Sequence)
        # a sparse sequence of depths without ``others``: the goroutines it does not name stay where they are
        self.stay: Any = (frozenset(dist.at) if self.seq and integer and dist.at is not None and dist.others is None
                          else None)
        if dist.is_constant and not self.seq:
            self.const = self._clip(np.asarray([dist.support()[0]]))[0]

    def _clip(self, a: Any) -> list[Any]:
        """The contract's rounding: integers to nearest (halves up) and at least 0; times at least 0."""
        if self.integer:
            # bounded before the cast: a heavy tail (lognormal, pareto) can pass int64; such a depth
            # overflows any stack anyway, and the loader refuses inf/NaN parameters
            return np.clip(np.nan_to_num(np.floor(a + 0.5), nan=0.0, posinf=INT_CAP), 0, INT_CAP).astype(np.int64).tolist()
        return np.maximum(0.0, np.nan_to_num(a, nan=0.0, posinf=np.inf)).tolist()

    def value(self, index: int) -> Any:
        """The field's value for the goroutine with ordinal ``index`` in its class."""
        if self.const is not None:
            return self.const
        if self.seq:
            if self.stay is not None and index not in self.stay:
                return -1  # (a depth step: no move)
            return self._clip(self.dist.sample_many(self.rng, 1, index))[0]
        if self.pos == len(self.buf):
            self.buf = self._clip(self.dist.sample_many(self.rng, BLOCK))
            self.pos = 0
        v = self.buf[self.pos]
        self.pos += 1
        return v


class CStep:
    """A program step resolved for the engine: plain attributes, draws ready."""

    def __init__(self, step: Any, index: int, rng: Any) -> None:
        self.index = index
        self.kind: str = step.kind
        self.depth: Optional[Draw] = Draw(step.depth, rng, True) if step.depth is not None else None
        self.frame: Any = step.frame
        self.duration: Optional[Draw] = Draw(step.duration, rng, False) if step.duration is not None else None
        self.forever = bool(getattr(step, "forever", False))
        self.until: Optional[Draw] = Draw(step.until, rng, False) if step.until is not None else None
        self.wait: Any = getattr(step, "wait", None)
        self.transient: Any = step.transient
        self.park_frames: tuple[Any, ...] = tuple(step.park_frames or ())
        self.spawn: Any = step.spawn
        self.wake: Any = getattr(step, "wake", None)
        self.acquire: Any = getattr(step, "acquire", None)
        self.release: Any = getattr(step, "release", None)
        self.count: Optional[Draw] = Draw(step.count, rng, True) if step.count is not None else None
        self.join = bool(getattr(step, "join", False))


class ClassInfo:
    """A goroutine class resolved for the engine: its spec, index, random stream and steps."""

    def __init__(self, spec: Any, site: int, rng: Any, park_path: Any) -> None:
        self.spec: Any = spec
        self.name: str = spec.name
        self.site = site
        self.rng: Any = rng
        self.spawned = 0
        self.park_path: Any = park_path
        self.program: list[CStep] = [CStep(step, j, rng) for j, step in enumerate(spec.program)]
        self.repeat: Optional[int] = spec.repeat
        self.frame: Any = spec.frame
        self.entry_frame: Any = spec.entry_frame
        self.alloc_rate: Any = spec.alloc_rate
