// Command simstack-trace-events prints the events of a Go execution trace that simstack's
// trace reader uses, one per line, tab-separated (see simstack/trace/parsed.py):
//
//	S	time m p g                                              a generation starts (Sync)
//	I	<minPageHeapAddr> <pageSize> <minHeapAlign> <fixedStack>   the alloc/free info batch
//	E	time m p g name arg...                                  GoroutineStack*, Span*
//	C	time m p g goid creatorFunc startFunc                   goroutine created
//	X	time m p g goid                                         goroutine gone
//	U	time m p g goid entryFunc toState                       goroutine seen first, alive before the trace
//	T	time m p g goid fromState toState                       any other goroutine transition (with -states)
//	L	time m p g category message                             trace.Log (both Go-quoted)
//	B/N	time m p g name                                         range begin/end (Go-quoted)
//	M	time m p g name value                                   metric
//
// It is built by simstack against the toolchain's own trace parser (internal/trace,
// copied from GOROOT with its import paths rewritten), so it reads every trace version
// that toolchain reads. It prints only what simstack reads (no heap objects, no stacks
// but a creation's two frames), which is what makes it much faster than
// `go tool trace -d=parsed`.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"

	"simstacktrace/internal/trace"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	defer f.Close()
	states := len(os.Args) > 2 && os.Args[2] == "-states" // simstack fit: when goroutines run and block
	r, err := trace.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fail(err)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	info := false
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return
		}
		if err != nil {
			w.Flush()
			fail(err)
		}
		head := func(k string) {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d", k, ev.Time(), ev.Thread(), ev.Proc(), ev.Goroutine())
		}
		switch ev.Kind() {
		case trace.EventSync:
			head("S")
			w.WriteByte('\n')
			if info {
				continue
			}
			for _, b := range ev.Sync().ExperimentalBatches["AllocFree"] {
				if len(b.Data) > 0 && b.Data[0] == 1 {
					vals, rest := []uint64{}, b.Data[1:]
					for len(vals) < 4 && len(rest) > 0 {
						v, n := uvarint(rest)
						vals = append(vals, v)
						rest = rest[n:]
					}
					if len(vals) == 4 {
						fmt.Fprintf(w, "I\t%d\t%d\t%d\t%d\n", vals[0], vals[1], vals[2], vals[3])
						info = true
					}
				}
			}
		case trace.EventExperimental:
			x := ev.Experimental()
			switch x.Name {
			case "GoroutineStack", "GoroutineStackAlloc", "GoroutineStackFree", "Span", "SpanAlloc", "SpanFree":
				head("E")
				fmt.Fprintf(w, "\t%s", x.Name)
				for i := range x.Args {
					fmt.Fprintf(w, "\t%d", x.ArgValue(i).Uint64())
				}
				w.WriteByte('\n')
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			from, to := st.Goroutine()
			goid := st.Resource.Goroutine()
			switch {
			case from == trace.GoNotExist:
				head("C")
				fmt.Fprintf(w, "\t%d\t%s\t%s\n", goid, top(ev.Stack()), top(st.Stack))
			case to == trace.GoNotExist:
				head("X")
				fmt.Fprintf(w, "\t%d\n", goid)
			case from == trace.GoUndetermined:
				head("U")
				stk := st.Stack
				if stk == trace.NoStack {
					stk = ev.Stack()
				}
				fmt.Fprintf(w, "\t%d\t%s\t%s\n", goid, bottom(stk), to)
			case states:
				head("T")
				fmt.Fprintf(w, "\t%d\t%s\t%s\n", goid, from, to)
			}
		case trace.EventLog:
			l := ev.Log()
			head("L")
			fmt.Fprintf(w, "\t%s\t%s\n", strconv.Quote(l.Category), strconv.Quote(l.Message))
		case trace.EventRangeBegin, trace.EventRangeEnd:
			k := "B"
			if ev.Kind() == trace.EventRangeEnd {
				k = "N"
			}
			head(k)
			fmt.Fprintf(w, "\t%s\n", strconv.Quote(ev.Range().Name))
		case trace.EventMetric:
			m := ev.Metric()
			if m.Value.Kind() == trace.ValueUint64 {
				head("M")
				fmt.Fprintf(w, "\t%s\t%d\n", m.Name, m.Value.Uint64())
			}
		}
	}
}

func top(s trace.Stack) string {
	for f := range s.Frames() {
		return orDash(f.Func)
	}
	return "-"
}

func bottom(s trace.Stack) string {
	last := "-"
	for f := range s.Frames() {
		last = orDash(f.Func)
	}
	return last
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range b {
		if c < 0x80 {
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return x, len(b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
