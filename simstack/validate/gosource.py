"""The generated Go program: source text, frame fitting, and the plan file it replays.

The program has one function per frame the scenario names, each padded with a local
byte array so that the compiler reports exactly the scenario's ``$FRAME``:

* ``entryN`` returns the entry closure of class N (``main.entryN.func1``, frame =
  the class's ``entry_frame``); ``go f()`` on a closure without arguments starts it
  directly, with no wrapper frame;
* ``recN`` is the recursive function whose frame is the N-th distinct ``frame``;
* ``trN`` is a leaf called and returned from right before an action (``transient``);
* ``pfC_J`` is the J-th frame of park-frame chain C (``park_frames``), the innermost
  of which parks.

Entry and recursive frames run one small interpreter over the goroutine's script: a
frame at level L calls the next level while the next op is deeper, returns while it
is shallower, and performs the op (run, park on its channel with ``<-ch``, spawn with
``go``, hand a waiter the value with ``ch <- struct{}{}``, take or give back a semaphore
token on its channel) when it is at L, so the channel receive's caller is the frame the
model parks in. Besides parking, only the hand-offs and the token operations call a
function that checks for stack room (``chansend1``, ``chanrecv1``, which do not block
there), which the model does not count.

Fitting: build with ``-gcflags=-S``, read each function's ``TEXT ... $FRAME-ARGS``,
move its pad by the difference, and repeat until every frame matches or cannot
(a target below the function's smallest frame, or not a multiple of the frame
alignment): those are reported, with the frame achieved.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from .toolchain import Toolchain, offline_env

MODULE = "simstackvalidate"

TEXT_RE = re.compile(r"TEXT\s+(?:\"\"\.)?(?:main\.)?([\w.]+?)(?:#\S*)?\(SB\),\s*(?:[\w|]+,\s*)?\$(-?\d+)-(\d+)")


class BuildError(Exception):
    """``go build`` failed; the message carries the compiler's output."""


@dataclass
class FuncSpec:
    """One generated function whose frame must hit ``target``: its Go name in the listing and pad."""

    key: tuple  # ("entry", class) | ("rec", F) | ("transient", T) | ("park", chain, j)
    name: str  # as the listing names it, without "main."
    target: int
    pad: int = 0
    reported: int | None = None


@dataclass
class Layout:
    """What the source is generated from: classes, frame ids and the functions to fit."""

    classes: list  # class names, in scenario order
    rec_frames: list  # distinct recursive frame sizes (index = rec id)
    transients: list  # distinct transient sizes (index = tr id)
    chains: list  # distinct park-frame tuples (index = chain id)
    entry_frames: dict  # class -> entry_frame
    thin: set = field(default_factory=set)  # classes whose goroutines never act at depth 0
    funcs: dict = field(default_factory=dict)  # key -> FuncSpec
    others: dict = field(default_factory=dict)  # $FRAME of the functions not fitted (spin, sleep), by name

    @classmethod
    def from_targets(cls, targets: dict) -> Layout:
        lay = cls(list(targets["entry"]), list(targets["rec"]) or [64], list(targets["transient"]),
                  [tuple(c) for c in targets["chains"]], dict(targets["entry"]), set(targets.get("thin", ())))
        for i, c in enumerate(lay.classes):
            lay._add(("entry", c), f"entry{i}.func1", lay.entry_frames[c])
        for i, f in enumerate(lay.rec_frames):
            lay._add(("rec", f), f"rec{i}", f)
        for i, t in enumerate(lay.transients):
            lay._add(("transient", t), f"tr{i}", t)
        for i, ch in enumerate(lay.chains):
            for j, f in enumerate(ch):
                lay._add(("park", ch, j), f"pf{i}_{j}", f)
        return lay

    def _add(self, key, name, target):
        # a first guess; fitting corrects it (the interpreter frames need ~40-90 bytes of their own)
        base = {"entry": 56, "rec": 64}.get(key[0], 24)
        self.funcs[key] = FuncSpec(key, name, target, max(0, target - base))

    def _reported(self, key) -> int:
        f = self.funcs[key]
        return f.reported if f.reported is not None else f.target

    def rec_id(self, frame: int) -> int:
        """The recursive function for ``frame``: a target, or (after substitution) a reported frame."""
        if frame in self.rec_frames:
            return self.rec_frames.index(frame)
        return next(i for i, f in enumerate(self.rec_frames) if self._reported(("rec", f)) == frame)

    def tr_id(self, t) -> int:
        if not t:
            return -1
        if t in self.transients:
            return self.transients.index(t)
        return next(i for i, f in enumerate(self.transients) if self._reported(("transient", f)) == t)

    def chain_id(self, pf) -> int:
        if not pf:
            return -1
        pf = tuple(pf)
        if pf in self.chains:
            return self.chains.index(pf)
        return next(i for i, ch in enumerate(self.chains)
                    if tuple(self._reported(("park", ch, j)) for j in range(len(ch))) == pf)

    def achieved(self) -> dict:
        """{("entry", class) | ("rec", F) | ("transient", T) | ("park", F): reported} where they differ."""
        out = {}
        for f in self.funcs.values():
            if f.reported is not None and f.reported != f.target:
                k = f.key if f.key[0] != "park" else ("park", f.target)
                out[k] = f.reported
        return out

    def misses(self) -> list[FuncSpec]:
        return [f for f in self.funcs.values() if f.reported != f.target]


