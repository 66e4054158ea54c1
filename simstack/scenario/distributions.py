"""Distributions for the numeric fields that are drawn per goroutine (depth, durations, count).

In YAML a distribution is a mapping with a ``dist`` tag, or a bare value meaning
``{dist: constant, value: X}``::

    depth: 12                                  # constant
    depth: {dist: uniform, low: 4, high: 40}
    run: {dist: exponential, mean: 2ms}
    depth: {dist: sequence, values: [1, 5, 50]}  # goroutine i of the class gets values[i]

Parameters that are values of the field (``value``, ``low``/``high``, ``mean``/``std``
of ``normal``, ``mean`` of ``exponential``/``geometric``, ``values`` of ``empirical``
and ``sequence``) are written in the field's unit and parsed by its unit parser
(``1.5ms``, ``2KiB``); for integer fields ``value`` and ``values`` must be integers
while the shape parameters may be fractional.  ``lognormal`` takes numpy's
parameters: ``mu`` (also spelt ``mean``, numpy's and the contract's name) and ``sigma``
of the underlying normal, i.e. of ``ln(x)`` with ``x`` in base units (bytes, seconds,
frames), so they are plain numbers; or ``median`` (e^mu) in the field's unit instead of
``mu``.
``geometric`` is numpy's geometric with ``p = 1/mean``: support 1, 2, 3, ... and
mean ``mean``.

A field type is made with :func:`dist_type` (``'int'``, ``'time'`` or ``'size'``).
Draws are raw floats; :func:`draw_int` and :func:`draw_time` apply the contract's
rounding and clipping.  ``sample`` is ``sample_many(rng, 1, index)[0]``, so ``n``
calls to ``sample`` with one generator give the same numbers as one call to
``sample_many`` with ``n``.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_serializer, model_validator

from ..errors import did_you_mean
from .units import SIZE_HELP, TIME_HELP, parse_size, parse_time, shown

V = TypeVar("V")  # type of a field value (integer frames, int bytes, float seconds)
P = TypeVar("P")  # type of a shape parameter in the field's unit


class Dist(BaseModel):
    """Base of all distributions; subclasses implement ``_draw`` and ``support``."""

    # a field named ``mean`` would hide the ``mean()`` method: such fields are ``mean_``, alias "mean"
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True,
                              serialize_by_alias=True)
    # the field path ('goroutines[0].program[1].depth'), set by the Scenario for messages
    _where: str = PrivateAttr("")

    def sample(self, rng: np.random.Generator, index: int = 0) -> float:
        """One draw for the goroutine with 0-based ordinal ``index`` within its class."""
        return float(self.sample_many(rng, 1, index)[0])

    def sample_many(self, rng: np.random.Generator, n: int, start_index: int = 0) -> np.ndarray:
        """``n`` draws (float64) for the goroutines ``start_index``, ``start_index+1``, ..."""
        return np.asarray(self._draw(rng, n, start_index), dtype=float)

    def _draw(self, rng: np.random.Generator, n: int, start: int) -> np.ndarray:
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible draw (before rounding/clipping)."""
        raise NotImplementedError

    @property
    def is_constant(self) -> bool:
        """True when every draw gives the same number."""
        lo, hi = self.support()
        return lo == hi

    def mean(self) -> float:
        """Expected value of a draw (before rounding/clipping)."""
        raise NotImplementedError


class Constant(Dist, Generic[V]):
    dist: Literal["constant"]
    value: V

    def _draw(self, rng, n, start):
        return np.full(n, self.value)

    def support(self):
        return self.value, self.value

    def mean(self):
        return float(self.value)

    @model_serializer
    def _bare(self):  # a constant is written back as the bare value
        return self.value


class Uniform(Dist, Generic[P]):
    dist: Literal["uniform"]
    low: P
    high: P

    @model_validator(mode="after")
    def _ordered(self):
        if self.low > self.high:
            raise ValueError(f"uniform needs low <= high, got low={self.low} high={self.high}")
        return self

    def _draw(self, rng, n, start):
        return rng.uniform(self.low, self.high, n)

    def support(self):
        return self.low, self.high

    def mean(self):
        return (self.low + self.high) / 2


class Normal(Dist, Generic[P]):
    dist: Literal["normal"]
    mean_: P = Field(alias="mean")
    std: P

    def _draw(self, rng, n, start):
        return rng.normal(self.mean_, self.std, n)

    def support(self):
        return (self.mean_, self.mean_) if self.std == 0 else (-math.inf, math.inf)

    def mean(self):
        return float(self.mean_)


