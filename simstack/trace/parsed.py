"""Go execution traces as a stream of events, through the toolchain's own parser.

``go tool trace -d=parsed TRACE`` prints every event of a trace (format of Go 1.22 and
later) one per line, the way ``internal/trace.Event.String`` spells it::

    M=3193 P=0 G=1 Experimental Time=3135144526016 Name=GoroutineStackAlloc Args=[id=Value{Uint64(1724)}, order=Value{Uint64(12)}]
    M=3193 P=0 G=1 StateTransition Time=3135144527360 GoID=6 NotExist->Runnable Reason=""
    TransitionStack=
    	main.main.func1 @ 0x4b0400
    		/tmp/tr/main.go:36
    <blank line>

Reading through that parser, rather than a decoder of our own, keeps simstack right
across trace format versions (the toolchain reads every version it knows).  The
experimental alloc/free events (``GODEBUG=traceallocfree=1``, Go 1.23+) are
``runtime/traceallocfree.go``'s; heap object events, which are most of such a trace,
are dropped unread.  The one fact ``-d=parsed`` does not print, the alloc/free info
batch (minimum heap address, page size, minimum heap alignment, ``fixedStack``), comes
from the first lines of ``-d=wire``.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


class TraceError(Exception):
    """The file is not a usable trace (or no toolchain can read it); the message says what to do."""


RECORD_HINT = ("record one with Go 1.23 or later and GODEBUG=traceallocfree=1 (runtime/trace.Start, "
               "go test -trace, or net/http/pprof's /debug/pprof/trace); see docs/traces.md")

_HEAD = re.compile(r"M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(-?\d+) ?(.*)")
_ARG = re.compile(r"(\w+)=Value\{Uint64\((\d+)\)\}")
_GO_TRANSITION = re.compile(r'GoID=(\d+) (\w+)->(\w+) Reason="(.*)"')
_NAMED = re.compile(r'Name="((?:[^"\\]|\\.)*)"')
_LOG = re.compile(r'Task=\d+ Category="((?:[^"\\]|\\.)*)" Message="((?:[^"\\]|\\.)*)"')
_METRIC = re.compile(r'Name="([^"]*)" Value=Value\{Uint64\((\d+)\)\}')
_HEADER = re.compile(rb"go 1\.(\d+) trace\x00")


@dataclass(frozen=True)
class Info:
    """The alloc/free experiment's info batch (``traceSnapshotMemory``)."""

    min_page_heap_addr: int
    page_size: int
    min_heap_align: int
    fixed_stack: int


@dataclass(slots=True)
class Event:
    """One parsed event: who (M, P, G), when (ns), what (``kind``), and its fields."""

    m: int
    p: int
    g: int
    kind: str  # Experimental, StateTransition, Log, RangeBegin, RangeEnd, Metric, Sync, ...
    time: int
    name: str = ""  # Experimental/Range/Metric name; for a goroutine transition "From->To"
    args: tuple = ()  # Experimental: (id, second arg); transition: (goid,); Log: (category, message); Metric: (value,)
    stack: tuple = ()  # transition: the stack of the event (a creation's: the creator's), innermost first
    tstack: tuple = ()  # transition: the goroutine's own stack (a creation's: its start function)