# ---------------------------------------------------------------------------------------------
# source text

def _pad_decl(pad: int, idx: str) -> str:
    if pad <= 0:
        return ""
    return f"\tvar pad [{pad}]byte\n\tpad[uint32({idx})%{pad}] = 1\n"


def _pad_use(pad: int, idx: str) -> str:
    if pad <= 0:
        return ""
    return f"\tsink += pad[uint32({idx})%{pad}]\n"


def _switch(var: str, n: int, call: str, indent: str) -> str:
    """switch var { case 0: call(0) ... } (call has {i} for the id)."""
    if n == 0:
        return ""
    lines = [f"{indent}switch {var} {{"]
    for i in range(n):
        lines.append(f"{indent}case {i}:")
        lines.append(f"{indent}\t{call.format(i=i)}")
    lines.append(f"{indent}}}")
    return "\n".join(lines) + "\n"


def _interpreter(lay: Layout, level: str, next_level: str) -> str:
    """The op loop every entry and recursive frame runs (see the module docstring)."""
    t = "\t"
    body = f"""{t}for s.pc < int32(len(s.ops)) {{
{t}{t}o := &s.ops[s.pc]
{t}{t}if o.depth > {level} {{
{_switch("o.fn", len(lay.rec_frames), "rec{i}(s, " + next_level + ")", t * 3)}{t}{t}{t}continue
{t}{t}}}
{t}{t}if o.depth < {level} {{
{t}{t}{t}break
{t}{t}}}
{t}{t}s.pc++
{t}{t}switch o.kind {{
{t}{t}case opRun:
{_switch("o.tr", len(lay.transients), "tr{i}()", t * 3)}{t}{t}case opPark:
{t}{t}{t}atomic.AddInt32(&arrived, 1)
{t}{t}{t}if o.pf < 0 {{
{_switch("o.tr", len(lay.transients), "tr{i}()", t * 4)}{t}{t}{t}{t}<-chans[o.ch]
{t}{t}{t}}} else {{
{_switch("o.pf", len(lay.chains), "pf{i}_0(o)", t * 4)}{t}{t}{t}}}
{t}{t}case opSpawn:
{t}{t}{t}for i := o.ch; i < o.ch+o.n; i++ {{
{t}{t}{t}{t}go fns[kids[i]]()
{t}{t}{t}}}
{t}{t}case opWake:
{t}{t}{t}chans[o.ch] <- struct{{}}{{}}
{t}{t}case opTake:
{t}{t}{t}<-sems[o.ch]
{t}{t}case opGive:
{t}{t}{t}sems[o.ch] <- struct{{}}{{}}
{t}{t}}}
{t}}}
"""
    return body


