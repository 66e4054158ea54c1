"""The round trip: fit a trace, simulate the fitted scenario, compare with the trace.

The comparison is timed validation's (:func:`simstack.validate.timedcheck.compare`) over the
whole trace: time-averaged and peak StackInuse and grows (target: within 10 %), GC cycles, and
the live goroutines' stack sizes at the end of the run (target: at most 5 % of the goroutines
at another size than the trace's).  With ``seeds`` > 1 the fit is simulated with that many
seeds and each figure is their median (``median_low``: one of the runs), as timed validation
takes its replications': a fit with laws draws its goroutines anew with each seed, and on some
programs one seed's figure is tens of per cent from another's.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

TOLERANCE = 0.10
SIZES_TOLERANCE = 0.05


@dataclass
class RoundTrip:
    fit: object
    simulated: object  # the first seed's run
    table: pd.DataFrame
    end_sizes: dict  # {"trace": {size: n}, "simulated": {size: n}} (the first seed's)
    seeds_sizes: list | None = None  # every seed's {size: n}

    @property
    def same_sizes(self) -> float:
        """The share of the live goroutines at the trace's sizes (the seeds' median_low)."""
        from .timedcheck import _same_sizes
        runs = self.seeds_sizes or [self.end_sizes["simulated"]]
        return statistics.median_low([_same_sizes({"all": s}, {"all": self.end_sizes["trace"]}, ["all"])
                                      for s in runs])

    def figure(self, metric: str) -> dict:
        return self.table.set_index("metric").loc[metric].to_dict()

    @property
    def ok(self) -> bool:
        goal = self.table[self.table["metric"].isin(["mean_stack_inuse", "peak_stack_inuse", "grows"])]
        return bool((goal["relative"].abs() <= TOLERANCE).all()) and self.same_sizes >= 1 - SIZES_TOLERANCE

    def render(self) -> str:
        from .timedcheck import render
        return render(self.table) + f"\nlive stacks at the end at the trace's size: {100 * self.same_sizes:.1f}% " \
            f"(trace {self.end_sizes['trace']}, simulated {self.end_sizes['simulated']})"


def end_sizes(res, classes=None) -> dict:
    """A simulation's live goroutines (the scenario's) by stack size at the end: {size: count}; with
    ``classes``, only those classes' goroutines, each at the size its spawn, last growth or shrink left it."""
    if classes is not None:
        g = res.goroutines
        live = set(g.loc[g["exited"].isna() & g["class"].isin(list(classes)), "goroutine"])
        ev = res.events
        ev = ev[ev["kind"].isin(["spawn", "grow", "shrink"]) & ev["goroutine"].isin(live)]
        last = ev.dropna(subset=["new_size"]).groupby("goroutine")["new_size"].last()
        return {int(k): int(v) for k, v in last.value_counts().sort_index().items()}
    fp = res.footprint
    if not len(fp):
        return {}
    last = fp.iloc[-1]
    return {int(c[2:]): int(last[c]) for c in fp.columns if c.startswith("n_") and c[2:].isdigit()
            and not pd.isna(last[c]) and int(last[c])}


def live_sizes(fit) -> tuple[dict, list]:
    """The program's goroutines alive at the end of ``fit``'s trace by stack size ({size: n}), and the fitted
    classes they are compared in: those whose every live goroutine the trace knows the size of (not main; not
    the goroutines alive at trace start that no GoroutineStack event sized, nor the rest of their class)."""
    t = fit.table
    alive = t[t["exited"].isna()]
    unknown = set(alive.loc[alive["final_size"] <= 0, "class"])
    counted = [c for c in fit.classes if set(c.sites) & set(alive["class"]) and not set(c.sites) & unknown]
    sites = {s for c in counted for s in c.sites}
    known = alive[alive["class"].isin(sites)]
    return ({int(k): int(v) for k, v in known["final_size"].value_counts().sort_index().items()},
            [c.name for c in counted])


def whole_trace(res) -> object:
    """The trace's Result with its marked window dropped: figures over the whole trace."""
    res.summary = {**res.summary, "window": None, "mark_values": {}}
    return res


def roundtrip(trace, fit=None, seeds: int = 1, **fit_args) -> RoundTrip:
    """Fit ``trace`` (unless ``fit`` is given), simulate it with ``seeds`` seeds (the scenario's, then the next
    ones), and compare (see the module docstring)."""
    from ..api import run
    from ..fit import fit_trace
    from .timedcheck import compare, figures

    fit = fit or fit_trace(trace, **fit_args)
    sc = fit.scenario()
    sims = [run(sc if k == 0 else sc.model_copy(update={"seed": sc.seed + k})) for k in range(seeds)]
    real = whole_trace(fit.result)
    sim_classes = [c.name for c in fit.classes]
    real_classes = sorted(set(fit.table["class"]))  # the program's goroutines: not main's, not the runtime's
    table = compare([figures(sim, sim_classes) for sim in sims], [figures(real, real_classes)], [])
    table = table[~table["metric"].str.startswith(("grows[", "shrinks["))].reset_index(drop=True)
    trace_sizes, counted = live_sizes(fit)
    each = [end_sizes(sim, counted) for sim in sims]
    return RoundTrip(fit, sims[0], table, {"trace": trace_sizes, "simulated": each[0]}, each)
