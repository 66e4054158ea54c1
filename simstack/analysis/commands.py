"""``simstack plot``, ``simstack report`` and ``simstack compare`` (registered in ``simstack.cli``)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click


def user_errors(fn):
    """Bad input (no such result directory, unknown chart or checkpoint): one line on stderr, exit 2."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        from ..errors import ScenarioError
        try:
            return fn(*a, **kw)
        except (ScenarioError, FileNotFoundError, NotADirectoryError) as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        except KeyError as exc:
            click.echo(exc.args[0] if exc.args else str(exc), err=True)
            sys.exit(2)
    return wrapper


def _at(value: str | None):
    """--at: a time with a unit ('20ms'), seconds ('0.02'), or a checkpoint label."""
    if value is None:
        return None
    from ..scenario.units import parse_time
    try:
        return float(parse_time(value))
    except Exception:
        try:
            return float(value)
        except ValueError:
            return value


@click.command("plot")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Where to write the PNGs (default: DIRECTORY/charts).")
@click.option("--only", multiple=True, help="Only this chart (repeatable): footprint, stacks_by_size, growth_shrink, "
                                            "stack_sizes, cache_occupancy, free_bytes, class_summary.")
@click.option("--at", "at", default=None, help="Time ('20ms') or checkpoint label for the stack-size chart "
                                               "(default: the end of the run).")
@user_errors
def plot_cmd(directory, out, only, at):
    """Regenerate the charts of the run in DIRECTORY (all of them, PNG)."""
    from ..recording.results import read_results
    from .chartset import RUN_CHARTS

    unknown = [n for n in only if n not in RUN_CHARTS]
    if unknown:
        raise KeyError(f"no chart {unknown[0]!r}; charts: {', '.join(RUN_CHARTS)}")
    res = read_results(directory)
    out = out or Path(directory) / "charts"
    out.mkdir(parents=True, exist_ok=True)
    at = _at(at)
    written = []
    for name in only or RUN_CHARTS:
        fn = RUN_CHARTS[name]
        try:
            ax = fn(res, at=at) if name == "stack_sizes" else fn(res)
        except ValueError as exc:
            click.echo(f"{name}: skipped: {exc}", err=True)
            continue
        fig = ax.figure
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=110)
        written.append(out / f"{name}.png")
    click.echo(f"{len(written)} charts -> {out}")


@click.command("report")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="The HTML file (default: DIRECTORY/report.html).")
@click.option("--title", default=None, help="Page title (default: 'simstack report: <scenario name>').")
@user_errors
def report_cmd(directory, out, title):
    """Write one self-contained HTML page for the run or sweep in DIRECTORY (charts embedded).

    For a sweep (a directory `simstack sweep` wrote): the per-point statistics, the charts of
    each figure against each parameter and the runs."""
    from ..recording.results import read_results
    from .report import write_report
    from .sweep_report import is_sweep, write_sweep_report

    if is_sweep(directory):
        path = write_sweep_report(directory, out or Path(directory) / "report.html", title=title)
    else:
        path = write_report(read_results(directory), out or Path(directory) / "report.html", title=title)
    click.echo(str(path))


@click.command("compare")
@click.argument("directories", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "chart", type=click.Path(path_type=Path), default=None,
              help="Draw the overlaid footprints into this PNG (default: no chart, nothing written).")
@click.option("--no-chart", is_flag=True, help="Only print the table (the default unless -o is given).")
@click.option("--json", "as_json", is_flag=True, help="Print the table(s) as JSON on stdout.")
@click.option("--labels", default=None, help="Comma-separated names for the runs (default: directory names).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None,
              help="Also write the headline table (numbers) as CSV.")
@click.option("--column", default="stack_inuse", show_default=True,
              help="Footprint column to overlay (stack_inuse, stack_sys, stack_in_goroutines, stack_used, ...).")
@user_errors
def compare_cmd(directories, chart, no_chart, as_json, labels, csv_path, column):
    """Headline figures of several runs side by side, and (with -o) their footprints overlaid.

    A sweep directory (alone) gives its points side by side: each figure's mean, 95 %
    confidence interval and standard deviation over the replications, and with -o each
    point's footprint (replication 0) overlaid."""
    import json

    from .compare import compare, compare_sweep, format_table
    from .sweep_report import is_sweep

    chart = None if no_chart else chart
    sweeps = [d for d in directories if is_sweep(d)]
    if sweeps:
        if len(directories) > 1:
            raise KeyError(f"{sweeps[0]}: a sweep directory is compared on its own (its points side by side)")
        st = compare_sweep(directories[0], chart=chart, column=column)
        if as_json:
            click.echo(json.dumps({"statistics": json.loads(st.to_json(orient="records"))}))
        else:
            from .sweep_stats import format_statistics
            click.echo(format_statistics(st))
        if csv_path:
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            st.to_csv(csv_path, index=False)
    else:
        labs = [s.strip() for s in labels.split(",")] if labels else None
        if labs is not None and len(labs) != len(directories):
            raise KeyError(f"--labels has {len(labs)} names for {len(directories)} directories")
        table, diffs = compare(directories, labels=labs, chart=chart, column=column)
        if as_json:
            click.echo(json.dumps({"headline": json.loads(table.to_json(orient="columns")),
                                   "scenario_differences": json.loads(diffs.to_json(orient="columns",
                                                                                   default_handler=str))}))
        else:
            click.echo(format_table(table))
            if len(diffs):
                click.echo("\nscenario differences:")
                click.echo(format_table(diffs.astype(str), relative=False, max_rows=25))
        if csv_path:
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(csv_path)
    if chart is not None and not as_json:
        click.echo(f"\nfootprints -> {chart}")