def _functions(lay: Layout) -> str:
    out = []
    for i, c in enumerate(lay.classes):
        f = lay.funcs[("entry", c)]
        # a thin entry (the class never acts at depth 0) only calls the first recursive frame: a smaller frame
        act = (_switch("s.ops[0].fn", len(lay.rec_frames), "rec{i}(s, 1)", "\t") if c in lay.thin
               else _interpreter(lay, "0", "1"))
        body = textwrap.indent(_pad_decl(f.pad, "s.pc") + "\ts.g = getg()\n" + act
                               + "\tatomic.StoreInt32(&s.done, 1)\n\tatomic.AddInt32(&arrived, 1)\n"
                               + _pad_use(f.pad, "s.pc+1"), "\t")
        out.append(f"// entry{i} makes the entry function of class {c!r} (frame {f.target}).\n"
                   f"func entry{i}(s *gor) func() {{\n\treturn func() {{\n{body}\t}}\n}}\n")
    for i, fr in enumerate(lay.rec_frames):
        f = lay.funcs[("rec", fr)]
        out.append(f"// rec{i}: recursive frame of {fr} bytes.\n//\n//go:noinline\n"
                   f"func rec{i}(s *gor, level int32) {{\n{_pad_decl(f.pad, 'level')}"
                   f"{_interpreter(lay, 'level', 'level+1')}{_pad_use(f.pad, 'level+1')}}}\n")
    for i, t in enumerate(lay.transients):
        f = lay.funcs[("transient", t)]
        out.append(f"// tr{i}: a transient call of {t} bytes, returned from before the action.\n//\n"
                   f"//go:noinline\nfunc tr{i}() {{\n{_pad_decl(f.pad, 'sinkIdx')}{_pad_use(f.pad, 'sinkIdx+1')}}}\n")
    for i, ch in enumerate(lay.chains):
        for j, fr in enumerate(ch):
            f = lay.funcs[("park", ch, j)]
            if j + 1 < len(ch):
                inner = f"\tpf{i}_{j + 1}(o)\n"
            else:
                inner = _switch("o.tr", len(lay.transients), "tr{i}()", "\t") + "\t<-chans[o.ch]\n"
            out.append(f"// pf{i}_{j}: park frame {j} ({fr} bytes) of chain {list(ch)}.\n//\n//go:noinline\n"
                       f"func pf{i}_{j}(o *op) {{\n{_pad_decl(f.pad, 'o.depth')}{inner}"
                       f"{_pad_use(f.pad, 'o.depth+1')}}}\n")
    return "\n".join(out)


def main_source(lay: Layout) -> str:
    entries = ", ".join(f"entry{i}" for i in range(len(lay.classes)))
    return (_HEADER + f"\nvar entries = []func(*gor) func(){{{entries}}}\n\n" + _functions(lay) + "\n"
            + _RUNTIME.replace("@@READER@@", GO_READER))


_HEADER = '''// Code generated by simstack validate. It replays one scenario's simulated run as a
// deterministic Go program and prints the runtime's stack figures at each checkpoint.
//
// Run it as: GOGC=off GOMAXPROCS=<n> ./prog plan.txt   (see README.md next to this file)
package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// getg returns the running goroutine's g (getg_amd64.s / getg_arm64.s); the program reads
// stack.lo and stack.hi, the first two words of runtime.g, to report stack sizes.
func getg() uintptr

const (
	opRun   = 0
	opPark  = 1
	opSpawn = 2
	opWake  = 3 // send on chans[ch]: the goroutine waiting there takes this P's runnext
	opTake  = 4 // a free token: <-sems[ch]
	opGive  = 5 // a token back, nobody waiting for one: sems[ch] <- struct{}{}
)

// op is one thing a goroutine does once its call stack is at depth frames below its entry frame.
type op struct {
	kind  int32
	depth int32
	fn    int32 // recursive function for the frames added to reach depth
	tr    int32 // transient function called right before the action, -1: none
	pf    int32 // park-frame chain, -1: park in this frame
	ch    int32 // park: channel that releases it; wake: channel to send on; spawn: first index into kids;
	//           take, give: semaphore
	n     int32 // spawn: how many goroutines
}

// gor is one goroutine of the scenario: its script and, once started, its g.
type gor struct {
	g    uintptr
	pc   int32
	done int32
	cls  int32
	ops  []op
}

var (
	gors    []gor
	fns     []func()
	chans   []chan struct{} // closed by main (capacity 0), or one per hand-off (capacity 1)
	sems    []chan struct{} // per semaphore, its free tokens
	kids    []int32
	arrived int32 // parks and exits so far (atomic)
	sink    byte
	sinkIdx uint32
)
'''

