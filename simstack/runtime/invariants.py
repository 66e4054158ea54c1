"""Allocator invariants, checked after every event and every runtime operation with ``--check-invariants``.

Two layers, both off (not even attached) by default:

* :func:`check_state` walks the whole runtime and verifies, at a point where no
  runtime operation is half done, that

  - ``StackInuse`` (``mheap.in_stacks``) equals the bytes of the stack spans held,
    and that those spans are exactly the ones the heap handed out and did not get back;
  - every byte of those spans is in exactly one place: a stack held by a goroutine
    (live, or dead on a free list) or an M, a stack in a per-P cache, a free slot of
    a pool span, or a large span on the ``stackLarge`` free list; no stack is held or
    cached twice, none points into a freed span (use after free) and none is lost;
  - every running total (cached, pool-free and large-free bytes, stacks handed out,
    bytes of live goroutines' stacks and their use, per-size goroutine counts, span
    allocation counts, pool membership) equals a recount, and none is negative.

* :class:`InvariantChecker` is a :class:`~simstack.runtime.tracer.Tracer` attached to one
  :class:`~simstack.runtime.runtime.Runtime` (:func:`attach`): the model reports every
  event to it as to the recorder, and it never changes the model.

  - at **every allocator event** (``stackalloc``, ``stackfree``, span alloc/free, cache
    refill/release) it keeps a ledger of the spans the heap handed out and the stacks
    handed out, so a stack freed twice, a slot handed out twice, a free into (or a
    stack from) a span already returned to the heap, a span returned while a stack in
    it is out, or a stack freed with a size other than the one it was allocated with
    fails at once;
  - at **every event** ``StackInuse`` is compared with the bytes of the spans held and
    every counter is checked for sign; growth and shrinking must double or halve;
  - after **every runtime operation** the engine calls (``newproc``, ``enter``,
    ``move_to_depth``, ``park``, ``run_transient``, ``goexit``, ``gc_start``,
    ``gc_end``, ``read_memstats``, ...), the points where the runtime is quiescent, the
    engine calls :meth:`InvariantChecker.settled`: the full :func:`check_state`, which
    also checks that the goroutines and Ms hold exactly the stacks the ledger says are
    handed out.  (Inside an operation a state can be legal only at its end: ``copystack``
    allocates the new stack before it frees the old one and points the goroutine at it.)

A failed check raises :class:`InvariantError` (an ``AssertionError``) naming the
event or operation, the simulated time and what does not add up.
"""
from __future__ import annotations

from collections import Counter

from .tracer import Tracer

__all__ = ["InvariantError", "InvariantChecker", "attach", "check_state"]


class InvariantError(AssertionError):
    """An allocator invariant does not hold: a bug in the runtime model, never bad input."""

    def __init__(self, message: str):
        super().__init__(message)  # one plain argument: SimPy re-raises with type(e)(*e.args)


def _fail(msg: str) -> None:
    raise InvariantError(msg)


def _key(stk) -> tuple[int, int]:
    return stk.span.id, stk.slot


def _counters(rt) -> dict[str, int]:
    st, mh = rt.stacks, rt.mheap
    out = {
        "StackInuse (mheap.in_stacks)": mh.in_stacks,
        "stacks.cached_bytes": st.cached_bytes,
        "stacks.pool_free_bytes": st.pool_free_bytes,
        "stacks.large_free_bytes": st.large_free_bytes,
        "stacks.pool_span_bytes": st.pool_span_bytes,
        "stacks.stacks_in_use_bytes": st.stacks_in_use_bytes,
        "runtime.live_stack_bytes": rt.live_stack_bytes,
        "runtime.live_used": rt.live_used,
        "runtime.user_stack_bytes": rt.user_stack_bytes,
        "runtime.runtime_goroutines": rt.runtime_goroutines,
        "mheap.spans_allocated - spans_freed": mh.spans_allocated - mh.spans_freed,
    }
    for pp in rt.allp:
        for order, n in enumerate(pp.stackcache.size):
            out[f"P{pp.id}.stackcache[{order}].size"] = n
    for size, n in rt.user_size_counts.items():
        out[f"user goroutines of size {size}"] = n
    return out


def check_counters(rt) -> None:
    """No counter of the runtime is negative."""
    for name, v in _counters(rt).items():
        if v < 0:
            _fail(f"{name} is negative: {v}")


