"""JSON Schema (draft 2020-12) of scenario files as users write them.

The schema accepts what the loader accepts before normalization: unit strings and
bare numbers, distributions, ``forever``, ``off``.  It states each field's shape and
the simple cross-field rules (which step keys go together, which arrival process
needs which field); the loader checks the rest (spawn targets, cycles, times after
the end of the run).  The loader also uses it to list the valid keys at a path when
it reports an unknown key.
"""
from __future__ import annotations

import copy

from .distributions import DIST_NAMES
from .model import EVENT_KINDS, GODEBUG_SWITCHES, PLATFORMS, VERSIONS
from .units import NUMBER, SIZE_UNITS, TIME_UNITS

_TIME_UNIT = "|".join(TIME_UNITS)
_SIZE_UNIT = "|".join(SIZE_UNITS)


def _pattern(unit: str, per: bool = False) -> str:
    rate = rf"(\s*/\s*({_TIME_UNIT}))?" if per else ""
    return rf"^\s*({NUMBER})\s*({unit})?{rate}\s*$"


def _units(description: str, number: dict, pattern: str) -> dict:
    return {"description": description, "oneOf": [number, {"type": "string", "pattern": pattern}]}


def _obj(description: str, properties: dict, required: tuple = (), **more) -> dict:
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": properties, **({"required": list(required)} if required else {}), **more}


def _enum(description: str, *values) -> dict:
    return {"description": description, "enum": list(values)}


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _array(items: dict, description: str = "", **more) -> dict:
    return {"type": "array", "items": items, **({"description": description} if description else {}), **more}


def _dist(value: dict, param: dict, what: str) -> dict:
    """A bare value (constant) or one of the tagged distributions over ``what``."""
    def tagged(name: str, description: str, required: tuple, **props) -> dict:
        return _obj(description, {"dist": {"const": name}, **props}, ("dist", *required))
    values = _array(value, minItems=1)
    return {"description": f"{what}: a bare value or a distribution {{dist: {'|'.join(DIST_NAMES)}, ...}}",
            "oneOf": [
                value,
                tagged("constant", "always value", ("value",), value=value),
                tagged("uniform", "uniform on [low, high]", ("low", "high"), low=param, high=param),
                tagged("normal", "normal with mean and std", ("mean", "std"), mean=param, std=param),
                {**tagged("lognormal", "numpy lognormal: mu (or mean, numpy's name: the mean of ln(x), not of x) "
                                       "and sigma of ln(x), x in base units; or median (e^mu) in the field's unit",
                          ("sigma",), mean={"type": "number"}, mu={"type": "number"}, median=param,
                          sigma={"type": "number", "minimum": 0}),
                 "oneOf": [{"required": [k]} for k in ("mean", "mu", "median")]},
                tagged("exponential", "exponential with this mean", ("mean",), mean=param),
                tagged("geometric", "numpy geometric with p = 1/mean (1, 2, 3, ...)", ("mean",), mean=param),
                tagged("empirical", "one of values, with optional weights", ("values",), values=values,
                       weights=_array({"type": "number", "minimum": 0})),
                tagged("sequence", "EXTENSION: goroutine i of the class takes values[i]; with at, goroutine at[j] "
                       "takes values[j] and every other one others (default 0)", ("values",),
                       values=values, at=_array({"type": "integer", "minimum": 0}), others=value),
            ]}


def _when(field: str, value: object, then: dict) -> dict:
    return {"if": {"properties": {field: {"const": value}}, "required": [field]}, "then": then}


