"""From a timed scenario to the schedule a real-time Go program replays.

A timed scenario (Poisson arrivals, timed blocks, GC paced by GOGC or by the clock) cannot
be replayed phase by phase (:mod:`.plan`): what matters is *when* things happen.  The
generated program (:mod:`.gotimed`) therefore performs the scenario in real time, and for
the comparison to be like with like it performs exactly what the model draws: the scenario
is simulated once with hooks, and every goroutine's class, creation time (or spawner),
depths, ``run`` and ``block`` durations and spawn counts are taken from that run
(``Simulation.on_draw``), as are main's actions in the model's order: start an arriving
goroutine, ``runtime.GC()`` at ``gc.at`` / ``gc.interval`` times, read a checkpoint, end
at ``duration``.  The real runtime then decides everything else (scheduling, GOGC-paced
cycles, stack growth and shrinking).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..engine.simulation import Simulation
from ..engine.tracer import EngineTracer
from ..recording.recorder import Recorder
from ..scenario import Scenario

SAMPLE_EVERY = 1e-3  # the program's stack-memory sample period (seconds of real = simulated time)
ALLOC_CHUNK = 64 << 10  # bytes per garbage allocation in run steps (a large object: one span each)


@dataclass
class TimedOp:
    """One thing a goroutine does, at ``depth`` frames of ``frame`` bytes below its entry frame:
    ``run`` (busy for ``value`` s), ``block`` (sleep ``value`` s), ``until`` (sleep until ``value`` s
    after start), ``forever`` (park for good), ``wait`` (until gate ``gate`` opens), ``spawn``
    (start ``children``) or ``join`` (start them and wait until they have all ended)."""

    kind: str
    depth: int
    frame: int
    value: float = 0.0
    transient: int | None = None
    park_frames: tuple = ()
    children: list = field(default_factory=list)
    gate: int = -1  # wait: index into the scenario's gates


@dataclass
class TimedGoroutine:
    gid: int  # creation order in the model
    cls: str
    index: int  # ordinal within its class
    parent: int | None  # gid of the spawner; None: started by main at ``created``
    created: float
    ops: list = field(default_factory=list)
    exits: bool = False  # the model ran it to its end; else it parks for good after its last op


@dataclass
class MainEvent:
    """One action of main, at ``time`` seconds after start: ``spawn`` (goroutine ``gid``), ``gc``,
    ``checkpoint`` (``label``, ``via``), ``open`` (gate ``gid``), ``procs`` (``runtime.GOMAXPROCS(gid)``)
    or ``end``."""

    kind: str
    time: float
    gid: int = -1
    label: str = ""
    via: str = ""


@dataclass
class Schedule:
    scenario: Scenario  # as simulated
    goroutines: list
    events: list  # main's, in the model's order
    sample_every: float = SAMPLE_EVERY
    alloc_chunk: int = ALLOC_CHUNK

    def arrivals(self, cls: str | None = None) -> list[float]:
        """The model's arrival (creation) times of main-started goroutines, of one class or all."""
        return [g.created for g in self.goroutines if g.parent is None and (cls is None or g.cls == cls)]

    def counts(self) -> dict:
        """Goroutines per class."""
        out: dict = {}
        for g in self.goroutines:
            out[g.cls] = out.get(g.cls, 0) + 1
        return out

    def run_time(self, cls: str | None = None) -> float:
        """Total ``run`` time of the schedule, of one class or all (seconds)."""
        return sum(o.value for g in self.goroutines if cls is None or g.cls == cls for o in g.ops if o.kind == "run")