GO_READER = r'''// reader reads the plan: whitespace-separated tokens (integers, and the class names).
type reader struct {
	b []byte
	i int
}

func space(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r'
}

func (r *reader) token() string {
	for r.i < len(r.b) && space(r.b[r.i]) {
		r.i++
	}
	j := r.i
	for r.i < len(r.b) && !space(r.b[r.i]) {
		r.i++
	}
	if j == r.i {
		fail("plan: unexpected end")
	}
	return string(r.b[j:r.i])
}

// num parses the next token as an integer in place: a token as a string would be an allocation each,
// garbage whose spans the first cycles of the run would sweep
func (r *reader) num(bits int) int64 {
	for r.i < len(r.b) && space(r.b[r.i]) {
		r.i++
	}
	j, neg, v := r.i, false, int64(0)
	if r.i < len(r.b) && r.b[r.i] == '-' {
		neg = true
		r.i++
	}
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		v = v*10 + int64(r.b[r.i]-'0')
		r.i++
	}
	if neg {
		v = -v
	}
	end := r.i
	for r.i < len(r.b) && !space(r.b[r.i]) {
		r.i++
	}
	if end == j || end != r.i || (neg && end == j+1) || v != v<<(64-bits)>>(64-bits) {
		fail("plan: bad integer " + string(r.b[j:r.i]))
	}
	return v
}

func (r *reader) int() int32 {
	return int32(r.num(32))
}

'''