_DEFS = {
    "size": _units("bytes, or a string with a unit: 88B, 2KB, 2KiB, 1MB, 1MiB, 1GB, 1GiB",
                   {"type": "integer", "minimum": 0}, _pattern(_SIZE_UNIT)),
    "time": _units("seconds, or a string with a unit: 500ns, 10us, 1.5ms, 2s, 1min",
                   {"type": "number", "minimum": 0}, _pattern(_TIME_UNIT)),
    "rate": _units("per second, or a string: 1000/s, 50/ms", {"type": "number", "exclusiveMinimum": 0},
                   _pattern("", per=True)),
    "byte_rate": _units("bytes per second, or a string: 10MiB/s, 1MB/ms", {"type": "number", "minimum": 0},
                        _pattern(_SIZE_UNIT, per=True)),
    "int_dist": _dist({"type": "integer", "minimum": 0}, {"type": "number", "minimum": 0}, "a non-negative integer"),
    "time_dist": _dist(_ref("time"), _ref("time"), "a time"),
    "runtime": _obj("the Go runtime being modelled", {
        "version": {"description": "go1.12, go1.19, go1.27 or a point release such as go1.19.8", "type": "string",
                    "pattern": rf"^({'|'.join(v.replace('.', '[.]') for v in VERSIONS)})([.][0-9]+)?$"},
        "version_full": {"description": "the exact release (written by to_yaml_dict; defaults to version)",
                         "type": "string", "pattern": r"^go1[.][0-9]+([.][0-9]+)?$"},
        "platform": _enum("GOOS/GOARCH", *PLATFORMS),
        "gomaxprocs": {"description": "number of Ps", "type": "integer", "minimum": 1},
        "gomaxprocs_changes": _array(_obj("a call of runtime.GOMAXPROCS(gomaxprocs) at a time", {
            "at": _ref("time"), "gomaxprocs": {"type": "integer", "minimum": 1}}, ("at", "gomaxprocs")),
            "GOMAXPROCS changed during the run, in time order (gomaxprocs is the value at the start)"),
        "num_cpu": {"description": "runtime.NumCPU() of the machine modelled (how many Ps can run at once, "
                    "for the race model at GOMAXPROCS >= 2); default GOMAXPROCS", "type": "integer", "minimum": 1},
        "races": {"description": "at GOMAXPROCS >= 2, draw what the real runtime leaves to timing (which P runs "
                  "what, when idle Ps join) from measured runs, seeded; false: equal turns", "type": "boolean"},
        "share_cpus": {"description": "with GOMAXPROCS above num_cpu, the Ps' threads share num_cpu CPUs as the OS "
                       "runs them (a P waits its turn for a CPU); default false: a CPU per P", "type": "boolean"},
        "os_slice": {**_ref("time"), "description": "with share_cpus: the OS's time slice for a thread others "
                     "wait for; default EEVDF's base slice, 0.75ms x (1 + log2 num_cpu), num_cpu at most 8"},
        "max_stack": {**_ref("size"), "description": "per-goroutine limit, as debug.SetMaxStack sets it"},
        "godebug": {"description": "GODEBUG switches, 0 or 1", "type": "object",
                    "propertyNames": {"enum": list(GODEBUG_SWITCHES)}, "additionalProperties": {"enum": [0, 1]}},
        "baseline": _enum("auto: the runtime's own stacks at start; none: only the scenario's", "auto", "none"),
        "main_stack": {**_ref("size"), "description": "with baseline auto: the main goroutine's stack when main.main "
                       "starts (package init decides it), a power of two >= 2KiB; default the profile's (16KiB)"},
        "threads_at_start": {"description": "with baseline auto: Ms (OS threads) running when main.main starts, each "
                             "with a g0 and a signal stack; default the profile's for GOMAXPROCS (3, 4, 5)",
                             "type": "integer", "minimum": 1, "maximum": 4096},
        "cpu": _obj("the runtime's own P time on the machine modelled (default 0s each)", {
            "newproc": _ref("time"), "goexit": _ref("time"), "park": _ref("time"), "morestack": _ref("time"),
            "malg": {**_ref("time"), "description": "a go statement that makes a new g: beyond newproc"},
            "mark_cycle": {**_ref("time"), "description": "a mark phase's work per cycle, on the busy Ps "
                                                          "(the phase lasts gc.mark_duration, or as this work takes)"},
            "mark_goroutine": {**_ref("time"), "description": "a mark phase's work per live goroutine scanned"},
        }),
        "overrides": _obj("what-if knobs replacing the version's values", {
            "starting_stack": {**_ref("size"), "description": "_StackMin: a power of two >= 2KiB"},
            "stack_cache_size": _ref("size"),
            "num_stack_orders": {"type": "integer", "minimum": 1, "maximum": 8},
            "growth_factor": {"description": "a power of two >= 2", "type": "integer", "minimum": 2},
            "shrink_below": {"description": "GC halves a stack using less than this fraction",
                             "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "stack_guard": _ref("size"),
            "stack_small": _ref("size"),
            "starting_stack_policy": _enum("fixed, average (1.19+ adaptive) or per_site (per class)",
                                           "fixed", "average", "per_site"),
            "keep_grown_stacks": {**_ref("size"), "description": "dead goroutines keep stacks up to this size"},
            "timer_resolution": {**_ref("time"), "description": "EXTENSION: the step of the netpoller's wait for "
                                 "the next timer (Linux: 1ms); 0s: timers end on time (fitted scenarios)"},
        }),
    }),
    "gc": _obj("when GC cycles run", {
        "trigger": _enum("manual (only at), interval or gogc (heap-paced)", "manual", "interval", "gogc"),
        "at": _array(_ref("time"), "times at which a GC cycle starts, with any trigger"),
        "interval": _ref("time"),
        "gogc": {"description": "GOGC percent, or off", "oneOf": [{"type": "integer", "minimum": 1},
                                                                  {"enum": ["off", False]}]},
        "live_heap": _ref("size"),
        "mark_duration": _ref("time"),
        "mark_durations": _array(_ref("time"), "the mark phase of the cycle at each time in at, in order (the "
                                 "others: mark_duration)"),
        "follow": {"type": "array", "description": "EXTENSION: the gate (or null) the cycle at each time in at "
                   "follows: it comes as much later as that gate's latest opening before it came late",
                   "items": {"oneOf": [{"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"},
                                       {"type": "null"}]}},
    }, allOf=[_when("trigger", "interval", {"required": ["interval"]})]),
    "arrival": _obj("how goroutines of the class start", {
        "process": _enum("arrival process", "burst", "poisson", "uniform", "trace", "spawned"),
        "at": _ref("time"), "rate": _ref("rate"), "every": _ref("time"),
        "times": _array(_ref("time")), "start": _ref("time"), "until": _ref("time"),
        "bursts": {"type": "integer", "minimum": 1, "maximum": 1_000_000,
                   "description": "EXTENSION (burst): the burst repeated this many times, every 'every', "
                                  "count goroutines each"},
    }, allOf=[_when("process", "poisson", {"required": ["rate"]}),
              _when("process", "uniform", {"required": ["every"]}),
              _when("process", "trace", {"required": ["times"]})]),
    "step": _obj("one step: {depth, run|block|block_until} or {spawn, count}", {
        "depth": {**_ref("int_dist"), "description": "frames of the recursive function below the entry frame"},
        "run": {**_ref("time_dist"), "description": "run on a P for this long"},
        "block": {"description": "park for this long, or forever",
                  "oneOf": [{"const": "forever"}, _ref("time_dist")]},
        "block_until": {**_ref("time_dist"), "description": "park until this absolute time (EXTENSION: or a "
                        "distribution of it, drawn per goroutine)"},
        "wait": {"type": "string", "description": "EXTENSION: park until the named gate opens"},
        "spawn": {"type": "string", "description": "class to start (go f())"},
        "wake": {"type": "string", "description": "EXTENSION: ready the first goroutine waiting on this gate, on "
                 "this goroutine's P (a channel send to a waiting receiver); nothing if none waits"},
        "acquire": {"type": "string", "description": "EXTENSION: take a token of this semaphore, parking until "
                    "one is handed over"},
        "release": {"type": "string", "description": "EXTENSION: give the token to the first goroutine waiting "
                    "(on this goroutine's P) or back to the semaphore"},
        "count": {**_ref("int_dist"), "description": "how many to spawn (default 1)"},
        "join": {"type": "boolean", "description": "EXTENSION, spawn steps: park until every goroutine this step "
                 "started has exited (wg.Wait() after the go statements, t.Run); the last one readies it on its P"},
        "frame": {**_ref("size"), "description": "frame size of the frames this step adds"},
        "transient": {**_ref("size"), "description": "EXTENSION: frame of a call made and returned "
                                                     "from at the deepest frame before the action"},
        "park_frames": _array(_ref("size"), "EXTENSION: user frames kept on the stack while parked"),
    }, oneOf=[{"required": ["depth", "run"]}, {"required": ["depth", "block"]},
              {"required": ["depth", "block_until"]}, {"required": ["depth", "wait"]},
              {"required": ["spawn"]}, {"required": ["wake"]}, {"required": ["depth", "acquire"]},
              {"required": ["release"]}]),
    "goroutine_class": _obj("a class of goroutines that behave alike", {
        "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"},
        "count": {"type": "integer", "minimum": 0, "description": "how many to start"},
        "arrival": _ref("arrival"),
        "frame": {**_ref("size"), "description": "$FRAME of the recursive function"},
        "entry_frame": {**_ref("size"), "description": "$FRAME of the entry function"},
        "program": _array(_ref("step"), "steps run in order, then the goroutine exits", minItems=1),
        "repeat": {"description": "times the program runs, or forever",
                   "oneOf": [{"type": "integer", "minimum": 1}, {"const": "forever"}]},
        "alloc_rate": {**_ref("byte_rate"), "description": "heap bytes allocated per second of run time"},
        "park_path": {"description": "EXTENSION: the runtime's frames on the park path",
                      "oneOf": [{"enum": ["auto", "none"]},
                                _array(_obj("one runtime frame", {"frame": _ref("size"),
                                                                  "nosplit": {"type": "boolean"}}, ("frame",)))]},
    }, ("name", "program"), allOf=[
        {"if": {"properties": {"arrival": {"properties": {"process": {"const": "burst"}}}}},
         "then": {"required": ["count"]}},
        {"if": {"properties": {"arrival": {"properties": {"process": {"enum": ["spawned", "trace"]}},
                                           "required": ["process"]}}, "required": ["arrival"]},
         "then": {"not": {"required": ["count"]}}}]),
}

