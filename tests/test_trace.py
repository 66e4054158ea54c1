"""Reading real Go execution traces (simstack.trace, `simstack trace read`).

The traces are made here, on the fly: tests/goprograms/stacktrace (waves of goroutines
that grow, park, shrink at GC and exit, logging what the program itself reads of
/memory/classes/heap/stacks:bytes) is built with the go extra's Go 1.27 and run with
GODEBUG=traceallocfree=1 at GOMAXPROCS 1 and 2. Without a Go 1.23+ toolchain every test
that needs one is skipped with the reason.
"""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import simstack
from simstack.trace import TraceError, find_trace_toolchain, read_trace
from simstack.validate.toolchain import offline_env
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "tests" / "goprograms" / "stacktrace"
WAVES = 3  # 200, 400 and 600 workers


@pytest.fixture(scope="session")
def tc():
    try:
        return find_trace_toolchain()
    except TraceError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def program(tc, tmp_path_factory):
    work = tmp_path_factory.mktemp("stacktrace-build")
    binary = work / "stacktrace"
    subprocess.run([str(tc.go), "build", "-o", str(binary), "."], cwd=PROGRAM, env=offline_env(work), check=True,
                   capture_output=True, timeout=600)
    return binary


def _record(program, out: Path, gomaxprocs: int, godebug="traceallocfree=1") -> Path:
    env = {**os.environ, "GOMAXPROCS": str(gomaxprocs), "GODEBUG": godebug}
    subprocess.run([str(program), str(out), str(WAVES)], env=env, check=True, timeout=120)
    return out


@pytest.fixture(scope="session", params=[1, 2], ids=["gomaxprocs1", "gomaxprocs2"])
def traced(request, program, tmp_path_factory):
    return _record(program, tmp_path_factory.mktemp("traces") / f"p{request.param}.trace", request.param)


@pytest.fixture(scope="session")
def real(traced):
    return read_trace(traced)


