// races: the scheduling races of issue #14, traced.
//
// Usage: races N WAVES DEPTH TRACEFILE
//
// Main starts N goroutines (one after another, as the reference program does); each
// recurses DEPTH frames and parks on the wave's gate. Once all are parked, main closes
// the gate and waits until every one has exited; WAVES times over. trace.Log marks
// "spawn", "parked", "release" and "exited" for each wave, so the trace reader can
// tell which exits belong to which release and how the Ps shared them.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var parked atomic.Int64

//go:noinline
func rec(d int, gate chan struct{}) int {
	if d == 0 {
		parked.Add(1)
		<-gate
		return 0
	}
	return rec(d-1, gate) + 1
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	waves, _ := strconv.Atoi(os.Args[2])
	depth, _ := strconv.Atoi(os.Args[3])
	f, err := os.Create(os.Args[4])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	ctx := context.Background()
	base := runtime.NumGoroutine()
	for w := 0; w < waves; w++ {
		gate := make(chan struct{})
		var wg sync.WaitGroup
		parked.Store(0)
		trace.Log(ctx, "wave", fmt.Sprintf("spawn %d", w))
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				rec(depth, gate)
				wg.Done()
			}()
		}
		for parked.Load() < int64(n) {
			time.Sleep(50 * time.Microsecond)
		}
		time.Sleep(time.Millisecond) // every one inside the receive
		trace.Log(ctx, "wave", fmt.Sprintf("release %d", w))
		close(gate)
		trace.Log(ctx, "wave", fmt.Sprintf("closed %d", w))
		wg.Wait()
		for runtime.NumGoroutine() > base {
			time.Sleep(50 * time.Microsecond)
		}
		trace.Log(ctx, "wave", fmt.Sprintf("exited %d", w))
	}
	trace.Stop()
	f.Close()
	threads, _ := runtime.ThreadCreateProfile(nil)
	fmt.Printf("threads %d gomaxprocs %d numcpu %d\n", threads, runtime.GOMAXPROCS(0), runtime.NumCPU())
}
