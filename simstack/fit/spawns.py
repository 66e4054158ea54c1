"""Spawn trees: a class whose goroutines were made by another class's goroutines, in their first run.

A fanout request's coordinator makes 8 fetchers and each fetcher 4 parsers: in the real runtime each child
goes to its maker's P (``newproc``: runnext), runs when the maker blocks, and the older goroutines queued
behind wait.  Fitted as arrivals at the observed times, made by the simulation's main, the children queue
on main's P instead: the fanout program at GOMAXPROCS 2 kept 448 goroutines alive on average where the
trace has 620 (mean StackInuse -19 %).  A ``spawn`` step in the maker's program after its first run, and
the child's ``arrival: spawned``, make them where the program did (627; +0.4 %).
"""
from __future__ import annotations

import numpy as np

from . import laws

SHARE = 0.95  # of a class's goroutines made by one other class, in that class's first run


def spawn_trees(groups: list, replay: bool) -> list[tuple[str, str, laws.Law, str]]:
    """(maker class, child class, children per maker, why) for each class that one other class's goroutines
    made in their first run (at least ``SHARE`` of its goroutines), counted over the makers that had left
    their first run when the trace ended.  Residents are neither (they park for good), nor is a class
    whose creation site has goroutines alive at the end (a resident class of their own, which the maker
    would make again).  A replay needs every maker to have made the same number (its children's own
    values are one per child, in creation order); laws take the numbers' law."""
    owner = {int(gid): g.name for g in groups for gid in g.rows["goroutine"]}
    makers = {g.name: g for g in groups}
    alive_sites = {site for g in groups if g.resident for site in g.sites}
    out = []
    for g in groups:
        r = g.rows
        if g.resident or len(r) == 0 or alive_sites & set(g.sites):
            continue  # (some of its site's goroutines alive at the end are a resident class of their own)
        parent = r["parent"].map(lambda gid: owner.get(int(gid), ""))
        name = parent.mode().iloc[0]
        if not name or name == g.name or makers[name].resident:
            continue
        made = (parent == name) & r["in_first_run"].astype(bool)
        if made.mean() < SHARE:
            continue
        # makers still in their first run when the trace ended had not made all theirs: left out
        m = makers[name].rows
        done = m["first_block"].notna() | m["exited"].notna()
        if not done.any():
            continue
        per = (r.loc[made, "parent"].value_counts()
               .reindex(m.loc[done, "goroutine"].to_numpy(), fill_value=0).to_numpy())
        if replay and (len(set(per.tolist())) > 1 or made.sum() != len(r) or not done.all()):
            continue
        values, counts = np.unique(per, return_counts=True)
        law = laws.Law("constant", float(values[0]), float(per.mean()), why="") if len(values) == 1 else \
            laws.Law("empirical", mean=float(per.mean()), values=tuple(float(v) for v in values),
                     weights=tuple(int(c) for c in counts), why=f"children per {name} goroutine as observed")
        why = (f"{100 * made.mean():.0f} % of them made by {name}'s goroutines in their first run, "
               f"{per.mean():.3g} per {name} goroutine")
        out.append((name, g.name, law, why))
    # a class made by a class it makes (goroutines that make each other in turn) would spawn without end:
    # no tree where the maker is itself made, through the trees, by the child
    made_by = {child: maker for maker, child, _, _ in out}

    def above(name: str, seen: set) -> set:
        return seen if name not in made_by or name in seen else above(made_by[name], seen | {name})
    return [t for t in out if t[1] not in above(t[0], set())]


def apply(classes: list, trees: list) -> None:
    """Make the trees' children where the trace shows: a spawn step after each maker's first run; the child
    class arrives spawned, without its first block (the time its maker kept running, which now follows)."""
    by = {c.name: c for c in classes}
    for maker, child, law, why in trees:
        m, c = by[maker], by[child]
        prog = m.spec["program"]
        first_run = next(i for i, st in enumerate(prog) if "run" in st)
        while first_run + 1 < len(prog) and "run" in prog[first_run + 1]:
            first_run += 1  # (a first run split at its growth point is two run steps)
        prog.insert(first_run + 1, {"spawn": child, "count": law})
        c.spec["arrival"] = {"process": "spawned"}
        c.spec.pop("count", None)
        steps = c.spec["program"]
        if len(steps) > 1 and "block" in steps[0] and steps[0].get("depth") == 0 and "run" in steps[1]:
            steps.pop(0)
        m.notes.append(f"spawns {child} after its first run: {why}")
        c.notes.append(f"arrival: spawned by {maker} (replaces the times above): {why}")