def test_rebuilt_stack_inuse_equals_what_the_program_read_to_the_byte(real):
    logged = real.summary["logged_stack_inuse"]
    assert logged["n"] == 1 + WAVES * 4 + sum(200 * (w + 1) // 50 for w in range(WAVES)) + 1  # start, 4/wave, samples, end
    assert logged["equal"] == logged["n"], logged["first_mismatch"]
    cp = real.checkpoints
    assert list(cp["label"][:5]) == ["start", "grown0", "gc0", "exited0", "exitedgc0"]
    if real.summary["scenario"]["runtime"]["gomaxprocs"] == 1:
        assert (cp["stack_inuse"] == cp["measured_stack_inuse"]).all()
    # at 2 a checkpoint row holds StackInuse at the program's log event, after its read, and the other
    # P's goroutines may have taken or given back a stack in between (a full suite's run met it once):
    # each checkpoint reading is judged against the values of its read window above, with the rest


def test_goroutines_grow_shrink_and_exit_as_the_program_does(real):
    g = real.goroutines
    workers = g[g["class"] == "main.main"]  # the creation site: main.main's go statement
    assert len(workers) == sum(200 * (w + 1) for w in range(WAVES))
    assert workers["exited"].notna().all()
    # depths (i*37) % 150 of frames over 200 bytes: most workers grow past 2 KiB; the deepest,
    # 149 frames of more than 220 bytes, need more than 32 KiB
    assert (workers["grows"] > 0).mean() > 0.9
    assert workers["max_stack"].max() == 65536
    assert set(workers["max_stack"]) <= {2048, 4096, 8192, 16384, 32768, 65536}
    h = real.summary["headline"]
    assert h["grows"] >= workers["grows"].sum()
    assert h["shrinks"] > 0 and real.gc["stacks_shrunk"].sum() == h["shrinks"]
    assert h["gc_cycles"] == 2 * WAVES == len(real.gc)
    assert real.summary["source"] == "trace"


def test_events_and_footprint_agree_with_each_other(real):
    ev = real.events
    assert ev["time"].is_monotonic_increasing
    spans = ev[ev["kind"].isin(["span_alloc", "span_free"])]
    sign = spans["kind"].map({"span_alloc": 1, "span_free": -1}).astype(int)
    start = real.footprint["stack_inuse"].iloc[0]
    assert start + (sign * spans["bytes"]).sum() == real.summary["headline"]["final_stack_inuse"]
    assert real.footprint["stack_inuse"].max() <= real.summary["headline"]["peak_stack_inuse"]
    assert (real.footprint["stack_in_goroutines"] <= real.footprint["stack_inuse"]).all()


def test_the_fast_reader_and_go_tool_trace_give_the_same_frames(traced, real):
    slow = read_trace(traced, fast=False)
    assert "-d=parsed" in slow.summary["trace"]["parsed_by"] and "internal/trace" in real.summary["trace"]["parsed_by"]
    for key in ("events", "footprint", "goroutines", "gc", "checkpoints"):
        pd.testing.assert_frame_equal(getattr(real, key), getattr(slow, key))


def test_cli_writes_a_result_that_plot_report_and_compare_read(traced, tmp_path):
    out = tmp_path / "real"
    r = subprocess.run([sys.executable, "-m", "simstack.cli", "trace", "read", str(traced), "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "logged StackInuse readings equal" in r.stdout
    back = simstack.read_results(out)
    assert back.summary["source"] == "trace" and len(back.goroutines) > 1000
    assert (out / "charts" / "footprint.png").is_file()
    sim = simstack.run(ROOT / "scenarios" / "walkthrough.yaml")
    from simstack.recording.writer import write_results
    write_results(sim, tmp_path / "sim", charts=False)
    c = subprocess.run([sys.executable, "-m", "simstack.cli", "compare", str(out), str(tmp_path / "sim"), "-o",
                        str(tmp_path / "cmp")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert c.returncode == 0, c.stderr


def _cli_read(path, out, *extra):
    return run_cli("trace", "read", path, "-o", out, *extra, timeout=300)


def _refused(r, out, *words):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert not out.exists()


def test_a_file_that_is_not_a_trace_is_refused(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    _refused(_cli_read(bad, tmp_path / "o"), tmp_path / "o", "notes.txt: not a Go execution trace",
             "GODEBUG=traceallocfree=1")
    _refused(_cli_read(tmp_path / "missing.trace", tmp_path / "o"), tmp_path / "o", "missing.trace: no such file")
    _refused(_cli_read(tmp_path, tmp_path / "o"), tmp_path / "o", "is a directory")


def test_an_old_trace_format_is_refused_with_how_to_record_one(tmp_path):
    old = tmp_path / "old.trace"
    old.write_bytes(b"go 1.19 trace\x00\x00\x00" + bytes(64))
    _refused(_cli_read(old, tmp_path / "o"), tmp_path / "o", "Go 1.19 format", "no stack allocation events",
             "Go 1.23 or later")


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "go-tool-trace"])
def test_a_truncated_trace_is_refused(traced, tmp_path, fast):
    cut = tmp_path / "cut.trace"
    cut.write_bytes(traced.read_bytes()[: traced.stat().st_size // 2])
    with pytest.raises(TraceError, match="broken or truncated"):
        read_trace(cut, fast=fast)
    _refused(_cli_read(cut, tmp_path / "o"), tmp_path / "o", "cut.trace: the trace is broken or truncated")


def test_a_trace_without_traceallocfree_is_refused(program, tmp_path):
    plain = _record(program, tmp_path / "plain.trace", 1, godebug="")
    for fast in (True, False):
        with pytest.raises(TraceError, match="recorded without GODEBUG=traceallocfree=1"):
            read_trace(plain, fast=fast)
    _refused(_cli_read(plain, tmp_path / "o"), tmp_path / "o", "GODEBUG=traceallocfree=1")


def test_no_toolchain_new_enough_says_how_to_get_one(monkeypatch, tmp_path):
    from simstack.validate import toolchain as T
    old = Path("/usr/lib/go-1.19/bin/go")
    if old.is_file():
        with pytest.raises(TraceError, match=r"go1\.19.*cannot read alloc/free traces"):
            find_trace_toolchain(old)
    with pytest.raises(TraceError, match="no-such-go"):
        find_trace_toolchain(tmp_path / "no-such-go")
    monkeypatch.setattr(T, "candidates", lambda explicit=None, env=None: [("PATH", None)])
    with pytest.raises(TraceError, match=r"no Go toolchain of version 1\.23 or later.*pip install 'simstack\[go\]'"):
        find_trace_toolchain()


def test_bad_options_are_refused(traced, tmp_path):
    _refused(_cli_read(traced, tmp_path / "o", "--events", "grow,bogus"), tmp_path / "o", "--events", "bogus")
    _refused(_cli_read(traced, tmp_path / "o", "--sample-every", "-1ms"), tmp_path / "o", "--sample-every")


def test_a_parser_that_says_much_on_stderr_fails_instead_of_hanging(tmp_path):
    # a Go parser that panics prints every goroutine's stack on stderr; read through a pipe nobody
    # drained until stdout ended, 1 MiB of it blocked the parser, and the read, for good
    from simstack.trace.parsed import events

    tool = tmp_path / "printer"
    tool.write_text("#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\\\0' x >&2\necho 'GC 56 NotRunning' >&2\nexit 2\n")
    tool.chmod(0o755)
    with pytest.raises(TraceError, match="GC 56 NotRunning"):
        list(events(tmp_path / "t.trace", Path(sys.executable), tool=tool))
