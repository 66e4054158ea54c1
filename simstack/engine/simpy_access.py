"""Every use of SimPy's private attributes, in this one module.

SimPy's public API schedules events through processes (generators); the engine instead
schedules plain events with callbacks (a P's loop, a fatal stop), which is much cheaper
per goroutine, and needs three things SimPy keeps private: an event's outcome (``_ok``,
``_value``), the event queue (``_queue``) and the clock (``_now``).
``tests/test_simpy_access.py`` checks each against the installed SimPy, and pyproject.toml
keeps SimPy below its next major version.

The recorder's ``bind(env)`` hands the Environment itself to the trace buffer
(``simstack.runtime.tracebuf``), which stamps each event with ``env._now``: one attribute
read per event, on the hot path, from a module that cannot import this one (the runtime
model does not know SimPy).
"""
from __future__ import annotations

import simpy
from simpy.core import URGENT, StopSimulation


class Triggered(simpy.Event):
    """An event that has already succeeded (value None), with one callback: scheduled with
    ``env.schedule``, the callback runs at that instant in priority order."""

    def __init__(self, env: simpy.Environment, callback) -> None:
        self.env = env
        self.callbacks = [callback]
        self._ok = True
        self._value = None


def stop_now(env: simpy.Environment) -> None:
    """End ``env.run()`` at this instant, before any other event of it (as ``run(until=...)``
    stops: StopSimulation raised from an urgent event's callback)."""
    env.schedule(Triggered(env, StopSimulation.callback), URGENT)


def pending(env: simpy.Environment) -> int:
    """How many events are scheduled."""
    return len(env._queue)