SCHEMA = _obj("a simstack scenario (format v1)", {
    "name": {"type": "string", "minLength": 1, "description": "short identifier (default: file stem)"},
    "description": {"type": "string"},
    "seed": {"type": "integer", "minimum": 0},
    "duration": {**_ref("time"), "description": "simulated time horizon (default: run to completion)"},
    "runtime": _ref("runtime"),
    "gc": _ref("gc"),
    "goroutines": _array(_ref("goroutine_class"), "goroutine classes", minItems=1),
    "checkpoints": _array(_obj("a full metric snapshot", {
        "label": {"type": "string", "minLength": 1}, "at": _ref("time"),
        "via": _enum("memstats flushes the stack caches like ReadMemStats; metrics changes nothing",
                     "memstats", "metrics")}, ("label", "at"))),
    "gates": _array(_obj("EXTENSION: a gate whose waiters all become runnable when it opens", {
        "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"},
        "open_at": _array(_ref("time"), "times at which the gate opens"),
        "wake_at": _array(_ref("time"), "times at which main readies only the first goroutine waiting"),
        "wait_for": _array({"type": "integer", "minimum": 0}, "per opening in open_at: it waits until this many "
                           "goroutines wait on the gate, but not past the next opening's time")},
        ("name",))),
    "semaphores": _array(_obj("EXTENSION: a counting semaphore (a buffered channel of tokens)", {
        "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"},
        "tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000}}, ("name", "tokens"))),
    "record": _obj("what to record", {
        "sample_every": {**_ref("time"), "description": "footprint period (default duration/1000)"},
        "events": {"oneOf": [{"const": "all"}, _array({"enum": list(EVENT_KINDS)})]},
        "goroutine_table": {"type": "boolean"}}),
}, ("goroutines",), **{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "simstack scenario",
                       "$defs": _DEFS})


def scenario_json_schema() -> dict:
    """The JSON Schema of the scenario YAML format (a fresh copy)."""
    return copy.deepcopy(SCHEMA)


def keys_at(path: tuple) -> set[str]:
    """The keys the schema allows in the mapping at ``path`` (e.g. ('goroutines', 0, 'program', 1))."""
    nodes = [SCHEMA]
    for part in path:
        if isinstance(part, int):
            nodes = [n["items"] for n in _expand(nodes) if "items" in n]
        else:
            nodes = [n["properties"][part] for n in _expand(nodes) if part in n.get("properties", {})]
    return {k for n in _expand(nodes) for k in n.get("properties", {})}


def _expand(nodes: list) -> list:
    """Resolve $ref and flatten oneOf/allOf alternatives into plain schema nodes."""
    out = []
    for n in nodes:
        if "$ref" in n:
            n = {**n, **_DEFS[n["$ref"].rsplit("/", 1)[1]]}
        out.append(n)
        out += _expand(n.get("oneOf", []) + n.get("allOf", []))
    return out
