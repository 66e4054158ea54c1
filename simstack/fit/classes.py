"""Goroutine classes from creation sites: split by whether goroutines outlive the trace, merge
sites that behave the same, cap their number."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Group:
    """Goroutines fitted as one class: their rows, the creation sites they came from."""

    name: str
    rows: pd.DataFrame
    sites: list = field(default_factory=list)
    resident: bool = False  # alive at the end of the trace: parked for good in the scenario

    def signature(self) -> tuple:
        """What must agree for two sites to be one class: resident or not, the usual stack size,
        lifetime within a factor of two, growth before or after the first block."""
        r = self.rows
        life = (r["exited"].fillna(r["end"]) - r["created"].fillna(0.0)).median()
        grew_late = bool(((r["size_at_block"] > 0) & (r["size_at_block"] < r["max_stack"])).mean() > 0.5)
        return (self.resident, int(r["max_stack"].median()), round(math.log2(max(life, 1e-9))), grew_late)


def class_name(site: str, taken: set) -> str:
    """A scenario class name from a Go function name: the package path dropped, every character a
    name cannot hold (and '.', which ``--set goroutines.NAME`` would split) made '_'."""
    base = site.rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_") or "goroutines"
    if not re.match(r"[A-Za-z_]", name):
        name = "g_" + name
    out, k = name, 2
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def group(table: pd.DataFrame, end: float, max_classes: int) -> tuple[list[Group], list[str]]:
    """Groups of goroutines to fit as classes, and what was merged (for the file's comments)."""
    table = table.assign(end=end)
    groups, notes = [], []
    for site, rows in table.groupby("class", sort=False):
        # alive at the end and for more than half the trace: a resident (a server's loop, a pool's worker);
        # younger ones alive at the end were cut off by the trace's end and belong with their site's others
        alive = rows["exited"].isna() & (rows["created"].isna() | (end - rows["created"] > end / 2))
        for resident, part in ((False, rows[~alive]), (True, rows[alive])):
            if len(part):
                groups.append(Group(site, part, [site], resident))
    merged: dict = {}
    for g in groups:
        key = g.signature()
        if key in merged:
            m = merged[key]
            m.rows = pd.concat([m.rows, g.rows])
            m.sites += g.sites
        else:
            merged[key] = g
    out = sorted(merged.values(), key=lambda g: -len(g.rows))
    for g in out:
        if len(g.sites) > 1:
            notes.append(f"{', '.join(g.sites)}: merged (same stack sizes, lifetimes and growth points)")
    if len(out) > max_classes:
        keep, rest = out[:max_classes - 1], out[max_classes - 1:]
        for resident in (False, True):
            part = [g for g in rest if g.resident == resident]
            if part:
                other = Group("other", pd.concat([g.rows for g in part]), [s for g in part for s in g.sites], resident)
                keep.append(other)
                notes.append(f"{len(other.sites)} small sites merged into one class ({', '.join(other.sites[:6])}"
                             f"{', ...' if len(other.sites) > 6 else ''}): --max-classes {max_classes}")
        out = keep
    taken: set = set()
    for g in out:
        g.name = class_name(g.sites[0] + ("_resident" if g.resident else ""), taken)
    return out, notes
