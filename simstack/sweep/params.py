"""Sweep parameters: ``--set KEY=V1,V2`` parsing, applying values to a scenario, grid points, seeds.

A key is a dotted path into the scenario as written in YAML: ``runtime.version``,
``runtime.overrides.starting_stack``, ``gc.gogc``, ``seed``; list items by index or,
for goroutine classes and gates, by name: ``goroutines[0].count``,
``goroutines.request.count``.  Values are YAML scalars (``2KiB``, ``go1.12``, ``true``,
``128KiB``; ``2KB`` is 2,000 bytes, ``2KiB`` 2,048); every value is validated by the
scenario loader before anything runs.
"""
from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import yaml

from ..errors import Problem, ScenarioError
from ..scenario import scenario_from_dict
from ..scenario.loader import _Loader

_TOKEN = re.compile(r"(?:^|\.)([^.\[\]]+)|\[(\d+)\]")


class SweepError(ValueError):
    """A --set option that cannot be applied (bad syntax, a path through a non-mapping)."""


def split_path(key: str) -> list:
    """'goroutines[0].program[1].depth' -> ['goroutines', 0, 'program', 1, 'depth']."""
    key = key.strip()
    parts, pos = [], 0
    while pos < len(key):
        m = _TOKEN.match(key, pos)
        if not m:
            raise SweepError(f"cannot read key {key!r} near {key[pos:]!r}")
        name, index = m.group(1), m.group(2)
        parts.append(int(index) if index is not None else int(name) if name.isdigit() else name)
        pos = m.end()
    if not parts:
        raise SweepError("empty key")
    return parts


def split_values(text: str) -> list[str]:
    """'2KiB,8KiB' -> ['2KiB', '8KiB']; commas inside [] or {} or quotes do not split."""
    out, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_value(text: str):
    """A YAML scalar (or flow list/mapping) with the scenario loader's rules (only true/false are booleans)."""
    try:
        return yaml.load(text, Loader=_Loader) if text != "" else ""
    except yaml.YAMLError as exc:
        raise SweepError(f"cannot read value {text!r}: {exc}") from None


def parse_set(option: str) -> tuple[str, list]:
    """'runtime.version=go1.12,go1.27' -> ('runtime.version', ['go1.12', 'go1.27'])."""
    if "=" not in option:
        raise SweepError(f"--set {option!r}: expected KEY=VALUE[,VALUE...]")
    key, _, values = option.partition("=")
    split_path(key)
    vals = [parse_value(v) for v in split_values(values)]
    if not vals or any(v == "" for v in split_values(values)):
        raise SweepError(f"--set {option!r}: empty value")
    return key.strip(), vals


def _resolve(node, part, key):
    if isinstance(node, list):
        if isinstance(part, int):
            if not -len(node) <= part < len(node):
                raise SweepError(f"{key}: index {part} is out of range (the list has {len(node)} items)")
            return part
        names = [x.get("name") for x in node if isinstance(x, dict)]
        if part in names:
            return names.index(part)
        raise SweepError(f"{key}: no item named {part!r} (names: {', '.join(map(str, names)) or 'none'})")
    if isinstance(node, dict):
        return part
    raise SweepError(f"{key}: cannot set a field inside a {type(node).__name__} value")


def set_path(doc: dict, key: str, value) -> dict:
    """``doc`` with ``key`` set to ``value`` (a copy); missing mappings on the way are created."""
    doc = copy.deepcopy(doc)
    parts = split_path(key)
    node = doc
    for part in parts[:-1]:
        i = _resolve(node, part, key)
        if isinstance(node, dict) and node.get(i) is None:
            node[i] = {}
        node = node[i]
    node[_resolve(node, parts[-1], key)] = value
    return doc


def get_path(doc, key: str):
    """The value at ``key`` in ``doc`` (None when absent)."""
    node = doc
    for part in split_path(key):
        try:
            i = _resolve(node, part, key)
            node = node[i]
        except (SweepError, KeyError, IndexError):
            return None
    return node


def _format(assignments: dict) -> str:
    return " ".join(f"--set {k}={_show(v)}" for k, v in assignments.items())


def _show(v) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("\n...").removesuffix("...").strip() \
        if not isinstance(v, str) else v


_DECIMAL_SIZE = re.compile(r"\s*\d+(?:\.\d*)?\s*([KMG])B\s*")