_RUNTIME = r'''
// ---- main: load the plan, warm up, take the baseline, then act phase by phase ----

const (
	actSpawn      = 0
	actClose      = 1
	actGC         = 2
	actCheckpoint = 3
	actSettle     = 4
	actSend       = 5
)

type action struct {
	kind, a, b int32
	memstats   bool
}

var (
	classNames []string
	actions    []action
	recs       []runtime.StackRecord
	parkedPCs  = map[[4]uintptr]bool{}
	out        []byte
	samples    = []metrics.Sample{
		{Name: "/gc/stack/starting-size:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/os-stacks:bytes"},
	}
	histSize  [][]uint64
	histCount [][]int64
	mainG     uintptr
)

func fail(msg string) {
	out = append(out, `{"error":`...)
	out = strconv.AppendQuote(out, msg)
	out = append(out, "}\n"...)
	os.Stdout.Write(out)
	os.Exit(3)
}

@@READER@@func load(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fail("cannot read the plan: " + err.Error())
	}
	r := &reader{b: b}
	if r.token() != "simstack-plan-2" {
		fail("plan: not a simstack plan (version 2)")
	}
	nc := int(r.int())
	classNames = make([]string, nc)
	for i := range classNames {
		classNames[i] = r.token()
	}
	histSize = make([][]uint64, nc)
	histCount = make([][]int64, nc)
	if int(r.int()) != len(entries) {
		fail("plan: the number of classes does not match the program")
	}
	ng := int(r.int())
	gors = make([]gor, ng)
	fns = make([]func(), ng)
	chans = make([]chan struct{}, int(r.int())+1) // the last one is never closed
	for i := 0; i < len(chans)-1; i++ {
		chans[i] = make(chan struct{}, int(r.int()))
	}
	chans[len(chans)-1] = make(chan struct{})
	sems = make([]chan struct{}, int(r.int()))
	for i := range sems {
		n := int(r.int())
		sems[i] = make(chan struct{}, n)
		for k := 0; k < n; k++ {
			sems[i] <- struct{}{}
		}
	}
	kids = make([]int32, int(r.int()))
	for i := range kids {
		kids[i] = r.int()
	}
	for i := range gors {
		g := &gors[i]
		g.cls = r.int()
		g.ops = make([]op, int(r.int()))
		for j := range g.ops {
			o := &g.ops[j]
			o.kind, o.depth, o.fn, o.tr, o.pf, o.ch, o.n = r.int(), r.int(), r.int(), r.int(), r.int(), r.int(), r.int()
			if o.kind == opPark && o.ch < 0 {
				o.ch = int32(len(chans) - 1)
			}
		}
		fns[i] = entries[g.cls](g)
	}
	actions = make([]action, int(r.int()))
	for i := range actions {
		a := &actions[i]
		a.kind, a.a, a.b = r.int(), r.int(), r.int()
		a.memstats = a.kind == actCheckpoint && a.a == 0
	}
	recs = make([]runtime.StackRecord, ng+64)
	out = make([]byte, 0, 1<<20)
}

// growMain grows the main goroutine's stack to the model's (runtime.main_stack, 16 KiB by
// default) now, before the baseline, as the runtime's own start-up and package init leave it
// in the model: a frame of mainGrow bytes needs more than half of it.
//
//go:noinline
func growMain() {
	var big [mainGrow + 1]byte
	big[sinkIdx%uint32(len(big))] = 1
	sink += big[(sinkIdx+7)%uint32(len(big))]
}

// gcAt runs runtime.GC from under a frame of gcPad bytes: while main waits for the cycle its
// used stack (which decides whether the GC shrinks main's stack) is then in the range the
// runtime profile's main_gc_wait_used stands for.
//
//go:noinline
func gcAt() {
	var pad [gcPad + 1]byte
	pad[sinkIdx%uint32(len(pad))] = 1
	runtime.GC()
	sink += pad[(sinkIdx+1)%uint32(len(pad))]
}

func stackSize(g uintptr) uint64 {
	lo := *(*uintptr)(unsafe.Pointer(g))
	hi := *(*uintptr)(unsafe.Pointer(g + unsafe.Sizeof(uintptr(0))))
	return uint64(hi - lo)
}

// parked counts workload goroutines blocked in a channel receive (gopark under chanrecv1).
func parked() int {
	n, ok := runtime.GoroutineProfile(recs)
	for !ok {
		recs = make([]runtime.StackRecord, n+64)
		n, ok = runtime.GoroutineProfile(recs)
	}
	c := 0
	for i := 0; i < n; i++ {
		var key [4]uintptr
		copy(key[:], recs[i].Stack0[:4])
		v, seen := parkedPCs[key]
		if !seen {
			frames := runtime.CallersFrames(recs[i].Stack())
			f, more := frames.Next()
			if f.Function == "runtime.gopark" {
				for k := 0; k < 3 && more; k++ {
					f, more = frames.Next()
					if f.Function == "runtime.chanrecv1" {
						v = true
						break
					}
				}
			}
			parkedPCs[key] = v
		}
		if v {
			c++
		}
	}
	return c
}

// settle waits until the model's state holds: `live` workload goroutines, all parked in a
// channel receive, after exactly `arrivals` parks and exits. No measurement depends on timing.
func settle(live, arrivals int32, step int) {
	start := time.Now()
	for {
		a := atomic.LoadInt32(&arrived)
		if a > arrivals {
			fail("action " + strconv.Itoa(step) + ": " + strconv.Itoa(int(a)) + " parks and exits, more than the " +
				strconv.Itoa(int(arrivals)) + " the model has")
		}
		if a == arrivals && runtime.NumGoroutine() == int(live)+1 && parked() == int(live) {
			return
		}
		if time.Since(start) > 120*time.Second {
			fail("action " + strconv.Itoa(step) + ": not quiet after 120 s: " + strconv.Itoa(int(a)) + " of " +
				strconv.Itoa(int(arrivals)) + " parks and exits, NumGoroutine " +
				strconv.Itoa(runtime.NumGoroutine()) + " (want " + strconv.Itoa(int(live)+1) + "), parked " +
				strconv.Itoa(parked()))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func num(key string, v uint64) {
	out = append(out, ',', '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = strconv.AppendUint(out, v, 10)
}

// checkpoint reads, in this order: runtime/metrics, threads and goroutines, per-goroutine
// stack sizes, then (memstats) runtime.ReadMemStats, which flushes every P's stack cache.
func checkpoint(label int, memstats bool) {
	metrics.Read(samples)
	threads, _ := runtime.ThreadCreateProfile(nil)
	ngo := runtime.NumGoroutine()
	for c := range histSize {
		histSize[c] = histSize[c][:0]
		histCount[c] = histCount[c][:0]
	}
	for i := range gors {
		g := &gors[i]
		if g.g == 0 || atomic.LoadInt32(&g.done) != 0 {
			continue
		}
		sz := stackSize(g.g)
		hs := histSize[g.cls]
		k := 0
		for k < len(hs) && hs[k] != sz {
			k++
		}
		if k == len(hs) {
			histSize[g.cls] = append(histSize[g.cls], sz)
			histCount[g.cls] = append(histCount[g.cls], 0)
		}
		histCount[g.cls][k]++
	}
	mainStack := stackSize(mainG)
	var ms runtime.MemStats
	inuse, sys, numGC := samples[1].Value.Uint64(), samples[1].Value.Uint64()+samples[2].Value.Uint64(), uint64(0)
	if memstats {
		runtime.ReadMemStats(&ms)
		inuse, sys, numGC = ms.StackInuse, ms.StackSys, uint64(ms.NumGC)
	}
	out = append(out, `{"checkpoint":`...)
	out = strconv.AppendInt(out, int64(label), 10)
	num("stack_inuse", inuse)
	num("stack_sys", sys)
	num("heap_stacks_metric", samples[1].Value.Uint64())
	num("os_stacks_metric", samples[2].Value.Uint64())
	num("starting_size", samples[0].Value.Uint64())
	num("num_gc", numGC)
	num("num_goroutine", uint64(ngo))
	num("num_threads", uint64(threads))
	num("main_stack", mainStack)
	out = append(out, `,"goroutine_stacks":{`...)
	first := true
	for c := range histSize {
		if len(histSize[c]) == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = strconv.AppendQuote(out, classNames[c])
		out = append(out, ':', '{')
		for k := range histSize[c] {
			if k > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = strconv.AppendUint(out, histSize[c][k], 10)
			out = append(out, '"', ':')
			out = strconv.AppendInt(out, histCount[c][k], 10)
		}
		out = append(out, '}')
	}
	out = append(out, "}}\n"...)
}

func main() {
	debug.SetGCPercent(-1)
	setMaxStack()
	path := "plan.txt"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	load(path)
	mainG = getg()
	growMain()
	checkpoint(-2, true) // discarded: grows what measuring needs, flushes the caches once
	out = out[:0]
	out = append(out, `{"version":`...)
	out = strconv.AppendQuote(out, runtime.Version())
	out = append(out, `,"gomaxprocs":`...)
	out = strconv.AppendInt(out, int64(runtime.GOMAXPROCS(0)), 10)
	out = append(out, `,"goroutines":`...)
	out = strconv.AppendInt(out, int64(len(gors)), 10)
	out = append(out, "}\n"...)
	checkpoint(-1, true) // the baseline
	for i := range actions {
		a := &actions[i]
		switch a.kind {
		case actSpawn:
			go fns[a.a]()
		case actClose:
			close(chans[a.a])
		case actSend:
			chans[a.a] <- struct{}{}
		case actGC:
			gcAt()
		case actCheckpoint:
			checkpoint(int(a.b), a.memstats)
		case actSettle:
			settle(a.a, a.b, i)
		}
	}
	os.Stdout.Write(out)
}

func init() {
	runtime.MemProfileRate = 0 // no heap-profile sampling: it would take a deeper path in mallocgc
}
'''


