"""From a scenario to the exact script a deterministic Go program can replay.

The scenario is simulated once, through the same engine as ``simstack run``, with
hooks that log what the model does: every per-goroutine draw (``Simulation.on_draw``),
every goroutine created (and by whom), every park, wake-up and exit, every GC and
checkpoint.  Simulated time then becomes program *phases*: the main goroutine of the
generated program acts (starts goroutines, releases parked ones by closing a
channel or hands one a value, runs ``runtime.GC()``, reads a checkpoint) in the model's order, and between
two actions that the model separates by goroutine activity it waits until the program
is quiet again (every goroutine parked where the model parks it, or exited).

That is only a faithful replay when the model itself is quiet whenever main acts: if
a goroutine is still running or runnable when the model starts a GC, reads a
checkpoint or starts/releases the next goroutine, what happens depends on timing
(which the program does not reproduce) and the scenario is refused with a message
that names the instant and the goroutines involved.  Typical cases: Poisson arrivals
or timed blocks that overlap other goroutines' work, GC paced by GOGC (it starts
while goroutines allocate), periodic GC during work.

Goroutines that ready goroutines (a ``wake`` step, a semaphore ``release`` that finds a
waiter) do it in the program as the runtime would have them: a send on a channel the
waiter receives from (``chansend`` -> ``send`` -> ``goready``: the waiter takes the
sender's P's ``runnext``, as the model's ``Ps.handoff`` and ``Ps.sem_release`` have it).
Each such waiter receives on a channel of its own (capacity 1), so the goroutine the
model readies is the one the program readies; a shared channel would hand it to the
first in its real receive queue.  A semaphore's free tokens are a buffered channel of
tokens (``<-sem`` takes one, ``sem <- struct{}{}`` puts one back).
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field

from ..engine.simulation import Simulation
from ..engine.tracer import EngineTracer
from ..recording.recorder import Recorder
from ..scenario import Scenario, scenario_from_dict

class NotExpressible(Exception):
    """The scenario cannot be replayed as a deterministic program; ``reasons`` says why."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))

    def __str__(self) -> str:
        return "cannot validate this scenario with a deterministic program:\n" + "\n".join(
            f"  - {r}" for r in self.reasons)


@dataclass
class Op:
    """One thing a goroutine does at a depth: ``run``, ``park`` (on channel ``chan``), ``spawn``,
    ``wake`` (send on channel ``chan``: a waiter takes this P's runnext), ``take`` (a free token from
    semaphore ``sem``) or ``give`` (a token back to semaphore ``sem``, nobody waiting)."""

    kind: str
    depth: int = 0
    frame: int = 0  # frame size of the recursive frames added to reach ``depth``
    transient: int | None = None
    park_frames: tuple = ()
    chan: int = -1  # park: the channel that releases it (closed by main, or sent on); -1: never released
    children: list = field(default_factory=list)  # spawn: gids of the goroutines it starts
    sem: int = -1  # take, give: the semaphore (index into the scenario's semaphores)
    rep: int = 0
    step: int = 0


@dataclass
class GoroutinePlan:
    gid: int  # program-wide creation order
    cls: str
    index: int  # ordinal within its class (the scenario's goroutine #index)
    parent: int | None  # gid of the spawning goroutine; None: started by main
    created: float
    ops: list = field(default_factory=list)
    exited: bool = False


@dataclass
class Action:
    """One step of the main goroutine: spawn, close, send, gc, checkpoint or settle."""

    kind: str
    time: float
    gid: int = -1  # spawn
    chan: int = -1  # close, send
    label: str = ""  # checkpoint
    via: str = ""  # checkpoint
    index: int = -1  # checkpoint: its position among the scenario's checkpoints as they happen
    live: int = 0  # settle: live workload goroutines, all parked
    arrivals: int = 0  # settle: parks + exits so far


