"""The scenario as validated pydantic models, values normalized to base units.

Field names follow ``spec/scenario-format.md``.  After validation sizes are ``int``
bytes, times ``float`` seconds, rates ``float`` per second, per-goroutine numbers
:class:`~simstack.scenario.distributions.Dist` objects, and the spellings
``forever`` (repeat) and ``off`` (gogc) are ``None``.  Every model is frozen and
rejects unknown fields.

A check that involves several fields raises one pydantic error of type
``scenario`` whose ``ctx['problems']`` lists ``(loc, message)`` pairs, ``loc``
relative to the model that raised it; the loader turns each pair into its own
located :class:`~simstack.errors.Problem`, so all of them are reported at once.
"""
from __future__ import annotations

import math
import re
from functools import partial
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      TypeAdapter, ValidationInfo, field_validator, model_serializer, model_validator)
from pydantic_core import PydanticCustomError

from ..errors import did_you_mean, format_path
from ..runtime import profiles as _profiles
from ..runtime.tracebuf import EVENT_KINDS
from .distributions import Dist, IntDist, Sequence, TimeDist
from .units import parse_byte_rate, parse_rate, parse_size, parse_time, shown

# the versions, platforms and event kinds a scenario may name: the model's (one source each)
VERSIONS = tuple(_profiles.VERSIONS)
PLATFORMS = tuple(_profiles.PLATFORMS)
GODEBUG_SWITCHES = ("adaptivestackstart", "gcshrinkstackoff", "updatemaxprocs")
STEP_ACTIONS = ("run", "block", "block_until", "wait", "spawn", "wake", "acquire", "release")
MAX_GOMAXPROCS = 1024  # Ps are simulated one by one; _MaxGomaxprocs of Go <= 1.9
MAX_STACK_CACHE = 16 * 2**20  # what-if bound on _StackCacheSize: a pool span's slots are listed one by one
MAX_PERIODIC = 1_000_000  # most GC cycles (trigger: interval) or footprint rows (sample_every) in a run


def goroutine_heap(version: str, platform: str) -> int:
    """Heap bytes of each goroutine a program has made (its g struct, kept in allgs), which the GOGC
    pacer marks on top of ``gc.live_heap``: the model's figure, for ``simstack fit``."""
    return _profiles.resolve_profile(version, platform).g_heap

Size = Annotated[int, BeforeValidator(parse_size)]
Time = Annotated[float, BeforeValidator(parse_time)]
Rate = Annotated[float, BeforeValidator(parse_rate)]
ByteRate = Annotated[float, BeforeValidator(parse_byte_rate)]
PositiveSize = Annotated[Size, Field(gt=0)]
PositiveTime = Annotated[Time, Field(gt=0)]
_INT_DIST = TypeAdapter(IntDist)


def _check_choice(choices: tuple, v: object) -> object:
    if v not in choices:
        hint = did_you_mean(v, choices) if isinstance(v, str) else ""
        raise ValueError(f"expected one of {', '.join(choices)}, got {shown(v)}{hint}")
    return v


def Choice(*choices: str) -> Any:
    """A string field that must be one of ``choices`` (with a did-you-mean hint)."""
    return Annotated[Literal[choices], BeforeValidator(partial(_check_choice, choices))]


def _word_or_list(word: Any, item: Any, what: str) -> Any:
    """A field that is either a keyword (``word``, a Choice) or a list of ``item``."""
    def shape(v: object) -> object:
        if not isinstance(v, (str, list)):
            raise ValueError(f"expected {what}, got {shown(v)}")
        return v
    return Annotated[Union[Annotated[word, Tag("<keyword>")], Annotated[list[item], Tag("<list>")]],
                     Discriminator(lambda v: "<keyword>" if isinstance(v, str) else "<list>"), BeforeValidator(shape)]


def _identifier(v: object) -> object:
    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", v):
        raise ValueError(f"expected a name of letters, digits, '_', '.', '-' (not starting with a digit), got {shown(v)}")
    return v


def _version_key(v: object) -> object:
    """'go1.19.8' -> 'go1.19': any point release maps onto its minor version's profile."""
    m = re.fullmatch(r"(go1\.\d+)(\.\d+)?", v) if isinstance(v, str) else None
    if not m or m.group(1) not in VERSIONS:
        raise ValueError(f"expected a modelled Go version ({', '.join(VERSIONS)}, or a point release such "
                         f"as go1.19.8), got {shown(v)}")
    return m.group(1)


