"""A real run as a Result: replay a trace's stack and span events into simstack's frames.

What the trace says (``runtime/traceallocfree.go``, Go 1.23+ with ``GODEBUG=traceallocfree=1``),
and how each becomes simstack's view of the run:

* ``Span``/``SpanAlloc``/``SpanFree`` with kindclass 1 are *manual* spans: stack spans and
  GC work buffers (``mheap.allocManual`` is used for nothing else).  A manual span is a
  stack span once a stack lies in it; a stack pool span gets its first stack at once
  (``stackpoolalloc`` carves the new span for the stack being allocated), a large stack
  *is* its span.  A manual span allocated during the trace that never holds a stack is a
  work buffer.  One that existed at trace start is counted as a stack span: work buffers
  live only from a GC's mark phase until its sweep frees them.  StackInuse
  (``memstats.heapStats.inStacks``, which is ``MemStats.StackInuse`` and
  ``/memory/classes/heap/stacks:bytes``) is the bytes of the stack spans held.
* ``GoroutineStackAlloc``/``GoroutineStackFree`` are every ``stackalloc``/``stackfree``:
  goroutine stacks, and the g0 and signal stacks of new Ms (``malg`` in ``allocm``).  Who
  owns a stack is inferred from what follows on the same M: an allocation followed by a
  goroutine's creation (``newproc1``) is that goroutine's stack; an allocation followed by
  the free of a live goroutine's stack is ``copystack`` (a growth if larger, a shrink at GC
  if smaller).  A creation with no allocation before it reused a dead goroutine's stack
  (``gfget``); which one the trace does not say, so its size is the starting size until it
  grows or exits.
* Goroutine creations carry the creator's stack: a goroutine's ``class`` is the function
  whose ``go`` statement made it.  Goroutines alive at trace start are named by their entry
  function (the main goroutine: ``(main goroutine)``).  ``runtime.*`` classes are the runtime's own goroutines.
* ``GC concurrent mark phase`` ranges are GC cycles; user log events in the categories
  ``simstack.checkpoint``/``simstack.sample``/``simstack.end`` (see docs/traces.md) carry
  what the program itself read of ``/memory/classes/heap/stacks:bytes``, and are checked
  against the rebuilt figure: against its value when the log event comes, or, if the
  goroutine logged ``simstack.read`` just before reading, against every value it had since
  (on other Ps stacks come and go between the read and the log).

What a trace cannot show is left out, not guessed: bytes in use on a stack and bytes
copied (``used``, ``bytes_copied``: -1), and how free stack bytes divide between per-P
caches and pools (``cached_bytes`` is 0; ``pool_free_bytes`` holds both).
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field

from ..recording.recorder import Recorder
from .parsed import Event, Info

MANUAL = 1  # kindclass of a manually managed span (traceSpanTypeAndClass)
_KV = re.compile(r"(\w+)=(\S+)")


@dataclass(slots=True)
class G:
    """A goroutine as the trace shows it."""

    goid: int
    cls: str
    created: float
    user: bool
    stack: int = -1  # stack id, -1 when unknown (existed at trace start, or a reused stack)
    size: int = 0
    max_stack: int = 0
    grows: int = 0
    shrinks: int = 0


@dataclass(slots=True)
class Span:
    """A manual span: stack span once proven, else maybe a GC work buffer."""

    npages: int
    alloc: float  # seconds; 0 for spans alive at trace start
    stack: bool  # counted in StackInuse


@dataclass
class Pending:
    """The last unclaimed ``stackalloc`` on an M, and whether it came right after another one."""

    stack: int
    paired: bool


@dataclass
class TraceRun:
    """Replays one trace's events (see the module docstring) into a Recorder."""

    info: Info
    recorder: Recorder | None = None
    sample_every: float = 0.001
    classify: object = None  # (creator function, start function) -> class; default: the creator
    t0: int | None = None
    now: float = 0.0
    gomaxprocs: int = 0
    gomaxprocs_changes: list = field(default_factory=list)  # (seconds, GOMAXPROCS) at each procresize that changed it
    spans: dict = field(default_factory=dict)  # span id -> Span (manual spans only)
    stacks: dict = field(default_factory=dict)  # stack id -> [size, owner goid (0: none or dead)]
    gs: dict = field(default_factory=dict)  # live goroutines: goid -> G
    exited: tuple = (0, 0)  # (goid, stack size) of the goroutine that exited last, for observers
    pending: dict = field(default_factory=dict)  # M -> Pending
    in_stacks: int = 0
    held: int = 0  # bytes of stacks allocated (goroutines', dead goroutines', Ms')
    clock: float = 0.0  # the time stamped on the next recorded event
    peak: int = 0
    peak_time: float = 0.0
    area: float = 0.0  # integral of StackInuse over time (byte-seconds)
    area_since: float = 0.0
    live_stack_bytes: int = 0
    user_sizes: dict = field(default_factory=dict)  # size -> live user goroutines
    user_count: int = 0
    starting_size: int = 0
    totals: dict = field(default_factory=lambda: {"grow": 0, "shrink": 0, "spawn": 0, "exit": 0})
    gc: list = field(default_factory=list)  # open and closed cycles: dicts
    rows: list = field(default_factory=list)  # (time, figures, sizes) footprint samples not yet recorded
    checkpoints: list = field(default_factory=list)
    logged: list = field(default_factory=list)  # (time, category, logged stack_inuse, rebuilt)
    reading: dict = field(default_factory=dict)  # G -> StackInuse values since its simstack.read mark
    marks: dict = field(default_factory=dict)  # simstack.start/simstack.end -> trace time
    mark_values: dict = field(default_factory=dict)  # what those marks' messages say (gc_cycles=, ...)
    window: dict | None = None  # StackInuse's peak and mean between those marks
    unproven: dict = field(default_factory=dict)  # fresh manual spans with no stack yet: id -> allocation time
    next_sample: float = 0.0
    started: bool = False  # sampling starts once the trace-start snapshot of memory is in
    gc_cycles_logged: int | None = None
    n_events: int = 0
    n_recorded: int = 0
    m_seen: dict = field(default_factory=dict)  # M id -> when its first event came (seconds)

    # --- the stream --------------------------------------------------------------------
    def feed(self, ev: Event) -> None:
        if self.t0 is None:
            self.t0 = ev.time
        t = (ev.time - self.t0) / 1e9
        k = ev.kind
        if not self.started and (k == "RangeEnd" and ev.name.startswith("stop-the-world (start trace)")
                                 or ev.name in ("GoroutineStackAlloc", "SpanAlloc", "NotExist->Runnable")):
            self.started, self.next_sample = True, t  # the memory snapshot (traceSnapshotMemory) is complete
        if t > self.now:
            while self.started and t >= self.next_sample:
                self._sample(self.next_sample)
                self.next_sample += self.sample_every
            self.now = t
        self.n_events += 1
        if ev.m not in self.m_seen and ev.m >= 0:
            self.m_seen[ev.m] = t
        if k == "Experimental":
            handler = self._EXPERIMENTAL.get(ev.name)
            if handler is not None:
                handler(self, ev)
        elif k == "StateTransition":
            self._transition(ev)
        elif k == "Log":
            self._log(ev)
        elif k == "RangeBegin" and ev.name == "GC concurrent mark phase":
            self._gc_start()
        elif k == "RangeEnd" and ev.name.startswith("stop-the-world (GC mark termination)"):
            self._gc_end()
        elif k == "Metric" and ev.name == "/sched/gomaxprocs:threads":
            if ev.args[0] != self.gomaxprocs:  # read at trace start, each procresize and each GC
                self.gomaxprocs_changes.append((self.now, ev.args[0]))
            self.gomaxprocs = ev.args[0]

    def gomaxprocs_in_effect(self) -> dict:
        """Seconds of the trace each GOMAXPROCS was in effect, longest first (a program can call
        ``runtime.GOMAXPROCS``, as the runtime's own TestStackMem does, and Go 1.25+ follows its CPU limit)."""
        spans: dict = {}
        changes = self.gomaxprocs_changes
        for i, (t, n) in enumerate(changes):
            start = 0.0 if i == 0 else t  # the first reading is the value at the trace's start
            end = changes[i + 1][0] if i + 1 < len(changes) else self.now
            spans[n] = spans.get(n, 0.0) + max(0.0, end - start)
        return dict(sorted(spans.items(), key=lambda kv: -kv[1]))

    def _emit(self, kind, g=-1, p=-1, old=0, new=0, order=-1, span=-1, nbytes=0, at=None):
        self.clock = self.now if at is None else at
        self.recorder.emit(kind, g, p, old, new, -1, -1, order, span, nbytes)

    # --- spans ---------------------------------------------------------------------------
    def _span_exists(self, ev):
        sid, npages, kindclass = ev.args
        if kindclass == MANUAL:
            self.spans[sid] = Span(npages, 0.0, True)
            self._add_stack_bytes(npages * self.info.page_size)

    def _span_alloc(self, ev):
        sid, npages, kindclass = ev.args
        if kindclass == MANUAL:
            self.spans[sid] = Span(npages, self.now, False)
            self.unproven[sid] = self.now

    def _span_free(self, ev):
        sid = ev.args[0]
        self.unproven.pop(sid, None)
        s = self.spans.pop(sid, None)
        if s is not None and s.stack:
            nbytes = s.npages * self.info.page_size
            self._add_stack_bytes(-nbytes)
            self._emit("span_free", ev.g, ev.p, span=sid, nbytes=nbytes)
            self._gc_note("bytes_released", nbytes)
            self._gc_note("spans_freed", 1)

    def _prove(self, stack_id: int, size: int, ev) -> None:
        """A stack lies in its span: the span is a stack span (counted from its allocation)."""
        ps = self.info.page_size
        base = stack_id * self.info.fixed_stack
        sid = base // ps
        s = self.spans.get(sid)
        if s is None:
            # a stack pool span starts at a page boundary at or below the stack
            for back in range(1, 4):
                s = self.spans.get(sid - back)
                if s is not None and (sid - back + s.npages) * ps > base:
                    sid -= back
                    break
            else:
                return
        if not s.stack:
            s.stack = True
            self.unproven.pop(sid, None)
            nbytes = s.npages * ps
            self._add_stack_bytes(nbytes, since=s.alloc)
            self._emit("span_alloc", ev.g, ev.p, span=sid, nbytes=nbytes, at=s.alloc)

    def _add_stack_bytes(self, delta: int, since: float | None = None) -> None:
        self._integrate()
        self.in_stacks += delta
        for seen in self.reading.values():
            seen.add(self.in_stacks)
        if since is not None and since < self.now:
            self._count_late(since, delta)
        if self.in_stacks > self.peak:
            self.peak, self.peak_time = self.in_stacks, self.now
        w = self.window
        if w is not None and "end" not in w and self.in_stacks > w["peak"]:
            w["peak"], w["peak_time"] = self.in_stacks, self.now

    def _integrate(self):
        self.area += self.in_stacks * (self.now - self.area_since)
        self.area_since = self.now

    # --- stacks ----------------------------------------------------------------------------
    def _size(self, order: int) -> int:
        return 1 << (order - 1) if order else 0

    def _order(self, size: int) -> int:
        """simstack's stack order: log2(size / fixedStack) for pool stacks, -1 for large ones."""
        if size >= 32768:
            return -1
        return max(0, size.bit_length() - self.info.fixed_stack.bit_length())

    def _stack_exists(self, ev):
        sid, order = ev.args
        if order == 0:
            return  # a dead goroutine without a stack
        size = self._size(order)
        self.stacks[sid] = [size, 0]
        self.held += size
        self._prove(sid, size, ev)

    def _stack_alloc(self, ev):
        sid, order = ev.args
        size = self._size(order)
        self.stacks[sid] = [size, 0]
        self.held += size
        self._prove(sid, size, ev)
        prev = self.pending.get(ev.m)
        self.pending[ev.m] = Pending(sid, prev is not None)
        self._emit("stackalloc", ev.g, ev.p, new=size, order=self._order(size), span=self._span_of(sid))

    def _span_of(self, stack_id: int) -> int:
        return stack_id * self.info.fixed_stack // self.info.page_size

    def _stack_free(self, ev):
        sid = ev.args[0]
        entry = self.stacks.pop(sid, None)
        if entry is None:
            return
        size, owner = entry
        self.held -= size
        pend = self.pending.pop(ev.m, None)
        if pend is not None and self.stacks.get(pend.stack, (0, 1))[1] != 0:
            pend = None  # claimed meanwhile
        gp = self.gs.get(owner) if owner else None
        if gp is None and pend is not None and ev.g in self.gs and self.gs[ev.g].stack < 0:
            gp = self.gs[ev.g]  # a goroutine whose stack we did not know grows: this was it
            gp.stack = sid
            self._set_size(gp, size)
        if gp is not None and gp.stack == sid:
            if pend is not None:
                self._copystack(gp, pend.stack, ev)
                return
            self._set_size(gp, 0)
            gp.stack = -1
        elif gp is None and pend is not None and not owner:
            # copystack of a goroutine whose stack we never knew (alive at trace start, shrunk by GC)
            new = self.stacks[pend.stack][0]
            kind = "grow" if new > size else "shrink"
            self.totals[kind] += 1
            if kind == "shrink":
                self._gc_note("stacks_shrunk", 1)
            self._emit(kind, -1, ev.p, old=size, new=new, order=self._order(new), span=self._span_of(pend.stack))
            return
        self._emit("stackfree", owner or -1, ev.p, old=size, order=self._order(size), span=self._span_of(sid))

    def _set_size(self, gp: G, size: int) -> None:
        """The goroutine's stack is now ``size`` bytes (0: none known)."""
        if gp.user and gp.size:
            self._count_size(gp.size, -1)
        self.live_stack_bytes += size - gp.size
        gp.size = size
        gp.max_stack = max(gp.max_stack, size)
        if gp.user and size:
            self._count_size(size, 1)

    def _own(self, gp: G, sid: int) -> None:
        self.stacks[sid][1] = gp.goid
        gp.stack = sid
        self._set_size(gp, self.stacks[sid][0])

    def _count_size(self, size: int, n: int) -> None:
        c = self.user_sizes.get(size, 0) + n
        if c:
            self.user_sizes[size] = c
        else:
            self.user_sizes.pop(size, None)

    def _copystack(self, gp: G, new_sid: int, ev) -> None:
        """``copystack``: the goroutine moves to the stack just allocated on this M."""
        old = gp.size
        self._own(gp, new_sid)
        kind = "grow" if gp.size > old else "shrink"
        if kind == "grow":
            gp.grows += 1
        else:
            gp.shrinks += 1
            self._gc_note("stacks_shrunk", 1)
        self.totals[kind] += 1
        self._emit(kind, gp.goid, ev.p, old=old, new=gp.size, order=self._order(gp.size),
                   span=self._span_of(new_sid))

    # --- goroutines --------------------------------------------------------------------------
    def _transition(self, ev):
        goid = ev.args[0]
        frm, _, to = ev.name.partition("->")
        if frm == "NotExist":
            self._created(goid, ev)
        elif to == "NotExist":
            self._exited(goid, ev)
        elif frm == "Undetermined" and goid not in self.gs:
            own = ev.tstack or ev.stack
            entry = own[-1] if own and own[-1] != "-" else ""
            if goid == 1 or entry == "runtime.main":
                cls, user = "(main goroutine)", True
            elif entry:
                cls, user = entry, not entry.startswith("runtime.")
            else:
                cls, user = "(alive at trace start)", True
            self._new_g(goid, cls, user, created=math.nan)

    def _new_g(self, goid: int, cls: str, user: bool, created: float) -> G:
        gp = self.gs[goid] = G(goid, cls, created, user)
        if user:
            self.user_count += 1
        return gp

    def _created(self, goid: int, ev) -> None:
        creator = ev.stack[0] if ev.stack else "(unknown)"
        start = ev.tstack[0] if ev.tstack else "(unknown)"
        user = not creator.startswith("runtime.") and not start.startswith("runtime.")
        cls = (self.classify(creator, start) if self.classify is not None else None) or creator
        gp = self._new_g(goid, cls, user, self.now)
        pend = self.pending.get(ev.m)
        if pend is not None and not pend.paired and self.stacks.get(pend.stack, (0, 1))[1] == 0:
            del self.pending[ev.m]
            self._own(gp, pend.stack)
            self.starting_size = gp.size
        else:
            # gfget: a dead goroutine's stack of the starting size (which one, the trace does not say)
            self._set_size(gp, self.starting_size or self.info.fixed_stack)
        self.totals["spawn"] += 1
        self._emit("spawn", goid, ev.p, new=gp.size, order=self._order(gp.size))

    def _exited(self, goid: int, ev) -> None:
        gp = self.gs.pop(goid, None)
        if gp is None:
            return
        self.pending.pop(ev.m, None)
        self.totals["exit"] += 1
        self._emit("exit", goid, ev.p, old=gp.size)
        self.exited = (goid, gp.size)
        if gp.stack >= 0 and gp.stack in self.stacks:
            self.stacks[gp.stack][1] = 0  # kept by the dead G (gfput) until freed
        self._set_size(gp, 0)
        if gp.user:
            self.user_count -= 1
        self.recorder.goroutine_row(goid, gp.cls, gp.created, self.now, gp.max_stack, gp.grows, gp.shrinks, -1)

    # --- GC, logs, samples ---------------------------------------------------------------------
    def _gc_start(self):
        n = len(self.gc) + 1
        self.gc.append({"cycle": n, "start": self.now, "end": math.nan, "stacks_shrunk": 0, "bytes_released": 0,
                        "spans_freed": 0, "starting_size": 0, "open": True})
        self._emit("gc_start", nbytes=n)

    def _gc_end(self):
        if self.gc and self.gc[-1]["open"]:
            c = self.gc[-1]
            c["open"] = False
            c["end"] = self.now
            c["starting_size"] = self.starting_size
            self._emit("gc_end", nbytes=c["cycle"])

    def _gc_note(self, key: str, n: int) -> None:
        """Count a shrink for the latest cycle (one the cycle's scan could not do at once happens at
        the goroutine's next safe point: ``preemptShrink``), a freed stack span for the cycle only
        until 1 ms after its mark termination (``freeStackSpans``, the caches' release)."""
        if self.gc and (key == "stacks_shrunk" or self.gc[-1]["open"] or self.now - self.gc[-1]["end"] < 1e-3):
            self.gc[-1][key] += n

    def figures(self) -> dict:
        return {"stack_inuse": self.in_stacks, "stack_sys": self.in_stacks,
                "stack_in_goroutines": self.live_stack_bytes, "stack_used": 0, "cached_bytes": 0,
                "pool_free_bytes": max(0, self.in_stacks - self.held), "large_free_bytes": 0,
                "goroutines": self.user_count, "starting_size": self.starting_size or self.info.fixed_stack}

    def _sample(self, t: float) -> None:
        self.rows.append((t, self.figures(), dict(self.user_sizes)))
        # rows before every span not yet known to be a stack span's can no longer change: out they go
        keep_from = min(self.unproven.values(), default=math.inf)
        n = bisect.bisect_left(self.rows, keep_from, key=lambda r: r[0])
        if n:
            for row in self.rows[:n]:
                self.recorder.sample(*row)
            del self.rows[:n]

    def _count_late(self, since: float, delta: int) -> None:
        """A span allocated at ``since`` turned out a stack span: it counted from then on in the
        rows, checkpoints and logged readings taken since (all still held: see ``_sample``)."""
        for t, fig, _ in reversed(self.rows):
            if t < since:
                break
            fig["stack_inuse"] += delta
            fig["stack_sys"] += delta
        for c in reversed(self.checkpoints):
            if c[1] < since:
                break
            c[2]["stack_inuse"] += delta
            c[2]["stack_sys"] += delta
        for entry in reversed(self.logged):
            if entry[0] < since:
                break
            entry[5] += delta

    def _log(self, ev):
        category, message = ev.args
        if not category.startswith("simstack."):
            return
        if category == "simstack.read":  # the program is about to read the metric
            self.reading[ev.g] = {self.in_stacks}
            return
        if category in ("simstack.start", "simstack.end") and category[9:] not in self.marks:
            self._mark(category[9:])
            self.mark_values[category[9:]] = {k: int(v) for k, v in _KV.findall(message) if v.isdigit()}
        kv = dict(_KV.findall(message))
        logged = int(kv["stack_inuse"]) if kv.get("stack_inuse", "").isdigit() else None
        if logged is not None:
            # the read happened between the program's simstack.read mark and this event: on
            # other Ps stacks come and go meanwhile, so any value StackInuse had then counts
            seen = self.reading.pop(ev.g, {self.in_stacks})
            self.logged.append([self.now, category, logged, seen, self.in_stacks, 0])  # judged in finish()
        if category == "simstack.checkpoint":
            self.checkpoints.append([kv.get("label", f"log{len(self.checkpoints)}"), self.now, self.figures(),
                                     dict(self.user_sizes), logged, self.class_stacks()])
        elif category == "simstack.end" and kv.get("gc_cycles", "").isdigit():
            self.gc_cycles_logged = int(kv["gc_cycles"])

    def _mark(self, name: str) -> None:
        """``simstack.start``/``simstack.end``: the window a generated program performs its scenario in;
        StackInuse's peak and time average are also taken over it."""
        self._integrate()
        self.marks[name] = self.now
        if name == "start":
            self.window = {"start": self.now, "peak": self.in_stacks, "peak_time": self.now, "area0": self.area}
        elif self.window is not None:
            w = self.window
            w["end"] = self.now
            span = self.now - w["start"]
            w["mean"] = (self.area - w.pop("area0")) / span if span > 0 else float(self.in_stacks)

    def class_stacks(self) -> dict:
        """Live user goroutines' stack sizes by class: {class: {size: count}} (sizes known only)."""
        out: dict = {}
        for gp in self.gs.values():
            if gp.user and gp.size:
                d = out.setdefault(gp.cls, {})
                d[gp.size] = d.get(gp.size, 0) + 1
        return out

    # --- the end ------------------------------------------------------------------------------
    def finish(self) -> None:
        """Close the run: a last sample, the logged readings judged, rows for goroutines still alive,
        and everything still held handed to the recorder."""
        self._integrate()
        self._sample(self.now)
        if self.window is not None and "end" not in self.window:
            self._mark("end")
        self.logged = [self._judge(*entry) for entry in self.logged]
        for row in self.rows:
            self.recorder.sample(*row)
        self.rows = []
        for label, t, fig, sizes, logged, by_class in self.checkpoints:
            extra = {"goroutine_stacks": by_class, "measured_stack_inuse": logged}
            self.recorder.checkpoint(label, t, "trace", fig, sizes, extra)
        for gp in sorted(self.gs.values(), key=lambda g: g.goid):
            self.recorder.goroutine_row(gp.goid, gp.cls, gp.created, math.nan, gp.max_stack, gp.grows, gp.shrinks,
                                        -1)
        for c in self.gc:
            self.recorder.gc_row(c)

    def _judge(self, t, category, logged, seen, rebuilt, late):
        """A logged reading against the rebuilt StackInuse: (time, category, logged, rebuilt), where
        rebuilt is the logged value itself when StackInuse had it in the reading's window (``late``:
        bytes of stack spans allocated before the reading and recognised only after it)."""
        ok = any(v + late == logged or v == logged for v in seen)
        return (t, category, logged, logged if ok else rebuilt + late)

    @property
    def mean_stack_inuse(self) -> float:
        return self.area / self.now if self.now > 0 else float(self.in_stacks)

    _EXPERIMENTAL = {"Span": _span_exists, "SpanAlloc": _span_alloc, "SpanFree": _span_free,
                     "GoroutineStack": _stack_exists, "GoroutineStackAlloc": _stack_alloc,
                     "GoroutineStackFree": _stack_free}