@dataclass
class Plan:
    scenario: Scenario  # the scenario as simulated (toolchain's version, achieved frames)
    goroutines: list
    actions: list
    nchans: int
    baseline: dict  # the model's figures at the program's baseline (a ReadMemStats before anything)
    checkpoints: list  # the model's checkpoint figures, in order, with main_stack and histograms
    footprint: object  # the model's footprint frame (pandas), for the chart
    gc: object
    notes: list = field(default_factory=list)
    chan_caps: list = field(default_factory=list)  # capacity of each channel (0: closed by main; 1: sent on)
    sem_tokens: list = field(default_factory=list)  # per semaphore: the free tokens its channel starts with


def static_problems(sc: Scenario, platform: str | None = None) -> list[str]:
    """Reasons, visible without simulating, why ``sc`` cannot become a deterministic program."""
    out = []
    if not sc.checkpoints:
        out.append("the scenario has no checkpoints, so there is nothing to compare; add checkpoints "
                   "({label, at}) at the moments to measure")
    if platform and sc.runtime.platform != platform:
        out.append(f"runtime.platform is {sc.runtime.platform} but the toolchain builds for {platform}; "
                   "the real program can only run on the toolchain's platform")
    ov = sc.runtime.overrides.model_dump(exclude_none=True)
    if ov:
        out.append(f"runtime.overrides ({', '.join(sorted(ov))}) describe a runtime that does not exist; a real "
                   "Go runtime has only its own constants and policies")
    if sc.runtime.gomaxprocs_changes:
        out.append("runtime.gomaxprocs_changes: the replayed program does not call runtime.GOMAXPROCS yet; "
                   "validate at one GOMAXPROCS")
    for i, c in enumerate(sc.goroutines):
        for j, st in enumerate(c.program):
            if st.join:
                out.append(f"goroutines[{i}].program[{j}] ({c.name}): a spawn step with join; the replayed program "
                           "has no joins yet (a goroutine waiting for the ones it started to exit)")
        if c.park_path != "auto":
            out.append(f"goroutines[{i}] ({c.name}): park_path {c.park_path!r} is not the runtime's own park path; "
                       "a real program parks through a channel receive (chanrecv1 -> chanrecv -> gopark), "
                       "which is park_path: auto")
    return out


def frame_targets(sc: Scenario) -> dict:
    """Every frame size the program needs, by role: entry (per class), rec, transient, park chains."""
    entry = {c.name: c.entry_frame for c in sc.goroutines}
    rec, trans, chains = set(), set(), set()
    for c in sc.goroutines:
        for st in c.program:
            if st.depth is not None:
                rec.add(st.frame if st.frame is not None else c.frame)
            if st.transient:
                trans.add(st.transient)
            if st.park_frames:
                chains.add(tuple(st.park_frames))
    thin = {c.name for c in sc.goroutines if not _may_act_at_depth_0(c)}
    return {"entry": entry, "rec": sorted(rec), "transient": sorted(trans), "chains": sorted(chains), "thin": thin}


def _may_act_at_depth_0(cls) -> bool:
    """Whether a goroutine of ``cls`` can run, park or spawn in its entry frame (depth 0)."""
    for k, st in enumerate(cls.program):
        if st.kind == "spawn":
            return True  # before any depth step a spawn happens at depth 0; later ones: be safe
        if st.depth is None:  # wake, release: at the depth the previous step left (0 before any)
            if k == 0:
                return True
            continue
        lo = st.depth.support()[0]
        if not (lo >= 0.5):  # the contract rounds half up and clips at 0
            return True
    return False


def with_achieved_frames(sc: Scenario, lay, version: str, notes: list) -> Scenario:
    """``sc`` as the fitted program ``lay`` really is: each frame the compiler could not make the
    scenario's size is simulated at the size it reports, with a note saying so."""
    achieved = lay.achieved()
    if not achieved:
        return sc
    for f in lay.misses():
        notes.append(f"frame of main.{f.name} ({f.key[0]}): the scenario says {f.target} bytes, the nearest "
                     f"{version} reports is {f.reported}; simulated with {f.reported}")
    return substitute_frames(sc, achieved)