def _zero_or_one(v: object) -> object:
    if v not in (0, 1) or isinstance(v, bool):
        raise ValueError(f"expected 0 or 1, got {shown(v)}")
    return v


def _power_of_two(minimum: int, v: int) -> int:
    if v < minimum or v & (v - 1):
        raise ValueError(f"expected a power of two >= {minimum} (stack sizes are powers of two), got {v}")
    return v


def _fail(problems: list[tuple[tuple, str]]) -> None:
    """Raise one error that carries several located problems (see the module docstring)."""
    if problems:
        summary = "; ".join(f"{format_path(loc) or '(here)'}: {msg}" for loc, msg in problems)
        raise PydanticCustomError("scenario", "{summary}", {"summary": summary, "problems": problems})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


StartingStackPolicy = Choice("fixed", "average", "per_site")
PlatformName = Choice(*PLATFORMS)
GodebugSwitch = Choice(*GODEBUG_SWITCHES)
ZeroOrOne = Annotated[int, BeforeValidator(_zero_or_one)]
Baseline = Choice("auto", "none")
GCTrigger = Choice("manual", "interval", "gogc")
ArrivalProcess = Choice("burst", "poisson", "uniform", "trace", "spawned")
CheckpointVia = Choice("memstats", "metrics")
EventSelection = _word_or_list(Choice("all"), Choice(*EVENT_KINDS), "all or a list of event kinds")


class Overrides(_Model):
    """What-if knobs; None keeps the version's own value."""

    starting_stack: Annotated[Size, AfterValidator(partial(_power_of_two, 2048))] | None = None
    stack_cache_size: PositiveSize | None = None
    num_stack_orders: Annotated[int, Field(ge=1, le=8)] | None = None
    growth_factor: Annotated[int, AfterValidator(partial(_power_of_two, 2))] | None = None
    shrink_below: Annotated[float, Field(gt=0, lt=1)] | None = None
    stack_guard: PositiveSize | None = None
    stack_small: PositiveSize | None = None
    starting_stack_policy: StartingStackPolicy | None = None
    keep_grown_stacks: Size | None = None
    # EXTENSION: the step of the netpoller's wait for the next timer (Linux epoll: 1ms); 0s: timers end
    # on time (darwin's kevent, go1.12's timer goroutines; a fitted scenario, whose block times were
    # measured with the lateness in them)
    timer_resolution: Annotated[Time, Field(ge=0)] | None = None


class CpuCosts(_Model):
    """EXTENSION: the P time the runtime's own work takes on the machine modelled (0s: none, the
    default; steps are then the only time a goroutine holds its P). Machine constants, not version
    ones: ``simstack/validate/cpucost.py`` measures them, and timed validation gives the model this
    machine's."""

    newproc: Annotated[Time, Field(ge=0)] = 0.0  # a go statement (newproc), on the creator's P
    malg: Annotated[Time, Field(ge=0)] = 0.0  # and beyond it when no dead g is free: a new one (malg, allgs)
    goexit: Annotated[Time, Field(ge=0)] = 0.0  # a goroutine's first schedule and its exit (execute, goexit0)
    park: Annotated[Time, Field(ge=0)] = 0.0  # a blocking step: park, the wake-up, the schedule back
    morestack: Annotated[Time, Field(ge=0)] = 0.0  # a stack growth (newstack, copystack)
    # the mark phase's work: per cycle, and per goroutine whose stack it scans; the background workers
    # do it at 25 % of each busy P and all of an idle one, which sets how long the phase lasts (unless
    # gc.mark_duration gives its length), and the busy Ps owe their share
    mark_cycle: Annotated[Time, Field(ge=0)] = 0.0
    mark_goroutine: Annotated[Time, Field(ge=0)] = 0.0

    def __bool__(self) -> bool:
        """Whether any cost is set (all 0s: the model charges none)."""
        return any(self.model_dump().values())


class GomaxprocsChange(_Model):
    """EXTENSION: a call of ``runtime.GOMAXPROCS(gomaxprocs)`` at ``at`` (procresize)."""

    at: Time
    gomaxprocs: Annotated[int, Field(ge=1, le=MAX_GOMAXPROCS)]


