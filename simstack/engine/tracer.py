"""What the engine reports besides the runtime model's events, for tracers that follow a whole run.

An :class:`EngineTracer` is a runtime :class:`~simstack.runtime.tracer.Tracer` that also
hears what only the engine knows: which goroutine's program the Ps are executing, a hand-off
on a gate, a semaphore release, a checkpoint.  ``Simulation.attach`` gives it to the
runtime (after the recorder) and to the Ps; ``simstack validate``'s plan and timed
schedule are EngineTracers.  Every method is a no-op here; the engine calls them only when
one is attached, so a run without costs nothing.
"""
from __future__ import annotations

from ..runtime.tracer import Tracer


class EngineTracer(Tracer):
    """The runtime's events plus the engine's points, each a no-op here."""

    def on_execute(self, gp) -> None:
        """The Ps start (or go on) executing ``gp``'s program."""

    def on_execute_end(self, gp) -> None:
        """``gp``'s program stopped: it parked, exited or holds its P for a run slice."""

    def on_send(self, gate: str) -> None:
        """A send on ``gate``'s channel starts (a ``wake`` step, or main's ``wake_at``)."""

    def on_send_end(self, gate: str) -> None:
        """The send on ``gate`` is done (its first waiter, if any, was readied)."""

    def on_sem_release(self, name: str) -> None:
        """A ``release`` of semaphore ``name`` starts (before a waiter takes the token)."""

    def on_checkpoint(self, label: str, time: float, via: str, fig: dict, sizes: dict, extra: dict) -> None:
        """Checkpoint ``label`` read ``fig`` (as the recorder's ``checkpoint`` gets it)."""