def substitute_frames(sc: Scenario, achieved: dict) -> Scenario:
    """``sc`` with each frame size replaced by the one the compiler actually reported (``achieved``:
    {("entry", class) | ("rec", F) | ("transient", T) | ("park", F): reported})."""
    doc = sc.to_yaml_dict()

    def sub(kind, v):
        return achieved.get((kind, v), v)

    for c in doc["goroutines"]:
        c["entry_frame"] = achieved.get(("entry", c["name"]), c["entry_frame"])
        c["frame"] = sub("rec", c["frame"])
        for st in c["program"]:
            if st.get("frame") is not None:
                st["frame"] = sub("rec", st["frame"])
            if st.get("transient"):
                st["transient"] = sub("transient", st["transient"])
            if st.get("park_frames"):
                st["park_frames"] = [sub("park", f) for f in st["park_frames"]]
    return scenario_from_dict(doc, source=sc.source or "<validate>")


def for_toolchain(sc: Scenario, version_full: str, minor: str, keep_record: bool = False) -> tuple[Scenario, list[str]]:
    """The scenario as the toolchain's runtime runs it: its version; baseline auto; unless ``keep_record``,
    recording only GC cycles (all the quiet replay needs). Returns notes."""
    notes = []
    doc = sc.to_yaml_dict()
    rt = doc["runtime"]
    if rt.get("version") != minor:
        notes.append(f"runtime.version {rt.get('version_full', rt.get('version'))} is simulated as {version_full}, "
                     "the toolchain's release")
    rt["version"], rt["version_full"] = minor, version_full
    # the real runs happen here: runtime.NumCPU() is this machine's (its affinity mask), which the
    # race model takes at GOMAXPROCS >= 2
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if rt.get("num_cpu") not in (None, cpus):
        notes.append(f"runtime.num_cpu {rt['num_cpu']} is simulated as {cpus}, the CPUs the real runs have here")
    rt["num_cpu"] = cpus
    if rt.get("baseline") == "none":
        notes.append("runtime.baseline none is simulated as auto: a real program always has the runtime's own "
                     "stacks (the comparison uses StackInuse minus the baseline anyway)")
        rt["baseline"] = "auto"
    if not keep_record:
        doc["record"] = {**doc.get("record", {}), "events": ["gc_start", "gc_end"], "goroutine_table": False}
    return scenario_from_dict(doc, source=sc.source or "<validate>"), notes


