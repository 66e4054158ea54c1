"""``simstack validate``: check the model against a real Go runtime on a scenario.

>>> v = validate("scenarios/walkthrough.yaml", runs=3)          # doctest: +SKIP
>>> v.ok, v.table[["checkpoint", "simulated_delta", "nearest_measured"]]   # doctest: +SKIP

The steps (each in its own module):

1. :mod:`.toolchain` finds a Go toolchain and runs it offline; its release picks the
   runtime profile the scenario is simulated with.
2. :mod:`.plan` simulates the scenario with hooks and turns the model's run into a
   script of phases (or refuses what a deterministic program cannot express).
3. :mod:`.gosource` generates the Go program, fits every frame to the size the scenario
   gives (building with ``-gcflags=-S`` and reading ``$FRAME``) and writes the plan file.
4. :mod:`.runner` runs the program ``runs`` times; :mod:`.compare` compares every
   checkpoint and writes ``validation.csv``/``.json``/``.png``.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..runtime.profiles import resolve_profile
from .compare import compare as compare_checkpoints, markdown, render, substituted, write_report
from .gosource import BuildError, Layout, fit, plan_text, source_digest
from .plan import NotExpressible, build_plan, describe, for_toolchain, frame_targets, static_problems, \
    with_achieved_frames
from .runner import ProgramError, program_env, run_program
from .toolchain import Toolchain, ToolchainError, check_supported, find_toolchain

__all__ = ["BuildError", "NotExpressible", "ProgramError", "ToolchainError", "Validation", "find_toolchain",
           "generate", "validate"]

_CACHE_DIR: Path | None = None


def default_cache_dir() -> Path:
    """The build cache (GOCACHE, GOPATH): ``$SIMSTACK_GOCACHE`` if set (kept), else a temporary
    directory for this process, removed when it exits."""
    global _CACHE_DIR
    if os.environ.get("SIMSTACK_GOCACHE"):
        return Path(os.environ["SIMSTACK_GOCACHE"])
    if _CACHE_DIR is None:
        _CACHE_DIR = Path(tempfile.mkdtemp(prefix="simstack-gocache-"))
        atexit.register(shutil.rmtree, _CACHE_DIR, True)
    return _CACHE_DIR


@dataclass
class Generated:
    """A program generated and built for a scenario and a toolchain (see :func:`generate`)."""

    scenario: object  # as loaded
    simulated: object  # as simulated: the toolchain's version, the frames achieved
    toolchain: Toolchain
    plan: object
    layout: Layout
    program_dir: Path
    notes: list = field(default_factory=list)

    def frames(self) -> list[dict]:
        return [{"function": f"main.{f.name}", "role": f.key[0], "target": f.target, "reported": f.reported,
                 "exact": f.reported == f.target} for f in self.layout.funcs.values()]


@dataclass
class Validation(Generated):
    """The outcome of :func:`validate`: the comparison table, the runs, and what was noted."""

    table: object = None
    runs: list = field(default_factory=list)
    tolerance: float = 0.02
    tolerance_bytes: int = 0
    replications: int = 1  # the model's runs (race model seeds) each checkpoint's band is made of
    replicas: list = field(default_factory=list)  # their plans (the model's start), ``plan`` first

    @property
    def ok(self) -> bool:
        return bool(self.runs) and bool(self.table["ok"].all())

    def meta(self) -> dict:
        sc, tc = self.scenario, self.toolchain
        return {
            "scenario": sc.name, "source": sc.source,
            "toolchain": {"version": tc.version, "platform": tc.platform, "go": str(tc.go), "found_by": tc.source},
            "profile": self.simulated.runtime.version, "gomaxprocs": self.simulated.runtime.gomaxprocs,
            "godebug": dict(self.simulated.runtime.godebug), "runs": len(self.runs),
            "replications": self.replications,
            "tolerance": self.tolerance, "tolerance_bytes": self.tolerance_bytes,
            "ok": self.ok, "failed": [r["checkpoint"] for r in self.table.to_dict("records") if not r.get("ok", True)]
            if self.table is not None and "ok" in self.table else [],
            "program": describe(self.plan), "frames": self.frames(), "notes": list(self.notes),
        }

    def render(self) -> str:
        return render(self.table, self.frames())

    def markdown(self) -> str:
        return markdown(self.table, self.frames())

    def write(self, out) -> list[Path]:
        return write_report(Path(out), self.table, self.meta(), self.plan, self.runs, self.replicas)


def _load(scenario_or_path):
    from ..scenario import load_scenario
    if isinstance(scenario_or_path, (str, Path)):
        return load_scenario(scenario_or_path)
    return scenario_or_path


def generate(scenario_or_path, *, go=None, toolchain: Toolchain | None = None, program_dir=None,
             cache_dir=None, log=None) -> Generated:
    """Plan, generate, fit and build the program for a scenario (no runs). Raises ToolchainError,
    NotExpressible, BuildError."""
    log = log or (lambda _m: None)
    sc = _load(scenario_or_path)
    tc = toolchain or find_toolchain(go)
    minor = check_supported(tc)
    log(f"toolchain: {tc.describe()}")
    problems = static_problems(sc, tc.platform)
    sim_sc, notes = for_toolchain(sc, tc.version, minor)
    plan = build_plan(sim_sc, problems)  # refuse early, before any build
    lay = Layout.from_targets(frame_targets(sim_sc))
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if program_dir is None:
        program_dir = Path(tempfile.mkdtemp(prefix="simstack-program-"))
        atexit.register(shutil.rmtree, program_dir, True)
    program_dir = Path(program_dir).resolve()  # the program runs with its directory as cwd
    rs = sim_sc.runtime
    prof = resolve_profile(rs.version, rs.platform, godebug=rs.godebug, max_stack=rs.max_stack)
    # main waits in runtime.GC() with about the used stack the profile says (its shrink decision)
    gc_pad = max(0, prof.main_gc_wait_used - 512)
    log(f"fitting {len(lay.funcs)} frames ({tc.version}, go build -gcflags=-S)")
    fit(lay, tc, program_dir, cache, rs.max_stack, gc_pad, main_stack=rs.main_stack or prof.main_stack)
    if lay.achieved():
        sim_sc = with_achieved_frames(sim_sc, lay, tc.version, notes)
        plan = build_plan(sim_sc)
    (program_dir / "plan.txt").write_text(plan_text(plan, lay))
    gen = Generated(sc, sim_sc, tc, plan, lay, program_dir, notes)
    _write_readme(gen)
    log(f"program: {describe(plan)} -> {program_dir}")
    return gen


def replications_for(runtime, replications: int | None = None) -> int:
    """Model runs per comparison for a scenario's ``runtime``: ``replications`` (default ``simstack
    reference``'s) at GOMAXPROCS >= 2 with the race model on, where each is a different run; else 1
    (GOMAXPROCS 1 has no race, and ``runtime.races: false`` draws none: every run is the same)."""
    from ..reference.runner import REPLICATIONS
    racing = runtime.gomaxprocs > 1 and getattr(runtime, "races", True)
    return (REPLICATIONS if replications is None else replications) if racing else 1


def validate(scenario_or_path, *, go=None, toolchain: Toolchain | None = None, runs: int = 3,
             tolerance: float = 0.02, tolerance_bytes: int = 0, program_dir=None, cache_dir=None,
             timeout: float = 1800, log=None, replications: int | None = None) -> Validation:
    """Generate the program for a scenario, run it ``runs`` times, and compare every checkpoint with
    the model's band over ``replications`` (:func:`replications_for`) seeds of its race model."""
    log = log or (lambda _m: None)
    gen = generate(scenario_or_path, go=go, toolchain=toolchain, program_dir=program_dir, cache_dir=cache_dir,
                   log=log)
    results = []
    for i in range(runs):
        log(f"run {i + 1}/{runs}")
        results.append(run_program(gen.program_dir, gen.simulated, len(gen.plan.checkpoints), gen.toolchain,
                                   timeout=timeout))
    # each run against the model started as that run was at its baseline: its number of threads (Ms)
    # and main's stack (what the program's start-up left it, if growMain could not make it the model's)
    # the replications vary the race model's seed alone: seed, seed + 1, ... (simstack reference's
    # seeds 0, 1, ... for its scenarios of seed 0, which draw nothing else)
    pb, sc = gen.plan.baseline, gen.plan.scenario
    seeds = [sc.seed + i for i in range(replications_for(sc.runtime, replications))]
    if len(seeds) > 1:
        log(f"simulating {len(seeds) - 1} more replication(s) of the race model (seeds {seeds[1]}..{seeds[-1]})")
    replicas = [gen.plan] + [build_plan(sc, [], races_seed=s) for s in seeds[1:]]
    models = {(pb.get("threads"), pb.get("main_stack")): replicas}
    for r in results:
        key = _start_of(r, pb)
        if key not in models:
            log(f"simulating again with {key[0]} threads at start and a {key[1]}-byte main stack, as a run had")
            models[key] = [build_plan(sc, [], threads=key[0], main_stack=key[1], races_seed=s) for s in seeds]
    sims = [models[_start_of(r, pb)] for r in results]
    table = compare_checkpoints(gen.plan, results, tolerance, tolerance_bytes, sims, replicas)
    # the simulated figures are for the frames the compiler reported: say so on every row
    table["frames_substituted"] = "; ".join(f"{f['function']} ({f['role']}) {f['target']} -> {f['reported']} B"
                                            for f in substituted(gen.frames()))
    return Validation(**gen.__dict__, table=table, runs=results, tolerance=tolerance,
                      tolerance_bytes=tolerance_bytes, replications=len(seeds), replicas=replicas)