class RuntimeSpec(_Model):
    """The Go runtime being modelled: version profile, platform and knobs."""

    version: Annotated[Literal[VERSIONS], BeforeValidator(_version_key)] = "go1.27"
    version_full: str = "go1.27"  # the release as written ('go1.19.8'); ``version`` is its profile
    platform: PlatformName = "linux/amd64"
    gomaxprocs: Annotated[int, Field(ge=1, le=MAX_GOMAXPROCS)] = 1
    # EXTENSION: GOMAXPROCS changed during the run (runtime.GOMAXPROCS, a container's new CPU limit), in
    # time order: ``gomaxprocs`` is the value at the start
    gomaxprocs_changes: list[GomaxprocsChange] = []
    # runtime.NumCPU() of the machine modelled (the race model's input); None: GOMAXPROCS, as the
    # runtime's default is. Never the CPUs of the machine running the simulation.
    num_cpu: Annotated[int, Field(ge=1, le=MAX_GOMAXPROCS)] | None = None
    # the race model at GOMAXPROCS >= 2 (simstack/engine/races.py); false: the deterministic even turns
    races: bool = True
    # the Ps' threads share num_cpu CPUs when GOMAXPROCS exceeds it, as the OS runs them (engine/cpus.py);
    # false: every P has a CPU of its own, whatever num_cpu says
    share_cpus: bool = False
    # the OS's time slice for a thread others wait for; None: EEVDF's default for num_cpu CPUs
    os_slice: Annotated[Time, Field(gt=0)] | None = None
    max_stack: PositiveSize | None = None
    godebug: dict[GodebugSwitch, ZeroOrOne] = {}
    baseline: Baseline = "auto"
    # with baseline auto: main's stack when main.main starts (package init decides it) and the Ms then
    # running (m0, sysmon, ...; timing decides it); None: the profile's (16 KiB; 3, 4, 5 by GOMAXPROCS)
    main_stack: Annotated[Size, AfterValidator(partial(_power_of_two, 2048))] | None = None
    threads_at_start: Annotated[int, Field(ge=1, le=4096)] | None = None
    cpu: CpuCosts = Field(default_factory=CpuCosts)
    overrides: Overrides = Field(default_factory=Overrides)

    @model_validator(mode="before")
    @classmethod
    def _keep_full_version(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("version"), str) and "version_full" not in data:
            data = {**data, "version_full": data["version"]}
        return data

    @property
    def max_gomaxprocs(self) -> int:
        """The most Ps the run has at once: at the start or after a change."""
        return max([self.gomaxprocs] + [c.gomaxprocs for c in self.gomaxprocs_changes])

    @model_validator(mode="after")
    def _consistent(self):
        for i in range(1, len(self.gomaxprocs_changes)):
            if self.gomaxprocs_changes[i].at <= self.gomaxprocs_changes[i - 1].at:
                _fail([(("gomaxprocs_changes", i, "at"), f"expected the changes in time order, each after the one "
                        f"before ({self.gomaxprocs_changes[i - 1].at:g}s), got {self.gomaxprocs_changes[i].at:g}s")])
        m = re.fullmatch(r"(go1\.\d+)(\.\d+)?", self.version_full)
        if not m or m.group(1) != self.version:
            _fail([(("version_full",), f"expected a release of {self.version} such as {self.version}.1, "
                                       f"got {self.version_full!r}")])
        _fail(_profile_problems(self))
        return self


def _profile_problems(rs: RuntimeSpec) -> list:
    """What-if overrides that leave no working stack allocator for this version and platform."""
    from ..runtime.profiles import resolve_profile

    ov = rs.overrides
    problems = []
    if ov.stack_cache_size is not None and (ov.stack_cache_size % 8192 or ov.stack_cache_size > MAX_STACK_CACHE):
        problems.append((("overrides", "stack_cache_size"), f"expected a multiple of 8KiB (8192 bytes, the page "
                         f"size: stack spans are whole pages) of at most 16MiB, got {ov.stack_cache_size}"))
        return problems
    prof = resolve_profile(rs.version, rs.platform, godebug=dict(rs.godebug), max_stack=rs.max_stack,
                           overrides=ov.model_dump())
    where = f"on {rs.version}/{rs.platform}"
    if prof.fixed_stack << prof.num_stack_orders < prof.page_size:
        problems.append((("overrides", "num_stack_orders"),
                         f"expected at least {(prof.page_size // prof.fixed_stack).bit_length() - 1} stack orders "
                         f"{where} with {prof.fixed_stack}-byte fixed stacks: pool stacks must reach the 8 KiB "
                         f"page, since larger stacks are whole pages; got {prof.num_stack_orders}"))
    return problems


