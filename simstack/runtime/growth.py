"""Stack growth and shrinking: the prologue check, ``newstack``, ``copystack``, ``shrinkstack``.

Growth is decided exactly as the compiler's prologue does it.  With U = hi - SP at a
function's entry (return address pushed) and S the stack size, a function with frame F
calls morestack iff ``U + max(0, F - StackSmall) >= S - StackGuard`` (obj6.go:
stacksplit; the huge-frame form gives the same answer).  A run of identical recursive
calls is solved in closed form: the first call that fails the check is found by
division, so a goroutine going 10,000 frames deep costs one step per doubling.
"""
from __future__ import annotations

from collections import Counter

from mypy_extensions import trait

from .proc import G, P
from .profiles import Frame, Profile
from .stack import Limits, StackAllocator
from .tracer import Tracer


class StackOverflow(Exception):
    """The runtime's fatal error: ``goroutine stack exceeds N-byte limit`` / ``stack overflow``."""

    def __init__(self, goid: int, newsize: int, limit: int, depth: int):
        super().__init__(goid, newsize, limit, depth)  # plain args: SimPy re-raises with type(e)(*e.args)
        self.goid, self.newsize, self.limit, self.depth = goid, newsize, limit, depth

    def __str__(self) -> str:
        return f"runtime: goroutine stack exceeds {self.limit}-byte limit\nfatal error: stack overflow"