def trace_format(path) -> int:
    """The trace's format version as the Go minor it came with (``go 1.26 trace`` → 26)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from None
    m = _HEADER.match(head)
    if not m:
        raise TraceError(f"{path}: not a Go execution trace (it does not start with 'go 1.N trace'); {RECORD_HINT}")
    minor = int(m.group(1))
    if minor < 22:
        raise TraceError(f"{path}: a trace in the Go 1.{minor} format, which has no stack allocation events; "
                         f"{RECORD_HINT}")
    return minor


def _go_env(go: Path) -> dict:
    env = dict(os.environ)
    env.update(GOTOOLCHAIN="local", GOPROXY="off", GOENV="off", GOFLAGS="")
    return env


def read_info(path, go: Path) -> Info:
    """The alloc/free info batch, from the first lines of ``go tool trace -d=wire``; TraceError if
    the trace has none (recorded without ``GODEBUG=traceallocfree=1``)."""
    proc = subprocess.Popen([str(go), "tool", "trace", "-d=wire", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_go_env(go), text=True, errors="replace")
    found = None
    try:
        for line in proc.stdout:
            if line.startswith("ExperimentalBatch"):
                data = next(proc.stdout, "")
                raw = _unquote(data.strip().removeprefix("data="))
                if raw[:1] == b"\x01":  # traceAllocFreeInfoBatch
                    vals, i = [], 1
                    while i < len(raw) and len(vals) < 4:
                        v, i = _uvarint(raw, i)
                        vals.append(v)
                    if len(vals) == 4:
                        found = Info(*vals)
                        break
    finally:
        proc.kill()
        proc.wait()
    if found is None:
        err = proc.stderr.read().strip() if proc.stderr else ""
        if "bad file format" in err or "failed to read" in err:
            raise TraceError(f"{path}: the toolchain cannot read it ({err.splitlines()[-1]}); {RECORD_HINT}")
        raise TraceError(f"{path}: the trace has no stack allocation events (recorded without "
                         f"GODEBUG=traceallocfree=1); {RECORD_HINT}")
    return found


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39}


def _unquote(s: str) -> bytes:
    """A Go ``%q`` string literal as the bytes it stands for (valid UTF-8 is printed as is)."""
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1]
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            j = s.find("\\", i)
            j = len(s) if j < 0 else j
            out += s[i:j].encode("utf-8")
            i = j
            continue
        e = s[i + 1]
        if e == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            out += chr(int(s[i + 2:i + 2 + n], 16)).encode("utf-8")
            i += 2 + n
        elif e in "01234567":
            out.append(int(s[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(_ESCAPES.get(e, ord(e)))
            i += 2
    return bytes(out)


def _uvarint(b: bytes, i: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, i
        shift += 7


def events(path, go: Path, tool: Path | None = None, info: list | None = None,
           states: bool = False) -> Iterator[Event]:
    """Every event of interest of the trace at ``path``, in the parser's order (time order per
    generation), from the event printer ``tool`` (``gotool.py``) or else ``go tool trace
    -d=parsed``; the alloc/free info batch is appended to ``info`` when the tool prints it.
    ``states``: every goroutine state transition too (``Running->Waiting``, ...), not only
    creations and exits.  Raises TraceError when the parser stops on a broken or truncated trace."""
    cmd = [str(tool), str(path)] + (["-states"] if states else []) if tool else \
        [str(go), "tool", "trace", "-d=parsed", str(path)]
    # stderr to a file, not a pipe: a parser that says much there (a panic's goroutine dump) would
    # block on a full pipe that nobody reads until stdout ends, and stdout would never end
    with tempfile.TemporaryFile(mode="w+", errors="replace") as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, env=_go_env(go), text=True,
                                errors="replace", bufsize=1 << 20)
        try:
            yield from (_tool_lines(proc.stdout, info) if tool else _parse_lines(proc.stdout))
            proc.stdout.close()
            rc = proc.wait()
            errf.seek(0)
            err = errf.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if rc != 0:
        last = (err.strip().splitlines() or ["exit status %d" % rc])[-1]
        raise TraceError(f"{path}: the trace is broken or truncated: the Go trace parser stopped with "
                         f"'{last}'; {RECORD_HINT}")


_TRANSITIONS = {"C": "NotExist->Runnable", "X": "Running->NotExist", "U": "Undetermined->Waiting"}


def _tool_lines(lines, info: list | None) -> Iterator[Event]:
    """The event printer's tab-separated lines (``gotool/main.go`` says the format)."""
    for line in lines:
        f = line.rstrip("\n").split("\t")
        k = f[0]
        if k == "I":
            if info is not None:
                info.append(Info(*map(int, f[1:5])))
            continue
        e = Event(int(f[2]), int(f[3]), int(f[4]), "", int(f[1]))
        if k == "E":
            e.kind, e.name, e.args = "Experimental", f[5], tuple(map(int, f[6:]))
        elif k in _TRANSITIONS:
            e.kind, e.name, e.args = "StateTransition", _TRANSITIONS[k], (int(f[5]), "")
            if k == "C":
                e.stack, e.tstack = (f[6],), (f[7],)
            elif k == "U":
                e.stack = (f[6],)
                if len(f) > 7:
                    e.name = "Undetermined->" + f[7]
        elif k == "T":
            e.kind, e.name, e.args = "StateTransition", f"{f[6]}->{f[7]}", (int(f[5]), "")
        elif k == "L":
            e.kind, e.args = "Log", (_quoted(f[5]), _quoted(f[6]))
        elif k in ("B", "N"):
            e.kind, e.name = ("RangeBegin" if k == "B" else "RangeEnd"), _quoted(f[5])
        elif k == "M":
            e.kind, e.name, e.args = "Metric", f[5], (int(f[6]),)
        elif k == "S":
            e.kind = "Sync"
        else:
            continue
        yield e