class _Tracer(EngineTracer):
    """The hooks: builds goroutine scripts and main's actions while the model runs."""

    def __init__(self, sim: Simulation, n_checkpoints: int | None):
        self.sim = sim
        self.rt = sim.rt
        self.info_of_site = {info.site: info for info in sim.classes.values()}
        self.n_cp_left = n_checkpoints  # None: follow the whole run (to find every reason to refuse)
        self.done = False
        self.gors: list[GoroutinePlan] = []
        self.gid_of: dict[int, int] = {}  # goid -> gid
        self.by_class: dict[tuple, int] = {}  # (class, index) -> gid
        self.gp_of: dict[int, object] = {}  # gid -> G (live)
        self.live: dict[int, object] = {}
        self.actions: list[Action] = []
        self.activity = False
        self.arrivals = 0
        self.chan_caps: list[int] = []  # one per channel: 0 closed by main, 1 sent on (a hand-off)
        self.last_wake = None  # (chan, park sequence) of the last action when it was a wake
        self.park_seq: dict[int, int] = {}  # gid -> sequence number of its current park
        self.park_phase: dict[int, int] = {}  # gid -> the phase (settles before it) of its current park
        self.phase = 0
        self.seq = 0
        self.cur: int | None = None  # gid of the goroutine the model is executing (None: main's processes)
        self.main_send = False  # main's wake_at is handing a waiter the value
        self.sem_index = {s.name: k for k, s in enumerate(sim.scenario.semaphores or [])}
        self.sem_takes = [0] * len(self.sem_index)  # free tokens taken, per semaphore
        self.sem_budget = [s.tokens for s in sim.scenario.semaphores or []]  # free when the phase began, less takes
        self.pending_spawn = None  # [spawner gid, children still to come]
        self.depth_of: dict[int, tuple] = {}  # gid -> (rep, step, depth) of the last depth draw
        self.in_gc = None
        self.checkpoints: list[dict] = []
        self.problems: list[str] = []

    # --- installation -------------------------------------------------------------------
    def install(self):
        self.sim.on_draw = self.on_draw
        self.sim.attach(self)

    # --- the tracer: the model's events and the engine's points ---------------------------
    def on_spawn(self, gp, p):
        if gp.kind == "user":
            self.on_create(gp, self.info_of_site[gp.site])

    def on_ready(self, gp, p):
        if gp.status == "waiting" and gp.kind == "user":
            self.on_wake(gp)

    def on_gc_start(self, p, cycle, stack_inuse):
        self.on_gc()

    def on_gc_end(self, cycle, stack_inuse):
        self.in_gc = None

    def on_execute(self, gp):
        self.cur = self.gid_of.get(gp.goid)

    def on_execute_end(self, gp):
        self.cur = None

    def on_send(self, gate):
        self.main_send = self.cur is None

    def on_send_end(self, gate):
        self.main_send = False

    def on_sem_release(self, name):
        if not self.sim.ps.sems[name][1]:
            self.on_give(name)

    # --- helpers --------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.sim.env.now)

    def _who(self, gid: int) -> str:
        g = self.gors[gid]
        return f"{g.cls} #{g.index}"

    def _fail(self, msg: str):
        self.problems.append(msg)
        raise _Abort()

    def _busy(self) -> list[str]:
        out = []
        for gid, gp in self.live.items():
            if gp.status != "waiting":
                ctx = gp.ctx
                if gp.status == "running":
                    st = ctx.cls.program[max(0, ctx.pc - 1)] if ctx and ctx.started else None
                    what = f"running (step {max(0, ctx.pc - 1)}: {st.kind})" if st else "running"
                elif ctx is not None and not ctx.started:
                    what = "created, not started yet"
                elif ctx is not None and ctx.remaining > 0:
                    what = f"preempted in a run step ({ctx.remaining * 1e3:.3g} ms left)"
                else:
                    what = "runnable (released, not running yet)"
                out.append(f"{self._who(gid)} {what}")
        return out

    def _activity(self):
        if self.in_gc is not None:
            self._fail(f"at {_ms(self.now)} goroutines run while the GC that started at {_ms(self.in_gc)} is still "
                       "marking (gc.mark_duration); runtime.GC() in a program returns only after the whole cycle")
        self.activity = True

    def _main_action(self, what: str, observe: bool, why: str = ""):
        """Main acts: start a new phase (after a settle) if goroutines ran since its last action."""
        if self.in_gc is not None:
            self._fail(f"at {_ms(self.now)} {what} while the GC that started at {_ms(self.in_gc)} is still marking "
                       "(gc.mark_duration); runtime.GC() in a program returns only after the whole cycle")
        if self.activity or observe:
            busy = self._busy()
            if busy:
                more = f" and {len(busy) - 4} more" if len(busy) > 4 else ""
                self._fail(f"at {_ms(self.now)} {what} while {len(busy)} goroutine(s) are still running or runnable "
                           f"({', '.join(busy[:4])}{more}): {why + '; ' if why else ''}a real program can only act "
                           "when every goroutine is parked or has exited, since what running goroutines have done "
                           "by then depends on timing")
        if self.activity:
            self.actions.append(Action("settle", self.now, live=len(self.live), arrivals=self.arrivals))
            self.activity = False
            self.last_wake = None
            self.phase += 1
            self.sem_budget = [self.sim.ps.sems[s][0] for s in self.sem_index]

    def _new_chan(self, cap: int) -> int:
        self.chan_caps.append(cap)
        return len(self.chan_caps) - 1

    def _depth(self, gid: int) -> int:
        """The depth goroutine ``gid`` is at: its last depth draw's (0 before any)."""
        return self.depth_of.get(gid, (0, 0, 0))[2]

    # --- hooks ------------------------------------------------------------------------------
    def on_draw(self, cls, index, rep, step, fld, value):
        if self.done:
            return
        gid = self.by_class[(cls, index)]
        self._activity()
        g = self.gors[gid]
        spec = self.sim.classes[cls].spec
        st = spec.program[step]
        if fld == "depth":
            self.depth_of[gid] = (rep, step, int(value))
            if st.kind == "run":
                g.ops.append(Op("run", int(value), st.frame if st.frame is not None else spec.frame,
                                st.transient or None, rep=rep, step=step))
            elif st.kind == "acquire" and self.sim.ps.sems[st.acquire][0] > 0:
                self.on_take(gid, st, int(value), st.frame if st.frame is not None else spec.frame, rep, step)
        elif fld == "count":
            # a spawn happens at the depth the goroutine is at: its last depth step's (0 before any)
            g.ops.append(Op("spawn", self.depth_of.get(gid, (0, 0, 0))[2], rep=rep, step=step))
            self.pending_spawn = [gid, int(value)] if value else None

    def on_create(self, gp, info):
        if self.done:
            return
        gid = len(self.gors)
        parent = None
        if self.pending_spawn is not None:
            parent = self.pending_spawn[0]
            self.pending_spawn[1] -= 1
            if self.pending_spawn[1] <= 0:
                self.pending_spawn = None
        g = GoroutinePlan(gid, info.name, gp.index, parent, self.now)
        self.gors.append(g)
        self.gid_of[gp.goid] = gid
        self.by_class[(info.name, gp.index)] = gid
        if parent is None:
            arr = info.spec.arrival
            why = ""
            if arr.process in ("poisson", "uniform", "trace"):
                why = (f"the {arr.process} arrivals of class {info.name!r} overlap the work of goroutines started "
                       "earlier")
            self._main_action(f"{info.name} #{gp.index} arrives ({arr.process})", observe=False, why=why)
            self.actions.append(Action("spawn", self.now, gid=gid))
            self.last_wake = None
        else:
            self._activity()
            self.gors[parent].ops[-1].children.append(gid)
        self.live[gid] = gp

    def on_park(self, gp, p):
        if self.done:
            return
        gid = self.gid_of[gp.goid]
        self._activity()
        ctx = gp.ctx
        step_i = ctx.pc - 1
        spec = ctx.cls.spec
        st = spec.program[step_i]
        rep, dstep, depth = self.depth_of.get(gid, (ctx.rep, step_i, 0))
        op = Op("park", depth, st.frame if st.frame is not None else spec.frame, st.transient or None,
                tuple(st.park_frames or ()), rep=ctx.rep, step=step_i)
        self.gors[gid].ops.append(op)
        self.arrivals += 1
        self.seq += 1
        self.park_seq[gid] = self.seq
        self.park_phase[gid] = self.phase

    def on_exit(self, gp, p):
        if self.done:
            return
        gid = self.gid_of.get(gp.goid)
        if gid is None:
            return
        self._activity()
        self.gors[gid].exited = True
        self.live.pop(gid, None)
        self.arrivals += 1

    def on_take(self, gid: int, st, depth: int, frame: int, rep: int, step: int):
        """An acquire that finds a token free takes it from the semaphore's channel (``<-sem``)."""
        k = self.sem_index[st.acquire]
        self.sem_takes[k] += 1
        self.sem_budget[k] -= 1
        procs = self.sim.scenario.runtime.gomaxprocs
        if self.sem_budget[k] < 0 and procs > 1:
            self._fail(f"at {_ms(self.now)} {self._who(gid)} takes a token of {st.acquire!r} that a release gave "
                       f"back in the same phase (since main last acted): the program's run steps take no time, so "
                       f"at GOMAXPROCS {procs} whether the token is back when it asks depends on timing; let main "
                       "act between the release and the acquire, or use GOMAXPROCS 1")
        self.gors[gid].ops.append(Op("take", depth, frame, rep=rep, step=step, sem=k))

    def on_give(self, name: str):
        """A release with nobody waiting: the token goes back to the semaphore's channel."""
        if self.done or self.cur is None:
            return
        self._activity()
        self.gors[self.cur].ops.append(Op("give", self._depth(self.cur), sem=self.sem_index[name]))

    def on_handoff(self, waker: int, gid: int, st):
        """Goroutine ``waker`` readies ``gid`` (a wake step, or a release handing it a token): it sends
        on ``gid``'s own channel, and ``gid`` takes runnext on the waker's P, as in the model."""
        self._activity()
        if self.park_phase[gid] == self.phase and self.sim.scenario.runtime.gomaxprocs > 1:
            what = f"wake {st.wait!r}" if st.kind == "wait" else f"release {st.acquire!r}"
            self._fail(f"at {_ms(self.now)} {self._who(waker)} readies {self._who(gid)} ({what}), which parked "
                       f"in the same phase (since main last acted): the program's run steps take no time, so at "
                       f"GOMAXPROCS {self.sim.scenario.runtime.gomaxprocs} whether {self._who(gid)} is parked "
                       "when the send comes depends on timing; let main act (a gate, a GC, a checkpoint) between "
                       "the park and the hand-off, or use GOMAXPROCS 1")
        chan = self._new_chan(1)
        self.gors[gid].ops[-1].chan = chan
        self.gors[waker].ops.append(Op("wake", self._depth(waker), chan=chan))

    def on_wake(self, gp):
        if self.done:
            return
        gid = self.gid_of.get(gp.goid)
        if gid is None:
            return
        g = self.gors[gid]
        ctx = gp.ctx
        st = ctx.cls.spec.program[ctx.pc - 1]
        if self.cur is not None:
            self.on_handoff(self.cur, gid, st)
            return
        if self.main_send:
            # main's wake_at: a send on the first waiter's own channel, on main's P
            self._main_action(f"main wakes {g.cls} #{g.index} ({st.wait!r} wake_at)", observe=False,
                              why=f"gate {st.wait!r}'s wake_at comes while other goroutines work")
            chan = self._new_chan(1)
            self.actions.append(Action("send", self.now, chan=chan))
            g.ops[-1].chan = chan
            self.last_wake = None
            return
        if st.kind == "wait":
            why = f"gate {st.wait!r} opens while other goroutines work"
        elif st.kind == "block_until":
            why = f"block_until (step {ctx.pc - 1} of {g.cls!r}) ends while other goroutines work"
        else:
            why = f"the timed block of step {ctx.pc - 1} of {g.cls!r} ends while other goroutines work"
        self._main_action(f"{g.cls} #{g.index} is released", observe=False, why=why)
        seq = self.park_seq[gid]
        # one close(ch) readies its waiters last parked first; the model does so too when it can
        # (engine.arrivals.gate), else in park order: either way one channel, wider runs split
        lifo = st.kind == "wait" and self.sim.release_lifo
        if self.last_wake is not None and (seq < self.last_wake[1] if lifo else seq > self.last_wake[1]):
            chan = self.last_wake[0]
        else:
            chan = self._new_chan(0)
            self.actions.append(Action("close", self.now, chan=chan))
        g.ops[-1].chan = chan
        self.last_wake = (chan, seq)

    def on_gc(self):
        if self.done:
            return
        gc = self.sim.scenario.gc
        if self.sim.gc_caller == "main" and gc.trigger != "interval":
            why = "GC cycles at fixed times (gc.at) must come when the program is quiet"
        elif gc.trigger == "interval":
            why = f"the periodic GC (every {gc.interval:g}s) starts while goroutines work"
        else:
            why = "GC paced by GOGC starts when the goroutines' allocation reaches the goal, i.e. while they run"
        self._main_action("a GC cycle starts", observe=True, why=why)
        self.actions.append(Action("gc", self.now))
        self.last_wake = None
        if self.sim.scenario.gc.mark_duration > 0:
            self.in_gc = self.now

    def on_checkpoint(self, label, time, via, fig, sizes, extra):
        if self.done:
            return
        self._main_action(f"checkpoint {label!r} reads the state", observe=True,
                          why="checkpoints must come when the program is quiet")
        self.actions.append(Action("checkpoint", self.now, label=label, via=via, index=len(self.checkpoints)))
        self.last_wake = None
        hist = extra.get("goroutine_stacks") or {}
        self.checkpoints.append({
            "label": label, "time": self.now, "via": via, "stack_inuse": int(fig["stack_inuse"]),
            "stack_sys": int(fig["stack_sys"]), "starting_size": int(fig["starting_size"]),
            "goroutines": int(fig["goroutines"]), "main_stack": int(self.rt.main.stack.size)
            if self.rt.main is not None and self.rt.main.stack is not None else 0,
            "goroutine_stacks": {c: {int(s): int(n) for s, n in d.items()} for c, d in hist.items()},
            "threads": self.rt.threads,
        })
        if self.n_cp_left is not None:
            self.n_cp_left -= 1
            if self.n_cp_left == 0:
                self.done = True