def timed_problems(sc: Scenario, platform: str | None = None) -> list[str]:
    """What a real-time program cannot express in ``sc``, one line each (empty: it can)."""
    out = []
    if platform and sc.runtime.platform != platform:
        out.append(f"runtime.platform is {sc.runtime.platform} but the toolchain builds for {platform}; the real "
                   "program can only run on the toolchain's platform")
    ov = sc.runtime.overrides.model_dump(exclude_none=True)
    if ov:
        out.append(f"runtime.overrides ({', '.join(sorted(ov))}) describe a runtime that does not exist; a real Go "
                   "runtime has only its own constants and policies")
    if sc.gc.mark_duration > 0:
        out.append(f"gc.mark_duration ({sc.gc.mark_duration:g}s) is the model's assumption; a real mark phase "
                   "lasts as long as the runtime takes, so a timed program cannot impose it")
    if getattr(sc, "gates", None) and sc.duration is None:
        out.append("gates without a duration: the program cannot tell a goroutine waiting for good at a gate from "
                   "one waiting for its next opening, so it would not know when to end; give the scenario a duration")
    for k, cp in enumerate(sc.checkpoints):
        if len(cp.label.split()) != 1:
            out.append(f"checkpoints[{k}].label {cp.label!r}: the program logs labels as one word; use no spaces")
    for i, c in enumerate(sc.goroutines):
        if c.park_path != "auto":
            out.append(f"goroutines[{i}] ({c.name}): park_path {c.park_path!r} is not a real runtime's park path; "
                       "a real program parks through the runtime's own functions")
    handoffs = [f"gates[{k}] ({g.name}): {f}" for k, g in enumerate(getattr(sc, "gates", None) or [])
                for f in ("wake_at", "wait_for") if getattr(g, f)]
    handoffs += [f"goroutines[{i}].program[{j}] ({c.name}): {st.kind} {getattr(st, st.kind)!r}"
                 for i, c in enumerate(sc.goroutines) for j, st in enumerate(c.program)
                 if st.kind in ("wake", "acquire", "release")]
    if handoffs:
        out.append(f"{', '.join(handoffs[:3])}{' and more' if len(handoffs) > 3 else ''}: the real-time program "
                   "has no hand-offs (wake, wake_at, wait_for, semaphores) yet; the quiet replay has them")
    return out


