"""The ``simstack`` command line: run, check, schema, reference (and plot, report, compare, sweep,
validate, trace from their packages)."""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
from pathlib import Path

import click
import yaml

from .errors import ScenarioError, Terminated
from .recording.writer import OutputError, check_output_dir


# exit statuses (tests/README.md lists them with the tests that prove them)
EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_LIMIT, EXIT_SIGINT, EXIT_SIGTERM = 1, 2, 3, 130, 143


_MAIN_PID = os.getpid()


def _on_sigterm(signum, frame):
    if os.getpid() != _MAIN_PID:  # a forked worker: die as SIGTERM says, do not unwind the parent's code
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated()


# the one check on input that only the run can make: a `sequence` on a class whose number of
# goroutines is drawn at run time (spawned) runs out of values (raised as IndexError by Sequence)
_SEQUENCE_EXHAUSTED = re.compile(r"^goroutines\[\d+\]\.program\[\d+\]\.\w+: sequence has \d+ values")


def _checked(sc, *, strict: bool, max_goroutines: int | None, refuse_limit: bool) -> None:
    """Print ``sc``'s warnings on stderr; raise them as errors under ``--strict``. Past the goroutine
    limit: an error for ``run`` (``refuse_limit``), a warning for ``check``."""
    from .errors import ScenarioWarning
    from .scenario.checks import check_scenario, goroutine_limit_problems

    warnings = check_scenario(sc, max_goroutines=max_goroutines)
    limits = goroutine_limit_problems(sc, max_goroutines)
    if not refuse_limit:
        warnings = sorted(warnings + [ScenarioWarning(p.file, p.line, p.column, p.path, p.message) for p in limits],
                          key=lambda w: (w.line or 0, w.column or 0))
        limits = []
    if strict and warnings:
        raise ScenarioError([w.as_error() for w in warnings] + limits)
    for w in warnings:
        click.echo(str(w), err=True)
    if limits:
        raise ScenarioError(limits)


_STRICT = click.option("--strict", is_flag=True, help="Treat warnings (legal settings almost certainly not meant) "
                                                      "as errors: exit status 2.")


def _interrupt_status(signal_name) -> int:
    return EXIT_SIGTERM if signal_name in ("Terminated", Terminated) else EXIT_SIGINT


def _user_errors(fn):
    """Bad input: one line per problem on stderr, exit status 2, no traceback; Ctrl-C or SIGTERM:
    exit status 130 or 143."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except (ScenarioError, OutputError) as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt as exc:
            click.echo("interrupted", err=True)
            sys.exit(_interrupt_status(type(exc)))
    return wrapper


@click.group()
@click.version_option(package_name="simstack")
def main():
    """Simulate how the Go runtime manages goroutine stack memory."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _on_sigterm)  # SIGTERM unwinds like Ctrl-C: partial results stay valid


@main.command("run")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: runs/<scenario name>).")
@click.option("--overwrite", is_flag=True, help="Replace a result already in the output directory.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Change one scenario field for this run (repeatable), keys and values as for `simstack sweep`, "
                   "e.g. --set runtime.version=go1.19 --set runtime.overrides.starting_stack=8KiB.")
@click.option("--seed", type=int, default=None, help="The scenario's seed for this run (same as --set seed=N).")
@click.option("--json", "as_json", is_flag=True, help="Print the headline figures as one JSON object on stdout.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@click.option("--check-invariants", is_flag=True,
              help="Verify allocator invariants after every operation (slow; for tests and debugging).")
@click.option("--max-goroutines", type=click.IntRange(min=0), default=None,
              help="Stop after creating this many goroutines, keeping what was recorded (exit status 3); "
                   "0: no limit.  Default: 100,000,000 (a run streams to disk, so time, not memory, bounds it; "
                   "it also stops, exit status 3, when more goroutines are alive at once than half of this "
                   "machine's memory holds).")
@click.option("--max-events", type=click.IntRange(min=0), default=None,
              help="Stop after recording this many events, keeping what was recorded (exit status 3); "
                   "0: no limit (the default: events are written to disk as the run goes).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary (warnings are still printed).")
