"""Makers and joins: a replay makes each goroutine where its maker made it, and waits where it waited for it.

A test binary's subtests run one after another: ``t.Run`` starts each one with ``go`` and waits on a
channel the subtest sends on as it ends, and the next one is made only then.  Replayed as arrivals at
the observed times and blocks of the observed lengths, that chain is cut: any P time the simulation
spends differently becomes a queue that never drains, or a parent that waits on while its subtest has
long ended.  The trace shows the chain itself.  Each goroutine's maker is the one whose ``go`` statement
made it, in the run before one of its maker's blocks (or after the last); and a block ended by one of the
goroutines its goroutine made in the run before, all of which had exited by the time it next blocked,
is a join (:meth:`.observe.Watcher._joined`: ``t.Run``, ``wg.Wait()``).

A replay (:func:`plan`) then makes a class *spawned* where some of its goroutines were waited for so and
every goroutine of it has such a maker: the maker's program gets ``spawn`` steps in the rounds where it
made them, with ``join: true`` where it waited for them, instead of the goroutines arriving at their
times.  (A class nobody waited for keeps its arrivals, or the spawn tree of spawns.py: made by their
makers instead, the parsers of ``fanout``'s generated program at GOMAXPROCS 2 kept 660 goroutines alive
on average where the trace has 805, and 816 arriving at their times; not traced further.)  The class's
goroutines take their values by their order of creation (``sequence``), so all of them come from spawn
steps or none: the simulation makes them in the trace's order as long as the chain holds (joins with
the other goroutines of the class arriving at their times ran 0.7 ms ahead of encoding/json's trace, a
joined subtest took the values of a 20 ms parallel test due after it, and its chain stalled 19 ms).  The main goroutine is a maker
only where it joined (a test binary's main runs each top-level test with ``t.Run``); a main that starts
goroutines at times of its own (a load generator) keeps them arriving at those times.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MakerPlan:
    """The classes whose goroutines come from their makers' spawn steps (``spawned``), and for each maker
    (goid; main's is ``main``) what it makes: ``made[goid][k]`` the goroutines of each spawned class it made
    in the run before its block k (k = its number of blocks: after its last), ``joined[goid][k]`` the class
    it waited for in block k (None: an ordinary block)."""

    spawned: set = field(default_factory=set)
    made: dict = field(default_factory=dict)
    joined: dict = field(default_factory=dict)
    main: int | None = None  # main's goid, where main is a maker

    def targets(self, goids) -> list:
        """The spawned classes the goroutines ``goids`` make, in a fixed order."""
        return sorted({c for g in goids for pos in self.made.get(int(g), ()) for c in pos})

    def note(self, goids) -> str:
        made = sum(n for g in goids for pos in self.made.get(int(g), ()) for n in pos.values())
        waits = sum(1 for g in goids for j in self.joined.get(int(g), ()) if j)
        return (f"makes {made} goroutines ({', '.join(self.targets(goids))}) where the trace shows each one made: a "
                f"spawn step in the run it was made in; {waits} of its blocks were waits for the goroutines it had "
                "just made (woken by one of them, all of them exited by its next block: t.Run, wg.Wait), a spawn "
                "step with join there (joins.py)")


def plan(groups: list, owns: dict, main, main_rounds: tuple) -> MakerPlan:
    """Which classes a replay spawns, and where (see the module docstring).  ``owns``: the classes whose
    goroutines have rounds of their own (only those, and classes whose goroutines never block, can make a
    goroutine in a particular run); ``main``: the watcher's Life of the main goroutine (or None)."""
    owner = {int(g): grp.name for grp in groups for g in grp.rows["goroutine"]}
    eligible = {grp.name for grp in groups
                if not grp.resident and (owns.get(grp.name) or not (grp.rows["blocks"] > 0).any())}
    maker_of: dict = {}  # child goid -> (maker goid, position)
    positions: dict = {}  # maker goid -> [children per position]
    joins: dict = {}  # maker goid -> [joined goids per round]
    for grp in groups:
        if grp.name not in eligible:
            continue
        for goid, rounds, last in zip(grp.rows["goroutine"], grp.rows["rounds"], grp.rows["made_last"]):
            positions[int(goid)] = [rnd.made for rnd in rounds] + [last]
            joins[int(goid)] = [rnd.joined for rnd in rounds]
    main_joins = main is not None and any(rnd.joined for rnd in main_rounds)
    if main_joins:
        positions[main.goid] = [rnd.made for rnd in main_rounds] + [tuple(main.made)]
        joins[main.goid] = [rnd.joined for rnd in main_rounds]
    for m, pos in positions.items():
        for k, children in enumerate(pos):
            for c in children:
                maker_of[c] = (m, k)
    out = MakerPlan(main=main.goid if main_joins else None)
    waited_for = {owner.get(c) for js in joins.values() for j in js for c in j}
    for grp in groups:
        rows = grp.rows
        if grp.resident or rows["created"].isna().any() or grp.name not in waited_for:
            continue
        if all(int(g) in maker_of for g in rows["goroutine"]):
            out.spawned.add(grp.name)
    for m, pos in positions.items():
        made = [Counter(owner[c] for c in children if owner.get(c) in out.spawned) for children in pos]
        if not any(made):
            continue
        out.made[m] = [dict(c) for c in made]
        out.joined[m] = [_joined_class(j, owner, out.spawned, p) for j, p in zip(joins[m], pos)]
    if out.main is not None and out.main not in out.made:
        out.main = None  # (it joined, but none of what it made is spawned: main's work as without makers)
    return out


def _joined_class(joined: tuple, owner: dict, spawned: set, made: tuple) -> str | None:
    """The class a block waited for: all it made in the run before, of one spawned class (else None)."""
    kinds = {owner.get(c) for c in joined}
    if not joined or len(kinds) != 1 or set(joined) != set(made):
        return None
    kind = kinds.pop()
    return kind if kind in spawned else None
