"""Interruption: Ctrl-C (SIGINT) or SIGTERM during ``simstack run`` or ``simstack sweep``.

A real ``simstack`` process is started on a scenario that takes many seconds, the test
waits until it shows progress (its stderr is a pseudo-terminal, so the progress bar is
on), then sends the signal.  Expected: exit status 130 (SIGINT) or 143 (SIGTERM), no
traceback, and the output directory either holds the frames recorded so far with
``summary.json`` saying ``"complete": false`` and the simulated time reached, or
nothing at all; no half-written file and no temporary directory is left behind.
"""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import simstack
from simstack.cli import main

ROOT = Path(__file__).resolve().parents[1]

LONG = """
name: long
duration: 30s
runtime: {gomaxprocs: 4}
gc: {trigger: interval, interval: 500ms}
goroutines:
  - name: req
    count: 2000000
    arrival: {process: poisson, rate: 60000/s}
    frame: 152B
    program:
      - {depth: {dist: geometric, mean: 10}, run: 50us}
      - {depth: 2, block: 1ms}
"""


class Cli:
    """A simstack process whose stderr is a pseudo-terminal, read in the background."""

    def __init__(self, *args, cwd=ROOT):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # tqdm draws nothing at width 0
        # Ctrl-C's default disposition, as a terminal gives it: a shell that starts the test run in the
        # background (``pytest &`` in a script) leaves SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler in the child, which would run on to its end
        self.proc = subprocess.Popen([sys.executable, "-m", "simstack.cli", *map(str, args)], cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        os.close(slave)
        self.master = master
        self.err = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the process closed the terminal
                return
            if not chunk:
                return
            self.err += chunk

    def wait_for(self, marker: bytes, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while marker not in self.err:
            assert self.proc.poll() is None, self.err.decode(errors="replace")
            assert time.time() < deadline, f"no {marker!r} within {timeout}s: {self.err!r}"
            time.sleep(0.05)

    def wait_for_progress(self, timeout: float = 60) -> None:
        """Until the progress bar shows simulated time past 0 (the run is under way, not just set up)."""
        deadline = time.time() + timeout
        while not any(float(n) > 0 for n in re.findall(rb"([0-9.]+(?:e[-+]?[0-9]+)?)/[0-9.e+]+ sim-s", self.err)):
            assert self.proc.poll() is None, self.err.decode(errors="replace")
            assert time.time() < deadline, f"no progress within {timeout}s: {self.err!r}"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        os.close(self.master)
        return self.proc.returncode, self.err.decode(errors="replace")


def _leftovers(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(".")]


def _check_partial(out: Path, signal_name: str, duration: float) -> dict:
    """Every file there is readable and the summary says the run is incomplete, and where it stopped."""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    stopped = summary["stopped"]
    assert stopped["reason"] == "interrupted" and stopped["signal"] == signal_name
    assert 0 < stopped["time"] == summary["sim_time"] < duration
    res = simstack.read_results(out)  # every file of the contract is there and readable
    assert len(res.events) > 0 and res.footprint["time"].iloc[-1] == stopped["time"]
    assert res.events["time"].max() <= stopped["time"]
    pd.read_csv(out / "checkpoints.csv")
    assert not (out / "charts").exists()  # an interrupted run skips the charts
    return summary


@pytest.mark.parametrize("sig, status, name", [(signal.SIGINT, 130, "KeyboardInterrupt"),
                                               (signal.SIGTERM, 143, "Terminated")])
def test_run_interrupted_keeps_what_was_recorded_and_says_it_is_incomplete(tmp_path, sig, status, name):
    scen = tmp_path / "long.yaml"
    scen.write_text(LONG)
    out = tmp_path / "out"
    cli = Cli("run", scen, "-o", out)
    cli.wait_for_progress()  # the progress bar: simulated time is passing
    cli.proc.send_signal(sig)
    code, err = cli.finish()
    assert code == status, err
    assert "Traceback" not in err and "interrupted at simulated time" in err
    _check_partial(out, name, 30.0)
    assert _leftovers(tmp_path) == []


def test_interrupt_replaces_an_older_result_only_once_the_new_one_is_whole(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(ROOT / "scenarios" / "walkthrough.yaml"), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    scen = tmp_path / "long.yaml"
    scen.write_text(LONG)
    cli = Cli("run", scen, "-o", out, "--overwrite")
    cli.wait_for_progress()
    cli.proc.send_signal(signal.SIGINT)
    code, err = cli.finish()
    assert code == 130, err
    _check_partial(out, "KeyboardInterrupt", 30.0)
    assert _leftovers(tmp_path) == []


def test_a_signal_while_writing_leaves_the_old_result_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    walk = str(ROOT / "scenarios" / "walkthrough.yaml")
    assert CliRunner().invoke(main, ["run", walk, "-o", str(out), "-q", "--no-charts"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # the events and goroutines are written while the run goes; checkpoints.csv once it has ended
    def interrupted_while_writing(self, *a, **kw):
        raise KeyboardInterrupt  # Ctrl-C halfway through writing

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted_while_writing)
    r = CliRunner().invoke(main, ["run", walk, "-o", str(out), "-q", "--no-charts", "--overwrite"],
                           catch_exceptions=False)
    assert r.exit_code == 130
    assert "interrupted while writing" in r.output and "not written" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the older, complete result
    assert _leftovers(tmp_path) == []


def test_interrupt_in_process_returns_partial_results():
    """The API: a KeyboardInterrupt inside the simulation ends it, keeping what was recorded."""
    from simstack.scenario import parse_scenario

    sc = parse_scenario(LONG)
    fired = []

    def progress(t):
        if t > 0.2 and not fired:
            fired.append(t)
            raise KeyboardInterrupt

    res = simstack.run(sc, progress=progress)
    assert not res.complete and res.summary["stopped"]["reason"] == "interrupted"
    assert 0.2 < res.summary["sim_time"] < 1.0 and len(res.events) > 0


SWEEP = """
name: sw
duration: 2s
runtime: {gomaxprocs: 2}
gc: {trigger: interval, interval: 200ms}
goroutines:
  - name: req
    count: 40000
    arrival: {process: poisson, rate: 20000/s}
    program:
      - {depth: {dist: geometric, mean: 10}, run: 50us}
      - {depth: 2, block: 1ms}
"""


# SIGTERM: 143, SIGINT: 130, whether the signal lands in the sweep loop or in the CLI around it
@pytest.mark.parametrize("sig, jobs, statuses", [(signal.SIGINT, "1", (130,)), (signal.SIGTERM, "2", (143,))])
def test_sweep_interrupted_keeps_every_finished_run(tmp_path, sig, jobs, statuses):
    scen = tmp_path / "sw.yaml"
    scen.write_text(SWEEP)
    out = tmp_path / "sweep"
    cli = Cli("sweep", scen, "--set", "runtime.version=go1.12,go1.19,go1.27", "-r", "3", "-j", jobs, "-o", out,
              "--no-charts")
    deadline = time.time() + 120
    while not list(out.glob("runs/*/row.json")) and time.time() < deadline and cli.proc.poll() is None:
        time.sleep(0.05)
    cli.proc.send_signal(sig)
    code, err = cli.finish()
    assert code in statuses, err
    assert "Traceback" not in err
    finished = sorted(p.parent.name for p in out.glob("runs/*/row.json"))
    part = pd.read_parquet(out / "sweep.parquet")
    assert 1 <= len(part) < 9 and (part["status"] == "ok").all()
    assert sorted(part["run_id"]) == finished  # every finished run is kept, and only those
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["interrupted"] and not meta["complete"]