class LogNormal(Dist, Generic[P]):
    """numpy's lognormal: ln(x) is normal with mean ``mu`` and standard deviation ``sigma``.

    ``mu`` may be given as ``mu``, as ``mean`` (numpy's name, the contract's: the mean of
    ln(x), not of x) or as ``median`` = e^mu, in the field's unit.
    """

    dist: Literal["lognormal"]
    mean_: float | None = Field(None, alias="mean")
    mu: float | None = None
    median: P | None = None
    sigma: float = Field(ge=0)

    @model_validator(mode="after")
    def _one_location(self):
        given = [name for name, v in (("mean", self.mean_), ("mu", self.mu), ("median", self.median))
                 if v is not None]
        if len(given) != 1:
            raise ValueError("lognormal takes one of mu (the mean of ln(x); 'mean' is the same, numpy's name) or "
                             f"median (e^mu, in the field's unit), got {' and '.join(given) or 'neither'}")
        if self.median is not None and not self.median > 0:
            raise ValueError(f"lognormal needs median > 0, got {self.median}")
        return self

    @property
    def log_mean(self) -> float:
        """mu: the mean of ln(x), however it was written."""
        if self.median is not None:
            return math.log(self.median)
        return self.mu if self.mu is not None else self.mean_

    def _draw(self, rng, n, start):
        return rng.lognormal(self.log_mean, self.sigma, n)

    def support(self):
        return (math.exp(self.log_mean),) * 2 if self.sigma == 0 else (0.0, math.inf)

    def mean(self):
        return math.exp(self.log_mean + self.sigma**2 / 2)


class Exponential(Dist, Generic[P]):
    dist: Literal["exponential"]
    mean_: P = Field(alias="mean", gt=0)

    def _draw(self, rng, n, start):
        return rng.exponential(self.mean_, n)

    def support(self):
        return 0.0, math.inf

    def mean(self):
        return float(self.mean_)


class Geometric(Dist, Generic[P]):
    dist: Literal["geometric"]
    mean_: P = Field(alias="mean", ge=1)

    def _draw(self, rng, n, start):
        return rng.geometric(1 / self.mean_, n)

    def support(self):
        return (1.0, 1.0) if self.mean_ == 1 else (1.0, math.inf)

    def mean(self):
        return float(self.mean_)


class Empirical(Dist, Generic[V]):
    dist: Literal["empirical"]
    values: list[V] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None  # None: equally likely

    @model_validator(mode="after")
    def _matching(self):
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"empirical has {len(self.values)} values but {len(self.weights)} weights")
        if self.weights is not None and sum(self.weights) <= 0:
            raise ValueError("empirical weights must not all be zero")
        return self

    def _p(self) -> np.ndarray | None:
        return None if self.weights is None else np.asarray(self.weights) / sum(self.weights)

    def _draw(self, rng, n, start):
        return rng.choice(np.asarray(self.values, dtype=float), size=n, p=self._p())

    def support(self):
        possible = [v for v, w in zip(self.values, self.weights or [1] * len(self.values)) if w > 0]
        return min(possible), max(possible)

    def mean(self):
        return float(np.average(self.values, weights=self._p()))


class Sequence(Dist, Generic[V]):
    """EXTENSION: goroutine ``i`` of its class takes ``values[i]`` (no randomness).  With ``at``, a sparse
    sequence: goroutine ``at[j]`` takes ``values[j]`` and every other one ``others`` (default 0; a depth
    without ``others``: the others stay at the depth they are at).  A replay's rounds that most of a class's
    goroutines did not have cost a value each otherwise."""

    dist: Literal["sequence"]
    values: list[V] = Field(min_length=1)
    at: list[int] | None = None  # the goroutines' ordinals, increasing
    others: V | None = None  # with at: every other goroutine's value (default 0)
    _named: dict | None = PrivateAttr(None)  # with at: ordinal -> value, made at the first draw

    @model_validator(mode="after")
    def _sparse(self):
        if self.at is not None:
            if len(self.at) != len(self.values):
                raise ValueError(f"at has {len(self.at)} ordinals for {len(self.values)} values: expected one each")
            if any(not isinstance(k, int) or isinstance(k, bool) or k < 0 for k in self.at) or any(
                    b <= a for a, b in zip(self.at, self.at[1:])):
                raise ValueError("at: expected goroutine ordinals (whole numbers from 0), increasing")
        elif self.others is not None:
            raise ValueError("others applies only with at (a sparse sequence)")
        return self

    def _rest(self):
        return self.others if self.others is not None else 0

    def _draw(self, rng, n, start):
        if self.at is not None:  # (drawn one goroutine at a time, by every step of a replay's rounds)
            if self._named is None:
                self._named = dict(zip(self.at, self.values))
            rest = self._rest()
            return np.array([self._named.get(k, rest) for k in range(start, start + n)], dtype=float)
        if start + n > len(self.values):
            where = f"{self._where}: " if self._where else ""
            raise IndexError(f"{where}sequence has {len(self.values)} values, so goroutine "
                             f"#{max(start, len(self.values))} of its class (0-based) has none")
        return np.array(self.values[start:start + n])

    def support(self):
        if self.at is not None:
            return min(*self.values, self._rest()), max(*self.values, self._rest())
        return min(self.values), max(self.values)

    def mean(self):
        if self.at is not None:  # over the goroutines up to the last one named
            n = self.at[-1] + 1
            return float((np.sum(self.values) + (n - len(self.values)) * self._rest()) / n)
        return float(np.mean(self.values))


