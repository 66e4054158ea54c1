"""Proportional sweeping (``runtime/mgcsweep.go``, ``mgcpacer.go``): whether an allocation sweeps first.

After each cycle every in-use heap span is unswept. ``gcPaceSweeper`` sets ``sweepPagesPerByte``
so that the allocating goroutines have swept them all by the time the heap is 1 MiB short of the
next trigger, and ``deductSweepCredit`` (on every span refill and large allocation) sweeps spans
until the pages swept since then reach ``sweepPagesPerByte`` times the bytes allocated. The
background sweeper (``bgsweep``) sweeps too, on a P with nothing else to run, and puts the
allocators ahead of their debt. An allocation that sweeps runs ``sweepone`` → ``sweep`` on the
goroutine's stack: the profile's ``malloc_sweep_path``, hundreds of bytes deeper than ``malloc_path``.

The heap's spans are not modelled: the sweeper counts pages, the heap in use at the cycle's end
divided by the page size, swept continuously (a span's pages are not one lump).
"""
from __future__ import annotations

# mgcpacer.go's sweepMinHeapDistance: proportional sweep is paced to finish this far short of the trigger
SWEEP_MIN_HEAP_DISTANCE = 1 << 20


class Sweeper:
    """mheap_'s sweep state: pagesInUse, pagesSwept, sweepPagesPerByte."""

    def __init__(self, page_size: int, bg_page_cost: float) -> None:
        self.page_size = page_size
        self.bg_page_cost = bg_page_cost  # bgsweep's P time per page swept (0: bgsweep not modelled)
        self.pages_in_use = 0.0
        self.pages_swept = 0.0  # by allocating goroutines, since the cycle's end
        self.pages_per_byte = 0.0  # 0: sweeping is done (or was never paced)
        self.idle_basis = 0.0  # idle P time at the cycle's end, when bgsweep was readied

    def gcPaceSweeper(self, heap_bytes: float, heap_distance: float, idle_seconds: float) -> None:
        """gcPaceSweeper: all of the heap's pages unswept, to be swept over ``heap_distance`` bytes
        of allocation (trigger − live heap − sweepMinHeapDistance; at least a page)."""
        self.pages_in_use = heap_bytes / self.page_size
        self.pages_swept = 0.0
        self.idle_basis = idle_seconds
        distance = max(heap_distance, float(self.page_size))
        self.pages_per_byte = self.pages_in_use / distance if self.pages_in_use > 0 else 0.0

    def finishsweep_m(self) -> None:
        """finishsweep_m (gcStart) or runtime.GC()'s sweep loop: every span swept."""
        self.pages_per_byte = 0.0

    def isSweepDone(self) -> bool:
        """isSweepDone."""
        return self.pages_per_byte == 0.0

    def deductSweepCredit(self, allocated: float, idle_seconds: float) -> bool:
        """deductSweepCredit: whether an allocation made when ``allocated`` bytes have been allocated
        since the cycle's end sweeps spans first (its debt exceeds what was swept), and pay it.
        ``idle_seconds``: the time so far with a P idle, on which bgsweep sweeps."""
        if self.pages_per_byte == 0.0:
            return False
        bg = (idle_seconds - self.idle_basis) / self.bg_page_cost if self.bg_page_cost > 0 else 0.0
        swept = self.pages_swept + bg
        if swept >= self.pages_in_use:
            self.pages_per_byte = 0.0  # sweepone found nothing left: proportional sweep is over
            return False
        debt = self.pages_per_byte * allocated - swept
        if debt <= 0.0:
            return False
        self.pages_swept += min(debt, self.pages_in_use - swept)
        return True
