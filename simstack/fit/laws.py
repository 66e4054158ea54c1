"""Which law a sample follows: constant, exponential, or the observed values themselves.

A fitted law must be one a person can read and change (``{dist: exponential, mean: 2ms}``);
where none fits, the file keeps the sample as an ``empirical`` distribution, at most
``MAX_VALUES`` values (the means of equal shares of the sorted sample when there are more), so
that what is written is what was observed and nothing more.  The test is Kolmogorov–Smirnov (SciPy)
at ``ALPHA``; with fewer than ``MIN_FIT`` values no law is claimed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.01  # a law is rejected when its KS p-value is below this
MIN_FIT = 20  # fewer values than this: the values themselves, no law claimed
MAX_VALUES = 64  # at most this many values in an empirical distribution


@dataclass
class Law:
    """A fitted distribution: ``kind`` (constant, exponential, empirical), its parameters, and how it was chosen."""

    kind: str  # constant, exponential, empirical, sequence (replay: goroutine i of the class takes values[i])
    value: float = 0.0  # constant
    mean: float = 0.0  # exponential (and every kind: the sample's mean)
    values: tuple = ()  # empirical
    weights: tuple = ()  # empirical, when values repeat
    why: str = ""
    at: tuple = ()  # a sparse sequence: the goroutines values[j] belong to; every other one takes ``others``
    others: float | None = 0.0  # None: a depth the others stay at


def compress(x: np.ndarray, integer: bool) -> tuple[tuple, tuple]:
    """The sample as (values, weights): distinct values with their counts, or the means of ``MAX_VALUES``
    equal shares of the sorted sample, so that the law keeps the sample's mean (quantiles at the shares'
    middles cut a long tail short, and a saturated program's backlog grows by the difference between its
    work and its Ps: http-server's generated program at GOMAXPROCS 2, fitted with laws, held a mean
    StackInuse 26.9 % short of its trace with the quantiles, 22.6 % with the means)."""
    x = np.sort(np.asarray(x, dtype=float))
    if integer:
        x = np.rint(x)
    vals, counts = np.unique(x, return_counts=True)
    if len(vals) <= MAX_VALUES:
        return tuple(vals.tolist()), (tuple(int(c) for c in counts) if counts.max() > 1 else ())
    edges = np.rint(np.arange(MAX_VALUES + 1) * len(x) / MAX_VALUES).astype(int)
    q = np.add.reduceat(x, edges[:-1]) / np.diff(edges)
    if integer:
        q = np.rint(q)
    return tuple(q.tolist()), ()


def fit_law(x, *, integer: bool = False, tie: float = 0.01) -> Law:
    """The simplest law the sample ``x`` does not reject (see the module docstring)."""
    x = np.asarray(x, dtype=float)
    mean = float(x.mean()) if len(x) else 0.0
    if len(x) == 0:
        return Law("constant", 0.0, 0.0, why="no values")
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= tie * max(abs(hi), 1e-12) or (integer and lo == hi):
        v = round(mean) if integer else mean
        return Law("constant", v, mean, why=f"all {len(x)} values equal" + ("" if lo == hi else f" within {tie:.0%}"))
    if len(x) >= MIN_FIT and not integer and lo >= 0 and mean > 0:
        p = stats.kstest(x, "expon", args=(0, mean)).pvalue
        if p >= ALPHA:
            return Law("exponential", mean=mean, why=f"exponential fits {len(x)} values (KS p = {p:.2g})")
        why = f"no exponential law fits {len(x)} values (KS p = {p:.1g})"
    else:
        why = f"only {len(x)} values, no law claimed" if len(x) < MIN_FIT else f"{len(x)} values"
    vals, w = compress(x, integer)
    if len(vals) < len(x) and not w:
        why += f"; the means of {len(vals)} equal shares"
    return Law("empirical", mean=mean, values=vals, weights=w, why=why)


def fit_arrivals(times, end: float, burst_within: float = 1e-3) -> dict:
    """How a class's goroutines arrive: ``{"process": "burst", "at", "count"}`` when all come within
    ``burst_within`` seconds; Poisson (``rate``, ``start``, ``count``) when the gaps are exponential;
    else the observed times (``trace``).  ``why`` says which test decided."""
    t = np.sort(np.asarray(times, dtype=float))
    n = len(t)
    if n == 0:
        return {"process": "burst", "at": 0.0, "count": 0, "why": "no goroutines"}
    if t[-1] - t[0] <= burst_within:
        return {"process": "burst", "at": float(t[0]), "count": n,
                "why": f"all {n} created within {1e3 * (t[-1] - t[0]):.3g} ms"}
    gaps = np.diff(t)
    if n >= MIN_FIT and gaps.mean() > 0:
        p = stats.kstest(gaps, "expon", args=(0, gaps.mean())).pvalue
        if p >= ALPHA:
            span = float(t[-1] - t[0])
            rate = (n - 1) / span  # the MLE of a Poisson process's rate from its gaps
            return {"process": "poisson", "rate": rate, "start": float(max(0.0, t[0] - 1 / rate)), "count": n,
                    "why": f"gaps between {n} creations are exponential (KS p = {p:.2g})"}
        why = f"gaps between {n} creations are not exponential (KS p = {p:.1g}): the observed times"
    else:
        why = f"only {n} creations: the observed times"
    return {"process": "trace", "times": tuple(t.tolist()), "why": why}


def replay_law(x, *, integer: bool = False, sparse: bool = False, only=None) -> Law:
    """Every goroutine's own value, in the class's creation order (``simstack fit --replay``); ``sparse``: where
    most take one value, only the others' values and ordinals (a sequence with ``at``); ``only`` (a mask, for
    a depth): the values of those goroutines alone, the others staying at the depth they are at."""
    x = np.asarray(x, dtype=float)
    if only is not None and not np.all(only):
        only = np.asarray(only, bool)
        v = np.rint(x[only]) if integer else x[only]
        return Law("sequence", mean=float(v.mean()), values=tuple(v.tolist()),
                   at=tuple(int(k) for k in np.flatnonzero(only)), others=None, why="each goroutine's own; the others stay")
    if len(x) and np.all(x == x[0]):
        return Law("constant", float(round(x[0]) if integer else x[0]), float(x[0]), why="")
    if integer:
        x = np.rint(x)
    if sparse:
        vals, counts = np.unique(x, return_counts=True)
        rest = vals[np.argmax(counts)]
        keep = x != rest
        if 2 * keep.sum() < len(x):
            return Law("sequence", mean=float(x.mean()), values=tuple(x[keep].tolist()),
                       at=tuple(int(k) for k in np.flatnonzero(keep)), others=float(rest), why="each goroutine's own")
    vals = tuple(x.tolist())
    return Law("sequence", mean=float(x.mean()) if len(x) else 0.0, values=vals, why="each goroutine's own")


def censored(x, done) -> np.ndarray:
    """Durations of which the trace's end cut some short (``done`` False: it lasted at least ``x``), as a
    sample of the Kaplan–Meier estimate (SciPy's ``ecdf`` of right-censored data): one value per finished
    duration, at its quantiles.  Leaving the cut ones out would keep the long durations out, and taking
    them as they are would count a goroutine that never ran before the end as one that runs for no time
    (at GOMAXPROCS 2, a saturated server's trace ended with 28 % of its requests waiting).  Past the last
    finished duration the estimate knows nothing: those quantiles are the cut durations longer than it,
    the least each of them took."""
    x = np.asarray(x, dtype=float)
    done = np.asarray(done, dtype=bool)
    if done.all() or not done.any():
        return x
    cdf = stats.ecdf(stats.CensoredData(uncensored=x[done], right=x[~done])).cdf
    n = int(done.sum())
    q = (np.arange(n) + 0.5) / n
    at = np.searchsorted(cdf.probabilities, q - 1e-12)
    known = at < len(cdf.quantiles)
    out = np.empty(n)
    out[known] = cdf.quantiles[at[known]]
    if not known.all():
        last = cdf.probabilities[-1]
        beyond = np.sort(x[~done & (x >= cdf.quantiles[-1])])
        out[~known] = np.quantile(beyond, (q[~known] - last) / (1 - last), method="inverted_cdf")
    return out