class _Recorder(EngineTracer):
    """The hooks: every goroutine's ops and main's events, as the model draws and does them."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.info_of_site = {info.site: info for info in sim.classes.values()}
        self.gors: list[TimedGoroutine] = []
        self.gid_of: dict[int, int] = {}  # goid -> gid
        self.by_class: dict[tuple, int] = {}  # (class, index) -> gid
        self.depth: dict[int, int] = {}  # gid -> current depth
        self.pending_spawn = None  # [spawner gid, children still to come]
        self.events: list[MainEvent] = []
        self.gate_index = {g.name: i for i, g in enumerate(getattr(sim.scenario, "gates", None) or [])}

    @property
    def now(self) -> float:
        return float(self.sim.env.now)

    @property
    def due(self) -> float:
        """When main's action was due: the program sleeps until then and is late on its own."""
        return float(self.sim.ps.main_due)

    def install(self):
        self.sim.on_draw = self.on_draw
        self.sim.attach(self)

    # --- the tracer: the model's events and the engine's points ---------------------------
    def on_spawn(self, gp, p):
        if gp.kind == "user":
            self.on_create(gp, self.info_of_site[gp.site])

    def on_exit(self, gp, p):
        gid = self.gid_of.get(gp.goid)
        if gid is not None:
            self.gors[gid].exits = True

    def on_checkpoint(self, label, time, via, fig, sizes, extra):
        self.events.append(MainEvent("checkpoint", self.now, label=label, via=via))

    def _frame(self, spec, st) -> int:
        return st.frame if st.frame is not None else spec.frame

    def on_draw(self, cls, index, rep, step, fld, value):
        gid = self.by_class[(cls, index)]
        g = self.gors[gid]
        spec = self.sim.classes[cls].spec
        st = spec.program[step]
        if fld == "depth":
            self.depth[gid] = int(value)
            if st.kind == "run":  # its duration comes next; the op is at this depth
                g.ops.append(TimedOp("run", int(value), self._frame(spec, st), 0.0, st.transient or None))
        elif fld == "run":
            if st.depth is None:  # a run step that keeps the current depth
                g.ops.append(TimedOp("run", self.depth.get(gid, 0), spec.frame, 0.0, st.transient or None))
            g.ops[-1].value = float(value)
        elif fld in ("block", "block_until"):  # drawn right after the park made the op
            g.ops[-1].value = float(value)
        elif fld == "count":
            g.ops.append(TimedOp("join" if st.join else "spawn", self.depth.get(gid, 0), spec.frame))
            self.pending_spawn = [gid, int(value)] if value else None

    def on_create(self, gp, info):
        gid = len(self.gors)
        parent = None
        if self.pending_spawn is not None:
            parent = self.pending_spawn[0]
            self.pending_spawn[1] -= 1
            if self.pending_spawn[1] <= 0:
                self.pending_spawn = None
        self.gors.append(TimedGoroutine(gid, info.name, gp.index, parent, self.now))
        self.gid_of[gp.goid] = gid
        self.by_class[(info.name, gp.index)] = gid
        if parent is None:
            self.events.append(MainEvent("spawn", self.due, gid=gid))
        else:
            self.gors[parent].ops[-1].children.append(gid)

    def on_park(self, gp, p):
        if self.sim.ps.wind_down:
            return  # past the end the script is over: the program's goroutine parks for good by itself
        gid = self.gid_of[gp.goid]
        ctx = gp.ctx
        spec = ctx.cls.spec
        st = spec.program[ctx.pc - 1]
        if st.kind == "spawn":
            return  # a join's park: its op is the spawn's
        kind = "forever" if st.forever else {"block": "block", "block_until": "until", "wait": "wait"}[st.kind]
        value = 0.0  # a block's duration (or block_until's time) is drawn right after the park
        frame = self._frame(spec, st) if st.depth is not None else spec.frame
        gate = self.gate_index[st.wait] if kind == "wait" else -1
        self.gors[gid].ops.append(TimedOp(kind, self.depth.get(gid, 0), frame, value, st.transient or None,
                                          tuple(st.park_frames or ()), gate=gate))

    # --- past the model's end -------------------------------------------------------------
    def complete_scripts(self, horizon) -> None:
        """Draw the rest of every script the model's run left unfinished (the goroutines it never
        started included), as the model would go on drawing them, so that a real goroutine that gets
        further than the model's did goes on doing the scenario's work instead of parking for good.
        A spawn makes its children (new goroutines, their scripts drawn too). A program that loops
        forever is drawn for ``horizon`` seconds of its steps (the run's length: no goroutine gets
        further in real time)."""
        live = self.sim.rt.live
        for goid, gid in self.gid_of.items():
            gp = live.get(goid)
            g = self.gors[gid]
            if gp is None or g.exits or gp.ctx is None:
                continue
            self._continue(g, gp.ctx.cls, gp.ctx.pc, gp.ctx.rep, horizon or 0.0)

    def _continue(self, g: TimedGoroutine, info, pc: int, rep: int, horizon: float) -> None:
        spec = info.spec
        prog = info.program
        spent, lap = 0.0, -1.0  # lap: spent when the current pass began (none yet)
        if ops_ended_forever(g):
            return
        while spent <= horizon:
            if pc >= len(prog):
                rep += 1
                if info.repeat is not None and rep >= info.repeat:
                    g.exits = True
                    return
                if spent == lap:
                    return  # a pass that takes no time (waits, a block_until past): the next ones would not
                pc, lap = 0, spent
            cs, st = prog[pc], spec.program[pc]
            pc += 1
            if cs.kind == "spawn":
                op = TimedOp("join" if cs.join else "spawn", self.depth.get(g.gid, 0), spec.frame)
                g.ops.append(op)
                target = self.sim.classes[cs.spawn]
                for _ in range(int(cs.count.value(g.index))):
                    child = TimedGoroutine(len(self.gors), target.name, target.spawned, g.gid, self.now)
                    target.spawned += 1
                    self.gors.append(child)
                    op.children.append(child.gid)
                    self._continue(child, target, 0, 0, horizon - spent)
                continue
            if cs.kind not in ("run", "block", "block_until", "wait"):
                return  # a hand-off (timed_problems refuses them): park for good here
            if cs.depth is not None:
                self.depth[g.gid] = int(cs.depth.value(g.index))
            depth = self.depth.get(g.gid, 0)
            frame = self._frame(spec, st) if st.depth is not None else spec.frame
            if cs.kind == "run":
                t = float(cs.duration.value(g.index))
                g.ops.append(TimedOp("run", depth, frame, t, st.transient or None))
                spent += t
                continue
            op = TimedOp("block", depth, frame, 0.0, st.transient or None, tuple(st.park_frames or ()))
            g.ops.append(op)
            if cs.kind == "block":
                if cs.forever:
                    op.kind = "forever"
                    return
                op.value = float(cs.duration.value(g.index))
                spent += op.value
            elif cs.kind == "block_until":
                op.kind, op.value = "until", float(cs.until.value(g.index))
                spent = max(spent, op.value - self.now)
            else:
                op.kind, op.gate = "wait", self.gate_index[st.wait]


def ops_ended_forever(g: TimedGoroutine) -> bool:
    """``g``'s script ends parked for good on purpose (a ``forever`` block)."""
    return bool(g.ops) and g.ops[-1].kind == "forever"


