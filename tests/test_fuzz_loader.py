"""Property-based fuzzing of the scenario loader: whatever the document, the loader either
returns a valid Scenario or raises ScenarioError (located problems) — never anything else.

Two mutators, each starting from real scenarios (the examples in ``scenarios/`` and a
document that uses every field):

* structural: parse to data, then replace, delete, add or retype one value anywhere
  (values include huge and negative numbers, NaN, unit strings, lists and mappings);
* textual: edit the YAML bytes (insert, delete or replace characters, including tabs,
  YAML indicators, NUL and bytes that are not UTF-8) and load the file from disk.

A document the loader accepts must also survive a round trip through ``to_yaml_dict``
and must be runnable: the engine is built for it (``Simulation.__init__``), which is
where profile-level problems (impossible overrides) would surface.
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simstack.errors import ScenarioError
from simstack.scenario import check_scenario, load_scenario, parse_scenario, scenario_from_dict
from simstack.scenario.checks import goroutine_limit_problems

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("SIMSTACK_HYPOTHESIS_EXAMPLES", "400"))

EVERYTHING = """\
name: everything
description: every field once
seed: 7
duration: 2s
runtime:
  version: go1.19.8
  platform: linux/arm64
  gomaxprocs: 4
  max_stack: 1MiB
  godebug: {adaptivestackstart: 0, gcshrinkstackoff: 1}
  baseline: none
  overrides: {starting_stack: 4KiB, starting_stack_policy: per_site, keep_grown_stacks: 16KiB,
              shrink_below: 0.125, growth_factor: 4, num_stack_orders: 3, stack_cache_size: 64KiB,
              stack_guard: 928, stack_small: 128}
gc: {trigger: gogc, gogc: off, at: [0.5s, 1s], live_heap: 8MB, mark_duration: 100us}
goroutines:
  - name: server
    count: 3
    repeat: forever
    alloc_rate: 10MiB/s
    park_path: [{frame: 40, nosplit: true}, {frame: 136}]
    program:
      - {depth: {dist: sequence, values: [1, 2, 3]}, run: {dist: exponential, mean: 1ms}}
      - {depth: 3, block: 10ms, park_frames: [96, 1KiB], transient: 8KiB}
      - {spawn: worker, count: {dist: empirical, values: [0, 1, 2], weights: [1, 2, 1]}}
      - {depth: 1, wait: go}
  - name: worker
    arrival: {process: spawned}
    frame: 128B
    entry_frame: 48
    park_path: none
    program:
      - {depth: {dist: lognormal, mean: 2.0, sigma: 0.5}, run: 200us, frame: 256}
      - {depth: 0, block_until: 1.5s}
      - {depth: 1, block: forever}
  - name: ticker
    arrival: {process: uniform, every: 100ms, start: 0.1s, until: 1s}
    program: [{depth: {dist: uniform, low: 1, high: 4}, run: 1ms}]
  - name: replay
    arrival: {process: trace, times: [0.3, 0.1, 20ms]}
    program: [{depth: {dist: normal, mean: 5, std: 1}, block: {dist: uniform, low: 1ms, high: 3ms}}]
  - name: clients
    count: 50
    arrival: {process: poisson, rate: 100/s}
    program: [{depth: {dist: geometric, mean: 4}, run: {dist: constant, value: 2ms}}]
gates: [{name: go, open_at: [1s]}]
checkpoints:
  - {label: mid, at: 1s, via: metrics}
  - {label: end, at: 2s}
record: {events: [grow, shrink], goroutine_table: false, sample_every: 1ms}
"""

SEEDS = [EVERYTHING] + [p.read_text() for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
SEED_DATA = [yaml.safe_load(t) for t in SEEDS]


def _paths(node, prefix=()):
    """Every path to a value in plain data (the root included)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


KEYS = ["name", "count", "depth", "run", "block", "spawn", "frame", "at", "dist", "mean", "values", "program",
        "runtime", "version", "gomaxprocs", "overrides", "stack_cache_size", "num_stack_orders", "starting_stack",
        "interval", "sample_every", "repeat", "arrival", "process", "rate", "every", "until", "times", "gc",
        "max_stack", "growth_factor", "godebug", "open_at", "wait", "gates", "checkpoints", "label", "via", "x"]
WORDS = ["forever", "off", "auto", "none", "all", "burst", "poisson", "uniform", "trace", "spawned", "go1.12",
         "go1.19.8", "go1.27", "go1.99", "linux/amd64", "windows/amd64", "memstats", "metrics", "server",
         "worker", "ticker", "gogc", "interval", "manual", "constant", "geometric", "sequence", "per_site"]