class GCSpec(_Model):
    """When GC cycles start."""

    trigger: GCTrigger = "manual"
    at: list[Time] = []
    interval: PositiveTime | None = None
    gogc: Annotated[int, Field(ge=1)] | None = 100  # None: GOGC=off
    live_heap: Size = 4_000_000
    mark_duration: Time = 0.0
    mark_durations: list[Time] = []  # EXTENSION: the mark phase of the cycle at at[i] (others: mark_duration)
    # EXTENSION: the cycle at at[i] follows gate follow[i] (null: none): it comes as long after that gate's
    # latest opening at or before at[i] as at[i] is after that opening's time, so a wait_for opening that
    # comes late (the goroutines it waits for got there late) delays it as much
    follow: list[Annotated[str, BeforeValidator(_identifier)] | None] = []

    @field_validator("gogc", mode="before")
    @classmethod
    def _off(cls, v):  # False: what YAML 1.1 readers make of an unquoted off
        return None if v == "off" or v is False else v

    @model_validator(mode="after")
    def _interval(self):
        if self.trigger == "interval" and self.interval is None:
            _fail([(("interval",), "trigger 'interval' needs an interval, e.g. interval: 10ms")])
        if self.trigger != "interval" and self.interval is not None:
            _fail([(("interval",), f"interval only applies to trigger 'interval', not {self.trigger!r}")])
        if len(self.mark_durations) > len(self.at):
            _fail([(("mark_durations",), f"one mark phase per cycle in at: expected at most {len(self.at)} "
                    f"value(s), got {len(self.mark_durations)}")])
        if len(self.follow) > len(self.at):
            _fail([(("follow",), (f"one gate (or null) per cycle in at: expected at most {len(self.at)} "
                                  f"value(s), got {len(self.follow)}"))])
        return self

    @model_serializer(mode="wrap")
    def _write_off(self, handler):
        return {**handler(self), "gogc": "off"} if self.gogc is None else handler(self)


class Arrival(_Model):
    """How a class's goroutines are started."""

    process: ArrivalProcess = "burst"
    at: Time | None = None  # burst; 0 when not given
    rate: Annotated[Rate, Field(gt=0)] | None = None  # poisson
    every: PositiveTime | None = None  # uniform; burst with bursts (the gap between bursts)
    times: list[Time] | None = None  # trace (kept sorted)
    start: Time = 0.0
    until: Time | None = None
    bursts: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # EXTENSION: a burst repeated, count each

    @model_validator(mode="after")
    def _fields_match_process(self):
        own = {"burst": "at", "poisson": "rate", "uniform": "every", "trace": "times"}
        repeated = self.process == "burst" and self.bursts is not None
        problems = [((f,), f"{f!r} only applies to process {p!r}, not {self.process!r}")
                    for p, f in own.items() if p != self.process and getattr(self, f) is not None
                    and not (repeated and f == "every")]
        if self.bursts is not None and self.process != "burst":
            problems.append((("bursts",), f"'bursts' only applies to process 'burst', not {self.process!r}"))
        if repeated and self.bursts > 1 and self.every is None:
            problems.append((("every",), f"{self.bursts} bursts need 'every', the time from one to the next"))
        if self.process in own and self.process != "burst" and getattr(self, own[self.process]) is None:
            problems.append(((own[self.process],), f"process {self.process!r} needs {own[self.process]!r}"))
        if self.until is not None and self.until <= self.start:
            problems.append((("until",), f"until ({self.until:g}s) must be after start ({self.start:g}s)"))
        _fail(problems)
        if self.process == "burst" and self.at is None:
            object.__setattr__(self, "at", 0.0)
        if self.times is not None:
            object.__setattr__(self, "times", sorted(self.times))
        return self


