// gheap measures the heap a goroutine holds, as the GC marks it: HeapAlloc after two
// runtime.GC() calls, before and after n goroutines, divided by n.
//
//	dead:      goroutines that ran and exited (the g struct stays in allgs for reuse)
//	park:      goroutines parked on a channel receive (g + the sudog they wait with)
//	sleptpark: goroutines that slept once, then parked (g + sudog + gp.timer)
//
// It prints one JSON object: {"version": ..., "mode": ..., "n": ..., "bytes_per_goroutine": ...}.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

var (
	never   = make(chan struct{})
	release int32
	started int32
)

//go:noinline
func dead() {
	atomic.AddInt32(&started, 1)
	for atomic.LoadInt32(&release) == 0 {
		runtime.Gosched()
	}
}

//go:noinline
func park() { atomic.AddInt32(&started, 1); <-never }

//go:noinline
func sleptPark() { time.Sleep(time.Millisecond); atomic.AddInt32(&started, 1); <-never }

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func main() {
	mode := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	fns := map[string]func(){"dead": dead, "park": park, "sleptpark": sleptPark}
	fn, ok := fns[mode]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: gheap dead|park|sleptpark N")
		os.Exit(2)
	}
	h0 := heap()
	for i := 0; i < n; i++ {
		go fn()
	}
	for atomic.LoadInt32(&started) < int32(n) {
		time.Sleep(time.Millisecond)
	}
	atomic.StoreInt32(&release, 1)
	time.Sleep(500 * time.Millisecond) // the dead ones exit
	h1 := heap()
	fmt.Printf(`{"version": %q, "mode": %q, "n": %d, "bytes_per_goroutine": %.1f}`+"\n",
		runtime.Version(), mode, n, float64(h1-h0)/float64(n))
}
