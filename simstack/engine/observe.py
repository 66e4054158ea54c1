"""What the run records besides events: checkpoints and the footprint time series; and for
``simstack validate``'s timed model, main's sampling wake-ups, its end and a traced run's Ms.

A ``via: memstats`` checkpoint reads as ``runtime.ReadMemStats`` does (flushing every
P's stack cache first, so it changes the state as in a real program); ``via: metrics``
and the periodic sampler observe without side effects.
"""
from __future__ import annotations

from .simpy_access import stop_now
from .stop import RunStopped


class ObserveMixin:
    """Checkpoints and the footprint sampler (part of ``Simulation``)."""

    def checkpoint(self, cp):
        if self.main_ticks:
            yield self.ps.sleep_until(cp.at)  # validate's program: main reads it, when its turn comes
        else:
            yield self.env.timeout(max(0.0, cp.at - self.env.now))
        rt = self.rt
        fig = rt.read_memstats() if cp.via == "memstats" else rt.read_metrics()
        if self.checker is not None and cp.via == "memstats":
            self.checker.settled("read_memstats")
        full = rt.observe()
        full.update(fig)
        extra = {"goroutine_stacks": self.class_histograms()}
        if "stack_inuse_before_flush" in fig:
            extra["stack_inuse_before_flush"] = fig["stack_inuse_before_flush"]
        sizes = rt.goroutine_sizes()
        if self.tracer is not None:
            self.tracer.on_checkpoint(cp.label, self.env.now, cp.via, full, sizes, extra)
        self.rec.checkpoint(cp.label, self.env.now, cp.via, full, sizes, extra)

    def class_histograms(self) -> dict:
        """Live user goroutines by class and stack size: {class: {size: count}}."""
        out: dict = {}
        for gp in self.rt.live.values():
            if gp.kind == "user" and gp.ctx is not None:
                d = out.setdefault(gp.ctx.cls.spec.name, {})
                d[gp.stack.size] = d.get(gp.stack.size, 0) + 1
        return out

    def sample_every(self) -> float:
        sc = self.scenario
        if sc.record.sample_every:
            return sc.record.sample_every
        horizon = sc.duration or self.horizon_hint()
        return horizon / 1000 if horizon else 0.001

    def horizon_hint(self) -> float:
        sc = self.scenario
        ts = list(sc.gc.at) + [c.at for c in sc.checkpoints]
        for g in getattr(sc, "gates", None) or []:
            ts += list(g.open_at)
        for c in sc.goroutines:
            a = c.arrival
            ts += [a.at or 0, a.start or 0] + list(a.times or []) + ([a.until] if a.until else [])
            if getattr(a, "bursts", None) and a.every:
                ts.append((a.at or 0) + (a.bursts - 1) * a.every)
        return max(ts) if ts else 0.0

    def sampler(self):
        env = self.env
        dt = self.sample_every()
        while True:
            self._sample()
            if self._only_daemons_left():
                return
            yield env.timeout(dt)
            if self.progress is not None:
                self.progress(env.now)

    def main_tick(self, every: float):
        """Main's own periodic wake-up (validate's program reading StackInuse): a sleep to the next
        point of the grid, skipping the points it was too late for, as the program does."""
        ps = self.ps
        k = 1
        while True:
            yield ps.sleep_until(k * every)
            if self._only_daemons_left():
                return
            k = max(k + 1, int(self.env.now / every) + 1)

    def ms_seen(self, seen: list):
        """The Ms a traced run had: from each ``(time, count)`` on, at least ``count`` (``newm``; an M
        the model started itself counts)."""
        rt = self.rt
        for t, n in seen:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            while rt.threads is not None and rt.threads < n:
                rt.newm(rt.allp[0])

    def main_end(self, at: float):
        """Validate's program ends when its main reaches the end event, due at ``at``, after the
        events due before it (``runtime.GC()`` calls it was held from, too); its goroutines' scripts
        end at ``at`` (``Ps.wind_down``). The run stops there."""
        done = self.ps.sleep_until(at)
        yield self.env.timeout(max(0.0, at - self.env.now))
        self.ps.wind_down = True
        yield done
        while self.gc_owed(at):
            yield self.env.timeout(self.main_ticks)  # main is still in runtime.GC() calls due before
        stop_now(self.env)

    def _sample(self):
        if self.max_events is not None and self.rec.n_events >= self.max_events and not self.finished:
            raise RunStopped(f"stopped at {self.rec.n_events:,} events: the limit is {self.max_events:,} "
                             "(--max-events)")
        self.rec.sample(self.env.now, self.rt.observe(), self.rt.goroutine_sizes())