def settings_source(max_stack: int | None, gc_pad: int, main_stack: int = 16384) -> str:
    body = f"\tdebug.SetMaxStack({max_stack})\n" if max_stack else ""
    return (f"// Code generated by simstack validate.\n\npackage main\n\nimport \"runtime/debug\"\n\n"
            f"var _ = debug.SetMaxStack\n\n// gcPad: see gcAt.\nconst gcPad = {gc_pad}\n\n"
            f"// mainGrow: see growMain (main's stack {main_stack} bytes).\nconst mainGrow = {main_stack * 5 // 8}\n\n"
            f"func setMaxStack() {{\n{body}}}\n")


GETG_ASM = {
    "amd64": "// Code generated by simstack validate.\n\n#include \"textflag.h\"\n\n// func getg() uintptr\nTEXT ·getg(SB),NOSPLIT,$0-8\n"
             "\tMOVQ (TLS), AX\n\tMOVQ AX, ret+0(FP)\n\tRET\n",
    "arm64": "// Code generated by simstack validate.\n\n#include \"textflag.h\"\n\n// func getg() uintptr\nTEXT ·getg(SB),NOSPLIT,$0-8\n"
             "\tMOVD g, R0\n\tMOVD R0, ret+0(FP)\n\tRET\n",
}


def go_mod(tc: Toolchain) -> str:
    major, minor = tc.numeric
    return f"module {MODULE}\n\ngo {major}.{minor}\n"