class _Abort(Exception):
    pass


def _ms(t: float) -> str:
    return f"t={t * 1e3:.6g} ms"


def build_plan(sc: Scenario, static: list[str] | None = None, threads: int | None = None,
               main_stack: int | None = None, races_seed: int | None = None) -> Plan:
    """Simulate ``sc`` with the hooks and return the plan, or raise NotExpressible with every reason
    found: ``static`` (or :func:`static_problems`) and the first moment the model is not quiet.
    ``threads``, ``main_stack``: the Ms the process starts with and main's stack then (default: the
    scenario's runtime.threads_at_start and runtime.main_stack, else the profile's). ``races_seed``:
    the race model's seed (default the scenario's; a replication varies it alone)."""
    problems = list(static_problems(sc) if static is None else static)
    sim = None
    recorder = Recorder(lambda: sim.env.now if sim is not None else 0.0, kinds=["gc_start", "gc_end"],
                        goroutine_table=False)
    changes = {k: v for k, v in (("baseline_threads", (threads,) if threads else None),
                                 ("main_stack", main_stack)) if v} or None
    sim = Simulation(sc, recorder, profile_changes=changes, races_seed=races_seed)
    # the program's baseline: a ReadMemStats before anything (it flushes the per-P stack caches)
    fig = sim.rt.read_memstats()
    baseline = {"stack_inuse": int(fig["stack_inuse"]), "stack_sys": int(fig["stack_sys"]),
                "starting_size": int(fig["starting_size"]), "main_stack": int(sim.rt.main.stack.size)
                if sim.rt.main is not None else 0, "threads": sim.rt.threads}
    tracer = _Tracer(sim, len(sc.checkpoints) if sc.checkpoints and not problems else None)
    tracer.install()
    try:
        sim.run()
    except _Abort:
        raise NotExpressible(problems + tracer.problems) from None
    if problems:
        raise NotExpressible(problems)
    if sim.overflow and not tracer.done:
        raise NotExpressible([f"the model stops with a stack overflow at {_ms(sim.overflow['time'])} "
                              f"({sim.overflow['message'].splitlines()[0]}); a real program would crash"])
    if sim.stopped:
        raise NotExpressible([f"the simulation stopped early: {sim.stopped['reason']}"])
    if not tracer.done:
        missing = len(sc.checkpoints) - len(tracer.checkpoints)
        raise NotExpressible([f"{missing} checkpoint(s) never happened in the model (after the run ended?)"])
    frames = recorder.frames(release=True)
    # a semaphore's channel starts with the free tokens the replay takes (the scenario's tokens, or fewer
    # when fewer are ever taken: held tokens never exceed those taken, so no give finds it full)
    sems = [min(s.tokens, n) for s, n in zip(sc.semaphores or [], tracer.sem_takes)]
    return Plan(sc, tracer.gors, tracer.actions, len(tracer.chan_caps), baseline, tracer.checkpoints,
                frames["footprint"], frames["gc"], [], list(tracer.chan_caps), sems)


def describe(plan: Plan) -> str:
    """A one-paragraph summary of the program's phases."""
    kinds = {}
    for a in plan.actions:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    wakes = sum(o.kind == "wake" for g in plan.goroutines for o in g.ops)
    return (f"{len(plan.goroutines)} goroutines, {kinds.get('settle', 0)} phases, {kinds.get('close', 0)} "
            f"releases, {kinds.get('send', 0) + wakes} hand-offs, {kinds.get('gc', 0)} GCs, "
            f"{kinds.get('checkpoint', 0)} checkpoints")


__all__ = ["Action", "GoroutinePlan", "NotExpressible", "Op", "Plan", "build_plan", "for_toolchain",
           "frame_targets", "static_problems", "substitute_frames", "with_achieved_frames", "describe"]