def _start_of(run: dict, model_baseline: dict) -> tuple:
    """(threads, main's stack) of a run at its baseline; the model's where the run does not say."""
    b = run["baseline"]
    return (b.get("num_threads") or model_baseline.get("threads"), b.get("main_stack") or model_baseline.get("main_stack"))


def _write_readme(gen: Generated) -> None:
    sc = gen.simulated
    env = " ".join(f"{k}={v}" for k, v in program_env(sc).items())
    expected = {"baseline": gen.plan.baseline, "checkpoints": gen.plan.checkpoints}
    (gen.program_dir / "expected.json").write_text(json.dumps(expected, indent=1, default=str))
    frames = "\n".join(f"| `{f['function']}` | {f['role']} | {f['target']} | {f['reported']} |" for f in gen.frames())
    (gen.program_dir / "README.md").write_text(f"""# Generated by `simstack validate` for scenario `{gen.scenario.name}`

Toolchain: {gen.toolchain.describe()}; simulated with the `{sc.runtime.version}` profile.
Source digest: {source_digest(gen.program_dir)}. Program: {describe(gen.plan)}.

Build and run it by hand (offline):

```sh
GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -gcflags=-S -o prog . 2>listing.txt
env -i {env} ./prog plan.txt
```

It prints one JSON object per line: a header, the baseline (`"checkpoint": -1`) and one per
checkpoint (`"checkpoint": k`, in the order of `expected.json`, which holds the model's figures).
Compare `stack_inuse` minus the baseline's with the model's. `plan.txt` is the replayed script:
per goroutine its ops (kind, depth, frame function, transient, park chain, channel, count), then
main's actions (spawn, close, gc, checkpoint, settle).

Frames (as `go build -gcflags=-S` reports `$FRAME`):

| function | role | scenario | reported |
| --- | --- | --- | --- |
{frames}
""")