def check_state(rt, handed_out: dict | None = None, held_spans: dict | None = None) -> None:
    """The full invariant at a quiescent point (see the module docstring).

    ``handed_out`` ({(span id, slot): size}) and ``held_spans`` ({span id: Span}) are an
    :class:`InvariantChecker`'s ledgers; without them the stacks and spans reached from
    the runtime are taken as the truth and only their consistency is checked.
    """
    st, prof = rt.stacks, rt.profile
    check_counters(rt)
    where: dict[tuple[int, int], str] = {}  # (span id, slot) -> the place holding it
    spans: dict[int, object] = {}

    def place(stk, what: str) -> None:
        k = _key(stk)
        if k in where:
            _fail(f"stack {stk!r} (span #{k[0]} slot {k[1]}) is in two places: {where[k]} and {what}")
        where[k] = what
        spans.setdefault(stk.span.id, stk.span)

    # stacks held: goroutines (live, or dead on a free list) and Ms
    held_bytes = 0
    live_ids = set()
    for gp in rt.allgs:
        if gp.status != "dead":
            live_ids.add(gp.goid)
        if gp.stack is not None:
            place(gp.stack, f"goroutine {gp.goid} ({gp.kind}, {gp.status})")
            held_bytes += gp.stack.size
        elif gp.status != "dead":
            _fail(f"live goroutine {gp.goid} has no stack")
    for i, s in enumerate(rt.m_stacks):
        place(s, f"M stack #{i}")
        held_bytes += s.size
    held = dict(where)
    held_size = {_key(s): s.size for s in _held_stacks(rt)}
    # stacks cached per P
    cached_total = 0
    for pp in rt.allp:
        c = pp.stackcache
        for order, lst in enumerate(c.lists):
            elem = prof.fixed_stack << order
            total = 0
            for s in lst:
                if s.span.order != order or s.size != elem:
                    _fail(f"P{pp.id}.stackcache[{order}] holds {s!r} from a span of order {s.span.order} "
                          f"(expected {elem}-byte stacks of order {order})")
                place(s, f"P{pp.id}.stackcache[{order}]")
                total += s.size
            if total != c.size[order]:
                _fail(f"P{pp.id}.stackcache[{order}].size is {c.size[order]} but its list holds {total} bytes")
            cached_total += total
    # pool spans (linked in stackpool, or full and reached through their stacks) and large free spans
    for order, pool in enumerate(st.stackpool):
        for sid, span in pool.items():
            if span.id != sid or span.order != order:
                _fail(f"stackpool[{order}] links {span!r} under id {sid}")
            if not span.in_pool:
                _fail(f"{span!r} is linked in stackpool[{order}] but in_pool is false")
            spans.setdefault(span.id, span)
    large_free = 0
    for npages, bucket in st.stack_large.items():
        for span in bucket:
            if span.npages != npages or span.order != -1 or not span.large_free:
                _fail(f"stackLarge[{npages} pages] holds {span!r} (large_free={span.large_free})")
            k = (span.id, 0)
            if k in where:
                _fail(f"large span #{span.id} is on the stackLarge free list and held by {where[k]}")
            where[k] = f"stackLarge[{npages}]"
            if span.id in spans:
                _fail(f"large span #{span.id} is on the stackLarge free list twice")
            spans[span.id] = span
            large_free += span.nbytes
    for span in st.empty_pool_spans.values():
        if not st.gc_running:
            _fail(f"{span!r} waits for freeStackSpans while GC is off")
        if span.alloc_count != 0 or span.id not in st.stackpool[span.order]:
            _fail(f"{span!r} is kept as empty but has allocCount {span.alloc_count} or is not in stackpool")
    if not st.gc_running and st.stack_large:
        _fail("stackLarge holds spans while GC is off")

    # the ledgers: spans the heap handed out and did not get back, stacks stackalloc handed out
    if held_spans is not None:
        missing, extra = set(held_spans) - set(spans), set(spans) - set(held_spans)
        if extra:
            sid = min(extra)
            places = ", ".join(sorted({w for (i, _), w in where.items() if i == sid})) or "a pool list"
            _fail(f"span #{sid} is used by {places} but was returned to the heap (use after free)")
        if missing:
            _fail(f"span #{min(missing)} ({held_spans[min(missing)].nbytes} bytes) is held (counted in "
                  "StackInuse) but no stack, cache, pool or free list has it (leaked)")
    if handed_out is not None:
        if set(held) != set(handed_out):
            extra, missing = set(held) - set(handed_out), set(handed_out) - set(held)
            if extra:
                k = min(extra)
                _fail(f"{held[k]} holds span #{k[0]} slot {k[1]}, which stackalloc never handed out or "
                      "which was freed (use after free)")
            k = min(missing)
            _fail(f"the stack at span #{k[0]} slot {k[1]} was handed out by stackalloc and never freed, but "
                  "no goroutine or M holds it (lost)")
        for k, size in held_size.items():
            if handed_out[k] != size:
                _fail(f"the stack at span #{k[0]} slot {k[1]} was handed out with {handed_out[k]} bytes but is "
                      f"held as {size}")

    # every byte of every span in exactly one place
    by_span: dict[int, list[int]] = {}
    for sid, slot in where:
        by_span.setdefault(sid, []).append(slot)
    pool_free = pool_span_bytes = 0
    for span in spans.values():
        out = by_span.get(span.id, [])
        if span.order >= 0:
            elem = span.elemsize
            if elem != prof.fixed_stack << span.order or span.nbytes != prof.stack_cache_size:
                _fail(f"{span!r}: elemsize {elem} / {span.nbytes} bytes do not fit order {span.order}")
            nslots = span.nbytes // elem
            free = span.free
            free_set = set(free)
            if len(free_set) != len(free) or any(not 0 <= i < nslots for i in free):
                _fail(f"{span!r}: free list {free} has repeats or slots out of range 0..{nslots - 1}")
            if any(not 0 <= i < nslots for i in out):
                _fail(f"{span!r}: a stack claims slot {max(out)} of {nslots}")
            both = free_set.intersection(out)
            if both:
                _fail(f"{span!r}: slot {min(both)} is free in the span and also in {where[(span.id, min(both))]}")
            if len(out) + len(free) != nslots:
                _fail(f"{span!r}: {len(out)} stacks out + {len(free)} free != {nslots} slots "
                      f"({nslots - len(out) - len(free)} stack(s) lost)")
            if span.alloc_count != nslots - len(free):
                _fail(f"{span!r}: allocCount {span.alloc_count} != {nslots - len(free)} stacks out")
            linked = span.id in st.stackpool[span.order]
            if linked != bool(free):
                _fail(f"{span!r}: in stackpool={linked} but has {len(free)} free slots")
            if span.in_pool != linked:
                _fail(f"{span!r}: in_pool={span.in_pool} but linked={linked}")
            if span.alloc_count == 0 and span.id not in st.empty_pool_spans:
                _fail(f"{span!r}: no stack out but the span was not freed (GC off) or kept for freeStackSpans")
            pool_free += len(free) * elem
            pool_span_bytes += span.nbytes
        else:
            k = (span.id, 0)
            if out != [0]:
                _fail(f"large span #{span.id} ({span.nbytes} bytes) holds stacks at slots {out} (expected "
                      "exactly one place for the whole span)")
            what = where[k]
            if not what.startswith("stackLarge"):
                if held_size[k] != span.nbytes:
                    _fail(f"large span #{span.id} has {span.nbytes} bytes but its stack claims {held_size[k]}")
                if span.large_free or span.alloc_count != 1:
                    _fail(f"large span #{span.id} is held by {what} but large_free={span.large_free}, "
                          f"allocCount={span.alloc_count}")
    # held spans = spans the heap handed out and did not get back
    total = sum(s.nbytes for s in spans.values())
    if total != rt.mheap.in_stacks:
        _fail(f"StackInuse {rt.mheap.in_stacks} != {total} bytes of the {len(spans)} stack spans held")
    if len(spans) != rt.mheap.spans_allocated - rt.mheap.spans_freed:
        _fail(f"{len(spans)} stack spans held but the heap has {rt.mheap.spans_allocated} allocated - "
              f"{rt.mheap.spans_freed} freed")
    # running totals against recounts
    live = rt.live
    if set(live) != live_ids:
        _fail(f"runtime.live lists goroutines {sorted(set(live) ^ live_ids)[:5]} wrongly")
    users = [g for g in live.values() if g.kind == "user"]
    sizes = Counter(g.stack.size for g in users)
    recount = {
        "stacks.cached_bytes": (st.cached_bytes, cached_total),
        "stacks.pool_free_bytes": (st.pool_free_bytes, pool_free),
        "stacks.pool_span_bytes": (st.pool_span_bytes, pool_span_bytes),
        "stacks.large_free_bytes": (st.large_free_bytes, large_free),
        "stacks.stacks_in_use_bytes": (st.stacks_in_use_bytes, held_bytes),
        "runtime.live_stack_bytes": (rt.live_stack_bytes, sum(g.stack.size for g in live.values())),
        "runtime.live_used": (rt.live_used, sum(g.sp_used for g in live.values())),
        "runtime.user_stack_bytes": (rt.user_stack_bytes, sum(sizes[s] * s for s in sizes)),
        "runtime.runtime_goroutines": (rt.runtime_goroutines,
                                       sum(g.kind in ("system", "markworker") for g in live.values())),
    }
    if hasattr(rt, "local_runnable"):  # the scheduler's count of goroutines in runnext and local queues
        recount["runtime.local_runnable"] = (rt.local_runnable, sum(len(pp.runq) + (pp.runnext is not None)
                                                                     for pp in rt.allp))
    for name, (kept, actual) in recount.items():
        if kept != actual:
            _fail(f"{name}: running total {kept} != recount {actual}")
    if +rt.user_size_counts != sizes:
        _fail(f"goroutines by stack size {dict(rt.user_size_counts)} != recount {dict(sizes)}")
    if rt.mheap.peak_in_stacks < rt.mheap.in_stacks:
        _fail(f"peak StackInuse {rt.mheap.peak_in_stacks} < StackInuse {rt.mheap.in_stacks}")
    # dead goroutines: each on exactly one free list, kept stacks only on gFree.stack
    on_lists: dict[int, str] = {}
    for name, lst in [(f"P{pp.id}.gFree", pp.gfree) for pp in rt.allp] + \
            [("sched.gFree.stack", rt.gfree_stack), ("sched.gFree.noStack", rt.gfree_nostack)]:
        for gp in lst:
            if gp.status != "dead":
                _fail(f"goroutine {gp.goid} ({gp.status}) is on the free list {name}")
            if id(gp) in on_lists:
                _fail(f"dead goroutine {gp.goid} is on {on_lists[id(gp)]} and {name}")
            on_lists[id(gp)] = name
            if (name == "sched.gFree.stack") != (gp.stack is not None) and name.startswith("sched"):
                _fail(f"dead goroutine {gp.goid} with stack {gp.stack!r} is on {name}")