UNITS = ["B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "ns", "us", "µs", "ms", "s", "min", "/s", "/ms", "MiB/s",
         "", "TiB", "parsecs", "e400", "e-400"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-10, 10), st.integers(-2**70, 2**70), st.sampled_from([0, 1, 2, 3, 1023, 1024, 2048, 4096, 8192,
                                                                        32768, 2**31, 2**63, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1e-12, 1e-9, 1e300, -0.0]),
    st.sampled_from(WORDS),
    st.builds(lambda n, u: f"{n}{u}", st.one_of(st.integers(-5, 10**12), st.floats(0, 1e6, allow_nan=False),
                                                st.sampled_from(["1.5", ".5", "1e3", "0", "1e-9", "-1"])),
              st.sampled_from(UNITS)),
    st.text(max_size=8),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
                      max_leaves=6)


@st.composite
def structural_mutants(draw):
    doc = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap", "duplicate"]))
        if not path:
            if op == "replace":
                doc = draw(values)
            continue
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        last = path[-1]
        if op == "replace":
            parent[last] = draw(values)
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent[last], dict):
            parent[last][draw(st.sampled_from(KEYS))] = draw(values)
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
    return doc


TEXT_BITS = st.sampled_from([b"\t", b":", b": ", b"-", b"- ", b"[", b"]", b"{", b"}", b",", b"#", b"&a", b"*a",
                             b"!!int ", b"!!python/object ", b"|", b">", b"'", b'"', b"\n", b"\n  ", b"  ", b"%",
                             b"@", b"`", b"?", b"\x00", b"\xff", b"\xc3", b"\xe2\x80\xa8", b"\x85", b"<<: ",
                             b"1e999", b"0x10", b"0o7", b"~", b"null", b"---\n", b"...\n", b"\xef\xbb\xbf", b"\r"])


@st.composite
def text_mutants(draw):
    raw = bytearray(draw(st.sampled_from(SEEDS)).encode())
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        bit = draw(st.one_of(TEXT_BITS, st.binary(min_size=1, max_size=3)))
        if op == "insert":
            raw[i:i] = bit
        elif op == "delete":
            raw[i:i + draw(st.integers(1, 20))] = b""
        else:
            raw[i:i + len(bit)] = bit
    return bytes(raw)


def _accepts_or_rejects_cleanly(load, source: str):
    """``load()`` gives a Scenario or a ScenarioError whose problems name ``source``; nothing else."""
    try:
        sc = load()
    except ScenarioError as e:
        assert e.problems and str(e)
        for p in e.problems:
            assert p.file == source and p.message
            assert p.line is None or p.line >= 1
            assert p.column is None or p.column >= 1
        return None
    # accepted: the resolved form is itself a valid scenario that means the same run
    again = scenario_from_dict(sc.to_yaml_dict())
    assert again == sc
    from simstack.engine.simulation import Simulation
    from simstack.recording.recorder import Recorder
    Simulation(sc, Recorder(lambda: 0.0))  # the runtime can be built for every accepted scenario
    for w in check_scenario(sc, max_goroutines=1000) + goroutine_limit_problems(sc, 1000):  # never raises
        assert w.message and (w.line is None or w.line >= 1)
    return sc


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@FUZZ
@given(doc=structural_mutants())
@example(doc={"goroutines": [{"name": "a", "count": 1, "frame": 10**30, "program": [{"depth": 1, "run": 1}]}]})
@example(doc={"runtime": {"gomaxprocs": 10**12}, "goroutines": [{"name": "a", "count": 1,
                                                                 "program": [{"depth": 1, "run": 1}]}]})
@example(doc={"runtime": {"overrides": {"stack_cache_size": 1000}},
              "goroutines": [{"name": "a", "count": 1, "program": [{"depth": 1, "run": 1}]}]})
def test_structural_mutants_only_raise_scenario_error(doc):
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, ValueError):  # not representable as YAML (e.g. surrogates)
        return
    _accepts_or_rejects_cleanly(lambda: parse_scenario(text, "fuzz.yaml"), "fuzz.yaml")
    _accepts_or_rejects_cleanly(lambda: scenario_from_dict(doc, "fuzz-data"), "fuzz-data")


@FUZZ
@given(raw=text_mutants())
def test_text_mutants_only_raise_scenario_error(raw):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fuzz.yaml")
        with open(path, "wb") as f:
            f.write(raw)
        _accepts_or_rejects_cleanly(lambda: load_scenario(path), path)