def write_program(dest: Path, lay: Layout, tc: Toolchain, max_stack: int | None = None, gc_pad: int = 0,
                  main_stack: int = 16384) -> None:
    """Write the program's source files (not the plan) into ``dest``."""
    if tc.goarch not in GETG_ASM:
        raise BuildError(f"validate generates programs for amd64 and arm64, not {tc.goarch}")
    dest.mkdir(parents=True, exist_ok=True)
    foreign = [p.name for p in list(dest.glob("*.go")) + list(dest.glob("*.s"))
               if not p.read_text(errors="replace").startswith("// Code generated by simstack validate")]
    if foreign:
        raise BuildError(f"{dest} holds Go files simstack did not generate ({', '.join(sorted(foreign))}); "
                         "give an empty or new directory")
    (dest / "go.mod").write_text(go_mod(tc))
    (dest / "main.go").write_text(main_source(lay))
    (dest / "settings.go").write_text(settings_source(max_stack, gc_pad, main_stack))
    for arch in GETG_ASM:
        p = dest / f"getg_{arch}.s"
        if arch == tc.goarch:
            p.write_text(GETG_ASM[arch])
        elif p.exists():
            p.unlink()


def build(dest: Path, tc: Toolchain, cachedir: Path, listing: bool = True) -> str:
    """``go build`` in ``dest`` (offline); returns the ``-S`` listing. BuildError on failure."""
    cmd = [str(tc.go), "build", "-o", "prog"]
    if listing:
        cmd.insert(2, "-gcflags=-S")
    cmd.append(".")
    try:
        r = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, env=offline_env(cachedir), timeout=600)
    except subprocess.TimeoutExpired:
        raise BuildError(f"go build in {dest} took more than 10 minutes") from None
    if r.returncode != 0:
        err = "\n".join(line for line in r.stderr.splitlines() if not line.startswith(("\t", "main.", "\"\".")))
        raise BuildError(f"go build failed ({tc.describe()}):\n{err.strip()[-4000:]}")
    return r.stderr


def reported_frames(listing: str) -> dict:
    """{function name without "main.": $FRAME} from a ``-gcflags=-S`` listing."""
    out = {}
    for m in TEXT_RE.finditer(listing):
        out.setdefault(m.group(1), int(m.group(2)))
    return out


_FIT_CACHE: dict = {}


def fit(lay: Layout, tc: Toolchain, dest: Path, cachedir: Path, max_stack: int | None = None, gc_pad: int = 0,
        rounds: int = 8, write=None, main_stack: int = 16384) -> Layout:
    """Adjust every pad until the compiler reports the target frames (or cannot); builds in ``dest``.

    ``write(dest, lay)`` writes the sources (default: this module's replay program, :func:`write_program`).
    Pads found for a toolchain, a program kind and a layout are remembered for the life of the process.
    """
    if write is None:
        def write(d, lay_):
            write_program(d, lay_, tc, max_stack, gc_pad, main_stack)
    key = (str(tc.go), tc.version, getattr(write, "__module__", ""),
           repr(sorted((k, f.target, f.name) for k, f in lay.funcs.items())),
           len(lay.classes), len(lay.rec_frames), len(lay.transients), len(lay.chains))
    cached = _FIT_CACHE.get(key)
    if cached is not None:
        cached, lay.others = cached
        for k, (pad, rep) in cached.items():
            lay.funcs[k].pad, lay.funcs[k].reported = pad, rep
        write(dest, lay)
        build(dest, tc, cachedir, listing=False)
        return lay
    tried: dict = {k: {} for k in lay.funcs}  # pad -> reported, per function
    for _ in range(rounds):
        write(dest, lay)
        frames = reported_frames(build(dest, tc, cachedir))
        changed = False
        for k, f in lay.funcs.items():
            if f.name not in frames:
                raise BuildError(f"the listing has no frame for main.{f.name}")
            f.reported = frames[f.name]
            tried[k][f.pad] = f.reported
            if f.reported == f.target:
                continue
            nxt = _next_pad(f, tried[k])
            if nxt is not None and nxt != f.pad:
                f.pad = nxt
                changed = True
        if not changed:
            break
    # settle on the best pad seen for each miss (closest frame, preferring larger) and rebuild if needed
    rebuild = False
    for k, f in lay.funcs.items():
        if f.reported != f.target and tried[k]:
            best = min(tried[k].items(), key=lambda pr: (abs(pr[1] - f.target), -pr[1]))
            if best[0] != f.pad:
                f.pad, rebuild = best[0], True
            f.reported = best[1]
    if rebuild:
        write(dest, lay)
        frames = reported_frames(build(dest, tc, cachedir))
        for f in lay.funcs.values():
            f.reported = frames[f.name]
    fitted = {f.name for f in lay.funcs.values()}
    lay.others = {name: v for name, v in frames.items() if name not in fitted}
    _FIT_CACHE[key] = ({k: (f.pad, f.reported) for k, f in lay.funcs.items()}, dict(lay.others))
    return lay