DIST_NAMES = ("constant", "uniform", "normal", "lognormal", "exponential", "geometric", "empirical", "sequence")


def _non_negative_number(v: object) -> float:
    try:
        x = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
    except OverflowError:  # an int too large for a float
        x = math.inf
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"expected a non-negative number, got {shown(v)}")
    return x


def _non_negative_int(v: object) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"expected a non-negative integer, got {shown(v)}")
    return v


# per field kind: (parser of field values, parser of shape parameters, what a bare value should be)
KINDS = {
    "int": (_non_negative_int, _non_negative_number, "a non-negative integer"),
    "time": (parse_time, parse_time, TIME_HELP),
    "size": (parse_size, parse_size, SIZE_HELP),
}


def _as_dist(kind: str, v: Any) -> Any:
    """Turn a bare value into a constant and check the ``dist`` tag (before pydantic runs)."""
    if isinstance(v, Dist):
        return v
    if not isinstance(v, dict):
        parse_value, _, what = KINDS[kind]
        try:
            return {"dist": "constant", "value": parse_value(v)}
        except ValueError:
            raise ValueError(f"expected {what} or a distribution, got {shown(v)}") from None
    if "dist" not in v:
        raise ValueError(f"a distribution needs a 'dist' key: one of {', '.join(DIST_NAMES)}")
    if v["dist"] not in DIST_NAMES:
        raise ValueError(f"unknown distribution {v['dist']!r}{did_you_mean(v['dist'], DIST_NAMES)}")
    return v


# integer fields (depth, count) are drawn as float64 and used as exact integers: draws must stay below this
MAX_INT_DRAW = 2**53


def _largest_likely_draw(d: Dist) -> float:
    """A value draws practically never exceed (about 1e-22 odds or less), for the integer bound."""
    try:
        if isinstance(d, Normal):
            return d.mean_ + 12 * d.std
        if isinstance(d, LogNormal):
            return math.exp(d.log_mean + 12 * d.sigma)
        if isinstance(d, (Exponential, Geometric)):
            return 50 * d.mean_
    except OverflowError:
        return math.inf
    return d.support()[1]


def _bounded_int(d: Dist) -> Dist:
    top = _largest_likely_draw(d)
    if isinstance(d, Constant) and not top < MAX_INT_DRAW:
        raise ValueError(f"expected an integer below 2^53 ({MAX_INT_DRAW}), got {d.value}")
    if not top < MAX_INT_DRAW:
        raise ValueError(f"expected integer draws below 2^53 ({MAX_INT_DRAW}); this {d.dist} distribution can "
                         f"draw {top:.3g}")
    return d


def dist_type(kind: str) -> Any:
    """The pydantic field type of a distribution over values of ``kind`` (int, time or size)."""
    parse_value, parse_param, _ = KINDS[kind]
    value_t = Annotated[int if kind != "time" else float, BeforeValidator(parse_value)]
    param_t = Annotated[float if kind != "size" else int, BeforeValidator(parse_param)]
    union = Union[Constant[value_t], Uniform[param_t], Normal[param_t], LogNormal[param_t], Exponential[param_t],
                  Geometric[param_t], Empirical[value_t], Sequence[value_t]]
    checks = [AfterValidator(_bounded_int)] if kind == "int" else []
    return Annotated[union, Field(discriminator="dist"), BeforeValidator(partial(_as_dist, kind)), *checks]


IntDist = dist_type("int")
TimeDist = dist_type("time")


def draw_int(dist: Dist, rng: np.random.Generator, index: int = 0) -> int:
    """An integer field's draw: rounded to the nearest integer (halves up), clipped at 0."""
    return max(0, math.floor(dist.sample(rng, index) + 0.5))


def draw_time(dist: Dist, rng: np.random.Generator, index: int = 0) -> float:
    """A time field's draw in seconds, clipped at 0."""
    return max(0.0, dist.sample(rng, index))
