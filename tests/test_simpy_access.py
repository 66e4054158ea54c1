"""The SimPy internals the engine uses (simstack/engine/simpy_access.py) behave as it assumes,
on the installed SimPy: a SimPy release that changes them fails here, not as wrong results."""
from __future__ import annotations

import simpy

from simstack.engine import simpy_access


def test_a_triggered_event_runs_its_callback_at_that_instant_in_priority_order():
    env = simpy.Environment()
    seen = []

    def proc():
        yield env.timeout(1.5)
        env.schedule(simpy_access.Triggered(env, lambda ev: seen.append(("normal", env.now, ev.value))))
        env.schedule(simpy_access.Triggered(env, lambda ev: seen.append(("urgent", env.now, ev.value))),
                     simpy.core.URGENT)
        yield env.timeout(1)
        seen.append(("after", env.now, None))

    env.process(proc())
    env.run()
    assert seen == [("urgent", 1.5, None), ("normal", 1.5, None), ("after", 2.5, None)]


def test_stop_now_ends_the_run_before_anything_else_of_that_instant():
    env = simpy.Environment()
    seen = []

    def proc():
        yield env.timeout(2)
        env.schedule(simpy_access.Triggered(env, lambda ev: seen.append("same instant")))
        simpy_access.stop_now(env)
        yield env.timeout(0)
        seen.append("never")

    env.process(proc())
    env.run(until=10)
    assert seen == [] and env.now == 2


def test_pending_counts_the_scheduled_events_and_the_clock_is_now():
    env = simpy.Environment(initial_time=3.25)
    assert simpy_access.pending(env) == 0 and env._now == env.now == 3.25  # what TraceBuf stamps events with
    env.timeout(1)
    env.timeout(2)
    assert simpy_access.pending(env) == 2
    env.step()
    assert simpy_access.pending(env) == 1 and env._now == env.now == 4.25


def test_no_other_module_touches_simpy_internals():
    """The trace buffer's ``clock._now`` aside (the one read on the hot path, see the module)."""
    import re
    from pathlib import Path

    root = Path(simpy_access.__file__).resolve().parents[1]
    private = re.compile(r"\.(_queue|_now|_ok|_value|_eid|_defused)\b")
    users = {str(p.relative_to(root)) for p in root.rglob("*.py") if private.search(p.read_text())}
    assert users == {"engine/simpy_access.py", "runtime/tracebuf.py"}, users