def _next_pad(f: FuncSpec, tried: dict) -> int | None:
    """The next pad to try: move by the difference, then probe neighbours not tried yet."""
    guess = max(0, f.pad + f.target - f.reported)
    if guess not in tried:
        return guess
    if f.reported > f.target and f.pad == 0:
        return None  # even without a pad the frame is too large
    for d in range(1, 17):
        for cand in (guess - d, guess + d):
            if cand >= 0 and cand not in tried:
                # only probe where the frames seen so far say the target lies
                lower = [p for p, r in tried.items() if r < f.target]
                upper = [p for p, r in tried.items() if r > f.target]
                if lower and cand <= max(lower):
                    continue
                if upper and cand >= min(upper):
                    continue
                return cand
    return None


# ---------------------------------------------------------------------------------------------
# the plan file the program reads

def plan_text(plan, lay: Layout) -> str:
    """The plan as whitespace-separated tokens (format ``simstack-plan-2``, read by ``load``): classes,
    goroutines, channels (with their capacities), semaphores (with their free tokens), spawned children,
    each goroutine's ops, main's actions."""
    cls_index = {c: i for i, c in enumerate(lay.classes)}
    kids: list[int] = []
    gor_lines = []
    for g in plan.goroutines:
        ops = []
        for o in g.ops:
            if o.kind == "spawn":
                first = len(kids)
                kids.extend(o.children)
                ops.append(f"2 {o.depth} {lay.rec_id(o.frame) if o.frame in lay.rec_frames else 0} -1 -1 "
                           f"{first} {len(o.children)}")
            elif o.kind == "wake":  # at the depth the goroutine is at: no frame to reach it
                ops.append(f"3 {o.depth} 0 -1 -1 {o.chan} 0")
            elif o.kind in ("take", "give"):
                fn = lay.rec_id(o.frame) if o.kind == "take" else 0
                ops.append(f"{4 if o.kind == 'take' else 5} {o.depth} {fn} -1 -1 {o.sem} 0")
            else:
                kind = 0 if o.kind == "run" else 1
                ops.append(f"{kind} {o.depth} {lay.rec_id(o.frame)} {lay.tr_id(o.transient)} "
                           f"{lay.chain_id(o.park_frames) if kind == 1 else -1} {o.chan} 0")
        gor_lines.append(f"{cls_index[g.cls]} {len(ops)}" + "".join(f"\n  {s}" for s in ops))
    acts = []
    for a in plan.actions:
        if a.kind == "spawn":
            acts.append(f"0 {a.gid} 0")
        elif a.kind == "close":
            acts.append(f"1 {a.chan} 0")
        elif a.kind == "send":
            acts.append(f"5 {a.chan} 0")
        elif a.kind == "gc":
            acts.append("2 0 0")
        elif a.kind == "checkpoint":
            acts.append(f"3 {0 if a.via == 'memstats' else 1} {a.index}")
        elif a.kind == "settle":
            acts.append(f"4 {a.live} {a.arrivals}")
    caps = plan.chan_caps or [0] * plan.nchans
    lines = ["simstack-plan-2", f"{len(lay.classes)} " + " ".join(lay.classes), str(len(lay.classes)),
             str(len(plan.goroutines)), f"{len(caps)} " + " ".join(map(str, caps)),
             f"{len(plan.sem_tokens)} " + " ".join(map(str, plan.sem_tokens)),
             f"{len(kids)} " + " ".join(map(str, kids)),
             *gor_lines, str(len(acts)), *acts]
    return "\n".join(lines) + "\n"


def source_digest(dest: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(dest.glob("*.go")) + sorted(dest.glob("*.s")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
