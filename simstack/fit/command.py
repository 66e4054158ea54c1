"""``simstack fit`` (registered in ``simstack.cli``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..scenario.model import PLATFORMS, VERSIONS


@click.command("fit")
@click.argument("trace_file", metavar="TRACE", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="The scenario file to write (default: <trace file stem>-fit.yaml).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--max-classes", type=click.IntRange(min=1), default=8, show_default=True,
              help="At most this many goroutine classes (main's own work, main_work, comes on top); the smallest "
                   "creation sites beyond are merged.")
@click.option("--gc", "gc", type=click.Choice(["times", "gogc"]), default="times", show_default=True,
              help="times: GC cycles at the trace's own cycle times; gogc: paced by GOGC from the trace's heap "
                   "metrics (for what-if studies that change the load or GOGC).")
@click.option("--arrivals", type=click.Choice(["auto", "trace"]), default="auto", show_default=True,
              help="auto: a burst, Poisson or the observed times, whichever fits first; trace: the observed times.")
@click.option("--replay", is_flag=True,
              help="Give every goroutine its own observed values (sequence distributions, observed arrival times) "
                   "instead of its class's fitted laws: the run as it was, for comparing versions and policies on "
                   "it; such a scenario cannot be scaled to another load.")
@click.option("--platform", type=click.Choice(PLATFORMS), default="linux/amd64", show_default=True,
              help="The platform the trace was recorded on (a trace does not say).")
@click.option("--go-version", "version", type=click.Choice(VERSIONS), default=None,
              help="The modelled Go version to write (default go1.27: a trace does not name its release).")
@click.option("--gomaxprocs", type=click.IntRange(min=1), default=None,
              help="The scenario's GOMAXPROCS (default: the trace's; where the program changed it, the one in "
                   "effect longest, with a warning).")
@click.option("--until", "until", default=None, metavar="TIME",
              help="Fit the trace up to this time from its start (e.g. 2s, 1500ms), as if it ended there: "
                   "leave out what the program did while shutting down.")
@click.option("--go", "go", type=click.Path(path_type=Path), default=None,
              help="The go binary whose trace parser reads TRACE (Go 1.23 or later); as for `simstack trace read`.")
@click.option("--quiet", "-q", is_flag=True, help="Print only warnings.")
def fit_cmd(trace_file, out, overwrite, max_classes, gc, arrivals, replay, platform, version, gomaxprocs, until,
            go, quiet):
    """Fit a scenario to a real run: read the Go execution trace TRACE (Go 1.23+, recorded with
    GODEBUG=traceallocfree=1) and write a commented scenario whose goroutine classes (by creation
    site), arrivals, run and block times, stack depths (inferred from the stack sizes the trace shows)
    and GC reproduce it. Edit it, `simstack run` it, or `simstack sweep` it.

    \b
    Exit status: 0 written (a warning for each class too small to fit a law); 2 not a usable trace,
    nothing of the program's own in it, or the output exists (without --overwrite): nothing written.
    """
    from ..errors import ScenarioError
    from ..trace import TraceError
    from . import FitError, fit_trace, write_scenario

    if until is not None:
        from ..scenario.units import parse_time
        given = until
        try:
            until = parse_time(given)
            if not until > 0:
                raise ValueError("expected a time after the trace's start")
        except ValueError as exc:
            _bad(f"--until {given}: {exc}")
    out = out or Path(f"{trace_file.stem}-fit.yaml")
    if out.exists() and not overwrite:
        _bad(f"{out}: exists; pass --overwrite to replace it")
    if out.is_dir():
        _bad(f"{out}: is a directory; give a file name for the scenario")
    try:
        fit = fit_trace(trace_file, max_classes=max_classes, gc=gc, arrivals=arrivals, go=go, platform=platform,
                        version=version, name=out.stem, replay=replay, gomaxprocs=gomaxprocs, until=until)
        write_scenario(fit, out)
    except (TraceError, FitError) as exc:
        _bad(str(exc))
    except ScenarioError as exc:  # the fitted text did not load: a bug of ours, said as such
        _bad(f"{trace_file}: the fitted scenario does not load (please report): {exc}")
    except OSError as exc:
        _bad(f"{out}: cannot write: {exc.strerror}")
    for w in fit.warnings:
        click.echo(f"{trace_file}: warning: {w}", err=True)
    if not quiet:
        n = len(fit.table)  # the program's goroutines the trace shows (a spawned class has no count of its own)
        changes = fit.runtime.get("gomaxprocs_changes", ())
        then = f" (then {', '.join(str(c[1]) for c in changes)})" if changes else ""
        click.echo(f"{trace_file.name} ({fit.duration:.4g} s, {n:,} goroutines) -> {out}: "
                   f"{len(fit.classes)} classes ({', '.join(c.name for c in fit.classes)}), "
                   f"{fit.runtime['version']}, GOMAXPROCS {fit.runtime['gomaxprocs']}{then}, GC {fit.gc['trigger']}")


def _bad(msg: str):
    click.echo(msg, err=True)
    sys.exit(2)
