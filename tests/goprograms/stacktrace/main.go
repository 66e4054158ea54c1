// A small program whose goroutine stacks grow, park, shrink at GC and die, logging what it
// reads of /memory/classes/heap/stacks:bytes at moments when no other goroutine runs, so a
// trace reader's rebuilt StackInuse can be checked against the runtime's own figure.
//
//	GODEBUG=traceallocfree=1 ./stacktrace TRACE [waves]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/trace"
	"strconv"
	"sync"
)

var sink int

//go:noinline
func rec(n int) int {
	var buf [200]byte
	buf[n%200] = byte(n)
	if n <= 0 {
		return int(buf[0])
	}
	return rec(n-1) + int(buf[n%200])
}

func stacks() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// logStacks reads StackInuse between two log events, so that a reader knows the window in
// which the reading was taken (other Ps allocate and free stacks meanwhile).
func logStacks(category, label string) {
	trace.Log(context.Background(), "simstack.read", "")
	v := stacks()
	if label != "" {
		trace.Log(context.Background(), category, fmt.Sprintf("label=%s stack_inuse=%d", label, v))
	} else {
		trace.Log(context.Background(), category, fmt.Sprintf("stack_inuse=%d", v))
	}
}

// worker grows to depth, parks on release, then returns at depth 0 and waits again (so GC
// can shrink it), then exits.
func worker(depth int, ready *sync.WaitGroup, release, done chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	sink += rec(depth)
	ready.Done()
	<-release
	<-done
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	waves := 3
	if len(os.Args) > 2 {
		waves, _ = strconv.Atoi(os.Args[2])
	}
	trace.Start(f)
	logStacks("simstack.checkpoint", "start")
	for w := 0; w < waves; w++ {
		var ready, wg sync.WaitGroup
		release, done := make(chan struct{}), make(chan struct{})
		n := 200 * (w + 1)
		for i := 0; i < n; i++ {
			ready.Add(1)
			wg.Add(1)
			go worker((i*37)%150, &ready, release, done, &wg)
			if i%50 == 0 {
				logStacks("simstack.sample", "")
			}
		}
		ready.Wait()
		logStacks("simstack.checkpoint", fmt.Sprintf("grown%d", w))
		close(release)
		runtime.GC()
		logStacks("simstack.checkpoint", fmt.Sprintf("gc%d", w))
		close(done)
		wg.Wait()
		logStacks("simstack.checkpoint", fmt.Sprintf("exited%d", w))
		runtime.GC()
		logStacks("simstack.checkpoint", fmt.Sprintf("exitedgc%d", w))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	trace.Log(context.Background(), "simstack.end", fmt.Sprintf("gc_cycles=%d stack_inuse=%d", ms.NumGC, ms.StackInuse))
	trace.Stop()
	f.Close()
}