def _held_stacks(rt):
    for gp in rt.allgs:
        if gp.stack is not None:
            yield gp.stack
    yield from rt.m_stacks


class InvariantChecker(Tracer):
    """Checks one runtime's invariants at every event (a tracer) and when the engine says it is settled."""

    def __init__(self, rt):
        self.rt = rt
        self.handed_out: dict[tuple[int, int], int] = {}  # (span id, slot) -> size
        self.held_spans: dict[int, object] = {}  # span id -> Span, as the heap handed them out
        self.held_bytes = 0
        self.op = "start"  # the last operation the engine finished (for messages)
        self.counts = Counter()  # events and operations seen (the tests check the checker saw them)
        self._seed()

    def _seed(self) -> None:
        """Ledgers from the state when attached (the runtime's start-up stacks)."""
        rt = self.rt
        check_state(rt)
        for s in _held_stacks(rt):
            self.handed_out[_key(s)] = s.size
        spans = {s.span.id: s.span for s in _held_stacks(rt)}
        for pp in rt.allp:
            for lst in pp.stackcache.lists:
                spans.update((s.span.id, s.span) for s in lst)
        for pool in rt.stacks.stackpool:
            spans.update(pool)
        for bucket in rt.stacks.stack_large.values():
            spans.update((s.id, s) for s in bucket)
        self.held_spans = spans
        self.held_bytes = sum(s.nbytes for s in spans.values())

    # --- messages ---------------------------------------------------------------------
    def _where(self) -> str:
        try:
            now = float(self.rt.now())
        except Exception:  # noqa: BLE001 - a clock that cannot be read is no reason to hide the error
            now = float("nan")
        return f"at t={now:.9g}s after {self.op}"

    def fail(self, msg: str) -> None:
        raise InvariantError(f"invariant violated {self._where()}: {msg}")

    def _event(self, what: str) -> None:
        """After every event: the spans held add up to StackInuse and no counter is negative."""
        self.counts["events"] += 1
        rt = self.rt
        if rt.mheap.in_stacks != self.held_bytes:
            self.fail(f"after {what}: StackInuse {rt.mheap.in_stacks} != {self.held_bytes} bytes of the "
                      f"{len(self.held_spans)} stack spans the heap handed out")
        try:
            check_counters(rt)
        except InvariantError as e:
            self.fail(f"after {what}: {e}")

    # --- the engine's quiescent points ------------------------------------------------
    def settled(self, what: str) -> None:
        """The engine finished runtime operation ``what``: nothing is half done, check everything."""
        self.counts[what] += 1
        self.op = what
        self.full_check(what)

    def full_check(self, what: str) -> None:
        """check_state against the ledgers."""
        self.counts["full_check"] += 1
        try:
            check_state(self.rt, self.handed_out, self.held_spans)
        except InvariantError as e:
            self.fail(f"after {what}: {e}")

    # --- the tracer: the ledgers follow the allocator's events ------------------------
    def on_span_alloc(self, g, p, span, size):
        self.counts["span_alloc"] += 1
        if span.id in self.held_spans:
            self.fail(f"the heap handed out span #{span.id} twice")
        self.held_spans[span.id] = span
        self.held_bytes += span.nbytes
        self._event(f"allocating span #{span.id}")

    def on_span_free(self, g, p, span, size):
        self.counts["span_free"] += 1
        if self.held_spans.pop(span.id, None) is None:
            self.fail(f"span #{span.id} returned to the heap twice (or never allocated)")
        self.held_bytes -= span.nbytes
        stuck = [k for k in self.handed_out if k[0] == span.id]
        if stuck:
            self.fail(f"span #{span.id} returned to the heap while its stack at slot {stuck[0][1]} is "
                      "still handed out")
        self._event(f"freeing span #{span.id}")

    def on_stackalloc(self, g, p, n, stk):
        self.counts["stackalloc"] += 1
        k = _key(stk)
        if stk.size != max(n, self.rt.profile.fixed_stack):  # a request below _FixedStack gets one
            self.fail(f"stackalloc({n}) returned a {stk.size}-byte stack")
        if stk.span.id not in self.held_spans:
            self.fail(f"stackalloc({n}) returned {stk!r} from span #{stk.span.id}, which the heap does "
                      "not hand to stacks (freed or never allocated)")
        if k in self.handed_out:
            self.fail(f"stackalloc({n}) handed out span #{k[0]} slot {k[1]} a second time without a free")
        self.handed_out[k] = stk.size
        self._event(f"stackalloc({n})")

    def on_stackfree(self, g, p, stk):
        self.counts["stackfree"] += 1
        k = _key(stk)
        size = self.handed_out.pop(k, None)
        if size is None:
            self.fail(f"stackfree of {stk!r} (span #{k[0]} slot {k[1]}), which is not handed out: "
                      "freed twice, or never allocated")
        if size != stk.size:
            self.fail(f"stackfree of {stk!r} with size {stk.size}, allocated as {size}")
        if stk.span.id not in self.held_spans:
            self.fail(f"stackfree of {stk!r} into span #{stk.span.id}, already returned to the heap")
        self._event(f"stackfree({stk.size})")

    def on_cache_refill(self, p, order, size, cached):
        self.counts["cache_refill"] += 1
        self._event(f"refilling P{p}'s cache of {size}-byte stacks")

    def on_cache_release(self, p, order, size, released):
        self.counts["cache_release"] += 1
        self._event(f"releasing P{p}'s cache of {size}-byte stacks")

    def _resize(self, kind, gp, old, new, used):
        self.counts[kind] += 1
        if (kind == "grow") != (new > old) or new & (new - 1) or used > old:
            self.fail(f"event {kind} of goroutine {gp.goid}: {old} -> {new} with {used} bytes used")
        self._event(f"{kind} of goroutine {gp.goid}")

    def on_grow(self, gp, p, old, new, used):
        self._resize("grow", gp, old, new, used)

    def on_shrink(self, gp, p, old, new, used):
        self._resize("shrink", gp, old, new, used)

    def on_spawn(self, gp, p):
        self.counts["spawn"] += 1
        self._event(f"spawn of goroutine {gp.goid}")

    def on_exit(self, gp, p):
        self.counts["exit"] += 1
        self._event(f"exit of goroutine {gp.goid}")

    def on_overflow(self, gp, p, old, new, used, limit):
        self.counts["overflow"] += 1
        self._event(f"stack overflow of goroutine {gp.goid}")

    def on_gc_start(self, p, cycle, stack_inuse):
        self.counts["gc_start_event"] += 1
        self._event(f"gc_start of cycle {cycle}")

    def on_gc_end(self, cycle, stack_inuse):
        self.counts["gc_end_event"] += 1
        self._event(f"gc_end of cycle {cycle}")


def attach(rt) -> InvariantChecker:
    """Check ``rt`` from now on: a checker seeded from its state, attached as one more tracer."""
    chk = InvariantChecker(rt)
    rt.add_tracer(chk)
    chk.full_check("attach")
    return chk