def _quoted(s: str) -> str:
    return s[1:-1] if "\\" not in s else _unquote(s).decode("utf-8", "replace")


def _parse_lines(lines) -> Iterator[Event]:
    pending: Event | None = None  # a transition whose stacks follow
    which = None
    for line in lines:
        c = line[:1]
        if c == "\t":
            if which is not None and line[1:2] != "\t":  # a frame's function; the file:line line follows
                which.append(line[1:line.find(" @ ")])
            continue
        if c == "M":
            if pending is not None:
                pending.stack, pending.tstack = tuple(pending.stack), tuple(pending.tstack)
                yield pending
                pending, which = None, None
            if "HeapObject" in line:  # most of an alloc/free trace; nothing of ours
                continue
            m = _HEAD.match(line)
            if m is None:
                continue
            ev = _event(m)
            if ev is None:
                continue
            if ev.kind == "StateTransition":
                pending, ev.stack, ev.tstack = ev, [], []
            else:
                yield ev
        elif c == "S" and pending is not None and line.startswith("Stack="):
            which = pending.stack
        elif c == "T" and pending is not None and line.startswith("TransitionStack="):
            which = pending.tstack
        elif c == "\n":
            which = None
    if pending is not None:
        pending.stack, pending.tstack = tuple(pending.stack), tuple(pending.tstack)
        yield pending


def _event(m) -> Event | None:
    kind, rest = m.group(4), m.group(6)
    e = Event(int(m.group(1)), int(m.group(2)), int(m.group(3)), kind, int(m.group(5)))
    if kind == "Experimental":
        name = rest[5:rest.find(" ", 5)] if rest.startswith("Name=") else ""
        e.name = name
        e.args = tuple(int(v) for _, v in _ARG.findall(rest))
        return e
    if kind == "StateTransition":
        t = _GO_TRANSITION.match(rest)
        if t is None:
            return None  # a P's transition
        e.name = f"{t.group(2)}->{t.group(3)}"
        e.args = (int(t.group(1)), t.group(4))
        return e
    if kind == "Log":
        t = _LOG.match(rest)
        if t is None:
            return None
        e.args = (_text(t.group(1)), _text(t.group(2)))
        return e
    if kind in ("RangeBegin", "RangeEnd"):
        t = _NAMED.match(rest)
        e.name = _text(t.group(1)) if t else ""
        return e
    if kind == "Metric":
        t = _METRIC.match(rest)
        if t is None:
            return None
        e.name, e.args = t.group(1), (int(t.group(2)),)
        return e
    if kind == "Sync":
        return e
    return None


def _text(s: str) -> str:
    return _unquote('"' + s + '"').decode("utf-8", "replace") if "\\" in s else s