def build_schedule(sc: Scenario) -> Schedule:
    """Simulate ``sc`` with hooks and return what the real-time program replays."""
    sim = None
    recorder = Recorder(lambda: sim.env.now if sim is not None else 0.0, kinds=["gc_start", "gc_end"],
                        goroutine_table=False)
    sim = Simulation(sc, recorder, main_ticks=SAMPLE_EVERY)
    rec = _Recorder(sim)
    rec.install()
    sim.run()
    rec.complete_scripts(sc.duration)
    if sim.overflow:
        raise ValueError(f"the model stops with a stack overflow at t={sim.overflow['time'] * 1e3:.6g} ms "
                         f"({sim.overflow['message'].splitlines()[0]}); a real program would crash")
    if sim.stopped:
        raise ValueError(f"the simulation stopped early: {sim.stopped['reason']}")
    # in due order (main acts on the sleeps that ended while it waited in the order they ended)
    events = sorted(rec.events, key=lambda e: e.time)
    # runtime.GC() at every time the scenario gives before the end, as the program's main is to call
    # it: the model's main, held in one call, can reach the next ones only after the run's end (the
    # GOGC pacer's cycles are the real runtime's own)
    end = sc.duration if sc.duration is not None else sim.env.now
    due = [t for t in sc.gc.at if t < end]
    if sc.gc.trigger == "interval" and sc.gc.interval:
        k = 1
        while k * sc.gc.interval < end:
            due.append(k * sc.gc.interval)
            k += 1
    for t in sorted(due):
        events.insert(bisect.bisect_right([e.time for e in events], t), MainEvent("gc", float(t)))
    # gate openings: main closes the gate's channel at each open_at time, after its other events of that instant
    for i, gate in enumerate(getattr(sc, "gates", None) or []):
        for t in sorted(gate.open_at):
            if sc.duration is None or t < sc.duration:
                k = bisect.bisect_right([e.time for e in events], t)
                events.insert(k, MainEvent("open", float(t), gid=i))
    # runtime.GOMAXPROCS(n) at each change's time, after main's other events of that instant (the model
    # runs procresize at that time, engine/simulation.py)
    for c in sc.runtime.gomaxprocs_changes:
        if sc.duration is None or c.at < sc.duration:
            k = bisect.bisect_right([e.time for e in events], c.at)
            events.insert(k, MainEvent("procs", float(c.at), gid=c.gomaxprocs))
    if sc.duration is not None:
        events.append(MainEvent("end", float(sc.duration)))
    return Schedule(sc, rec.gors, events)


def schedule_text(sched: Schedule, lay) -> str:
    """The schedule as whitespace-separated tokens (format ``simstack-timed-2``, read by the program's
    ``load``); times in nanoseconds since the program's start, rates in bytes per second."""
    sc = sched.scenario
    cls_index = {c: i for i, c in enumerate(lay.classes)}
    paced = sc.gc.trigger == "gogc" and sc.gc.gogc is not None
    rates = [int(round(c.alloc_rate)) if paced else 0 for c in sc.goroutines]
    kinds = {"run": 0, "block": 1, "until": 2, "forever": 3, "spawn": 4, "wait": 5, "join": 6}
    kids: list[int] = []
    lines = ["simstack-timed-2", f"{len(lay.classes)} " + " ".join(lay.classes), " ".join(map(str, rates)),
             f"{_ns(sched.sample_every)} {sched.alloc_chunk} {sc.gc.live_heap if paced else 0}"]
    gor_lines = []
    for g in sched.goroutines:
        ops = []
        for o in g.ops:
            first = len(kids)
            kids.extend(o.children)
            pf = lay.chain_id(o.park_frames) if o.kind in ("block", "until", "forever", "wait") else -1
            ops.append(f"{kinds[o.kind]} {o.depth} {lay.rec_id(o.frame)} {lay.tr_id(o.transient)} {pf} "
                       f"{first} {len(o.children)} {o.gate if o.kind == 'wait' else _ns(o.value)}")
        gor_lines.append(f"{cls_index[g.cls]} {int(g.exits)} {len(ops)}" + "".join(f"\n  {s}" for s in ops))
    ev = {"spawn": 0, "gc": 1, "checkpoint": 2, "end": 3, "open": 4, "procs": 5}
    ev_lines = [f"{ev[e.kind]} {_ns(e.time)} {e.gid} {int(e.via == 'metrics')} {e.label or '-'}"
                for e in sched.events]
    n_ops = sum(len(g.ops) for g in sched.goroutines)  # the program keeps every script in one array
    lines += [str(len(getattr(sc, "gates", None) or [])), f"{len(sched.goroutines)} {n_ops}",
              f"{len(kids)} " + " ".join(map(str, kids)), *gor_lines,
              str(len(ev_lines)), *ev_lines]
    return "\n".join(lines) + "\n"


def _ns(t: float) -> int:
    return int(round(t * 1e9))


__all__ = ["MainEvent", "Schedule", "TimedGoroutine", "TimedOp", "build_schedule", "schedule_text",
           "timed_problems"]