class ParkFrame(_Model):
    """EXTENSION: one runtime frame on the park path."""

    frame: Size
    nosplit: bool = False


BlockTime = Annotated[Union[Annotated[Literal["forever"], Tag("<keyword>")], Annotated[TimeDist, Tag("<dist>")]],
                      Discriminator(lambda v: "<keyword>" if v == "forever" else "<dist>")]


class Step(_Model):
    """One program step, stored in its YAML form with normalized values.

    ``kind``, ``duration`` (run/block; None for ``block: forever``), ``until``
    (block_until) and ``forever`` are derived properties.  A step can also be
    built from that normalized form: ``Step(kind='block', depth=3, forever=True)``.
    """

    depth: IntDist | None = None
    run: TimeDist | None = None
    block: BlockTime | None = None
    block_until: TimeDist | None = None  # EXTENSION: a distribution (an absolute time per goroutine)
    wait: str | None = None  # EXTENSION: park until the named gate opens
    spawn: str | None = None
    wake: str | None = None  # EXTENSION: ready the first goroutine waiting on the named gate
    acquire: str | None = None  # EXTENSION: take a token of the named semaphore, parking until one is free
    release: str | None = None  # EXTENSION: give the token back (to the first goroutine waiting for one)
    count: IntDist | None = None
    join: bool = False  # EXTENSION: a spawn step's goroutine parks until the ones it started have all exited
    frame: Size | None = None
    transient: Size | None = None  # EXTENSION
    park_frames: list[Size] = []  # EXTENSION

    @model_validator(mode="before")
    @classmethod
    def _from_normalized(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "kind" not in data:
            return data
        d = dict(data)
        kind, duration, until, forever = d.pop("kind"), d.pop("duration", None), d.pop("until", None), \
            d.pop("forever", False)
        if kind in ("run", "block"):
            d[kind] = "forever" if forever else duration
        elif kind == "block_until":
            d["block_until"] = until
        elif kind not in ("spawn", "wait", "wake", "acquire", "release"):
            raise ValueError(f"expected kind to be one of {', '.join(STEP_ACTIONS)}, got {kind!r}")
        return d

    @model_validator(mode="after")
    def _one_action(self):
        actions = [a for a in STEP_ACTIONS if getattr(self, a) is not None]
        if len(actions) != 1:
            _fail([(tuple(actions[1:2]), f"a step takes exactly one of {', '.join(STEP_ACTIONS)}; "
                                         f"this one has {' and '.join(actions) or 'none'}")])
        if self.spawn is not None:
            _fail([((f,), f"{f!r} does not apply to a spawn step")
                   for f in ("depth", "frame", "transient", "park_frames") if getattr(self, f) not in (None, [])])
            if self.count is None:  # {spawn: X} starts one, as `go f()` does
                object.__setattr__(self, "count", _INT_DIST.validate_python(1))
            return self
        for action in ("wake", "release"):
            if getattr(self, action) is not None:
                _fail([((f,), f"{f!r} does not apply to a {action} step (it acts at the depth the goroutine is at)")
                       for f in ("depth", "frame", "transient", "park_frames", "count", "join")
                       if getattr(self, f) not in (None, [], False)])
                return self
        problems = [] if self.depth is not None else [(("depth",), f"a {actions[0]} step needs a depth")]
        if self.count is not None:
            problems.append((("count",), "'count' only applies to spawn steps"))
        if self.join:
            problems.append((("join",), f"'join' does not apply to a {actions[0]} step, only to spawn steps"))
        if self.park_frames and self.run is not None:
            problems.append((("park_frames",), "park_frames only apply to block and block_until steps"))
        _fail(problems)
        return self

    @property
    def kind(self) -> str:
        return next(a for a in STEP_ACTIONS if getattr(self, a) is not None)

    @property
    def forever(self) -> bool:
        return self.block == "forever"

    @property
    def duration(self) -> Dist | None:
        return self.run if self.run is not None else (None if self.forever else self.block)

    @property
    def until(self) -> float | None:
        return self.block_until


ParkPath = _word_or_list(Choice("auto", "none"), ParkFrame, "auto, none or a list of {frame, nosplit}")


class GoroutineClass(_Model):
    """A class of goroutines that behave alike."""

    name: Annotated[str, BeforeValidator(_identifier)]
    count: Annotated[int, Field(ge=0)] | None = None
    arrival: Arrival = Field(default_factory=Arrival)
    frame: Size = 64
    entry_frame: Size = 32
    program: list[Step] = Field(min_length=1)
    repeat: Annotated[int, Field(ge=1)] | None = 1  # None: forever
    alloc_rate: ByteRate = 0.0
    park_path: ParkPath = "auto"

    @field_validator("repeat", mode="before")
    @classmethod
    def _forever(cls, v):
        return None if v == "forever" else v

    @model_validator(mode="after")
    def _count_and_sequences(self):
        process, problems = self.arrival.process, []
        if process in ("spawned", "trace") and self.count is not None:
            why = "spawn steps say how many" if process == "spawned" else "one goroutine per trace time"
            problems.append((("count",), f"count does not apply to arrival process {process!r} ({why})"))
        if process == "burst" and self.count is None:
            problems.append((("count",), "a burst needs a count"))
        if process in ("poisson", "uniform") and self.count is None and self.arrival.until is None:
            problems.append((("count",), f"process {process!r} needs a count or arrival.until"))
        if self.repeat is None and _max_time(self.program) == 0:
            problems.append((("repeat",), "repeat: forever with a program that always takes 0s would loop "
                                          "forever at one instant; give a run or block step a positive time"))
        known = len(self.arrival.times) if process == "trace" else self.count
        if known is not None and self.arrival.bursts:
            known *= self.arrival.bursts
        for j, step in enumerate(self.program):
            for f in ("depth", "run", "block", "block_until", "count"):
                d = getattr(step, f)
                # (a sparse sequence, with at, has a value for every goroutine)
                if known is not None and isinstance(d, Sequence) and d.at is None and len(d.values) < known:
                    problems.append((("program", j, f), f"sequence has {len(d.values)} values but the class "
                                                          f"starts {known} goroutines"))
        _fail(problems)
        return self

    @model_serializer(mode="wrap")
    def _write_forever(self, handler):
        return {**handler(self), "repeat": "forever"} if self.repeat is None else handler(self)


class Checkpoint(_Model):
    label: Annotated[str, Field(min_length=1)]
    at: Time
    via: CheckpointVia = "memstats"


class Gate(_Model):
    """EXTENSION: a gate (like a channel that is closed) that releases its waiters when it opens.

    At each time in ``open_at`` every goroutine then parked in a ``wait`` step on this
    gate becomes runnable on P 0 (as ``close(ch)`` from the main goroutine readies a
    channel's receivers). At each time in ``wake_at`` main readies only the first one
    waiting (a send to the channel); a goroutine's ``wake`` step does that on its own P.
    """

    name: Annotated[str, BeforeValidator(_identifier)]
    open_at: list[Time] = []
    wake_at: list[Time] = []  # EXTENSION: main hands one waiter the baton (e.g. starts a chain)
    # EXTENSION: the opening at open_at[i] waits until wait_for[i] goroutines wait on the gate (main's
    # WaitGroup.Wait before its close), but not past the next opening's time
    wait_for: list[Annotated[int, Field(ge=0)]] = []


class Semaphore(_Model):
    """EXTENSION: a counting semaphore of ``tokens`` tokens (a buffered channel of that capacity).

    An ``acquire`` step takes a token, or parks until one is handed to it; a ``release`` step
    gives its token to the first goroutine waiting (readied in the releaser's runnext, as a
    receive from a full channel readies the blocked sender) or back to the semaphore.
    """

    name: Annotated[str, BeforeValidator(_identifier)]
    tokens: Annotated[int, Field(ge=1, le=1_000_000_000)]


class RecordSpec(_Model):
    sample_every: PositiveTime | None = None  # filled with duration/1000 when duration is set
    events: EventSelection = "all"
    goroutine_table: bool = True


class Scenario(_Model):
    """A whole scenario.  ``source`` is the file it was read from (None otherwise).

    Two scenarios are equal when they describe the same run, wherever they came from.
    """

    name: Annotated[str, Field(min_length=1)] | None = None  # filled: file stem or 'scenario'
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    duration: PositiveTime | None = None
    runtime: RuntimeSpec = Field(default_factory=RuntimeSpec)
    gc: GCSpec = Field(default_factory=GCSpec)
    goroutines: list[GoroutineClass] = Field(min_length=1)
    checkpoints: list[Checkpoint] = []
    gates: list[Gate] = []  # EXTENSION
    semaphores: list[Semaphore] = []  # EXTENSION
    record: RecordSpec = Field(default_factory=RecordSpec)
    _source: str | None = PrivateAttr(None)
    _positions: dict = PrivateAttr(default_factory=dict)  # where each field was written (the loader's)

    @property
    def source(self) -> str | None:
        return self._source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self.model_dump() == other.model_dump()

    __hash__ = None

    def to_yaml_dict(self) -> dict:
        """The resolved scenario as plain data (bytes, seconds, defaults filled); valid scenario YAML."""
        return self.model_dump(exclude_none=True)

    def goroutine_class(self, name: str) -> GoroutineClass:
        return next(c for c in self.goroutines if c.name == name)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo):
        _fail(_class_problems(self) + _time_problems(self) + _spawn_cycle_problems(self) + _gate_problems(self)
              + _forever_problems(self))
        if self.name is None:
            object.__setattr__(self, "name", (info.context or {}).get("name") or "scenario")
        if self.record.sample_every is None and self.duration is not None:
            object.__setattr__(self, "record", self.record.model_copy(update={"sample_every": self.duration / 1000}))
        for i, c in enumerate(self.goroutines):  # name each distribution for sampling-time messages
            for j, step in enumerate(c.program):
                for f in ("depth", "run", "block", "block_until", "count"):
                    if isinstance(getattr(step, f), Dist):
                        getattr(step, f)._where = format_path(("goroutines", i, "program", j, f))
        return self