@_STRICT
@_user_errors
def run_cmd(file, out, overwrite, sets, seed, as_json, no_charts, check_invariants, max_goroutines, max_events,
            quiet, strict):
    """Simulate FILE and write its frames, summary and charts to a directory.

    Warnings (legal settings almost certainly not meant) are printed on stderr first; a
    class that starts --max-goroutines goroutines or more is refused before anything runs.

    \b
    Exit status: 0 the run finished (a simulated "fatal error: stack overflow" included:
    the modelled program died, summary.json says where); 1 internal error (an invariant
    check failed); 2 bad input (nothing written); 3 stopped at --max-goroutines or
    --max-events (the frames recorded so far are written, summary.json says
    "complete": false); 130/143 interrupted by Ctrl-C/SIGTERM (the frames recorded so far
    are written without charts, "complete": false; if it comes while writing, nothing is).
    """
    from tqdm import tqdm

    from .api import default_limits, run
    from .runtime.invariants import InvariantError
    from .scenario import load_scenario
    from .sweep.params import apply_sets

    sc = apply_sets(load_scenario(file), sets, seed)
    limits = default_limits(streaming=True)  # events and goroutine rows go to disk as the run goes
    max_goroutines = limits["max_goroutines"] if max_goroutines is None else (max_goroutines or None)
    max_events = limits["max_events"] if max_events is None else (max_events or None)
    _checked(sc, strict=strict, max_goroutines=max_goroutines, refuse_limit=True)
    out = out or Path("runs") / sc.name
    check_output_dir(out)  # refuse a directory we would not replace before simulating, not after
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise OutputError(f"{out}: holds a result already; --overwrite to replace it (or -o another directory)")
    bar = None
    if not quiet:
        total = sc.duration if sc.duration is not None else None
        # disable=None: no bar when stderr is not a terminal (CI logs, pipes)
        bar = tqdm(total=total, unit="sim-s", desc=sc.name, leave=False, disable=None, mininterval=0.25,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g} sim-s [{elapsed}]"
                   if total else "{desc}: {n:.4g} sim-s [{elapsed}]")

    def progress(t):
        if bar is not None and t > bar.n:
            bar.update(t - bar.n)  # tqdm redraws at most every mininterval

    try:
        res = run(sc, check_invariants=check_invariants, progress=progress, max_goroutines=max_goroutines,
                  max_events=max_events, output=out, charts=not no_charts, max_live=limits["max_live"])
    except InvariantError as exc:
        click.echo(f"simstack: internal error (a bug in the model, please report it): {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    except IndexError as exc:
        if not _SEQUENCE_EXHAUSTED.match(str(exc)):
            raise
        click.echo(f"{file}: {exc} (found while running: nothing written)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt as exc:  # a (second) signal while writing: the writer left nothing half-written
        click.echo(f"interrupted while writing {out}: this run's results were not written", err=True)
        sys.exit(_interrupt_status(type(exc)))
    finally:
        if bar is not None:
            bar.close()
    stopped = res.summary.get("stopped")
    interrupted = stopped is not None and stopped.get("reason") == "interrupted"
    if interrupted:
        click.echo(f"interrupted at simulated time {stopped['time']:.6g} s: the frames recorded so far are in "
                   f"{out} (summary.json says \"complete\": false)", err=True)
        sys.exit(_interrupt_status(stopped.get("signal")))
    if as_json:
        click.echo(json.dumps({"name": sc.name, "output": str(out), "complete": res.summary["complete"],
                               **res.summary["headline"]}, sort_keys=False))
    elif not quiet:
        h = res.summary["headline"]
        click.echo(f"{sc.name}: peak StackInuse {h['peak_stack_inuse']:,} B "
                   f"({h['peak_stack_inuse_over_baseline']:,} B over the baseline of {h['baseline_stack_inuse']:,} B), "
                   f"final {h['final_stack_inuse']:,} B, "
                   f"{h['grows']:,} grows, {h['shrinks']:,} shrinks, {h['bytes_copied']:,} B copied, "
                   f"{h['events']:,} events in {h['wall_time_s']:.2f} s -> {out}")
    if "overflow" in res.summary:
        ov = res.summary["overflow"]
        click.echo(f"{ov['message']}\n(goroutine {ov['goroutine']} at depth {ov['depth']}, simulated time "
                   f"{ov['time']:.6g} s: the modelled program died here; results in {out})", err=True)
    if stopped is not None:
        click.echo(f"{stopped['reason']} at simulated time {stopped['time']:.6g} s; the frames recorded so far "
                   f"are in {out} (summary.json says \"complete\": false)", err=True)
        sys.exit(EXIT_LIMIT)


@main.command("check")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--max-goroutines", type=click.IntRange(min=0), default=None,
              help="The limit `simstack run` will be given, to warn about classes that reach it (default: run's "
                   "default; 0: no limit).")
@_STRICT
@_user_errors
def check_cmd(file, max_goroutines, strict):
    """Validate FILE and print the resolved scenario (units in bytes and seconds, defaults filled).

    Warnings (legal settings almost certainly not meant, and classes that reach the goroutine
    limit of `simstack run`) go to stderr, one line each; the exit status stays 0 unless --strict.
    """
    from .api import default_limits
    from .scenario import load_scenario

    sc = load_scenario(file)
    if max_goroutines is None:
        max_goroutines = default_limits(streaming=True)["max_goroutines"]
    _checked(sc, strict=strict, max_goroutines=max_goroutines or None, refuse_limit=False)
    click.echo(yaml.safe_dump(sc.to_yaml_dict(), sort_keys=False), nl=False)


@main.command("schema")
def schema_cmd():
    """Print the JSON Schema of the scenario format (for editors)."""
    from .scenario import scenario_json_schema

    click.echo(json.dumps(scenario_json_schema(), indent=2))


@main.command("reference")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Write the per-row report (CSV).")
@click.option("--emit-scenarios", type=click.Path(path_type=Path), default=None,
              help="Write each record's scenario YAML into this directory.")
@click.option("--only", default=None, help="Only configurations whose id starts with this prefix.")
@click.option("--replications", type=click.IntRange(min=1), default=None,
              help="Runs (seeds 0..N-1) of each configuration at GOMAXPROCS >= 2, where the race model makes each "
                   "seed a different run; the report gives their median and band. Default 5.")
@_user_errors
def reference_cmd(file, report, emit_scenarios, only, replications):
    """Simulate each reference record's plan and compare every checkpoint with the measurements."""
    from tqdm import tqdm

    from .reference.plan import load_records, record_to_scenario
    from .reference.runner import REPLICATIONS, compare_records, group_records, summarize

    records = load_records(file)
    if only:
        records = [r for r in records if r["config_id"].startswith(only)]
    if emit_scenarios:
        emit_scenarios.mkdir(parents=True, exist_ok=True)
        for (cid, ver), recs in group_records(records).items():
            doc = record_to_scenario(recs[0])
            (emit_scenarios / f"{doc['name']}.yaml").write_text(
                f"# reference configuration {cid} on {ver} (simstack reference --emit-scenarios)\n"
                + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120))
    groups = len(group_records(records))
    with tqdm(total=groups, desc="configurations", leave=False, disable=None) as bar:
        rep = compare_records(records, progress=bar.update, replications=replications or REPLICATIONS)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        tmp = report.with_name(f".{report.name}.tmp")
        rep.to_csv(tmp, index=False)
        tmp.replace(report)
    click.echo(summarize(rep))
    sys.exit(0 if rep["ok"].all() else 1)


from .analysis.commands import compare_cmd, plot_cmd, report_cmd  # noqa: E402  (analysis: issue #4)
from .sweep.command import sweep_cmd  # noqa: E402

main.add_command(plot_cmd)
main.add_command(report_cmd)
main.add_command(compare_cmd)
main.add_command(sweep_cmd)
from .validate.command import validate_cmd  # noqa: E402  (issue #3)
main.add_command(validate_cmd)
from .trace.command import trace_cmd  # noqa: E402  (issue #12)
main.add_command(trace_cmd)
from .fit.command import fit_cmd  # noqa: E402  (issue #13)
main.add_command(fit_cmd)

if __name__ == "__main__":
    main()