@trait
class GrowthMixin:
    """Moving a goroutine's call stack, growing and shrinking its stack, as Runtime methods."""

    # the Runtime's state this part reads (declared for mypyc, which compiles the mixins as traits)
    profile: Profile
    k: Limits
    stacks: StackAllocator
    tracer: Tracer
    totals: Counter[str]
    live_stack_bytes: int

    def set_used(self, gp: G, used: int) -> None:
        raise NotImplementedError  # ProcMixin's

    def on_resize(self, gp: G, old: int, new: int) -> None:
        raise NotImplementedError  # Runtime's

    def morestack_needed(self, used: int, frame: int, size: int) -> bool:
        """The prologue check (stacksplit): does entering ``frame`` at ``used`` need morestack?"""
        prof = self.profile
        return used + max(0, frame - prof.stack_small) >= size - prof.stack_guard

    def call(self, gp: G, p: P, frame: int, nosplit: bool = False) -> None:
        """Enter one function of ``frame`` bytes: push the return slot, run its prologue, allocate."""
        k = self.k
        used = gp.top + k.call_slot
        if not nosplit:
            # morestack_needed, inlined: this runs for every frame on every park path
            extra = frame - k.stack_small if frame > k.stack_small else 0
            while used + extra >= gp.stack.size - k.stack_guard:
                self.newstack(gp, p, used, frame)
        gp.top = used + frame

    def call_run(self, gp: G, p: P, frame: int, count: int) -> None:
        """``count`` nested calls of one function (recursion), solved per doubling, not per frame."""
        k = self.k
        step = frame + k.call_slot
        extra = max(0, frame - k.stack_small)
        done = 0
        while done < count:
            # first call j (0-based, from here) whose entry U_j = top + slot + j*step fails the check
            threshold = gp.stack.size - k.stack_guard - extra
            first = gp.top + k.call_slot
            j = 0 if first >= threshold else -((first - threshold) // step)
            if done + j >= count:
                gp.top += (count - done) * step
                break
            gp.top += j * step
            done += j
            try:
                self.call(gp, p, frame)  # grows (one or more doublings) and enters the frame
            except StackOverflow as exc:  # report the depth of the call that could not grow
                raise StackOverflow(exc.goid, exc.newsize, exc.limit, gp.depth + done + 1) from None
            done += 1
        self._push_segment(gp, frame, count)

    def _push_segment(self, gp: G, frame: int, count: int) -> None:
        if gp.segments and gp.segments[-1][0] == frame:
            gp.segments[-1][1] += count
        else:
            gp.segments.append([frame, count])
        gp.depth += count

    def move_to_depth(self, gp: G, p: P, depth: int, frame: int) -> None:
        """Return from or call recursive frames until ``depth`` of them lie below the entry frame."""
        if depth > gp.depth:
            self.call_run(gp, p, frame, depth - gp.depth)
        elif depth < gp.depth:
            drop = gp.depth - depth
            step_slot = self.k.call_slot
            while drop:
                seg = gp.segments[-1]
                k = min(drop, seg[1])
                gp.top -= k * (seg[0] + step_slot)
                seg[1] -= k
                drop -= k
                if not seg[1]:
                    gp.segments.pop()
            gp.depth = depth
        self.set_used(gp, gp.top)

    def enter(self, gp: G, p: P) -> None:
        """The goroutine starts: its entry function's prologue runs on the fresh stack."""
        gp.status = "running"
        gp.p = p.id
        # gogo jumps to the entry function with hi - SP = newproc_reserve (goexit's PC pushed)
        gp.top = self.k.newproc_reserve - self.k.call_slot
        self.call(gp, p, gp.entry_frame)
        self.set_used(gp, gp.top)

    def park(self, gp: G, p: P, park_frames=(), transient: int | None = None, park_path=None) -> None:
        """Block at the current depth: user frames, a transient call, the runtime's park path
        (``park_path``: (frame, nosplit) pairs replacing the profile's, as ``Limits.park_path``)."""
        base = gp.top
        for f in park_frames:
            self.call(gp, p, f)
        if transient:
            saved = gp.top
            self.call(gp, p, transient)
            gp.top = saved
        for frame, nosplit in (self.k.park_path if park_path is None else park_path):
            self.call(gp, p, frame, nosplit)
        self.set_used(gp, gp.top)  # gopark's SP: mcall saves it in g.sched
        gp.top = base
        gp.status = "waiting"
        self.tracer.on_park(gp, p.id)

    def mallocgc(self, gp: G, p: P, sweeps: bool = False) -> None:
        """mallocgc's deepest path on the goroutine's stack, from the current depth (refill down to
        mheap.alloc, which goes on on the system stack; ``sweeps``: deductSweepCredit's sweep, deeper);
        it returns, so it can only grow the stack."""
        saved = gp.top
        for frame, nosplit in (self.k.malloc_sweep_path if sweeps else self.k.malloc_path):
            self.call(gp, p, frame, nosplit)
        gp.top = saved

    def run_transient(self, gp: G, p: P, transient: int) -> None:
        """Call and return from one function at the current depth (it can only grow the stack)."""
        saved = gp.top
        self.call(gp, p, transient)
        gp.top = saved

    def newstack(self, gp: G, p: P, used: int, frame: int) -> None:
        """newstack: double the stack (1.19+: until the frame fits), or die past max_stack."""
        prof = self.profile
        old = gp.stack.size
        newsize = old * prof.growth_factor
        if prof.newstack_fits_frame:
            needed = frame + prof.stack_guard  # funcMaxSPDelta(f) + StackGuard
            while newsize - used < needed:
                newsize *= prof.growth_factor
        limit = prof.max_stack
        if prof.max_stack_ceiling is not None:
            limit = min(limit, prof.max_stack_ceiling)
        if newsize > limit:
            self.tracer.on_overflow(gp, p.id, old, newsize, used, limit)
            raise StackOverflow(gp.goid, newsize, limit, gp.depth)
        self.copystack(gp, p, newsize, used, "grow")
        gp.grows += 1

    def copystack(self, gp: G, p: P | None, newsize: int, used: int, kind: str) -> None:
        """copystack: allocate the new stack, copy ``used`` bytes, then free the old one."""
        old = gp.stack
        cache = p.stackcache if p is not None else None
        pid = p.id if p is not None else -1
        new = self.stacks.stackalloc(newsize, cache, gp.goid, pid)
        self.stacks.stackfree(old, cache, gp.goid, pid)
        gp.stack = new
        if gp.status != "dead":
            self.live_stack_bytes += newsize - old.size
        gp.bytes_copied += used
        if gp.kind == "user":  # the headline counts the workload's copies, not the runtime's own
            self.totals[kind] += 1
            self.totals["bytes_copied"] += used
        if newsize > gp.max_size:
            gp.max_size = newsize
        if kind == "grow":
            self.tracer.on_grow(gp, pid, old.size, newsize, used)
        else:
            self.tracer.on_shrink(gp, pid, old.size, newsize, used)
        self.on_resize(gp, old.size, newsize)

    def shrinkstack(self, gp: G, p: P | None) -> bool:
        """shrinkstack: halve the stack if less than a quarter (with the nosplit slack) is used."""
        prof = self.profile
        if prof.gcshrinkstackoff or gp.stack is None:
            return False
        if gp.kind == "markworker" and prof.mark_worker_no_shrink:
            return False
        oldsize = gp.stack.size
        newsize = oldsize // 2
        if newsize < prof.fixed_stack:
            return False
        used = gp.sp_used + prof.stack_limit
        if used >= int(oldsize * prof.shrink_below):
            return False
        self.copystack(gp, p, newsize, gp.sp_used, "shrink")
        gp.shrinks += 1
        return True


__all__ = ["GrowthMixin", "StackOverflow", "Frame"]