def _class_problems(s: Scenario) -> list:
    """Duplicate class names, spawns of unknown classes, spawned classes nobody spawns."""
    problems, first, spawned = [], {}, set()
    for i, c in enumerate(s.goroutines):
        if c.name in first:
            problems.append((("goroutines", i, "name"), f"duplicate class name {c.name!r} "
                                                         f"(first used by goroutines[{first[c.name]}])"))
        first.setdefault(c.name, i)
    for i, c in enumerate(s.goroutines):
        for j, step in enumerate(c.program):
            if step.spawn is not None and step.spawn not in first:
                problems.append((("goroutines", i, "program", j, "spawn"),
                                 f"no goroutine class named {step.spawn!r}{did_you_mean(step.spawn, first)}"))
            if step.spawn is not None:
                spawned.add(step.spawn)
    for i, c in enumerate(s.goroutines):
        if c.arrival.process == "spawned" and c.name not in spawned:
            problems.append((("goroutines", i, "arrival", "process"),
                             f"class {c.name!r} has arrival process 'spawned' but no spawn step names it"))
    return problems


def _gate_problems(s: Scenario) -> list:
    """Duplicate gate names; more counts than openings; wait steps naming no gate."""
    problems, names = [], {}
    for k, g in enumerate(s.gates):
        if g.name in names:
            problems.append((("gates", k, "name"), f"duplicate gate name {g.name!r}"))
        names.setdefault(g.name, k)
        if len(g.wait_for) > len(g.open_at):
            problems.append((("gates", k, "wait_for"), f"one count per opening in open_at: expected at most "
                             f"{len(g.open_at)} value(s), got {len(g.wait_for)}"))
    for i, c in enumerate(s.goroutines):
        for j, step in enumerate(c.program):
            for f in ("wait", "wake"):
                gate = getattr(step, f)
                if gate is not None and gate not in names:
                    problems.append((("goroutines", i, "program", j, f),
                                     f"no gate named {gate!r}{did_you_mean(gate, names)}; declare it under gates"))
    for k, gate in enumerate(s.gc.follow):
        if gate is not None and gate not in names:
            problems.append((("gc", "follow", k), (f"no gate named {gate!r}{did_you_mean(gate, names)}; "
                                                   "declare it under gates")))
    sems: dict = {}
    for k, sem in enumerate(s.semaphores):
        if sem.name in sems:
            problems.append((("semaphores", k, "name"), f"duplicate semaphore name {sem.name!r}"))
        sems.setdefault(sem.name, k)
    for i, c in enumerate(s.goroutines):
        for j, step in enumerate(c.program):
            for f in ("acquire", "release"):
                sem = getattr(step, f)
                if sem is not None and sem not in sems:
                    problems.append((("goroutines", i, "program", j, f), f"no semaphore named {sem!r}"
                                     f"{did_you_mean(sem, sems)}; declare it under semaphores"))
    return problems


