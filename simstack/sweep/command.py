"""``simstack sweep`` (registered in ``simstack.cli``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import Terminated


@click.command("sweep")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option("--set", "sets", multiple=True, metavar="KEY=V1,V2,...",
              help="A scenario field and the values to sweep it over (repeatable; the grid is their product), "
                   "e.g. --set runtime.version=go1.12,go1.27 --set runtime.overrides.starting_stack=2KiB,8KiB.")
@click.option("-r", "--replications", default=None, type=click.IntRange(min=1),
              help="Runs per grid point, with seeds derived from the scenario's seed and the replication index "
                   "(default 1; with --resume, the sweep's).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: runs/<scenario name>-sweep).")
@click.option("-j", "--jobs", default=None, type=click.IntRange(min=1),
              help="Local worker processes (default: one per CPU; 1 runs in this process).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run on this Dask scheduler (dask.distributed) instead of local processes.")
@click.option("--resume", is_flag=True,
              help="Finish an interrupted sweep in DIR: runs already done are kept; the scenario, grid, "
                   "replications and limits come from DIR/sweep.json (`simstack sweep --resume -o DIR`).")
@click.option("--overwrite", is_flag=True, help="Replace a sweep already in DIR.")
@click.option("--no-footprints", is_flag=True, help="Do not keep each run's footprint (runs/<id>/footprint.parquet).")
@click.option("--no-charts", is_flag=True, help="Skip the charts of each figure against each parameter.")
@click.option("--max-goroutines", type=click.IntRange(min=1), default=None,
              help="Stop each run after this many goroutines (its row says 'incomplete').")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the per-point statistics (statistics.csv) as JSON records on stdout.")
def sweep_cmd(file, sets, replications, out, jobs, scheduler, resume, overwrite, no_footprints, no_charts,
              max_goroutines, quiet, as_json):
    """Run the scenario FILE over a grid of parameter values, each point REPLICATIONS times.

    Writes DIR/sweep.parquet (one row per run: parameters, seed, status, headline figures),
    DIR/sweep.json, DIR/runs/<id>/ and DIR/charts/.  A failed run is reported with its
    parameters and the others go on (exit status 1 at the end); Ctrl-C keeps the finished
    runs (exit status 130, SIGTERM 143; --resume continues).  Per grid point, the mean,
    standard deviation and 95 % confidence interval of each figure are printed and written
    to DIR/statistics.csv.
    """
    from ..errors import ScenarioError
    from ..scenario import load_scenario
    from .params import SweepError, parse_set
    from .runner import SweepOutputError, run_sweep

    try:
        grid = {}
        for s in sets:
            key, values = parse_set(s)
            if key in grid:
                raise SweepError(f"--set {key}: given twice")
            grid[key] = values
        points = None
        if file is None and not (resume and out is not None):
            raise SweepError("a scenario FILE is needed (or --resume -o DIR to finish the sweep in DIR)")
        sc = load_scenario(file) if file is not None else None
        if resume and out is not None and (out / "sweep.json").is_file():
            # the sweep as it was started, unless the command says otherwise (then it must match)
            try:
                meta = json.loads((out / "sweep.json").read_text())
                sc = sc if sc is not None else dict(meta["scenario"])
            except (ValueError, KeyError, TypeError) as exc:
                raise SweepError(f"{out / 'sweep.json'}: not a sweep's description ({exc}); cannot resume") from None
            if not sets:
                grid, points = meta.get("grid"), meta.get("points")
            replications = replications or meta.get("replications")
            max_goroutines = max_goroutines or (meta.get("limits") or {}).get("max_goroutines")
        elif sc is None:
            raise SweepError(f"{out}: holds no sweep (no sweep.json) to resume")
        name = sc.name if not isinstance(sc, dict) else sc.get("name", "scenario")
        out = out or Path("runs") / f"{name}-sweep"
        sweep = run_sweep(sc, grid=grid, points=points, replications=replications or 1, out=out, jobs=jobs,
                          scheduler=scheduler, footprints=not no_footprints, charts=not no_charts,
                          progress=not quiet and not as_json, resume=resume, overwrite=overwrite,
                          max_goroutines=max_goroutines)
    except (ScenarioError, SweepError, SweepOutputError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        sw = exc.args[0] if exc.args and hasattr(exc.args[0], "frame") else None
        if sw is not None:
            click.echo(f"interrupted: {len(sw.frame)} finished runs kept in {sw.directory}/sweep.parquet "
                       f"(simstack sweep ... --resume to finish)", err=True)
        else:
            click.echo("interrupted", err=True)
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    except OSError as exc:
        if scheduler is not None:
            click.echo(f"cannot reach the Dask scheduler {scheduler}: {exc}", err=True)
            sys.exit(2)
        raise
    counts = sweep.frame["status"].value_counts().to_dict()
    if as_json:
        st = sweep.statistics
        click.echo(json.dumps({"name": name, "output": str(out), "runs": len(sweep.frame),
                               "status": {str(k): int(n) for k, n in counts.items()}, "complete": sweep.complete,
                               "statistics": json.loads(st.to_json(orient="records"))}))
    elif not quiet:
        from ..analysis.sweep_stats import format_statistics
        click.echo(f"{name}: {len(sweep.frame)} runs ({', '.join(f'{n} {k}' for k, n in counts.items())}) "
                   f"in {sweep.wall_time_s:.1f} s -> {out}")
        click.echo(format_statistics(sweep.statistics))
        click.echo(f"(every figure: {out}/statistics.csv)")
    if len(sweep.failed):
        if quiet:  # otherwise each was reported as it happened
            for _, row in sweep.failed.iterrows():
                params = ", ".join(f"{p}={row[p]}" for p in sweep.params)
                click.echo(f"run {row['run_id']} failed ({params}; replication {row['replication']}): "
                           f"{row['error']}", err=True)
        click.echo(f"{len(sweep.failed)} of {len(sweep.frame)} runs failed (the error column of "
                   f"{out}/sweep.parquet)", err=True)
        sys.exit(1)