def apply(base: dict, assignments: dict):
    """Validate ``base`` with ``assignments`` applied; a ScenarioError names the options at fault."""
    doc = base
    paths = {tuple(split_path(k)) for k in assignments}
    for k, v in assignments.items():
        try:
            doc = set_path(doc, k, v)
        except SweepError as exc:
            raise ScenarioError([Problem(_format({k: v}), None, None, "", str(exc))]) from None
    if ("runtime", "version") in paths and ("runtime", "version_full") not in paths:
        doc = copy.deepcopy(doc)
        doc.get("runtime", {}).pop("version_full", None)  # the release follows the version set
    try:
        return scenario_from_dict(doc, source=_format(assignments))
    except ScenarioError as exc:
        hints = [f"{v} is {_decimal(v):,} bytes (KB, MB, GB are 1000-based); the binary unit is "
                 f"{v.strip()[:-1]}iB" for v in assignments.values()
                 if isinstance(v, str) and _DECIMAL_SIZE.fullmatch(v)]
        if hints and any("power of two" in p.message for p in exc.problems):
            exc = ScenarioError([Problem(p.file, p.line, p.column, p.path, f"{p.message} ({'; '.join(hints)})")
                                 for p in exc.problems])
        raise exc from None


def _decimal(v: str) -> int:
    from ..scenario.units import parse_size
    return parse_size(v.strip())


@dataclass
class Point:
    """One grid point: the assignments as given, their label, the resolved scenario data."""

    index: int
    assignments: dict
    label: str
    scenario: dict
    values: dict = field(default_factory=dict)  # each swept key's resolved value (bytes, seconds ...)


def expand(base: dict, grid: dict | None = None, points=None) -> list[Point]:
    """The sweep's points: the product of ``grid`` ({key: [values]}) or the given ``points``
    (a list of {key: value}, or {label: {key: value}}), each validated.

    Each single value is checked on its own first, so an error names the option at fault;
    all problems are collected and raised as one ScenarioError.
    """
    problems = []
    if grid and points:
        raise SweepError("give a grid or a list of points, not both")
    if points is not None:
        items = list(points.items()) if isinstance(points, dict) else [(None, p) for p in points]
    else:
        grid = grid or {}
        for k, vals in grid.items():
            for v in vals:
                try:
                    apply(base, {k: v})
                except ScenarioError as exc:
                    problems += exc.problems
        if problems:
            raise ScenarioError(problems)
        keys = list(grid)
        items = [(None, dict(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]
    keys = list(dict.fromkeys(k for _, a in items for k in a))
    out = []
    for i, (label, assignments) in enumerate(items):
        try:
            sc = apply(base, assignments)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        doc = sc.to_yaml_dict()
        values = {k: get_path(doc, k) for k in keys}
        out.append(Point(i, dict(assignments),
                         label or ", ".join(f"{k.rsplit('.', 1)[-1]}={_show(v)}" for k, v in assignments.items())
                         or "base", doc, values))
    if problems:
        raise ScenarioError(problems)
    return out


def replication_seed(seed: int, replication: int) -> int:
    """The seed of replication ``replication`` of a scenario with seed ``seed``.

    Depends on nothing else, so every grid point's replication r runs on the same random
    numbers (common random numbers: differences between points come from the parameters).
    """
    return int(np.random.SeedSequence(int(seed), spawn_key=(int(replication),)).generate_state(1, np.uint32)[0])


def with_settings(scenario, settings: dict):
    """A copy of ``scenario`` (a Scenario or a path) with ``settings`` ({key: value}, keys as
    for ``--set``, values as in YAML: ``{"duration": "500ms", "goroutines.request.count": 5000}``)
    applied and validated."""
    from pathlib import Path

    from ..scenario import load_scenario
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    sc = apply(scenario.to_yaml_dict(), dict(settings))
    return sc


def apply_sets(sc, sets, seed=None):
    """The scenario with one-value ``--set KEY=VALUE`` options (``run``, ``validate``) and ``--seed``
    applied and validated by the loader; a bad option is a ScenarioError naming it."""
    if not sets and seed is None:
        return sc
    settings = {}
    for option in sets:
        try:
            key, values = parse_set(option)
        except SweepError as exc:
            raise ScenarioError.single(f"--set {option}", None, None, "", str(exc)) from None
        if len(values) != 1:
            raise ScenarioError.single(f"--set {option}", None, None, "",
                                       f"expected one value for a run, got {len(values)} (simstack sweep runs several)")
        settings[key] = values[0]
    if seed is not None:
        settings["seed"] = seed
    return with_settings(sc, settings)
