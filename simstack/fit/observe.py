"""What a trace shows of each goroutine's life: when it was born, ran, blocked and died, and its stack.

The trace reader (:func:`simstack.trace.read_trace`) rebuilds stacks, growths, shrinks and GC
cycles; this module watches the same replay (its ``observe`` hook) for what the reader does
not keep: every goroutine state transition (``Running->Waiting`` is a block, ``Syscall`` counts
as running), the stack size a goroutine had when it first blocked and at the end of the trace,
and the heap metrics GC pacing is fitted from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

RUNNING = ("Running", "Syscall")


@dataclass(slots=True)
class Round:
    """One block of a goroutine and the run after it (until its next block, its exit, or the trace's end)."""

    blocked: float = 0.0  # seconds Waiting
    ran: float = 0.0  # seconds running after it
    size_start: int = 0  # its stack size when that run began (0: it did not run again)
    size_end: int = 0  # ... and when it ended
    joined: tuple = ()  # the block was a join: the goroutines it made before, one of which woke it (see _joined)
    made: tuple = ()  # the goroutines it made in the run before the block


@dataclass(slots=True)
class Life:
    """One goroutine's life as far as the trace shows it."""

    goid: int
    cls: str
    created: float  # NaN: alive when the trace started
    state: str = "Runnable"
    since: float = 0.0
    run_first: float = 0.0  # seconds running before it first blocked
    run_after: float = 0.0  # seconds running after that
    first_block: float = math.nan
    size_at_block: int = 0  # its stack size when it first blocked (0: unknown)
    blocks: int = 0
    waited: float = 0.0  # seconds blocked (Waiting) in all
    queued: float = 0.0  # seconds runnable, waiting for a P
    start_delay: float = math.nan  # from its creation to its first run
    held: float = math.nan  # of that, the time until its creator stopped running (it kept its P till then)
    parked_at_gc: int = 0  # GC mark phases it was blocked in (a chance for GC to shrink its stack)
    parked: bool = False  # it last stopped running by blocking: its stack is as it parked (runnable or not)
    runs: int = 0  # times it started running
    resumed: int = 0  # its stack size when it first ran after its last block (0: not in a later run)
    later_runs: list = field(default_factory=list)  # (size when it resumed, size when it blocked again or exited)
    kept_at: list = field(default_factory=list)  # stack sizes GC found it parked at and kept
    shrunk_at: list = field(default_factory=list)  # stack sizes GC found it parked at and halved
    kept_last: int = 0  # the size GC kept it at, parked, since it last ran (0: none)
    exited: float = math.nan
    parent: int = 0  # the goroutine whose go statement made it (0: none the trace shows, or main)
    in_first_run: bool = False  # made while that goroutine was in its first run, before it first blocked
    first_wake: float = math.nan  # when its first block ended (it became runnable)
    last_park: float = math.nan  # when it last blocked
    last_wake: float = math.nan  # when that block ended (it became runnable); NaN: still blocked
    size_seen: int = 0  # its stack size when the watcher last looked (a growth shows as a larger one)
    run_to_first_grow: float = 0.0  # seconds it had run in its first run when it first grew there
    run_to_last_grow: float = 0.0  # seconds it had run in its first run when it last grew there
    size_before_last_grow: int = 0  # its stack size before that growth (0: it did not grow in its first run)
    run_to_first_grow_any: float = 0.0  # the same over all its runs (seconds running, any run)
    run_to_last_grow_any: float = 0.0
    size_before_last_grow_any: int = 0
    rounds: list = field(default_factory=list)  # a Round per block
    made: list = field(default_factory=list)  # the goroutines it made since it last blocked
    pending: tuple = ()  # those it made before its current block: woken by one of them, a join (see ``joins``)


@dataclass
class Watcher:
    """The ``observe`` hook: follows goroutine states and heap metrics through the replay."""

    lives: dict = field(default_factory=dict)  # goid -> Life (user goroutines but main)
    main: Life | None = None  # the main goroutine's (its running time is work the simulation's main does not do)
    main_free: float = 0.0  # seconds main ran with none of the goroutines it made waiting for it
    main_since: float = 0.0  # when main's current stint of running (or in a syscall) began
    holding: dict = field(default_factory=dict)  # creator goid -> since when a goroutine it made waits for it
    heap: list = field(default_factory=list)  # (time, /memory/classes/heap/objects:bytes)
    goals: list = field(default_factory=list)  # (time, /gc/heap/goal:bytes)
    marking: bool = False  # inside a GC mark phase
    scanned: dict = field(default_factory=dict)  # goid -> (stack size, runs, parked since the phase began)
    children: dict = field(default_factory=dict)  # creator goid -> goroutines it made since it last stopped running
    run: object = None  # the TraceRun, kept for the state at the end
    # the P time outside the goroutines (runtime.cpu): GC's background mark workers, per cycle, with the
    # goroutines alive at its start; and the gap a P takes from one goroutine parking or exiting to the
    # next one, already runnable, running
    mark_work: list = field(default_factory=list)  # per cycle: [seconds the mark workers ran, goroutines alive]
    worker_since: dict = field(default_factory=dict)  # mark worker goid -> when it started running
    p_stop: dict = field(default_factory=dict)  # P -> (when its goroutine stopped running, what it went to)
    ready_since: dict = field(default_factory=dict)  # goid -> when it became runnable
    switches: dict = field(default_factory=dict)  # "Waiting"/"NotExist" -> gaps (seconds)

    def __call__(self, run, ev) -> None:
        self.run = run
        k = ev.kind
        if k == "RangeBegin" and ev.name == "GC concurrent mark phase":
            self.marking = True
            self.mark_work.append([0.0, len(run.gs)])
            self.scanned = {}
            for life in self.lives.values():
                if life.state == "Waiting":
                    life.parked_at_gc += 1
                gp = run.gs.get(life.goid)
                if life.parked and gp is not None:
                    self.scanned[life.goid] = (gp.size, life.runs, True)
        elif k == "RangeEnd" and ev.name == "GC concurrent mark phase":
            self.marking = False
            self._shrunk_or_kept(run)
        elif k == "StateTransition":
            self._p_time(run, ev)
            self._transition(run, ev)
        elif k == "Experimental" and ev.g > 0:
            self._grew(run, ev.g)
        elif k == "Metric":
            if ev.name == "/memory/classes/heap/objects:bytes":
                self.heap.append((run.now, ev.args[0]))
            elif ev.name == "/gc/heap/goal:bytes":
                self.goals.append((run.now, ev.args[0]))

    def _p_time(self, run, ev) -> None:
        """GC's mark workers' running time, and the P's switch from a goroutine that parked or exited to
        the next (``park_m`` or ``goexit0``, ``schedule``, ``execute``), for the runtime.cpu fit."""
        goid = ev.args[0]
        frm, _, to = ev.name.partition("->")
        now = run.now
        if to == "Runnable":
            self.ready_since[goid] = now
        if frm == "Running" and to != "Running":
            if ev.p >= 0:
                self.p_stop[ev.p] = (now, to)
            since = self.worker_since.pop(goid, None)
            if since is not None and self.mark_work:
                self.mark_work[-1][0] += now - since
        elif to == "Running" and frm != "Running":
            gp = run.gs.get(goid)
            if gp is not None and "gcBgMark" in gp.cls:
                self.worker_since[goid] = now
            stop, ready = self.p_stop.pop(ev.p, None), self.ready_since.pop(goid, now)
            if stop is not None and stop[1] in ("Waiting", "NotExist") and ready <= stop[0]:
                self.switches.setdefault(stop[1], []).append(now - stop[0])

    def _grew(self, run, goid: int) -> None:
        """After a stack event of the running goroutine: if its stack is larger than when last seen, in its
        first run, that run's growth points (how long it had run when it first grew, and when it reached
        the size it ran on), and the same over all its runs."""
        life, gp = self.lives.get(goid), run.gs.get(goid)
        if life is None or gp is None or gp.size <= life.size_seen:
            if life is not None and gp is not None:
                life.size_seen = gp.size
            return
        if life.size_seen and life.state in RUNNING:
            ran = life.run_first + life.run_after + run.now - life.since
            life.run_to_last_grow_any = ran
            if not life.size_before_last_grow_any:
                life.run_to_first_grow_any = ran
            life.size_before_last_grow_any = life.size_seen
            if math.isnan(life.first_block):
                life.run_to_last_grow = ran
                if not life.size_before_last_grow:
                    life.run_to_first_grow = ran
                life.size_before_last_grow = life.size_seen
        life.size_seen = gp.size

    def _shrunk_or_kept(self, run) -> None:
        """At the end of a mark phase: which parked stacks GC halved, and which it kept.  ``scanned`` holds
        the goroutines as they parked (blocked, or woken but not run yet), from the phase's start or from
        when they parked during it; one that ran left it then (see ``_transition``).  Halved while parked:
        shrunk at that size.  Parked through the whole phase and not halved: kept.  Parked partway and not
        halved: GC may have scanned it before, while it ran; that tells nothing."""
        for goid, (size, runs, whole) in self.scanned.items():
            life, gp = self.lives.get(goid), run.gs.get(goid)
            if life is None or gp is None or life.runs != runs:
                continue
            if gp.size < size:
                life.shrunk_at.append(size)
                life.kept_last = 0
            elif whole:
                life.kept_at.append(size)
                life.kept_last = size
        self.scanned = {}

    def _transition(self, run, ev) -> None:
        goid = ev.args[0]
        frm, _, to = ev.name.partition("->")
        if frm in RUNNING and to not in RUNNING:  # any goroutine, main too: the ones it made may run now
            for child in self.children.pop(goid, ()):
                if math.isnan(child.held):
                    child.held = run.now - child.created
            held_from = self.holding.pop(goid, run.now)
            if self.main is not None and goid == self.main.goid:
                self.main_free += held_from - self.main_since
        elif to in RUNNING and frm not in RUNNING and self.main is not None and goid == self.main.goid:
            self.main_since = run.now
        life = self.lives.get(goid)
        if life is None and self.main is not None and goid == self.main.goid:
            life = self.main
        if life is None:
            gp = run.gs.get(goid)
            if gp is not None and gp.cls == "(main goroutine)" and self.main is None:
                self.main, self.main_since = Life(goid, gp.cls, gp.created, state=to, since=run.now), run.now
                return
            if gp is None or not gp.user or gp.cls == "(main goroutine)" or frm not in ("NotExist", "Undetermined"):
                return
            life = self.lives[goid] = Life(goid, gp.cls, gp.created, state=to, since=run.now,
                                           parked=frm == "Undetermined" and to == "Waiting", size_seen=gp.size)
            if frm == "NotExist" and ev.g > 0:
                self.children.setdefault(ev.g, []).append(life)
                self.holding.setdefault(ev.g, run.now)
                maker = self.lives.get(ev.g)
                if maker is not None:
                    life.parent, life.in_first_run = ev.g, math.isnan(maker.first_block)
                if maker is None and self.main is not None and ev.g == self.main.goid:
                    maker = self.main
                if maker is not None:
                    maker.made.append(goid)
            elif frm != "NotExist":
                life.held = 0.0
            return
        now = run.now
        if life.state == "Waiting":
            life.waited += now - life.since
            if life.rounds:
                life.rounds[-1].blocked += now - life.since
        elif life.state == "Runnable":
            life.queued += now - life.since
        if to in RUNNING and frm not in RUNNING:
            life.runs += 1
            life.kept_last = 0
            if life.parked and life.blocks:  # a later run begins (not a preempted one going on)
                gp = run.gs.get(goid)
                life.resumed = gp.size if gp is not None else 0
            life.parked = False
            if life.rounds and not life.rounds[-1].size_start:  # the run after its last block begins
                gp = run.gs.get(goid)
                life.rounds[-1].size_start = life.rounds[-1].size_end = gp.size if gp is not None else 0
            if goid in self.scanned:  # halved while parked, before it ran?  (if not: scanned or not, unknown)
                size = self.scanned.pop(goid)[0]
                gp = run.gs.get(goid)
                if gp is not None and gp.size < size:
                    life.shrunk_at.append(size)
        if to == "Waiting" and frm in RUNNING:
            life.parked = True
            gp = run.gs.get(goid)
            if self.marking and gp is not None:
                self.scanned[goid] = (gp.size, life.runs, False)
        if to == "Running" and math.isnan(life.start_delay):
            life.start_delay = now - (life.created if not math.isnan(life.created) else now)
            if math.isnan(life.held):  # another P took it before its creator stopped
                life.held = life.start_delay
        if life.state in RUNNING:
            if math.isnan(life.first_block):
                life.run_first += now - life.since
            else:
                life.run_after += now - life.since
                life.rounds[-1].ran += now - life.since
        if frm == "Waiting" and to != "Waiting":
            life.last_wake = now
            if life.rounds and ev.g in life.pending:  # woken by one it made: a join if all of them have exited
                life.rounds[-1].joined = life.pending  # by the time it next blocks (_joined)
            if life.blocks == 1:
                life.first_wake = now
        if to == "Waiting" and frm != "Waiting":
            life.blocks += 1
            life.last_park, life.last_wake = now, math.nan
            gp = run.gs.get(goid)
            if life.rounds:
                if gp is not None:
                    life.rounds[-1].size_end = gp.size
                self._joined(life.rounds[-1])
            life.pending, life.made = tuple(life.made), []
            life.rounds.append(Round(made=life.pending))
            if life.resumed and gp is not None:
                life.later_runs.append((life.resumed, gp.size))
            life.resumed = 0
            if self.marking:  # parked before the mark phase scans it
                life.parked_at_gc += 1
            if math.isnan(life.first_block):
                life.first_block = now
                gp = run.gs.get(goid)
                life.size_at_block = gp.size if gp is not None else 0
        if to == "NotExist":
            life.exited = now
            gone, size = run.exited  # the size its stack had when it exited, after a later run
            if life.rounds:
                if gone == goid:
                    life.rounds[-1].size_end = size
                self._joined(life.rounds[-1])
            if life.resumed and frm in RUNNING and gone == goid:
                life.later_runs.append((life.resumed, size))
            life.resumed = 0
        life.state, life.since = to, now

    def rounds(self, life: Life) -> tuple:
        """``life.rounds``, copied, the last one's block or run going on to the trace's end (the lives are left
        as they are)."""
        if not life.rounds:
            return ()
        last = replace(life.rounds[-1])
        left = (self.run.now if self.run is not None else 0.0) - life.since
        gp = self.run.gs.get(life.goid) if self.run is not None else None
        if life.state in RUNNING:
            last.ran += left
            last.size_end = gp.size if gp is not None else last.size_end
        elif life.state == "Waiting":
            last.blocked += left
        self._joined(last)
        return tuple(replace(r) for r in life.rounds[:-1]) + (last,)

    def _joined(self, rnd: Round) -> None:
        """A round's block is a join (wg.Wait, t.Run) if one of the goroutines its goroutine made before it woke
        it and all of them had exited by the end of the run that followed; else it is an ordinary block."""
        if rnd.joined and not all(not math.isnan(self.lives[c].exited) for c in rnd.joined):
            rnd.joined = ()

    def main_work(self) -> tuple[float, float, int]:
        """The main goroutine's (seconds running, seconds blocked, blocks) over the trace, until its end;
        running only while none of the goroutines it made waited for it to stop (that wait is theirs,
        the block they start with)."""
        life, end = self.main, self.run.now if self.run is not None else 0.0
        if life is None:
            return 0.0, 0.0, 0
        left = end - life.since
        free = self.main_free + (self.holding.get(life.goid, end) - self.main_since if life.state in RUNNING else 0.0)
        return free, life.waited + (left if life.state == "Waiting" else 0.0), life.blocks

    def table(self, goroutines: pd.DataFrame) -> pd.DataFrame:
        """One row per user goroutine: its life (a goroutine still running or blocked when the trace
        ended counts its time until then) joined with the reader's goroutine row (``max_stack``,
        ``grows``, ``shrinks``).  Leaves the lives as they are: it can be called again."""
        end = self.run.now if self.run is not None else 0.0
        rows = []
        for life in self.lives.values():
            left = end - life.since  # in its last state
            running = left if life.state in RUNNING else 0.0
            ongoing = left if life.state == "Waiting" else 0.0  # blocked when the trace ended: in waited, and apart
            first = math.isnan(life.first_block)
            gp = self.run.gs.get(life.goid) if self.run is not None else None
            rounds = self.rounds(life)
            rows.append({"goroutine": life.goid, "class": life.cls, "created": life.created, "exited": life.exited,
                         "run_first": life.run_first + (running if first else 0.0),
                         "run_after": life.run_after + (0.0 if first else running),
                         "first_block": life.first_block, "size_at_block": life.size_at_block, "blocks": life.blocks,
                         "waited": life.waited + ongoing, "ongoing": ongoing, "queued": life.queued,
                         "ran": not math.isnan(life.start_delay),
                         "held": life.held,
                         "start_delay": (end - (0.0 if math.isnan(life.created) else life.created)
                                         if math.isnan(life.start_delay) else life.start_delay),
                         "parked_at_gc": life.parked_at_gc, "kept_at": tuple(life.kept_at),
                         "shrunk_at": tuple(life.shrunk_at), "kept_last": life.kept_last,
                         "later_runs": tuple(life.later_runs), "rounds": rounds, "made_last": tuple(life.made),
                         "first_wake": life.first_wake, "last_park": life.last_park, "last_wake": life.last_wake,
                         "final_size": gp.size if gp is not None else 0,
                         "parent": life.parent, "in_first_run": life.in_first_run,
                         "run_to_first_grow": life.run_to_first_grow, "run_to_last_grow": life.run_to_last_grow,
                         "size_before_last_grow": life.size_before_last_grow,
                         "run_to_first_grow_any": life.run_to_first_grow_any,
                         "run_to_last_grow_any": life.run_to_last_grow_any,
                         "size_before_last_grow_any": life.size_before_last_grow_any})
        df = pd.DataFrame(rows, columns=["goroutine", "class", "created", "exited", "run_first", "run_after",
                                         "first_block", "size_at_block", "blocks", "waited", "ongoing", "queued",
                                         "ran", "held", "start_delay", "parked_at_gc", "kept_at", "shrunk_at",
                                         "kept_last", "later_runs", "rounds", "made_last", "first_wake", "last_park", "last_wake",
                                         "final_size", "parent", "in_first_run", "run_to_first_grow", "run_to_last_grow",
                                         "size_before_last_grow", "run_to_first_grow_any", "run_to_last_grow_any",
                                         "size_before_last_grow_any"])
        g = goroutines[["goroutine", "max_stack", "grows", "shrinks"]]
        return df.merge(g, on="goroutine", how="left").sort_values(["created", "goroutine"], na_position="first",
                                                                   ignore_index=True)