def _time_problems(s: Scenario) -> list:
    """Duplicate checkpoint labels; GC and checkpoint times after the end of the run."""
    problems, labels = [], set()
    for k, cp in enumerate(s.checkpoints):
        if cp.label in labels:
            problems.append((("checkpoints", k, "label"), f"duplicate checkpoint label {cp.label!r}"))
        labels.add(cp.label)
    if s.duration is not None:
        late = [(("gc", "at", k), t) for k, t in enumerate(s.gc.at) if t > s.duration]
        late += [(("checkpoints", k, "at"), cp.at) for k, cp in enumerate(s.checkpoints) if cp.at > s.duration]
        problems += [(loc, f"time {t:g}s is after the end of the run (duration {s.duration:g}s)") for loc, t in late]
        periodic = [(("gc", "interval"), s.gc.interval, "GC cycles"),
                    (("record", "sample_every"), s.record.sample_every, "footprint rows")]
        for loc, every, what in periodic:
            if every is not None and s.duration / every > MAX_PERIODIC:
                problems.append((loc, f"expected at most {MAX_PERIODIC:,} {what} in the run: every {every:g}s "
                                      f"for {s.duration:g}s gives {s.duration / every:,.0f}"))
    return problems


def _forever_problems(s: Scenario) -> list:
    """Without a duration, a class repeating forever must be able to stop: park for good somewhere."""
    if s.duration is not None:
        return []
    return [(("goroutines", i, "repeat"), f"class {c.name!r} repeats forever and the scenario has no duration, "
                                          "so the run would never end; set a duration, or give the program a "
                                          "'block: forever' or 'wait' step")
            for i, c in enumerate(s.goroutines)
            if c.repeat is None and not any(st.forever or st.wait is not None for st in c.program)]


def _spawn_cycle_problems(s: Scenario) -> list:
    """Spawn cycles in which every goroutine always spawns the next class of the cycle.

    Such a cycle never dies out.  Without a duration the run could never end; with
    one it still cannot advance when every step before the spawns always takes 0s.
    """
    index = {c.name: i for i, c in enumerate(s.goroutines)}
    if len(index) < len(s.goroutines):  # duplicate names are reported; the graph would be wrong
        return []
    # edges[a][b] = (most time a goroutine of a can spend before it surely spawns a b, that step's index)
    edges: dict[str, dict[str, tuple[float, int]]] = {n: {} for n in index}
    for c in s.goroutines:
        for j, step in enumerate(c.program):
            if step.kind == "spawn" and step.spawn in index and step.count.support()[0] >= 0.5:
                edges[c.name].setdefault(step.spawn, (_max_time(c.program[:j]), j))
    problems, seen = [], set()
    for name, i in index.items():
        cycle = _shortest_cycle(name, edges)
        if cycle is None or frozenset(cycle) in seen:
            continue
        seen.add(frozenset(cycle))
        names = " -> ".join(cycle + [cycle[0]])
        loc = ("goroutines", i, "program", edges[name][(cycle + [name])[1]][1], "spawn")
        if s.duration is None:
            problems.append((loc, f"spawn cycle {names} grows without bound: every goroutine always spawns "
                                  "the next; set a duration or let a count be 0"))
        elif sum(edges[a][b][0] for a, b in zip(cycle, cycle[1:] + cycle[:1])) == 0:
            problems.append((loc, f"spawn cycle {names} spawns forever without simulated time passing; "
                                  "add a run or block step before the spawn"))
    return problems


def _max_time(steps: list[Step]) -> float:
    """The most simulated time ``steps`` can take (block_until: none once its time has passed)."""
    return sum(math.inf if st.forever else max(0.0, st.duration.support()[1])
               for st in steps if st.kind in ("run", "block"))


def _shortest_cycle(start: str, edges: dict) -> list[str] | None:
    """The shortest path start -> ... -> start as a list of names (without the repeat), or None."""
    parent, queue = {start: None}, [start]
    for node in queue:
        for nxt in edges[node]:
            if nxt == start:
                path = [node]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1]
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None
